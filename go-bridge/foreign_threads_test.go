package junction_test

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"junction"
	"junction/internal/cgotest"
)

// holdThreads starts n goroutines that each lock an OS thread and wait:
// meanwhile the runtime runs its other goroutines on threads it has idle
// or starts new ones. It returns once all n hold their thread; release
// ends them (and their threads) and waits for that.
func holdThreads(n int) (release func()) {
	var started, ended sync.WaitGroup
	done := make(chan struct{})
	for range n {
		started.Add(1)
		ended.Add(1)
		go func() {
			defer ended.Done()
			runtime.LockOSThread()
			started.Done()
			<-done
		}()
	}
	started.Wait()
	return func() {
		close(done)
		ended.Wait()
	}
}

// withoutGC turns the collector off for the test: its stack scans stop
// goroutines wherever they are, including the instants a call from C spends
// in Go before and after the bridge locks the thread.
func withoutGC(t *testing.T) {
	previous := debug.SetGCPercent(-1)
	t.Cleanup(func() { debug.SetGCPercent(previous) })
}

// threadsNamed returns the IDs of this process's threads named name.
func threadsNamed(t *testing.T, name string) map[string]bool {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, task := range tasks {
		comm, err := os.ReadFile("/proc/self/task/" + task.Name() + "/comm")
		if err == nil && strings.TrimSuffix(string(comm), "\n") == name {
			named[task.Name()] = true
		}
	}
	return named
}

// A Go handler running on a host worker can make the runtime start OS
// threads (here it starts goroutines that hold theirs, and waits). Those
// threads are started from the runtime's own, never cloned from the worker,
// so the calls add no thread named "jn-worker". The worker's first call is
// made before the count: the runtime may preempt a callback from C before
// the bridge's lock is taken (lockForeignThread), and did so at a worker's
// first call into Go in 3 of 10 runs of one test order.
func TestGoThreadsStartedFromAHandlerAreNotClonesOfItsThread(t *testing.T) {
	withoutGC(t)
	host, err := junction.NewHost(junction.WithWorkerThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = host.Close() })
	var releases []func()
	var mu sync.Mutex
	t.Cleanup(func() {
		for _, release := range releases {
			release()
		}
	})
	err = host.Register(junction.NewService("threads").Method("hold", func(context.Context, []byte) ([]byte, error) {
		release := holdThreads(8)
		mu.Lock()
		releases = append(releases, release)
		mu.Unlock()
		return nil, nil
	}).Method("nothing", func(context.Context, []byte) ([]byte, error) { return nil, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := cgotest.CallOnWorker(method(t, host, "threads", "nothing"), nil, nil); code != junction.OK {
		t.Fatalf("first call on the worker: %v", code)
	}
	before := threadsNamed(t, "jn-worker") // the worker, and other hosts' ending or not
	hold := method(t, host, "threads", "hold")
	for range 10 {
		if code, _ := cgotest.CallOnWorker(hold, nil, nil); code != junction.OK {
			t.Fatalf("call on the worker: %v", code)
		}
	}
	added := 0
	for id := range threadsNamed(t, "jn-worker") {
		if !before[id] {
			added++
		}
	}
	if added != 0 {
		t.Errorf("%d threads named jn-worker were added, want none", added)
	}
}
