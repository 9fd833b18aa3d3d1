// Package cgotest holds the C side of the Go bridge's tests and benchmarks
// (test files cannot use cgo): calls made from threads Go did not create,
// the Rust module's typed export called directly, C loops calling Go
// through junction or through a raw cgo export, the scheduler slices
// threads report, and a service answering OK with a message.
package cgotest

/*
#cgo pkg-config: junction
#cgo CFLAGS: -I${SRCDIR}/../../../rust-bridge/junction-echo-module/include
#cgo LDFLAGS: -ldl -lpthread
#include <stdlib.h>
#include "held.h"
#include "loops.h"
#include "noted.h"
#include "slices.h"
#include "threads.h"
*/
import "C"

import (
	"runtime"
	"unsafe"

	"junction"
)

func ptr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// CallFromThreads calls m from threads started in C (unknown to Go),
// calls times each, and returns how many calls answered OK with expected.
func CallFromThreads(m *junction.Method, req, expected []byte, threads, calls int) int {
	matched := C.cgotest_call_from_threads((*C.jn_method)(m.Raw()), ptr(req), C.uint64_t(len(req)),
		ptr(expected), C.uint64_t(len(expected)), C.uint32_t(threads), C.uint32_t(calls))
	runtime.KeepAlive(m)
	return int(matched)
}

// CallOnWorker makes one asynchronous call of m (its handler runs on a host
// worker thread) and waits for it: the code, and whether the response
// equals expected.
func CallOnWorker(m *junction.Method, req, expected []byte) (junction.Code, bool) {
	var matches C.int32_t
	code := C.cgotest_call_async_wait((*C.jn_method)(m.Raw()), ptr(req), C.uint64_t(len(req)),
		ptr(expected), C.uint64_t(len(expected)), &matches)
	runtime.KeepAlive(m)
	return junction.Code(code), matches != 0
}

// TypedLength is the Rust module's junction_echo_length, called directly.
type TypedLength struct{ fn *C.typed_length_fn }

// FindTypedLength looks junction_echo_length up in the module at path,
// which must already be loaded (by Host.LoadModule).
func FindTypedLength(path string) (TypedLength, bool) {
	cPath := C.CString(path)
	defer C.free(unsafe.Pointer(cPath))
	fn := C.cgotest_find_typed_length(cPath)
	return TypedLength{fn}, fn != nil
}

// Call is one cgo call of the typed export.
func (t TypedLength) Call(b []byte) uint64 {
	return uint64(C.cgotest_typed_length(t.fn, ptr(b), C.uint64_t(len(b))))
}

// LoopJunction calls m (a Go handler) iterations times from C: on this
// goroutine's thread, or on a thread C starts. Returns the calls answered OK.
func LoopJunction(m *junction.Method, b []byte, iterations int, newThread bool) int {
	ok := C.cgotest_loop_jn_call((*C.jn_method)(m.Raw()), ptr(b), C.uint64_t(len(b)),
		C.uint64_t(iterations), cBool(newThread))
	runtime.KeepAlive(m)
	runtime.KeepAlive(b)
	return int(ok)
}

// LoopRaw calls the raw export cgotestRawLength iterations times from C,
// likewise. Returns the calls that answered the right length.
func LoopRaw(b []byte, iterations int, newThread bool) int {
	ok := C.cgotest_loop_raw(ptr(b), C.uint64_t(len(b)), C.uint64_t(iterations), cBool(newThread))
	runtime.KeepAlive(b)
	return int(ok)
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// HeldEcho is a C service whose asynchronous method "echo" holds every call
// until Release, then answers each request with itself from one C thread:
// waiting callers hold no thread there, for as long as a test needs.
type HeldEcho struct {
	service *C.cgotest_held_echo
}

// RegisterHeldEcho registers a HeldEcho on host as service name. It is
// usable until host is closed; closing the host answers the calls still held.
func RegisterHeldEcho(host *junction.Host, name string) (*HeldEcho, junction.Code) {
	cName := C.CString(name)
	defer C.free(unsafe.Pointer(cName))
	var service *C.cgotest_held_echo
	code := junction.Code(C.cgotest_register_held_echo((*C.jn_host)(host.Raw()), cName, &service))
	if code != junction.OK {
		return nil, code
	}
	return &HeldEcho{service}, code
}

// Held is the number of calls the service holds now.
func (h *HeldEcho) Held() int {
	return int(C.cgotest_held_calls(h.service))
}

// Release answers the calls held now, and from then on every call as it
// comes.
func (h *HeldEcho) Release() {
	C.cgotest_release_held(h.service)
}

// RegisterNotedEcho registers, as service name on host, a C service whose
// method "echo" answers each request with itself, status OK and the
// message "noted".
func RegisterNotedEcho(host *junction.Host, name string) junction.Code {
	cName := C.CString(name)
	defer C.free(unsafe.Pointer(cName))
	return junction.Code(C.cgotest_register_noted_echo((*C.jn_host)(host.Raw()), cName))
}

// OwnThreadSlice is the scheduler slice the calling goroutine's OS thread
// reports (lock it to its thread first): 0 on kernels before Linux 6.12.
func OwnThreadSlice() uint64 {
	return uint64(C.cgotest_own_slice())
}

// CountThreads counts the process's threads named name that report the
// scheduler slice sliceNs.
func CountThreads(name string, sliceNs uint64) int {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return int(C.cgotest_count_threads(cname, C.uint64_t(sliceNs)))
}
