// Command junction-go-mismatch is a test fixture: a Go c-shared module that
// claims the next ABI major, which every junction host must refuse before
// running its init.
package main

/*
#include <stdint.h>
*/
import "C"

import (
	"unsafe"

	"junction"
)

//export jn_module_abi_version
func jn_module_abi_version() C.uint32_t {
	return C.uint32_t((junction.ABIVersion>>16 + 1) << 16)
}

// jn_module_init must never run: a host that calls it has skipped the
// version check, and the call fails loudly.
//
//export jn_module_init
func jn_module_init(host, status unsafe.Pointer) C.int32_t {
	panic("jn_module_init of a module with another ABI major was called")
}

func main() {}
