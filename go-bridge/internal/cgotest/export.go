package cgotest

/*
#include <stdint.h>
*/
import "C"

// cgotestRawLength is the raw cgo export that Rust -> Go calls through
// junction are compared with: the same work as go.echo/length without the
// junction call shape (no status, no response buffer).
//
//export cgotestRawLength
func cgotestRawLength(data *C.uint8_t, length C.uint64_t) C.uint64_t {
	return length
}
