package junction_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"junction"
	"junction/goecho"
	"junction/internal/cgotest"
	"junction/internal/testsync"
)

// newHost makes a host that the test closes, and checks at the end that
// every object libjunction made for the test has been released.
func newHost(t *testing.T, options ...junction.HostOption) *junction.Host {
	t.Helper()
	baseline := junction.LiveObjects()
	host, err := junction.NewHost(options...)
	if err != nil {
		t.Fatalf("NewHost: %v", err)
	}
	t.Cleanup(func() {
		if err := host.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		runtime.GC() // Methods a test forgot to close are freed by their cleanup
		waitForBaseline(t, baseline)
	})
	return host
}

// receive is testsync.Receive, short for this package's tests.
func receive[T any](t *testing.T, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	return testsync.Receive(t, ch, timeout, what)
}

// waitForBaseline waits (briefly: cleanups run on their own goroutine) for
// the live counts to return to baseline.
func waitForBaseline(t *testing.T, baseline junction.LiveCounts) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for junction.LiveObjects() != baseline {
		if time.Now().After(deadline) {
			t.Errorf("live objects %v, want the baseline %v", junction.LiveObjects(), baseline)
			return
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

func method(t *testing.T, host *junction.Host, service, name string) *junction.Method {
	t.Helper()
	m, err := host.Method(service, name)
	if err != nil {
		t.Fatalf("Method(%q, %q): %v", service, name, err)
	}
	t.Cleanup(m.Close)
	return m
}

func echoHost(t *testing.T) *junction.Host {
	t.Helper()
	host := newHost(t)
	if err := host.Register(goecho.Service(host)); err != nil {
		t.Fatalf("Register: %v", err)
	}
	return host
}

func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

var sizes = []int{0, 1, 64, 64 << 10, 1 << 20}

func TestCallGoServiceAllSizes(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	checksum := method(t, host, goecho.Name, "checksum")
	for _, size := range sizes {
		req := payload(size)
		got, err := echo.Call(context.Background(), req)
		if err != nil || !bytes.Equal(got, req) {
			t.Fatalf("echo %d bytes: %d bytes back, err %v", size, len(got), err)
		}
		sum, err := checksum.Call(context.Background(), req)
		if err != nil || !bytes.Equal(sum, le64(goecho.Checksum(req))) {
			t.Fatalf("checksum %d bytes: %x, err %v", size, sum, err)
		}
		borrowed, err := echo.CallBorrowed(context.Background(), req)
		if err != nil || !bytes.Equal(borrowed.Bytes(), req) || borrowed.Len() != size {
			t.Fatalf("borrowed echo %d bytes: err %v", size, err)
		}
		borrowed.Release()
		borrowed.Release() // a second release is a no-op
		if borrowed.Bytes() != nil {
			t.Fatalf("a released response still lends %d bytes", len(borrowed.Bytes()))
		}
	}
}

func TestResponseSizesChangeBetweenCalls(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	for _, size := range []int{8, 1000, 3, 0, 70000, 9} {
		got, err := echo.Call(context.Background(), payload(size))
		if err != nil || !bytes.Equal(got, payload(size)) {
			t.Fatalf("echo %d bytes: %d back, err %v", size, len(got), err)
		}
	}
}

func le64(v uint64) []byte {
	return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24), byte(v >> 32), byte(v >> 40), byte(v >> 48), byte(v >> 56)}
}

func TestHandlerErrorsKeepTheirCode(t *testing.T) {
	host := newHost(t)
	plain := errors.New("plain failure")
	err := host.Register(junction.NewService("errors").
		Method("status", func(context.Context, []byte) ([]byte, error) {
			return nil, junction.Errorf(junction.Unavailable, "try later")
		}).
		Method("wrapped", func(context.Context, []byte) ([]byte, error) {
			return nil, fmt.Errorf("wrapped: %w", junction.Errorf(junction.PermissionDenied, "no"))
		}).
		Method("wrapped_sentinel", func(context.Context, []byte) ([]byte, error) {
			return nil, fmt.Errorf("user 42 not in table users: %w", junction.ErrNotFound)
		}).
		Method("plain", func(context.Context, []byte) ([]byte, error) { return nil, plain }).
		Method("deadline", func(context.Context, []byte) ([]byte, error) { return nil, context.DeadlineExceeded }).
		Method("bad_code", func(context.Context, []byte) ([]byte, error) {
			return nil, &junction.Error{Code: 99, Message: "odd"}
		}))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method  string
		code    junction.Code
		message string
	}{
		{"status", junction.Unavailable, "try later"},
		{"wrapped", junction.PermissionDenied, "no"},
		{"wrapped_sentinel", junction.NotFound, "user 42 not in table users"},
		{"plain", junction.Unknown, "plain failure"},
		{"deadline", junction.DeadlineExceeded, "context deadline exceeded"},
		{"bad_code", junction.Internal, "handler failed with invalid code 99: odd"},
	}
	for _, c := range cases {
		_, err := method(t, host, "errors", c.method).Call(context.Background(), nil)
		var status *junction.Error
		if !errors.As(err, &status) || status.Code != c.code || status.Message != c.message {
			t.Errorf("%s: got %v, want %v %q", c.method, err, c.code, c.message)
		}
		if junction.CodeOf(err) != c.code {
			t.Errorf("%s: CodeOf = %v", c.method, junction.CodeOf(err))
		}
	}
}

func TestErrorsIs(t *testing.T) {
	host := newHost(t)
	_, err := host.Method("missing", "method")
	if !errors.Is(err, junction.ErrNotFound) || errors.Is(err, junction.ErrInternal) {
		t.Fatalf("unknown service: %v", err)
	}
	deadline := &junction.Error{Code: junction.DeadlineExceeded, Message: "late"}
	if !errors.Is(deadline, context.DeadlineExceeded) || !errors.Is(deadline, junction.ErrDeadlineExceeded) {
		t.Fatal("DEADLINE_EXCEEDED does not match its sentinels")
	}
	if !errors.Is(&junction.Error{Code: junction.Canceled}, context.Canceled) {
		t.Fatal("CANCELLED does not match context.Canceled")
	}
	var none *junction.Error
	if errors.Is(deadline, none) {
		t.Fatal("an error matches a nil *Error")
	}
	if junction.CodeOf(nil) != junction.OK || junction.CodeOf(errors.New("x")) != junction.Unknown {
		t.Fatal("CodeOf of nil or a plain error")
	}
	if got := junction.Code(42).String(); got != "INVALID_CODE(42)" {
		t.Fatalf("Code(42).String() = %q", got)
	}
}

// Every code but OK has its sentinel, which matches an *Error with that
// code, whatever its message, and no other.
func TestEveryCodeHasASentinel(t *testing.T) {
	sentinels := []*junction.Error{
		junction.ErrCanceled, junction.ErrUnknown, junction.ErrInvalidArgument,
		junction.ErrDeadlineExceeded, junction.ErrNotFound, junction.ErrAlreadyExists,
		junction.ErrPermissionDenied, junction.ErrResourceExhausted, junction.ErrFailedPrecondition,
		junction.ErrAborted, junction.ErrOutOfRange, junction.ErrUnimplemented,
		junction.ErrInternal, junction.ErrUnavailable, junction.ErrDataLoss,
		junction.ErrUnauthenticated,
	}
	for i, sentinel := range sentinels {
		code := junction.Code(i + 1)
		if sentinel.Code != code || sentinel.Message != "" {
			t.Fatalf("sentinel %d is %v, want a bare %v", i, sentinel, code)
		}
		failure := junction.Errorf(code, "failed")
		for j, other := range sentinels {
			if got := errors.Is(failure, other); got != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", failure, other, got)
			}
		}
	}
	if got := junction.Code(len(sentinels)).String(); got != "UNAUTHENTICATED" {
		t.Fatalf("the last code is %s, want UNAUTHENTICATED", got)
	}
}

// A nil *Error is an error that says nothing: Error, Is and CodeOf handle
// it (INTERNAL, a handler's bug), and a handler returning one, bare or
// wrapped, fails its call INTERNAL saying so.
func TestANilErrorIsInternal(t *testing.T) {
	var none *junction.Error
	if got := none.Error(); got != "junction: nil *junction.Error" {
		t.Fatalf("Error() of a nil *Error = %q", got)
	}
	if errors.Is(none, junction.ErrInternal) || errors.Is(none, context.Canceled) || !errors.Is(none, none) {
		t.Fatal("errors.Is with a nil *Error")
	}
	if code := junction.CodeOf(none); code != junction.Internal {
		t.Fatalf("CodeOf of a nil *Error = %v", code)
	}
	if code := junction.CodeOf(fmt.Errorf("wrapped: %w", none)); code != junction.Internal {
		t.Fatalf("CodeOf of a wrapped nil *Error = %v", code)
	}
	host := newHost(t)
	err := host.Register(junction.NewService("nil").
		Method("bare", func(context.Context, []byte) ([]byte, error) {
			var e *junction.Error
			return nil, e
		}).
		Method("wrapped", func(context.Context, []byte) ([]byte, error) {
			var e *junction.Error
			return nil, fmt.Errorf("lookup: %w", e)
		}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"bare":    "go handler returned a nil *junction.Error",
		"wrapped": "go handler returned a nil *junction.Error: lookup: junction: nil *junction.Error",
	} {
		_, err := method(t, host, "nil", name).Call(context.Background(), nil)
		var status *junction.Error
		if !errors.As(err, &status) || status.Code != junction.Internal || status.Message != want {
			t.Errorf("%s: got %v, want INTERNAL %q", name, err, want)
		}
	}
}

func TestPanicsBecomeInternalAndTheHostKeepsServing(t *testing.T) {
	host := echoHost(t)
	boom := method(t, host, goecho.Name, "panic")
	echo := method(t, host, goecho.Name, "echo")
	for i := range 1000 {
		_, err := boom.Call(context.Background(), payload(i%5))
		want := fmt.Sprintf("go handler panicked: go.echo/panic called with %d bytes", i%5)
		var status *junction.Error
		if !errors.As(err, &status) || status.Code != junction.Internal || status.Message != want {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if got, err := echo.Call(context.Background(), []byte("still here")); err != nil || string(got) != "still here" {
		t.Fatalf("after panics: %q, %v", got, err)
	}
}

func TestDeadlines(t *testing.T) {
	host := echoHost(t)
	sleep := method(t, host, goecho.Name, "sleep")
	echo := method(t, host, goecho.Name, "echo")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := sleep.Call(ctx, le64(5000))
	if !errors.Is(err, junction.ErrDeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("sleep past the deadline: %v after %v", err, time.Since(start))
	}

	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	if _, err := echo.Call(expired, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
	canceled, cancelNow := context.WithCancel(context.Background())
	cancelNow()
	if _, err := echo.Call(canceled, nil); !errors.Is(err, junction.ErrCanceled) {
		t.Fatalf("canceled context: %v", err)
	}
	long, cancelLong := context.WithTimeout(context.Background(), time.Minute)
	defer cancelLong()
	if got, err := sleep.Call(long, le64(1)); err != nil || !bytes.Equal(got, le64(1)) {
		t.Fatalf("sleep within the deadline: %v", err)
	}
}

func TestHandlerSeesTheCallersDeadline(t *testing.T) {
	host := newHost(t)
	seen := make(chan time.Time, 1)
	err := host.Register(junction.NewService("d").Method("m", func(ctx context.Context, _ []byte) ([]byte, error) {
		deadline, ok := ctx.Deadline()
		if !ok {
			return nil, junction.Errorf(junction.FailedPrecondition, "no deadline")
		}
		seen <- deadline
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Now().Add(10 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), want)
	defer cancel()
	if _, err := method(t, host, "d", "m").Call(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if got := <-seen; got.Sub(want).Abs() > 100*time.Millisecond {
		t.Fatalf("handler deadline %v, want about %v", got, want)
	}
}

func TestManyGoroutines(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	concurrently(t, 16, 500, func(g, i int) error {
		req := payload((g*31 + i) % 300)
		if got, err := echo.Call(context.Background(), req); err != nil || !bytes.Equal(got, req) {
			return fmt.Errorf("echo of %d bytes: %d back, %v", len(req), len(got), err)
		}
		return nil
	})()
}

func TestHandlersOnThreadsGoDidNotCreate(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	req := payload(100)
	if got := cgotest.CallFromThreads(echo, req, req, 4, 500); got != 2000 {
		t.Fatalf("%d of 2000 calls from C threads answered", got)
	}
	boom := method(t, host, goecho.Name, "panic")
	if got := cgotest.CallFromThreads(boom, req, nil, 2, 10); got != 0 {
		t.Fatalf("%d panicking calls answered OK", got)
	}
	code, matches := cgotest.CallOnWorker(echo, req, req)
	if code != junction.OK || !matches {
		t.Fatalf("call on a host worker: %v, matches %v", code, matches)
	}
	code, _ = cgotest.CallOnWorker(boom, req, nil)
	if code != junction.Internal {
		t.Fatalf("panic on a host worker: %v", code)
	}
}

// A service without methods, refused, as the first registration of a
// process (run in a process of its own, so nothing registered before it).
func TestAnEmptyServiceRefusedAsTheFirstRegistration(t *testing.T) {
	if os.Getenv("JUNCTION_GO_FIRST_REGISTRATION") == "" {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		self := exec.CommandContext(ctx, os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count", "1")
		self.Env = append(os.Environ(), "JUNCTION_GO_FIRST_REGISTRATION=1")
		if out, err := self.CombinedOutput(); err != nil {
			t.Fatalf("the test's own process: %v\n%s", err, out)
		}
		return
	}
	host := newHost(t)
	if err := host.Register(junction.NewService("empty")); junction.CodeOf(err) != junction.InvalidArgument {
		t.Fatalf("empty service: %v, want %v", err, junction.InvalidArgument)
	}
	if err := host.Register(junction.NewService("after").Method("m", func(context.Context, []byte) ([]byte, error) { return nil, nil })); err != nil {
		t.Fatalf("a service after it: %v", err)
	}
}

func TestRegistrationErrors(t *testing.T) {
	host := newHost(t)
	ok := func(context.Context, []byte) ([]byte, error) { return nil, nil }
	cases := []struct {
		name    string
		service *junction.Service
		code    junction.Code
	}{
		{"nil", nil, junction.InvalidArgument},
		{"no methods", junction.NewService("empty"), junction.InvalidArgument},
		{"empty name", junction.NewService("").Method("m", ok), junction.InvalidArgument},
		{"NUL in name", junction.NewService("a\x00b").Method("m", ok), junction.InvalidArgument},
		{"NUL in method", junction.NewService("s").Method("m\x00", ok), junction.InvalidArgument},
		{"nil handler", junction.NewService("s").Method("m", nil), junction.InvalidArgument},
		{"duplicate method", junction.NewService("s").Method("m", ok).Method("m", ok), junction.InvalidArgument},
		{"long name", junction.NewService(strings.Repeat("x", 256)).Method("m", ok), junction.InvalidArgument},
	}
	for _, c := range cases {
		if err := host.Register(c.service); junction.CodeOf(err) != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
		}
	}
	if err := host.Register(junction.NewService("once").Method("m", ok)); err != nil {
		t.Fatal(err)
	}
	if err := host.Register(junction.NewService("once").Method("m", ok)); !errors.Is(err, junction.ErrAlreadyExists) {
		t.Fatalf("second registration: %v", err)
	}
	if _, err := host.Method("once", "nope"); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("unknown method: %v", err)
	}
	if _, err := host.Method("once\x00", "m"); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("NUL in a resolved name: %v", err)
	}
}

func TestUnregisterAndClose(t *testing.T) {
	baseline := junction.LiveObjects()
	host, err := junction.NewHost(junction.WithWorkerThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Register(goecho.Service(host)); err != nil {
		t.Fatal(err)
	}
	echo, err := host.Method(goecho.Name, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Unregister(goecho.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Call(context.Background(), nil); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("call after unregister: %v", err)
	}
	if err := host.Unregister(goecho.Name); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("second unregister: %v", err)
	}
	if err := host.Close(); err != nil {
		t.Fatal(err)
	}
	if err := host.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := host.Method(goecho.Name, "echo"); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("Method on a closed host: %v", err)
	}
	if err := host.Register(goecho.Service(host)); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("Register on a closed host: %v", err)
	}
	echo.Close()
	echo.Close()
	if _, err := echo.Call(context.Background(), nil); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("call on a closed method: %v", err)
	}
	waitForBaseline(t, baseline)
}

// A C handler may answer OK with a message: every way of calling returns
// the response without an error and releases the message (newHost checks
// the live objects return to their baseline).
func TestAnOKAnswerWithAMessage(t *testing.T) {
	host := newHost(t)
	if code := cgotest.RegisterNotedEcho(host, "c.noted"); code != junction.OK {
		t.Fatalf("RegisterNotedEcho: %v", code)
	}
	echo := method(t, host, "c.noted", "echo")
	ctx := context.Background()
	if got, err := echo.Call(ctx, []byte("call")); err != nil || string(got) != "call" {
		t.Errorf("Call: %q, %v", got, err)
	}
	if got, err := echo.CallAppend(ctx, nil, []byte("append")); err != nil || string(got) != "append" {
		t.Errorf("CallAppend: %q, %v", got, err)
	}
	if r, err := echo.CallBorrowed(ctx, []byte("borrowed")); err != nil || string(r.Bytes()) != "borrowed" {
		t.Errorf("CallBorrowed: %q, %v", r.Bytes(), err)
	} else {
		r.Release()
	}
	if got, err := echo.CallAsync(ctx, []byte("async")); err != nil || string(got) != "async" {
		t.Errorf("CallAsync: %q, %v", got, err)
	}
}

// Close from inside a handler, of its own host or another, returns
// FAILED_PRECONDITION and closes nothing: the listener serving the call
// (which a close would wait on for the call itself) serves on.
func TestCloseFromInsideAHandlerClosesNothing(t *testing.T) {
	other := newHost(t) // first: its live-object baseline does not count the server
	server := newHost(t)
	closing := func(host *junction.Host) junction.HandlerFunc {
		return func(context.Context, []byte) ([]byte, error) {
			return []byte("served"), host.Close()
		}
	}
	if err := server.Register(junction.NewService("closer").
		Method("own", closing(server)).
		Method("other", closing(other))); err != nil {
		t.Fatal(err)
	}
	listener := listen(t, server, inprocURL(t))
	client := newHost(t)
	routeTo(t, client, listener.URL(), "closer")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, caller := range []*junction.Host{server, client} {
		for _, name := range []string{"own", "other"} {
			_, err := method(t, caller, "closer", name).Call(ctx, nil)
			expectCode(t, name+" host's Close from a handler", err, junction.FailedPrecondition)
		}
	}
	if _, err := listener.Stats(); err != nil {
		t.Fatalf("the listener after the refused closes: %v", err)
	}
	for _, host := range []*junction.Host{server, other} {
		if _, err := host.Services(); err != nil {
			t.Fatalf("a host after the refused closes: %v", err)
		}
	}
}

// Close waits for calls on its own host's services only: a call held in
// another host's handler does not hold it up.
func TestCloseDoesNotWaitForAnotherHostsCall(t *testing.T) {
	busy := newHost(t)
	entered := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseHeld := func() { releaseOnce.Do(func() { close(release) }) }
	defer releaseHeld() // before the cleanups, which close busy
	held := junction.NewService("held").Method("wait", func(context.Context, []byte) ([]byte, error) {
		close(entered)
		<-release
		return []byte("released"), nil
	})
	if err := busy.Register(held); err != nil {
		t.Fatal(err)
	}
	wait := method(t, busy, "held", "wait")
	answered := make(chan error, 1)
	go func() {
		_, err := wait.Call(context.Background(), nil)
		answered <- err
	}()
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the held call never reached its handler")
	}

	idle := echoHost(t) // closed below; its cleanup's Close is then a no-op
	if _, err := method(t, idle, goecho.Name, "echo").Call(context.Background(), []byte("served")); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- idle.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for a call on another host")
	}
	select {
	case err := <-answered:
		t.Fatalf("the held call ended before Close returned: %v", err)
	default:
	}
	releaseHeld()
	if err := <-answered; err != nil {
		t.Fatalf("the held call: %v", err)
	}
}

func TestServicesListsRegisteredAndRoutedServicesByName(t *testing.T) {
	host := echoHost(t)
	const url = "zmq+inproc://go-test-services"
	if err := host.Route("a.route", url); err != nil {
		t.Fatal(err)
	}
	services, err := host.Services()
	if err != nil {
		t.Fatal(err)
	}
	want := []junction.ServiceInfo{
		{Name: "a.route", RouteURL: url},
		{Name: goecho.Name, Methods: []string{"checksum", "echo", "length", "panic", "relay", "sleep"}},
	}
	if !reflect.DeepEqual(services, want) {
		t.Fatalf("Services() = %+v, want %+v", services, want)
	}
	if err := host.Unregister("a.route"); err != nil {
		t.Fatal(err)
	}
	if services, err = host.Services(); err != nil || len(services) != 1 || services[0].Name != goecho.Name {
		t.Fatalf("Services() after Unregister = %+v, %v", services, err)
	}
	if err := host.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := host.Services(); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("Services on a closed host: %v", err)
	}
}

func TestMethodStatsCountCallsAndErrorsAndSampleLatency(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	panics := method(t, host, goecho.Name, "panic")
	// One thread makes every call, so that one in 128 of them is timed.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < 1024; i++ {
		if _, err := echo.Call(context.Background(), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := panics.Call(context.Background(), nil); !errors.Is(err, junction.ErrInternal) {
		t.Fatalf("go.echo/panic: %v", err)
	}
	stats, err := echo.Stats()
	if err != nil || stats.Calls != 1024 || stats.Errors != 0 || stats.LatencySamples < 8 {
		t.Fatalf("echo's stats: %+v, %v; want 1024 calls, no errors, at least 8 samples", stats, err)
	}
	if stats.LatencyP50 <= 0 || stats.LatencyP50 > stats.LatencyP99 || stats.LatencyMax <= 0 || stats.LatencyMean > stats.LatencyMax {
		t.Fatalf("echo's latencies out of order: %+v", stats)
	}
	if stats, err := panics.Stats(); err != nil || stats.Calls != 1 || stats.Errors != 1 {
		t.Fatalf("panic's stats: %+v, %v; want 1 call, 1 error", stats, err)
	}
	// Another handle on the same method shares the counts.
	if stats, err := method(t, host, goecho.Name, "echo").Stats(); err != nil || stats.Calls != 1024 {
		t.Fatalf("a second handle's stats: %+v, %v", stats, err)
	}
	panics.Close()
	if _, err := panics.Stats(); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("a closed handle's stats: %v", err)
	}
}

func TestLoadModuleErrors(t *testing.T) {
	host := newHost(t)
	if err := host.LoadModule("/nonexistent/libnothing.so"); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("missing module: %v", err)
	}
	if err := host.LoadModule("bad\x00path"); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("NUL in the path: %v", err)
	}
	// A bare file name is the file in the working directory, not a library
	// searched for on the library path (where libjunction.so is).
	empty := t.TempDir()
	t.Chdir(empty)
	err := host.LoadModule("libjunction.so")
	if !errors.Is(err, junction.ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(empty, "libjunction.so")) {
		t.Fatalf("a bare name not in the working directory: %v", err)
	}
}

func TestRelayWithinGo(t *testing.T) {
	host := echoHost(t)
	relay := method(t, host, goecho.Name, "relay")
	got, err := relay.Call(context.Background(), []byte("go.echo/echo\nround trip"))
	if err != nil || string(got) != "round trip" {
		t.Fatalf("relay: %q, %v", got, err)
	}
	if _, err := relay.Call(context.Background(), []byte("no newline")); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("malformed relay: %v", err)
	}
	if _, err := relay.Call(context.Background(), []byte("go.echo/missing\nx")); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("relay to a missing method: %v", err)
	}
}

// Go memory in use stays flat over many calls: responses, contexts and
// errors are all reclaimed.
func TestMemoryIsStableOverManyCalls(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	boom := method(t, host, goecho.Name, "panic")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := func(n int) {
		for i := range n {
			if _, err := echo.Call(ctx, payload(i%128)); err != nil {
				t.Fatal(err)
			}
			if r, err := echo.CallBorrowed(ctx, payload(64)); err == nil {
				r.Release()
			}
			if i%16 == 0 {
				_, _ = boom.Call(ctx, nil)
			}
		}
	}
	run(2000)
	before := heapInUse()
	live := junction.LiveObjects()
	run(20000)
	after := heapInUse()
	if after > before+1<<20 {
		t.Fatalf("heap in use grew from %d to %d bytes over 20000 calls", before, after)
	}
	if got := junction.LiveObjects(); got != live {
		t.Fatalf("live objects %v after the calls, %v before", got, live)
	}
}

// concurrently starts goroutines goroutines, each making calls calls of
// call(goroutine, call) until one fails, and returns the function that
// waits for them all and reports each goroutine's failure.
func concurrently(t *testing.T, goroutines, calls int, call func(g, i int) error) (wait func()) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				if err := call(g, i); err != nil {
					errs <- fmt.Errorf("goroutine %d, call %d: %w", g, i, err)
					return
				}
			}
		}()
	}
	return func() {
		t.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.HeapInuse
}

func TestResponseCopiesShareOneRelease(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	first, err := echo.CallBorrowed(context.Background(), []byte("shared"))
	if err != nil {
		t.Fatal(err)
	}
	copied := first
	if string(copied.Bytes()) != "shared" {
		t.Fatalf("copy reads %q", copied.Bytes())
	}
	copied.Release()
	if first.Bytes() != nil || first.Len() != 0 {
		t.Fatalf("released through a copy, the original still reads %q", first.Bytes())
	}
	first.Release() // no-op
	// A released copy must neither see nor disturb the next response.
	second, err := echo.CallBorrowed(context.Background(), []byte("next"))
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	if string(second.Bytes()) != "next" {
		t.Fatalf("a stale release disturbed the next response: %q", second.Bytes())
	}
	second.Release()
	var zero junction.Response
	zero.Release()
	if zero.Bytes() != nil {
		t.Fatal("the zero Response has bytes")
	}
}

// Copies of a Response may read it while another copy releases it (run
// with -race): Bytes is then the response or nil, never a torn read.
func TestResponseCopiesReadWhileAnotherReleases(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	for range 100 {
		first, err := echo.CallBorrowed(context.Background(), []byte("shared"))
		if err != nil {
			t.Fatal(err)
		}
		copied := first
		lengths := make(chan int, 1)
		go func() {
			n := copied.Len() // the bytes themselves may be gone by now
			for copied.Len() != 0 {
			}
			lengths <- n
		}()
		first.Release()
		if n := receive(t, lengths, 10*time.Second, "the reading copy"); n != 0 && n != len("shared") {
			t.Fatalf("a copy read a length of %d while another released", n)
		}
	}
}

// A released Response kept reachable keeps no later response alive: a
// Response dropped unreleased after it is still released by the collector.
func TestAKeptReleasedResponseDelaysNoLaterCleanup(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	baseline := junction.LiveObjects()
	kept, err := echo.CallBorrowed(context.Background(), payload(1000))
	if err != nil {
		t.Fatal(err)
	}
	kept.Release()
	for range 10 {
		if _, err := echo.CallBorrowed(context.Background(), payload(1000)); err != nil {
			t.Fatal(err)
		}
	}
	waitForBaseline(t, baseline)
	runtime.KeepAlive(kept)
}

func TestForgottenResponsesAreReleasedByTheCollector(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	baseline := junction.LiveObjects()
	for range 100 {
		if _, err := echo.CallBorrowed(context.Background(), payload(1000)); err != nil {
			t.Fatal(err)
		}
	}
	if junction.LiveObjects().Buffers < baseline.Buffers+100 {
		t.Fatalf("100 unreleased responses hold %v", junction.LiveObjects())
	}
	waitForBaseline(t, baseline)
}

func TestCallAppend(t *testing.T) {
	host := echoHost(t)
	echo := method(t, host, goecho.Name, "echo")
	ctx := context.Background()
	buf := make([]byte, 0, 64)
	buf = append(buf, "prefix:"...)
	got, err := echo.CallAppend(ctx, buf, []byte("fits"))
	if err != nil || string(got) != "prefix:fits" || &got[0] != &buf[0] {
		t.Fatalf("in the room: %q, %v (same array: %v)", got, err, err == nil && &got[0] == &buf[0])
	}
	long := payload(1000)
	got, err = echo.CallAppend(ctx, buf, long)
	if err != nil || !bytes.Equal(got[:7], []byte("prefix:")) || !bytes.Equal(got[7:], long) {
		t.Fatalf("past the room: %d bytes, %v", len(got), err)
	}
	got, err = method(t, host, goecho.Name, "panic").CallAppend(ctx, buf, nil)
	if !errors.Is(err, junction.ErrInternal) || string(got) != "prefix:" {
		t.Fatalf("a failed call: %q, %v", got, err)
	}
	got, err = echo.CallAppend(ctx, nil, []byte("no room"))
	if err != nil || string(got) != "no room" {
		t.Fatalf("no room at all: %q, %v", got, err)
	}
	// Empty responses, in the room and without any (newHost checks that
	// nothing is left unreleased).
	if got, err = echo.CallAppend(ctx, buf, nil); err != nil || string(got) != "prefix:" {
		t.Fatalf("empty, in the room: %q, %v", got, err)
	}
	if got, err = echo.CallAppend(ctx, nil, nil); err != nil || len(got) != 0 {
		t.Fatalf("empty, no room: %q, %v", got, err)
	}
}

// With room lent, a small response from an appending Go handler reaches the
// caller without an allocation on either side: no host buffer, no Go heap.
func TestCallAppendAllocatesNothing(t *testing.T) {
	host := echoHost(t)
	length := method(t, host, goecho.Name, "length")
	ctx := context.Background()
	req := payload(100)
	buf := make([]byte, 0, 64)
	before := junction.LiveObjects()
	allocs := testing.AllocsPerRun(1000, func() {
		got, err := length.CallAppend(ctx, buf[:0], req)
		if err != nil || len(got) != 8 {
			t.Fatalf("length: %x, %v", got, err)
		}
	})
	if allocs != 0 && !raceEnabled {
		t.Fatalf("%v Go allocations per call", allocs)
	}
	if after := junction.LiveObjects(); after.Buffers != before.Buffers {
		t.Fatalf("host buffers %d during the calls, %d before", after.Buffers, before.Buffers)
	}
}

func TestThreadSliceOptions(t *testing.T) {
	if junction.MinThreadSlice != 100*time.Microsecond || junction.MaxThreadSlice != 100*time.Millisecond {
		t.Errorf("bounds %v to %v, documented as 100µs to 100ms", junction.MinThreadSlice, junction.MaxThreadSlice)
	}
	baseline := junction.LiveObjects()
	for _, option := range []junction.HostOption{
		junction.WithThreadSlice(junction.MinThreadSlice),
		junction.WithThreadSlice(junction.MaxThreadSlice),
		junction.WithInheritedThreadSlice(),
	} {
		host, err := junction.NewHost(junction.WithWorkerThreads(1), option)
		if err != nil {
			t.Fatal(err)
		}
		if err := host.Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, refused := range []struct {
		slice   time.Duration
		message string
	}{
		{0, "outside 100µs to 100ms"},
		{-time.Millisecond, "outside 100µs to 100ms"},
		{junction.MinThreadSlice - 1, "thread_slice_ns must be"},
		{junction.MaxThreadSlice + 1, "thread_slice_ns must be"},
	} {
		host, err := junction.NewHost(junction.WithThreadSlice(refused.slice))
		if !errors.Is(err, junction.ErrInvalidArgument) || !strings.Contains(err.Error(), refused.message) {
			t.Errorf("slice %v: %v, want INVALID_ARGUMENT saying %q", refused.slice, err, refused.message)
		}
		if host != nil {
			t.Errorf("slice %v: a host was made", refused.slice)
		}
	}
	waitForBaseline(t, baseline)
}

// The slice the options choose reaches the host's threads: workers started
// from this goroutine's (locked) thread report it, or, asking for none,
// this thread's own slice. Kernels before Linux 6.12 report 0 for every
// thread.
func TestThreadSliceReachesTheHostsThreads(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own := cgotest.OwnThreadSlice()
	reported := func(sliceNs uint64) uint64 {
		if own == 0 {
			return 0
		}
		return sliceNs
	}
	for _, c := range []struct {
		name    string
		option  junction.HostOption
		sliceNs uint64
	}{
		{"WithThreadSlice(2ms)", junction.WithThreadSlice(2 * time.Millisecond), 2_000_000},
		{"WithInheritedThreadSlice", junction.WithInheritedThreadSlice(), own},
	} {
		host, err := junction.NewHost(junction.WithWorkerThreads(3), c.option)
		if err != nil {
			t.Fatal(err)
		}
		// A worker just started reports the inherited slice until it asks.
		deadline := time.Now().Add(5 * time.Second)
		workers := cgotest.CountThreads("jn-worker", reported(c.sliceNs))
		for workers < 3 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			workers = cgotest.CountThreads("jn-worker", reported(c.sliceNs))
		}
		if workers < 3 {
			t.Errorf("%s: %d workers report a %d ns slice, want 3", c.name, workers, reported(c.sliceNs))
		}
		if err := host.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
