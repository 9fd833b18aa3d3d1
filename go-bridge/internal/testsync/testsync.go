// Package testsync holds what the Go bridge's tests share across packages
// (the junction package's and the commands'): a buffer that a process or a
// run writes while the test reads it, and a bounded receive.
package testsync

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Receive takes a value from ch, or fails the test when none comes within
// timeout, saying what was awaited: a lost answer fails the test instead of
// hanging the whole package until go test's own timeout.
func Receive[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("%s: nothing within %v", what, timeout)
		panic("unreachable: Fatalf ends the test")
	}
}

// LockedBuffer is a bytes.Buffer safe to write from one goroutine while
// others read it.
type LockedBuffer struct {
	mu     sync.Mutex
	buffer bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.Write(p)
}

func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buffer.String()
}

// WaitFor polls the buffer until it holds text, for up to 10 s.
func (b *LockedBuffer) WaitFor(text string) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if strings.Contains(b.String(), text) {
			return true
		}
	}
	return strings.Contains(b.String(), text)
}
