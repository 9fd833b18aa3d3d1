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
// it, every copy reads as empty and releasing again is a no-op.
type Response struct {
	state *responseState
	gen   uint64
}

// responseState holds one borrowed buffer at a time. States are pooled, so
// a CallBorrowed costs no cleanup registration: each state registers its
// cleanup once, when made, and it runs when the state is collected (a
// Response dropped unreleased, or a pooled state the pool let go of, whose
// box is empty).
type responseState struct {
	// gen identifies the Response that holds the state; Release advances
	// it, which ends that Response's claim.
	gen atomic.Uint64
	box *responseBox
}

// responseBox is the cleanup's argument: reachable from its state, never
// the other way round, so the state can be collected.
type responseBox struct {
	buffer C.junction_go_owned
}

func releaseBox(box *responseBox) {
	releaseOwned(box.buffer)
	box.buffer = C.junction_go_owned{}
}

var responseStates = sync.Pool{New: func() any {
	state := &responseState{box: &responseBox{}}
	runtime.AddCleanup(state, releaseBox, state.box)
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
	state := responseStates.Get().(*responseState)
	state.box.buffer = outcome.response
	return Response{state: state, gen: state.gen.Load()}, nil
}

// live reports whether r still holds its buffer.
func (r Response) live() bool {
	return r.state != nil && r.state.gen.Load() == r.gen
}

// Bytes are the response's bytes, valid until Release; nil after it. They
// are the producer's memory, which the collector does not see: keep r
// reachable (release it, or runtime.KeepAlive(r)) while using them, since
// a Response collected unreleased is released then, bytes and all.
func (r Response) Bytes() []byte {
	if !r.live() {
		return nil
	}
	return ownedBytes(r.state.box.buffer)
}

// Len is the response's length in bytes (0 after Release).
func (r Response) Len() int { return len(r.Bytes()) }

// Release hands the buffer back to its producer. Releasing again, through
// this or any copy, is a no-op; slices from Bytes must not be used
// afterwards.
func (r Response) Release() {
	if r.state == nil || !r.state.gen.CompareAndSwap(r.gen, r.gen+1) {
		return
	}
	releaseBox(r.state.box)
	responseStates.Put(r.state)
}
