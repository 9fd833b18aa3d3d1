package junction

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"runtime"
	"runtime/cgo"
	"sync"
)

// asyncCall is one CallAsync in flight: where the done callback leaves the
// outcome, or releases it when the caller has stopped waiting.
type asyncCall struct {
	mu        sync.Mutex
	done      chan struct{} // closed when outcome is set
	outcome   C.junction_go_outcome
	arrived   bool
	abandoned bool
}

// CallAsync is Call for methods that take a while (asynchronous handlers):
// the call runs on the host's worker threads and this goroutine waits for
// it without holding an OS thread, as Call's cgo call does. A routed
// (remote) method's call is sent before the cgo call that starts it
// returns when its connection is up (otherwise by a worker), and the
// route's own thread receives the answer, so any number of them are in
// flight at once. The request is copied once (the host keeps it until the handler is
// done). The deadline travels with the call as in Call.
//
// A ctx that ends while the call runs returns CANCELLED (DEADLINE_EXCEEDED
// for its deadline) at once, and cancels the call: its handler sees it (a
// Go handler's ctx ends), and a routed call stops waiting and tells the
// other host. A handler that runs on is not stopped; its response is
// released when it comes.
//
// For quick in-process handlers Call is far cheaper: CallAsync hands the
// call to another thread and back.
func (m *Method) CallAsync(ctx context.Context, req []byte) ([]byte, error) {
	timeout, err := m.begin(ctx)
	if err != nil {
		return nil, err
	}
	var cancel *C.jn_cancel
	if ctx.Done() != nil {
		if C.jn_cancel_new(&cancel) != C.JN_OK {
			return nil, &Error{Code: ResourceExhausted, Message: "cannot allocate the call's cancel"}
		}
		defer C.jn_cancel_free(cancel) // the call holds its own
	}
	call := &asyncCall{done: make(chan struct{})}
	handle := cgo.NewHandle(call)
	status := C.junction_go_call_async(m.raw, bytesPtr(req), C.uint64_t(len(req)), C.int64_t(timeout),
		cancel, C.uintptr_t(handle))
	runtime.KeepAlive(m)
	runtime.KeepAlive(req)
	if err := statusError(status); err != nil {
		handle.Delete() // nothing started: the callback never runs
		return nil, err
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		call.mu.Lock()
		if !call.arrived {
			call.abandoned = true // the callback releases the outcome
			call.mu.Unlock()
			// Signalled once abandoned, so that the CANCELLED the cancel
			// brings about is never taken for the call's outcome.
			C.jn_cancel_signal(cancel)
			return nil, &Error{Code: CodeOf(ctx.Err()), Message: "context done while waiting for the call: " + ctx.Err().Error()}
		}
		call.mu.Unlock()
	}
	return appendOutcome(nil, call.outcome)
}

// junctionGoAsyncDone receives a CallAsync's outcome, exactly once, on
// whichever thread answered the call.
//
//export junctionGoAsyncDone
func junctionGoAsyncDone(callHandle C.uintptr_t, outcome C.junction_go_outcome) {
	lockForeignThread()
	defer runtime.UnlockOSThread()
	handle := cgo.Handle(callHandle)
	call := handle.Value().(*asyncCall)
	handle.Delete()
	call.mu.Lock()
	defer call.mu.Unlock()
	if call.abandoned {
		releaseOwned(outcome.status.message)
		releaseOwned(outcome.response)
		return
	}
	call.outcome = outcome
	call.arrived = true
	close(call.done)
}
