// Command junction-go-echo is a Go services bundle: built with
// -buildmode=c-shared it is a junction module that registers go.echo on the
// host that loads it. It also exports junction_go_length, a plain cgo
// export that benchmarks call directly to measure what junction adds.
package main

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import (
	"junction"
	"junction/goecho"
	"junction/module"
)

func init() {
	module.Register(func(host *junction.Host) error {
		return host.Register(goecho.Service(host))
	})
}

// junction_go_length is the length of data[0..len), reading none of it: the
// raw callback that Rust -> Go calls through junction are compared with.
//
//export junction_go_length
func junction_go_length(data *C.uint8_t, length C.size_t) C.uint64_t {
	return C.uint64_t(length)
}

func main() {}
