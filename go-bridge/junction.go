// Package junction joins Go code to services written in Rust, C++ or Go
// through junction's stable C ABI (abi/junction.h), in the same process at
// the cost of a function call, or in another process over ZeroMQ with the
// calling code unchanged.
//
// Every call has one shape: a service name, a method name, request bytes in,
// response bytes and a status out. A [Host] holds services; [Host.Method]
// resolves a method once into a [Method] that is then called many times
// ([Method.Call]). Go services are ordinary functions ([HandlerFunc])
// registered on a host ([Host.Register]); Rust and C++ services arrive in
// modules loaded with [Host.LoadModule], or through the host itself when Go
// is the module (package junction/module).
//
// A host serves its services to other processes with [Host.Listen], and
// [Host.Route] sends a service's calls to the host (or junction-host
// daemon) serving it: the routed service is then resolved and called like
// a local one.
//
// # Contracts
//
//   - Requests cross into the handler without a copy: the handler borrows
//     the caller's bytes for the call. [Method.Call] copies the response into
//     Go memory; [Method.CallBorrowed] lends the producer's buffer until
//     [Response.Release].
//   - A context's deadline becomes the call's deadline; a context already
//     done is answered without calling (DEADLINE_EXCEEDED or CANCELLED). A
//     call that waits (a routed method, an asynchronous handler) ends at
//     once when its context ends while it waits; a Go, Rust or C handler in
//     this process runs on the caller's thread to its end. A Go handler's
//     context ends (Canceled) when its caller gives up: a caller in another
//     process, or a C, C++ or Rust caller that passed a cancel.
//   - Failures are *[Error] values carrying a [Code]; errors.Is works with
//     the Err sentinels and with context.DeadlineExceeded/Canceled.
//   - A Go handler may be called from any thread, including threads Go did
//     not create (Rust threads, host workers), many at once. A panic in it
//     is recovered and answers INTERNAL; the process keeps serving.
//   - One Go runtime per process: all Go code loaded into a junction process
//     must be one c-shared library (or the program itself). Go cannot unload
//     a runtime, so junction never unloads modules.
//
// The package links libjunction found through pkg-config (`pkg-config
// junction`); from a build tree, CMake points PKG_CONFIG_PATH at it.
package junction

/*
#cgo pkg-config: junction
#include "bridge.h"
*/
import "C"

import (
	"debug/buildinfo"
	"fmt"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// ABIVersion is the JN_ABI_VERSION this package was compiled against:
// major << 16 | minor.
const ABIVersion = uint32(C.JN_ABI_VERSION_MAJOR<<16 | C.JN_ABI_VERSION_MINOR)

// checkABI refuses a libjunction whose ABI major differs from the header's,
// or whose minor is older (it may lack functions this package calls).
func checkABI(header, library uint32) error {
	if header>>16 != library>>16 || library&0xffff < header&0xffff {
		return Errorf(FailedPrecondition,
			"the junction Go package was built against ABI %d.%d but the linked libjunction implements ABI %d.%d",
			header>>16, header&0xffff, library>>16, library&0xffff)
	}
	return nil
}

var abiMismatch = checkABI(uint32(C.junction_go_header_version()), uint32(C.jn_abi_version()))

// Host holds services and routes calls to them. Its methods are safe for
// concurrent use. A Host made by [NewHost] must be closed with
// [Host.Close]; one lent by a module's init ([BorrowHost]) belongs to its
// owner.
type Host struct {
	raw   *C.jn_host
	owned bool

	mu     sync.RWMutex // guards closed against Close
	closed bool

	listenersMu sync.Mutex // guards listeners
	listeners   map[*Listener]struct{}
}

// HostOption configures [NewHost].
type HostOption func(*hostOptions)

// hostOptions is what the options set: the raw options, or the first
// option's error.
type hostOptions struct {
	raw C.jn_host_options
	err error
}

// WithWorkerThreads sets the number of threads that run asynchronous calls
// (0 keeps the default).
func WithWorkerThreads(n uint32) HostOption {
	return func(o *hostOptions) { o.raw.worker_threads = C.uint32_t(n) }
}

// The bounds of [WithThreadSlice]: the kernel's bounds for a thread's slice.
const (
	MinThreadSlice = time.Duration(C.JN_THREAD_SLICE_MIN_NS)
	MaxThreadSlice = time.Duration(C.JN_THREAD_SLICE_MAX_NS)
)

// WithThreadSlice sets the scheduler slice that the host's own threads
// (its workers and timer thread) and its listeners' threads ask the kernel
// for, from [MinThreadSlice] (100µs) to [MaxThreadSlice] (100ms); without
// it they ask for 0.5 ms. Each of those
// threads is woken for a call or a deadline, and a short slice lets it run
// at once rather than once the thread that woke it sleeps (Linux 6.12 and
// later; older kernels ignore it). A longer one means fewer preemptions
// among busy threads. NewHost fails with INVALID_ARGUMENT for a slice
// outside the bounds.
func WithThreadSlice(slice time.Duration) HostOption {
	return func(o *hostOptions) {
		if slice <= 0 {
			o.err = &Error{Code: InvalidArgument,
				Message: fmt.Sprintf("thread slice %v is outside %v to %v", slice, MinThreadSlice, MaxThreadSlice)}
			return
		}
		o.raw.thread_slice_ns = C.uint64_t(slice)
	}
}

// WithInheritedThreadSlice makes the host's threads and its listeners'
// threads ask for no slice: they keep that of the thread that creates the
// host or listener, as other threads of the process do.
func WithInheritedThreadSlice() HostOption {
	return func(o *hostOptions) { o.raw.thread_slice_ns = C.JN_THREAD_SLICE_INHERITED }
}

// NewHost creates a host. It fails with FAILED_PRECONDITION when the linked
// libjunction implements another ABI major than this package was built
// against, and with INVALID_ARGUMENT for an option it cannot take.
func NewHost(options ...HostOption) (*Host, error) {
	if abiMismatch != nil {
		return nil, abiMismatch
	}
	var opts hostOptions
	opts.raw.struct_size = C.uint32_t(unsafe.Sizeof(opts.raw))
	for _, option := range options {
		option(&opts)
		if opts.err != nil {
			return nil, opts.err
		}
	}
	var raw *C.jn_host
	if err := statusError(C.junction_go_host_new(&opts.raw, &raw)); err != nil {
		return nil, err
	}
	return &Host{raw: raw, owned: true}, nil
}

// BorrowHost wraps a raw jn_host* that someone else owns, for the duration
// of the call that lent it (a module's jn_module_init), and for the
// handlers of the services registered on it then: they run only while the
// host lives, and those a free waits for find no service on it (the ABI's
// jn_host_free). Close on it is a no-op.
func BorrowHost(raw unsafe.Pointer) *Host {
	return &Host{raw: (*C.jn_host)(raw)}
}

// Raw is the host's jn_host*, for C code; it stays owned by h.
func (h *Host) Raw() unsafe.Pointer { return unsafe.Pointer(h.raw) }

// Close frees the host: services are unregistered, calls in flight on them
// finish (calls on other hosts' services do not hold Close up), then their
// destroy callbacks run. Method handles stay valid and answer
// NOT_FOUND. Listeners the host still has open ([Host.Listen]) are closed
// first, each waiting for its calls in flight to be answered (close them
// yourself, with [Listener.Close], to bound that wait). Closing twice is a
// no-op. Called from inside a handler (of any host: a host waits for the
// calls in flight on it), Close returns FAILED_PRECONDITION and closes
// nothing, its listeners included; nor may a handler wait for a goroutine
// that closes its host.
func (h *Host) Close() error {
	if !h.owned {
		return nil
	}
	// The lock is not held while the host drains: a handler in flight may
	// still use h (and then finds it closed).
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	if C.jn_host_free_check(h.raw) != C.JN_OK {
		h.mu.Unlock()
		return &Error{Code: FailedPrecondition, Message: "a host cannot be closed from inside a handler"}
	}
	h.closed = true
	h.mu.Unlock()
	// No Listen can start now; libjunction refuses to free a host with a
	// listener open.
	h.closeListeners()
	if code := C.jn_host_free(h.raw); code != C.JN_OK {
		h.mu.Lock()
		h.closed = false
		h.mu.Unlock()
		return &Error{Code: Code(code), Message: "a listener opened through Raw is still open"}
	}
	return nil
}

// use runs f with the raw host, or fails with FAILED_PRECONDITION once the
// host is closed.
func (h *Host) use(f func(raw *C.jn_host) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return &Error{Code: FailedPrecondition, Message: "host is closed"}
	}
	return f(h.raw)
}

// cName is s as a NUL-terminated byte slice for C, or INVALID_ARGUMENT when
// s holds a NUL byte.
func cName(s, what string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, Errorf(InvalidArgument, "%s %q contains a NUL byte", what, s)
	}
	return append([]byte(s), 0), nil
}

func cChars(b []byte) *C.char { return (*C.char)(unsafe.Pointer(&b[0])) }

// Method resolves service/method once. The handle works until closed, also
// after the service goes away (calls then answer NOT_FOUND).
func (h *Host) Method(service, method string) (*Method, error) {
	serviceName, err := cName(service, "service name")
	if err != nil {
		return nil, err
	}
	methodName, err := cName(method, "method name")
	if err != nil {
		return nil, err
	}
	var raw *C.jn_method
	err = h.use(func(host *C.jn_host) error {
		return statusError(C.junction_go_resolve(host, cChars(serviceName), cChars(methodName), &raw))
	})
	if err != nil {
		return nil, err
	}
	return newMethod(raw), nil
}

// LoadModule loads the shared library at path and runs its jn_module_init
// on h. NOT_FOUND if it cannot be loaded; FAILED_PRECONDITION if it is not a
// junction module, was built against another ABI major, or is a Go library:
// a process holds one Go runtime, and a Go program already has its own (it
// registers its Go services directly instead). A relative path, a bare file
// name included, is the file there from the working directory, never a
// library of that name searched for on the library path, so that the Go
// library check reads the file that is loaded. A library that only depends
// on a Go library is not caught: do not load one.
func (h *Host) LoadModule(path string) error {
	if absolute, err := filepath.Abs(path); err == nil {
		path = absolute
	}
	cPath, err := cName(path, "module path")
	if err != nil {
		return err
	}
	if _, err := buildinfo.ReadFile(path); err == nil {
		return Errorf(FailedPrecondition,
			"%s is a Go library: this Go program has its own Go runtime and a process can hold only one; "+
				"register its services in this program instead", path)
	}
	return h.use(func(host *C.jn_host) error {
		return statusError(C.junction_go_load_module(host, cChars(cPath)))
	})
}

// Unregister removes the service name: no call starts on it afterwards;
// calls in flight finish. NOT_FOUND if no such service.
func (h *Host) Unregister(name string) error {
	cService, err := cName(name, "service name")
	if err != nil {
		return err
	}
	return h.use(func(host *C.jn_host) error {
		return statusError(C.junction_go_unregister(host, cChars(cService)))
	})
}

// ServiceInfo is one of a host's services, as [Host.Services] lists it.
type ServiceInfo struct {
	Name string
	// Methods are a registered service's methods, in byte order. A routed
	// service lists none: its far host judges which names exist.
	Methods []string
	// RouteURL is the URL a routed service's calls go to, as it was routed;
	// "" for a registered service.
	RouteURL string
}

// Services lists the services h has now, registered and routed, in byte
// order of their names.
func (h *Host) Services() ([]ServiceInfo, error) {
	var listing []ServiceInfo
	handle := cgo.NewHandle(&listing)
	defer handle.Delete()
	err := h.use(func(host *C.jn_host) error {
		if code := C.junction_go_list_services(host, C.uintptr_t(handle)); code != C.JN_OK {
			return Errorf(Code(code), "cannot list the host's services")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return listing, nil
}

// junctionGoVisitService adds one service of a listing to the slice behind
// listing (a cgo.Handle), on the thread of the Services call that made it.
//
//export junctionGoVisitService
func junctionGoVisitService(listing C.uintptr_t, service *C.jn_service_info) {
	services := cgo.Handle(listing).Value().(*[]ServiceInfo)
	info := ServiceInfo{Name: C.GoString(service.name)}
	for _, name := range unsafe.Slice(service.methods, service.method_count) {
		info.Methods = append(info.Methods, C.GoString(name))
	}
	if service.route_url != nil {
		info.RouteURL = C.GoString(service.route_url)
	}
	*services = append(*services, info)
}

// statusError is nil for OK, else an *Error with the status's code and
// message; either way the message is released.
func statusError(status C.junction_go_status) error {
	if status.code == C.JN_OK {
		releaseOwned(status.message)
		return nil
	}
	return takeStatus(status)
}

// takeStatus turns a failed status into an *Error and releases its message.
func takeStatus(status C.junction_go_status) *Error {
	err := &Error{Code: Code(status.code), Message: string(ownedBytes(status.message))}
	releaseOwned(status.message)
	return err
}

// releaseOwned hands an owned buffer back to its producer; a released one
// (the usual empty message or response) costs no cgo crossing.
func releaseOwned(owned C.junction_go_owned) {
	if owned.release != 0 {
		C.junction_go_owned_release(owned)
	}
}

// ownedBytes are an unreleased owned buffer's bytes, in C memory.
func ownedBytes(owned C.junction_go_owned) []byte {
	if owned.release == 0 || owned.len == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(owned.data)), int(owned.len))
}

// LiveCounts are the objects libjunction has made and not yet released,
// process-wide (jn_live_objects, and jn_live_cancels for the cancels made
// for calls whose context can end); each returns to its baseline once
// everything made has been released. For leak tests.
type LiveCounts struct {
	Buffers, BufferBytes, Hosts, Methods, Services, PendingCalls, Cancels uint64
}

// LiveObjects reads libjunction's live-object counts.
func LiveObjects() LiveCounts {
	var c C.jn_live_counts
	C.jn_live_objects(&c)
	return LiveCounts{
		Buffers: uint64(c.buffers), BufferBytes: uint64(c.buffer_bytes), Hosts: uint64(c.hosts),
		Methods: uint64(c.methods), Services: uint64(c.services), PendingCalls: uint64(c.pending_calls),
		Cancels: uint64(C.jn_live_cancels()),
	}
}

func (c LiveCounts) String() string {
	return fmt.Sprintf("buffers=%d (%d bytes) hosts=%d methods=%d services=%d pending_calls=%d cancels=%d",
		c.Buffers, c.BufferBytes, c.Hosts, c.Methods, c.Services, c.PendingCalls, c.Cancels)
}
