package junction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"junction"
	"junction/goecho"
	"junction/internal/cgotest"
)

func TestCallAsyncAnswersLikeCall(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	for _, size := range sizes {
		req := payload(size)
		got, err := echo.CallAsync(context.Background(), req)
		if err != nil || !bytes.Equal(got, req) {
			t.Fatalf("echo %d bytes: %d back, %v", size, len(got), err)
		}
	}
	_, err := method(t, host, goecho.Name, "panic").CallAsync(context.Background(), []byte("xy"))
	var status *junction.Error
	if !errors.As(err, &status) || status.Code != junction.Internal ||
		status.Message != "go handler panicked: go.echo/panic called with 2 bytes" {
		t.Fatalf("panic: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := method(t, host, goecho.Name, "sleep").CallAsync(ctx, le64(5000)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sleep past the deadline: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("DEADLINE_EXCEEDED after %v", elapsed)
	}
}

// A cancel ends the caller's wait at once: the call is still held by its
// handler when CallAsync returns CANCELLED.
func TestCallAsyncCancelledWhileWaiting(t *testing.T) {
	host := newHost(t)
	held := heldEcho(t, host)
	echo := method(t, host, "c.held", "echo")
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := echo.CallAsync(ctx, []byte("abandoned"))
		errs <- err
	}()
	waitHeld(t, held, 1)
	cancel()
	select {
	case err := <-errs:
		if !errors.Is(err, junction.ErrCanceled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the cancelled wait went on")
	}
	if n := held.Held(); n != 1 {
		t.Fatalf("the cancelled wait returned once the handler had answered (%d calls held)", n)
	}
	// The abandoned call still ends, and its response is released then
	// (newHost's cleanup checks the live objects after closing the host).
	held.Release()
	if got, err := echo.CallAsync(context.Background(), []byte("kept")); err != nil || string(got) != "kept" {
		t.Fatalf("after an abandoned call: %q, %v", got, err)
	}
}

// heldEcho registers the C service that holds its calls until released, as
// c.held on host.
func heldEcho(t *testing.T, host *junction.Host) *cgotest.HeldEcho {
	t.Helper()
	held, code := cgotest.RegisterHeldEcho(host, "c.held")
	if code != junction.OK {
		t.Fatalf("RegisterHeldEcho: %v", code)
	}
	return held
}

// waitHeld waits until held holds n calls.
func waitHeld(t *testing.T, held *cgotest.HeldEcho, n int) {
	t.Helper()
	giveUp := time.Now().Add(20 * time.Second)
	for held.Held() < n {
		if time.Now().After(giveUp) {
			t.Fatalf("%d calls held after 20 s, want %d", held.Held(), n)
		}
		runtime.Gosched()
	}
}

// osThreads is the process's thread count, from /proc.
func osThreads(t *testing.T) int {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("reading the thread count: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if count, found := strings.CutPrefix(line, "Threads:"); found {
			n, err := strconv.Atoi(strings.TrimSpace(count))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// 200 goroutines waiting at once on calls their handler holds: CallAsync
// holds no OS thread per waiting call (a blocking Call holds one each: 200
// more threads). The calls start one after the other, each once the
// previous one is held, so the count shows the waiting, not Go adding
// threads while many starting cgo calls are in C at once.
func TestCallAsyncWaitsWithoutAThreadPerCall(t *testing.T) {
	host := newHost(t)
	held := heldEcho(t, host)
	echo := method(t, host, "c.held", "echo")
	before := osThreads(t)
	const callers = 200
	errs := make(chan error, callers)
	for g := range callers {
		go func() {
			req := []byte(fmt.Sprintf("call %d", g))
			got, err := echo.CallAsync(context.Background(), req)
			if err == nil && !bytes.Equal(got, req) {
				err = fmt.Errorf("answered %q", got)
			}
			errs <- err
		}()
		waitHeld(t, held, g+1)
	}
	during := osThreads(t)
	held.Release()
	for range callers {
		if err := receive(t, errs, 30*time.Second, "a caller's answer"); err != nil {
			t.Error(err)
		}
	}
	if during > before+32 {
		t.Fatalf("%d OS threads while %d calls waited, %d before", during, callers, before)
	}
}

// Routed CallAsync calls hold no host worker while they wait: on a host
// with one worker, sixteen of them meet in the remote handler, which
// answers only once all have come.
func TestRoutedCallAsyncCallsWaitTogetherOnOneWorker(t *testing.T) {
	const calls = 16
	server := newHost(t)
	var arrived atomic.Int32
	if err := server.Register(junction.NewService("meet").
		Method("all", func(ctx context.Context, req []byte) ([]byte, error) {
			arrived.Add(1)
			giveUp := time.Now().Add(10 * time.Second)
			for arrived.Load() < calls {
				if time.Now().After(giveUp) {
					return nil, fmt.Errorf("%d of %d calls came", arrived.Load(), calls)
				}
				time.Sleep(time.Millisecond)
			}
			return req, nil
		})); err != nil {
		t.Fatal(err)
	}
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
	client := newHost(t, junction.WithWorkerThreads(1))
	routeTo(t, client, listener.URL(), "meet")
	all := method(t, client, "meet", "all")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			req := []byte(strconv.Itoa(i))
			got, err := all.CallAsync(ctx, req)
			if err == nil && !bytes.Equal(got, req) {
				err = fmt.Errorf("answered %q to %q", got, req)
			}
			errs <- err
		}()
	}
	for range calls {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
