package junction

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Response is a response borrowed from its producer (Rust, C++ or Go
// memory): no copy is made. Release it when done; one that is garbage
// collected unreleased is released then. A Response is a small value:
// copies of it refer to the same response, and once any copy has released
// it, every copy reads as empty and releasing again is a no-op. Copies may
// be used from several goroutines at once, Release included, but bytes read
// through any copy are valid only until one copy releases them.
type Response struct {
	held *heldResponse
}

// heldResponse is one CallBorrowed's response, shared by the copies of its
// Response. buffer is set before the Response is returned and never written
// again, so Bytes reads it racing nothing, and a copy never sees another
// call's bytes. state, while the response is unreleased, carries the
// cleanup; Release takes it (the one claim to the buffer).
type heldResponse struct {
	buffer C.junction_go_owned
	state  atomic.Pointer[responseState]
}

// responseState is the collector's hold on an unreleased buffer. States
// are pooled, so a CallBorrowed costs no cleanup registration: each state
// registers its cleanup once, when made, and it runs when the state is
// collected (a Response dropped unreleased, or a pooled state the pool let
// go of, whose box is empty). A state is reachable only through the one
// unreleased heldResponse holding it (Release takes it away), so a released
// copy kept alive never keeps the state of a later response alive.
type responseState struct {
	box *responseBox
}

// responseBox is the cleanup's argument: reachable from its state, never
// the other way round, so the state can be collected. Only the state's
// holder (CallBorrowed, then the Release that took it) writes it.
type responseBox struct {
	buffer C.junction_go_owned
}

var responseStates = sync.Pool{New: func() any {
	state := &responseState{box: &responseBox{}}
	runtime.AddCleanup(state, func(box *responseBox) { releaseOwned(box.buffer) }, state.box)
	return state
}}

// CallBorrowed is Call without the copy: the response stays in the
// producer's buffer until Release. It pays for large responses; a small one
// is as cheap to copy with Call.
func (m *Method) CallBorrowed(ctx context.Context, req []byte) (Response, error) {
	timeout, err := m.begin(ctx)
	if err != nil {
		return Response{}, err
	}
	var outcome C.junction_go_outcome
	call := func(cancel *C.jn_cancel) {
		outcome = C.junction_go_call_borrowed(m.handle(), bytesPtr(req), C.uint64_t(len(req)), C.int64_t(timeout), cancel)
	}
	if m.endsWithContext(ctx) {
		if err := withCancel(ctx, call); err != nil {
			return Response{}, err
		}
	} else {
		call(nil)
	}
	runtime.KeepAlive(m)
	runtime.KeepAlive(req)
	if outcome.status.code != C.JN_OK {
		return Response{}, contextCause(ctx, takeStatus(outcome.status))
	}
	releaseOwned(outcome.status.message) // an OK may carry one
	if outcome.response.release == 0 {
		return Response{}, nil // empty, nothing to release: as a released Response reads
	}
	state := responseStates.Get().(*responseState)
	state.box.buffer = outcome.response
	held := &heldResponse{buffer: outcome.response}
	held.state.Store(state)
	return Response{held: held}, nil
}

// Bytes are the response's bytes, valid until Release; nil after it. They
// are the producer's memory, which the collector does not see: keep r
// reachable (release it, or runtime.KeepAlive(r)) while using them, since
// a Response collected unreleased is released then, bytes and all.
func (r Response) Bytes() []byte {
	if r.held == nil || r.held.state.Load() == nil {
		return nil
	}
	return ownedBytes(r.held.buffer)
}

// Len is the response's length in bytes (0 after Release).
func (r Response) Len() int { return len(r.Bytes()) }

// Release hands the buffer back to its producer. Releasing again, through
// this or any copy, is a no-op; slices from Bytes must not be used
// afterwards.
func (r Response) Release() {
	if r.held == nil {
		return
	}
	state := r.held.state.Swap(nil)
	if state == nil {
		return
	}
	state.box.buffer = C.junction_go_owned{} // the state, reachable until Put, is ours alone
	responseStates.Put(state)
	releaseOwned(r.held.buffer)
}
