package junction

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// Method is a resolved (service, method): the handle every call goes
// through, with no name lookup. Safe for concurrent use. Close frees it; a
// Method that is garbage collected unclosed is freed then.
type Method struct {
	raw     *C.jn_method
	cleanup runtime.Cleanup
	closed  atomic.Bool
	// Whether its calls can wait (routed, or an asynchronous handler), and so
	// end early when their context does (jn_method_waits).
	waits bool
	// The last response's length (at most maxResponseHint): Call lends that
	// much room, so that the usual response lands in the returned slice in
	// the call's own cgo crossing.
	responseHint atomic.Uint64
}

// maxResponseHint bounds the room Call lends up front: a larger response is
// copied out of its producer's buffer instead, so one large answer does not
// make every later call allocate as much.
const maxResponseHint = 4096

func newMethod(raw *C.jn_method) *Method {
	m := &Method{raw: raw, waits: C.jn_method_waits(raw) != 0}
	m.cleanup = runtime.AddCleanup(m, func(raw *C.jn_method) { C.jn_method_free(raw) }, raw)
	return m
}

// Close frees the handle. It must not be in use by a call; closing twice is
// a no-op.
func (m *Method) Close() {
	if m.closed.Swap(true) {
		return
	}
	m.cleanup.Stop()
	C.jn_method_free(m.raw)
}

// Waits reports whether calls on m can wait, and so end early when their
// context does: a routed method's, or an asynchronous handler's
// (jn_method_waits).
func (m *Method) Waits() bool { return m.waits }

// Raw is the jn_method* handle, for C code; it stays owned by m.
func (m *Method) Raw() unsafe.Pointer { return unsafe.Pointer(m.raw) }

// MethodStats is what the calls on a method have done (jn_method_stats),
// shared by every handle on the same method of one registration. Calls and
// Errors are exact; latency is sampled (one synchronous call in 128 per
// thread, and every asynchronous call), and its percentiles are the upper
// bounds of power-of-two buckets.
type MethodStats struct {
	Calls          uint64
	Errors         uint64 // calls not answered OK
	LatencySamples uint64
	LatencyMean    time.Duration
	LatencyP50     time.Duration
	LatencyP99     time.Duration
	LatencyMax     time.Duration
}

// Stats reports the method's statistics; FAILED_PRECONDITION once m is
// closed. Like a call, it must not race with Close.
func (m *Method) Stats() (MethodStats, error) {
	if m.closed.Load() {
		return MethodStats{}, errMethodClosed()
	}
	var raw C.jn_method_stats
	C.jn_method_stats_get(m.raw, &raw) // a live handle and an out struct: JN_OK
	runtime.KeepAlive(m)
	return MethodStats{
		Calls:          uint64(raw.calls),
		Errors:         uint64(raw.errors),
		LatencySamples: uint64(raw.latency_samples),
		LatencyMean:    time.Duration(raw.latency_mean_ns),
		LatencyP50:     time.Duration(raw.latency_p50_ns),
		LatencyP99:     time.Duration(raw.latency_p99_ns),
		LatencyMax:     time.Duration(raw.latency_max_ns),
	}, nil
}

// timeoutOf is ctx's remaining time in nanoseconds for the C side
// (JUNCTION_GO_NO_TIMEOUT without a deadline), or the error that answers a
// context already done.
func timeoutOf(ctx context.Context) (int64, error) {
	if ctx.Done() != nil {
		if err := ctx.Err(); err != nil {
			if err == context.DeadlineExceeded {
				return 0, &Error{Code: DeadlineExceeded, Message: "context deadline exceeded before the call"}
			}
			return 0, &Error{Code: Canceled, Message: "context canceled before the call"}
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return C.JUNCTION_GO_NO_TIMEOUT, nil
	}
	remaining := time.Until(deadline)
	if remaining <= 0 {
		return 0, &Error{Code: DeadlineExceeded, Message: "context deadline exceeded before the call"}
	}
	return int64(remaining), nil
}

// begin checks that a call may start: the handle is open and ctx is not
// done. It returns the call's timeout (see timeoutOf).
func (m *Method) begin(ctx context.Context) (int64, error) {
	if m.closed.Load() {
		return 0, errMethodClosed()
	}
	if isBackground(ctx) {
		return C.JUNCTION_GO_NO_TIMEOUT, nil
	}
	return timeoutOf(ctx)
}

// isBackground reports whether ctx is context.Background() by comparing
// the interface's two words (type and data), which costs no call where ==
// on interfaces calls into the runtime. A false answer only sends ctx down
// the general path.
func isBackground(ctx context.Context) bool {
	return *(*[2]uintptr)(unsafe.Pointer(&ctx)) == backgroundWords
}

var backgroundWords = *(*[2]uintptr)(unsafe.Pointer(&background))

func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// Call calls the method on this goroutine's thread and returns the response
// copied into Go memory. req is lent to the handler for the call, without a
// copy. ctx's deadline is the call's deadline; a ctx already done is
// answered at once. Failures are *Error (NOT_FOUND once the service is
// gone, DEADLINE_EXCEEDED when the deadline passed, the handler's own
// status otherwise).
//
// On a method whose calls wait (a routed one, or an asynchronous
// handler's), ctx ending while the call waits ends it at once: CANCELLED
// (errors.Is(err, context.Canceled)), or DEADLINE_EXCEEDED when ctx's
// deadline passed. The other host is told and ends the waits of the call
// there (a relay's own routed call), but a running handler is not
// stopped: it runs to its end and its answer is dropped. A handler in this
// process that runs on the caller's thread is never interrupted. A Go
// handler that calls with its own ctx, on its own goroutine, passes on the
// cancel of the call it serves: its caller giving up ends that call's wait
// too. (A goroutine it starts that calls with that ctx is bounded by its
// deadline only.)
func (m *Method) Call(ctx context.Context, req []byte) ([]byte, error) {
	// Room for a response of the last one's size (up to maxResponseHint),
	// so that the usual response is written straight into the slice
	// returned.
	response, err := m.CallAppend(ctx, make([]byte, 0, m.responseHint.Load()), req)
	if err == nil {
		if hint := uint64(min(len(response), maxResponseHint)); hint != m.responseHint.Load() {
			m.responseHint.Store(hint)
		}
	}
	return response, err
}

// CallAppend is Call appending the response to dst, as append does: the
// call lends the handler dst's spare capacity, so with enough of it (a
// buffer reused from call to call) a handler that answers with jn_respond
// (Rust handlers returning arrays, Go AppendHandlerFuncs, C handlers) writes
// its response there and the call allocates nothing.
func (m *Method) CallAppend(ctx context.Context, dst, req []byte) ([]byte, error) {
	timeout := int64(C.JUNCTION_GO_NO_TIMEOUT)
	if m.closed.Load() || !isBackground(ctx) { // begin's common answer, without a call
		var err error
		if timeout, err = m.begin(ctx); err != nil {
			return dst, err
		}
		if m.endsWithContext(ctx) {
			return m.callAppendCancellable(ctx, dst, req, timeout)
		}
	}
	room := dst[len(dst):cap(dst)]
	// req and room are pointer arguments, so live for the call.
	n := C.junction_go_call(m.handle(), bytesPtr(req), C.uint64_t(len(req)), C.int64_t(timeout),
		bytesPtr(room), C.uint64_t(len(room)))
	runtime.KeepAlive(m)
	if n >= 0 {
		return dst[:len(dst)+int(n)], nil
	}
	return appendOutcome(dst, C.junction_go_outcome_take(n))
}

// endsWithContext reports whether a call on m with ctx is made with a
// cancel that ctx's end signals: m's calls wait and ctx can end. A Go
// handler's own context is the exception: a call made with it on the
// handler's thread waits with the cancel of the call the handler serves
// (jn_call_cancellable: the calls a handler makes on its thread), so that
// its caller's cancel, or a cancel message from another host, ends it
// (a relay) at no cost; its deadline is the handler's deadline. That
// cancel is the call's and gone once the handler returns, so no other
// goroutine may use it.
func (m *Method) endsWithContext(ctx context.Context) bool {
	if !m.waits {
		return false
	}
	if _, handlers := ctx.(*callContext); handlers {
		return false
	}
	return ctx.Done() != nil
}

// callAppendCancellable is CallAppend on a method that waits, with a
// context that can end: ending, ctx ends the call's wait.
func (m *Method) callAppendCancellable(ctx context.Context, dst, req []byte, timeout int64) ([]byte, error) {
	room := dst[len(dst):cap(dst)]
	var n C.int64_t
	err := withCancel(ctx, func(cancel *C.jn_cancel) {
		n = C.junction_go_call_cancellable(m.handle(), bytesPtr(req), C.uint64_t(len(req)), C.int64_t(timeout),
			cancel, bytesPtr(room), C.uint64_t(len(room)))
	})
	runtime.KeepAlive(m)
	if err != nil {
		return dst, err
	}
	if n >= 0 {
		return dst[:len(dst)+int(n)], nil
	}
	dst, err = appendOutcome(dst, C.junction_go_outcome_take(n))
	return dst, contextCause(ctx, err)
}

// withCancel runs call with a cancel (jn_cancel) that ctx signals when it
// ends, and frees it after: call must not keep it.
func withCancel(ctx context.Context, call func(cancel *C.jn_cancel)) error {
	var cancel *C.jn_cancel
	if C.jn_cancel_new(&cancel) != C.JN_OK {
		return &Error{Code: ResourceExhausted, Message: "cannot allocate the call's cancel"}
	}
	signalled := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		C.jn_cancel_signal(cancel)
		close(signalled)
	})
	call(cancel)
	if !stop() {
		<-signalled // the signal has begun: it must end before the free
	}
	C.jn_cancel_free(cancel)
	return nil
}

// contextCause is err, a call's failure, told as the context's when the
// context's end is what ended the call: CANCELLED from a context whose
// deadline passed becomes DEADLINE_EXCEEDED (both end the wait at once).
func contextCause(ctx context.Context, err error) error {
	var failure *Error
	if errors.As(err, &failure) && failure.Code == Canceled && ctx.Err() == context.DeadlineExceeded {
		return &Error{Code: DeadlineExceeded, Message: "context deadline exceeded while the call waited"}
	}
	return err
}

// appendOutcome is CallAppend's answer from an outcome junction_go_call
// could not give in dst: a failure, or a response larger than the room.
func appendOutcome(dst []byte, outcome C.junction_go_outcome) ([]byte, error) {
	if outcome.status.code != C.JN_OK {
		releaseOwned(outcome.response)
		return dst, takeStatus(outcome.status)
	}
	releaseOwned(outcome.status.message)
	dst = append(dst, ownedBytes(outcome.response)...)
	releaseOwned(outcome.response)
	return dst, nil
}

// handle is the jn_method* as junction_go_call takes it: an integer, which
// cgo does not check as it checks pointers (the handle is C memory).
func (m *Method) handle() C.uintptr_t {
	return C.uintptr_t(uintptr(unsafe.Pointer(m.raw)))
}

func errMethodClosed() *Error {
	return &Error{Code: FailedPrecondition, Message: "method handle is closed"}
}
