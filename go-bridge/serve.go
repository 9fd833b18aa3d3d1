package junction

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// HandlerFunc serves one method. req is borrowed from the caller for the
// duration of the call: copy what must outlive it. ctx carries the caller's
// deadline (ctx.Done fires at it). The returned bytes are copied to the
// caller; a non-nil error fails the call with CodeOf(err) and err's message
// (an *Error keeps its own code and message; a sentinel such as ErrNotFound
// wrapped with words of the handler's, fmt.Errorf("user %d: %w", id,
// ErrNotFound), has those words as its message; a nil *Error, a bug, fails
// it INTERNAL saying so).
//
// Handlers run on the caller's thread, which may be a thread Go did not
// create (a Rust thread, a host worker), and many at once. A handler's
// panic is recovered and answers INTERNAL; runtime.Goexit (which t.Fatal
// and t.FailNow call) cannot be, and would unwind through the call's C
// frames: a handler must not call it.
type HandlerFunc func(ctx context.Context, req []byte) ([]byte, error)

// AppendHandlerFunc is a HandlerFunc that appends its response to resp and
// returns the result, as strconv.AppendInt does. resp is empty, with room
// for a few hundred bytes that the bridge passes on to the caller without a
// Go allocation; like req, it is valid for the call only and must not be
// kept. A longer response simply grows past it.
type AppendHandlerFunc func(ctx context.Context, req, resp []byte) ([]byte, error)

// Service is a named set of Go handlers, registered with [Host.Register].
type Service struct {
	name    string
	methods []serviceMethod
}

type serviceMethod struct {
	name    string
	handler AppendHandlerFunc
}

// NewService starts a service named name (1 to 255 bytes, no NUL).
func NewService(name string) *Service { return &Service{name: name} }

// Method adds a method; it returns s so that calls chain.
func (s *Service) Method(name string, handler HandlerFunc) *Service {
	var appendHandler AppendHandlerFunc
	if handler != nil {
		appendHandler = func(ctx context.Context, req, _ []byte) ([]byte, error) { return handler(ctx, req) }
	}
	return s.AppendMethod(name, appendHandler)
}

// AppendMethod adds a method whose handler appends its response (see
// AppendHandlerFunc); it returns s so that calls chain.
func (s *Service) AppendMethod(name string, handler AppendHandlerFunc) *Service {
	s.methods = append(s.methods, serviceMethod{name: name, handler: handler})
	return s
}

// Name is the service's name.
func (s *Service) Name() string { return s.name }

// handlers maps the integers that registered methods' C contexts hold to
// their Go handlers (C must not hold Go pointers). It plays cgo.Handle's
// part on the call path with one atomic load and an index instead of a map
// lookup: the table is copied on every change (registrations are rare) and
// read without a lock. Slot ids are index+1, so 0 is never a handler.
var handlers struct {
	mu    sync.Mutex // serialises changes
	table atomic.Pointer[[]AppendHandlerFunc]
	free  []uintptr // ids of emptied slots, for reuse
}

func addHandler(handler AppendHandlerFunc) uintptr {
	handlers.mu.Lock()
	defer handlers.mu.Unlock()
	var old []AppendHandlerFunc
	if current := handlers.table.Load(); current != nil {
		old = *current
	}
	table := append([]AppendHandlerFunc(nil), old...)
	var id uintptr
	if n := len(handlers.free); n > 0 {
		id = handlers.free[n-1]
		handlers.free = handlers.free[:n-1]
		table[id-1] = handler
	} else {
		table = append(table, handler)
		id = uintptr(len(table))
	}
	handlers.table.Store(&table)
	return id
}

func removeHandlers(ids []uintptr) {
	if len(ids) == 0 {
		return // a service without methods added none, and there may be no table yet
	}
	handlers.mu.Lock()
	defer handlers.mu.Unlock()
	table := append([]AppendHandlerFunc(nil), *handlers.table.Load()...)
	for _, id := range ids {
		table[id-1] = nil
		handlers.free = append(handlers.free, id)
	}
	handlers.table.Store(&table)
}

// Register adds s to the host. Its handlers are then reachable by every
// caller of the host. ALREADY_EXISTS for a registered name;
// INVALID_ARGUMENT for a malformed service (no methods, a duplicate or empty
// name, a NUL byte, a nil handler).
func (h *Host) Register(s *Service) error {
	if s == nil {
		return &Error{Code: InvalidArgument, Message: "service is nil"}
	}
	serviceName, err := cName(s.name, "service name")
	if err != nil {
		return err
	}
	var names []byte
	for _, method := range s.methods {
		if method.handler == nil {
			return Errorf(InvalidArgument, "method %q of service %q has a nil handler", method.name, s.name)
		}
		name, err := cName(method.name, "method name")
		if err != nil {
			return err
		}
		names = append(names, name...)
	}
	if len(names) == 0 {
		names = append(names, 0) // a valid pointer for C; the host refuses the empty service
	}
	ids := make([]uintptr, 0, len(s.methods))
	cIDs := make([]C.uintptr_t, 0, len(s.methods))
	for _, method := range s.methods {
		id := addHandler(method.handler)
		ids = append(ids, id)
		cIDs = append(cIDs, C.uintptr_t(id))
	}
	// The service's context, released by its destroy callback (a cold path,
	// so an ordinary cgo.Handle).
	serviceHandle := cgo.NewHandle(ids)
	err = h.use(func(host *C.jn_host) error {
		var idsPtr *C.uintptr_t
		if len(cIDs) > 0 {
			idsPtr = &cIDs[0]
		}
		return statusError(C.junction_go_register(host, cChars(serviceName), cChars(names), idsPtr,
			C.uint32_t(len(cIDs)), C.uintptr_t(serviceHandle)))
	})
	if err != nil {
		serviceHandle.Delete()
		removeHandlers(ids)
	}
	return err
}

// junctionGoDestroy forgets a service's handlers once the host no longer
// calls them, on whichever thread released the service last.
//
//export junctionGoDestroy
func junctionGoDestroy(serviceHandle C.uintptr_t) {
	lockForeignThread()
	defer runtime.UnlockOSThread()
	handle := cgo.Handle(serviceHandle)
	removeHandlers(handle.Value().([]uintptr))
	handle.Delete()
}

// lockForeignThread locks the calling goroutine to its OS thread while Go
// code runs on a thread that called in from C (the caller's, a host worker,
// a listener's, a Rust thread). The runtime then starts any OS thread it
// needs meanwhile from its own template thread instead of cloning this one,
// whose name, scheduling policy, slice and CPU affinity (a listener's
// "jn-listener", say) would otherwise pass to a Go thread for good. The
// caller unlocks it (runtime.UnlockOSThread) before returning to C. The
// runtime may still preempt the goroutine before the lock is taken (at the
// call's first stack check in Go) and start a thread from this one then:
// the lock narrows that to the call's entry.
func lockForeignThread() { runtime.LockOSThread() }

// junctionGoServe runs a Go handler for the trampoline. A response that
// fits in the call's scratch (C memory the trampoline lends, which
// AppendHandlerFuncs append to directly) is left there and its length
// returned: the trampoline hands it on with jn_respond. Otherwise, and on
// failure, the result is written here and -1 returned.
//
//export junctionGoServe
func junctionGoServe(call *C.junction_go_serve_call) (written C.int64_t) {
	handler := (*handlers.table.Load())[call.handler_id-1]
	lockForeignThread()
	// Every return sets written; a panic leaves it at handlerPanicked, so
	// the usual return skips recover.
	written = handlerPanicked
	defer func() {
		if written == handlerPanicked {
			fail(call.result, Internal, fmt.Sprintf("go handler panicked: %v", recover()))
			written = -1
		}
		runtime.UnlockOSThread()
	}()
	var req []byte
	if call.request_len > 0 {
		req = unsafe.Slice((*byte)(unsafe.Pointer(call.request)), int(call.request_len))
	}
	var ctx context.Context = background
	if call.timeout_ns != C.JUNCTION_GO_NO_TIMEOUT || call.cancel != nil {
		callCtx := newCallContext(call.timeout_ns, call.cancel)
		defer callCtx.finish()
		ctx = callCtx
	}
	room := unsafe.Slice((*byte)(unsafe.Pointer(call.scratch)), C.JUNCTION_GO_SCRATCH_BYTES)
	response, err := handler(ctx, req, room[:0])
	if err != nil {
		var status *Error
		switch found := errors.As(err, &status); {
		case found && status == nil:
			message := "go handler returned a nil *junction.Error"
			if err != error(status) {
				message += ": " + err.Error() // wrapped in words of the handler's
			}
			fail(call.result, Internal, message)
		case found:
			message := status.Message
			if message == "" && err != error(status) {
				// A sentinel wrapped in the handler's words: they are the
				// message ("user 42: junction: NOT_FOUND" gives "user 42").
				message = strings.TrimSuffix(err.Error(), ": "+status.Error())
			}
			fail(call.result, status.Code, message)
		default:
			fail(call.result, CodeOf(err), err.Error())
		}
		return -1
	}
	if len(response) <= len(room) {
		if len(response) > 0 && unsafe.SliceData(response) != unsafe.SliceData(room) {
			copy(room, response) // not appended in place
		}
		return C.int64_t(len(response))
	}
	if code := C.junction_go_respond(call.result, bytesPtr(response), C.uint64_t(len(response))); code != C.JN_OK {
		fail(call.result, Code(code), "cannot allocate the response")
	}
	return -1
}

// handlerPanicked is junctionGoServe's result until a return sets it.
const handlerPanicked C.int64_t = math.MinInt64

// background is the context of handlers whose caller set no deadline.
var background = context.Background()

// fail writes an error status into a handler's result. A code outside the
// ABI's range, or OK with an error, becomes INTERNAL.
func fail(result *C.jn_result, code Code, message string) {
	if code <= OK || code > Unauthenticated {
		message = fmt.Sprintf("handler failed with invalid code %d: %s", int32(code), message)
		code = Internal
	}
	msg := unsafe.StringData(message)
	C.junction_go_fail(result, C.int32_t(code), (*C.uint8_t)(unsafe.Pointer(msg)), C.uint64_t(len(message)))
}

// callContext is the context a handler gets when its caller set a deadline
// or brought a cancel (jn_call_cancel: a caller's jn_call_cancellable, or a
// listener's for a call from another host): it allocates a timer only if
// the handler asks for Done, and watches the cancel while the handler runs.
type callContext struct {
	deadline    time.Time
	hasDeadline bool
	watch       *C.jn_cancel_watch // while the handler runs, when the call has a cancel
	handle      cgo.Handle         // the watch's reference to the context

	mu    sync.Mutex
	done  chan struct{} // made by the first Done
	timer *time.Timer
	err   error // why the context ended, kept from then on; nil until it has
}

// newCallContext is the context of a call with timeoutNs left (or
// JUNCTION_GO_NO_TIMEOUT) and cancel (nil: none), watched from here on.
func newCallContext(timeoutNs C.int64_t, cancel *C.jn_cancel) *callContext {
	c := &callContext{}
	if timeoutNs != C.JUNCTION_GO_NO_TIMEOUT {
		c.deadline = time.Now().Add(time.Duration(timeoutNs))
		c.hasDeadline = true
	}
	if cancel != nil {
		c.handle = cgo.NewHandle(c)
		var watch *C.jn_cancel_watch
		if C.junction_go_watch_cancel(cancel, C.uintptr_t(c.handle), &watch) != C.JN_OK {
			c.handle.Delete() // no memory for the watch: the deadline still holds
			return c
		}
		c.watch = watch
	}
	return c
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, c.hasDeadline }

func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		} else if c.hasDeadline {
			if remaining := time.Until(c.deadline); remaining <= 0 {
				c.end(context.DeadlineExceeded)
			} else {
				c.timer = time.AfterFunc(remaining, c.expire)
			}
		}
	}
	return c.done
}

// end ends the context with err, closing Done's channel if it was made,
// unless it has ended already: the first reason stands. Under mu.
func (c *callContext) end(err error) {
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
}

// endEarly ends the context Canceled (its caller gave up or its handler
// returned), or DeadlineExceeded if the deadline came first, unseen. Under
// mu.
func (c *callContext) endEarly() {
	if c.err == nil && c.hasDeadline && !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded)
	}
	c.end(context.Canceled)
}

func (c *callContext) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.end(context.DeadlineExceeded)
}

// junctionGoCancelled ends a handler's context: its call's cancel was
// signalled, on whichever thread signalled it.
//
//export junctionGoCancelled
func junctionGoCancelled(contextHandle C.uintptr_t) {
	lockForeignThread()
	defer runtime.UnlockOSThread()
	c := cgo.Handle(contextHandle).Value().(*callContext)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endEarly()
}

// Err is DeadlineExceeded from the deadline on, and Canceled once the
// call's cancel was signalled (its caller gave up) or the handler has
// returned (goroutines it left behind should stop), whichever came first:
// once non-nil it never changes, as the context contract asks.
func (c *callContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && c.hasDeadline && !time.Now().Before(c.deadline) {
		c.end(context.DeadlineExceeded) // Done is closed before Err says why, as a context's must be
	}
	return c.err
}

func (c *callContext) Value(any) any { return nil }

func (c *callContext) String() string {
	if !c.hasDeadline {
		return "junction.callContext(no deadline)"
	}
	return "junction.callContext(deadline " + c.deadline.String() + ")"
}

// finish ends the context once the handler has returned: the watch first,
// whose wake takes mu (and the cancel is the call's, gone once it returns),
// then the timer.
func (c *callContext) finish() {
	if c.watch != nil {
		C.jn_cancel_unwatch(c.watch)
		c.handle.Delete()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.endEarly()
}
