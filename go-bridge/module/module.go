// Package module makes a Go c-shared library a junction module: importing
// it exports jn_module_abi_version and jn_module_init, and the functions
// given to [Register] run when a host loads the library.
//
// A process holds one Go runtime, so all Go services of a process go into
// one c-shared bundle: a main package that imports this package and the
// packages whose init functions call Register, built with
//
//	go build -buildmode=c-shared -o libmy_services.so ./cmd/my-bundle
//
// The host checks the ABI version the bundle was built against before it
// calls the bundle's jn_module_init, as for any module; loading the library
// has started its Go runtime and run its packages' init functions already.
// Modules are never unloaded.
//
// A bundle keeps its host's SIGPIPE disposition: if the host ignored
// SIGPIPE when it loaded the bundle, Go code's writes to a closed standard
// output or error fail with EPIPE rather than end the process.
package module

/*
#cgo pkg-config: junction
#include <junction.h>
#include <stdlib.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"junction"
)

var (
	mu    sync.Mutex
	inits []func(*junction.Host) error
)

// Register adds init to the functions run, in order of registration, when
// a host loads this library. Call it from package init functions. The
// first init to fail ends the load, which fails with CodeOf(err) and
// err.Error() (INTERNAL, the message kept, for a code that is OK or outside
// the ABI's range); the inits after it do not run.
func Register(init func(host *junction.Host) error) {
	mu.Lock()
	defer mu.Unlock()
	inits = append(inits, init)
}

//export jn_module_abi_version
func jn_module_abi_version() C.uint32_t {
	return C.uint32_t(junction.ABIVersion)
}

//export jn_module_init
func jn_module_init(host *C.jn_host, status *C.jn_status) (code C.int32_t) {
	// Locked to the loading thread while the init functions run, as Go
	// handlers are to the threads that call them (package junction's
	// lockForeignThread): an OS thread the runtime starts meanwhile then
	// comes from its own template thread, not a clone of the loader's
	// thread with its name, scheduling policy and CPU affinity.
	runtime.LockOSThread()
	defer func() {
		if recovered := recover(); recovered != nil {
			code = report(status, junction.Internal, fmt.Sprintf("go module init panicked: %v", recovered))
		}
		runtime.UnlockOSThread()
	}()
	if host == nil {
		return report(status, junction.InvalidArgument, "host is NULL")
	}
	result, message := runInits(junction.BorrowHost(unsafe.Pointer(host)))
	return report(status, result, message)
}

// runInits runs the registered init functions on host, in order, up to the
// first that fails, and returns the module's status: the failure's code
// (CodeOf) and err.Error(). A failure whose code is OK or outside the ABI's
// range fails the load INTERNAL with its message kept, as a Go handler's
// does: OK would pass for a loaded module whose later inits never ran.
func runInits(host *junction.Host) (junction.Code, string) {
	mu.Lock()
	run := append([]func(*junction.Host) error(nil), inits...)
	mu.Unlock()
	for _, init := range run {
		if err := init(host); err != nil {
			code, message := junction.CodeOf(err), err.Error()
			if code <= junction.OK || code > junction.Unauthenticated {
				message = fmt.Sprintf("module init failed with invalid code %d: %s", int32(code), message)
				code = junction.Internal
			}
			return code, message
		}
	}
	return junction.OK, ""
}

// report writes code and message into status (when not NULL) and returns
// code.
func report(status *C.jn_status, code junction.Code, message string) C.int32_t {
	if status != nil {
		var cMessage *C.char
		if message != "" {
			cMessage = C.CString(message)
			defer C.free(unsafe.Pointer(cMessage))
		}
		C.jn_status_set(status, C.int32_t(code), cMessage)
	}
	return C.int32_t(code)
}
