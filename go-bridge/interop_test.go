//go:build interop

// Tests with the libraries CMake builds beside this package: the Rust
// module (rust.echo) and the Go services bundle. Run with -tags interop and
// their paths in JUNCTION_RUST_ECHO_MODULE and JUNCTION_GO_ECHO_BUNDLE, as
// ctest's go.test does.

package junction_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"junction"
	"junction/goecho"
)

// requiredPath is the path in the environment variable name; the test
// fails without it.
func requiredPath(tb testing.TB, name string) string {
	tb.Helper()
	path := os.Getenv(name)
	if path == "" {
		tb.Fatalf("%s is not set: interop tests need the path CMake builds it at", name)
	}
	return path
}

// rustHost is a host with the Rust module rust.echo loaded and go.echo
// registered.
func rustHost(t *testing.T) *junction.Host {
	t.Helper()
	path := requiredPath(t, "JUNCTION_RUST_ECHO_MODULE")
	host := echoHost(t)
	if err := host.LoadModule(path); err != nil {
		t.Fatalf("LoadModule(%s): %v", path, err)
	}
	return host
}

// The call functions below (callRust...) take the host to call through:
// the tests here pass a host with the Rust module loaded in this process,
// and crossprocess_test.go passes hosts with rust.echo routed to a
// junction-host daemon serving the same module in another process. Same
// calling code, same expectations: location transparency.

func TestGoCallsRust(t *testing.T) { callRustAllSizes(t, rustHost(t)) }

func TestGoCallsRustFromManyGoroutines(t *testing.T) { callRustFromManyGoroutines(t, rustHost(t)) }

func TestRustDeadlinesAndPanics(t *testing.T) { callRustDeadlinesAndPanics(t, rustHost(t)) }

// Go -> Rust -> Go: rust.echo/relay calls back into go.echo on the same
// host, and errors (a Go panic among them) cross both ways unchanged.
func TestGoRustGoRoundTrips(t *testing.T) { callGoRustGoRoundTrips(t, rustHost(t)) }

func TestCallAsyncGoToRust(t *testing.T) { callRustAsync(t, rustHost(t)) }

// callRustAllSizes: echo, length and checksum at 0 B to 1 MiB, copied and
// borrowed.
func callRustAllSizes(t *testing.T, host *junction.Host) {
	t.Helper()
	echo := method(t, host, "rust.echo", "echo")
	length := method(t, host, "rust.echo", "length")
	checksum := method(t, host, "rust.echo", "checksum")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, size := range sizes {
		req := payload(size)
		if got, err := echo.Call(ctx, req); err != nil || !bytes.Equal(got, req) {
			t.Fatalf("echo %d bytes: %d back, %v", size, len(got), err)
		}
		if got, err := length.Call(ctx, req); err != nil || binary.LittleEndian.Uint64(got) != uint64(size) {
			t.Fatalf("length %d bytes: %x, %v", size, got, err)
		}
		if got, err := checksum.Call(ctx, req); err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
			t.Fatalf("checksum %d bytes: %x, %v", size, got, err)
		}
		r, err := echo.CallBorrowed(ctx, req)
		if err != nil || !bytes.Equal(r.Bytes(), req) {
			t.Fatalf("borrowed echo %d bytes: %v", size, err)
		}
		r.Release()
	}
}

// callRustFromManyGoroutines: 32 goroutines calling one handle at once.
func callRustFromManyGoroutines(t *testing.T, host *junction.Host) {
	t.Helper()
	checksum := method(t, host, "rust.echo", "checksum")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	concurrently(t, 32, 200, func(g, i int) error {
		req := payload((g*97 + i*13) % 5000)
		if got, err := checksum.Call(ctx, req); err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
			return fmt.Errorf("checksum of %d bytes: %x, %v", len(req), got, err)
		}
		return nil
	})()
}

// callRustDeadlinesAndPanics: the deadline cuts a slow asynchronous Rust
// handler short, and 200 Rust panics answer INTERNAL with their message.
func callRustDeadlinesAndPanics(t *testing.T, host *junction.Host) {
	t.Helper()
	sleep := method(t, host, "rust.echo", "sleep_async")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := sleep.Call(ctx, le64(2000)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sleep past the deadline: %v", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("DEADLINE_EXCEEDED after %v", elapsed)
	}
	if got, err := sleep.Call(context.Background(), le64(1)); err != nil || !bytes.Equal(got, le64(1)) {
		t.Fatalf("sleep within the deadline: %v", err)
	}

	boom := method(t, host, "rust.echo", "panic")
	for i := range 200 {
		_, err := boom.Call(context.Background(), payload(i%3))
		want := fmt.Sprintf("handler panicked: rust.echo/panic called with %d bytes", i%3)
		var status *junction.Error
		if !errors.As(err, &status) || status.Code != junction.Internal || status.Message != want {
			t.Fatalf("Rust panic %d: %v", i, err)
		}
	}
	if _, err := method(t, host, "rust.echo", "echo").Call(context.Background(), []byte("x")); err != nil {
		t.Fatalf("after Rust panics: %v", err)
	}
}

// callGoRustGoRoundTrips: rust.echo/relay calls go.echo on rust.echo's
// host, and go.echo/relay on host calls rust.echo; answers, errors and
// deadlines cross every hop unchanged.
func callGoRustGoRoundTrips(t *testing.T, host *junction.Host) {
	t.Helper()
	relay := method(t, host, "rust.echo", "relay")
	ctx := context.Background()
	for _, size := range []int{0, 64, 64 << 10} {
		req := append([]byte("go.echo/checksum\n"), payload(size)...)
		got, err := relay.Call(ctx, req)
		if err != nil || !bytes.Equal(got, le64(goecho.Checksum(payload(size)))) {
			t.Fatalf("Go -> Rust -> Go checksum of %d bytes: %x, %v", size, got, err)
		}
	}
	_, err := relay.Call(ctx, []byte("go.echo/panic\nabc"))
	var status *junction.Error
	if !errors.As(err, &status) || status.Code != junction.Internal ||
		status.Message != "go handler panicked: go.echo/panic called with 3 bytes" {
		t.Fatalf("Go panic through Rust: %v", err)
	}
	// Go -> Go -> Rust -> Go.
	goRelay := method(t, host, goecho.Name, "relay")
	got, err := goRelay.Call(ctx, []byte("rust.echo/relay\ngo.echo/echo\nthere and back"))
	if err != nil || string(got) != "there and back" {
		t.Fatalf("Go -> Rust -> Go echo: %q, %v", got, err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := relay.Call(short, append([]byte("go.echo/sleep\n"), le64(5000)...)); !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("the deadline through Rust into Go: %v", err)
	}
}

func TestRustCallsMemoryStable(t *testing.T) {
	host := rustHost(t)
	echo := method(t, host, "rust.echo", "echo")
	boom := method(t, host, "rust.echo", "panic")
	relay := method(t, host, "rust.echo", "relay")
	run := func(n int) {
		for i := range n {
			if _, err := echo.Call(context.Background(), payload(i%256)); err != nil {
				t.Fatal(err)
			}
			if i%8 == 0 {
				_, _ = boom.Call(context.Background(), nil)
				_, _ = relay.Call(context.Background(), []byte("go.echo/length\nabc"))
			}
		}
	}
	run(2000)
	live := junction.LiveObjects()
	runtimeBefore := heapInUse()
	run(20000)
	if after := heapInUse(); after > runtimeBefore+1<<20 {
		t.Fatalf("heap in use grew from %d to %d bytes", runtimeBefore, after)
	}
	if got := junction.LiveObjects(); got != live {
		t.Fatalf("live objects %v, %v before", got, live)
	}
}

// A Go program refuses to load a Go bundle (a second Go runtime) before
// loading anything.
func TestLoadingAGoBundleIsRefused(t *testing.T) {
	path := requiredPath(t, "JUNCTION_GO_ECHO_BUNDLE")
	host := newHost(t)
	err := host.LoadModule(path)
	if !errors.Is(err, junction.ErrFailedPrecondition) || !strings.Contains(err.Error(), "Go library") {
		t.Fatalf("loading a Go bundle: %v", err)
	}
	if _, err := host.Method(goecho.Name, "echo"); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("the bundle's service is registered after all: %v", err)
	}
}

// callRustAsync: CallAsync answers, at 1 MiB too, and at its deadline.
func callRustAsync(t *testing.T, host *junction.Host) {
	t.Helper()
	sleep := method(t, host, "rust.echo", "sleep_async")
	checksum := method(t, host, "rust.echo", "checksum")
	if got, err := sleep.CallAsync(context.Background(), le64(5)); err != nil || !bytes.Equal(got, le64(5)) {
		t.Fatalf("sleep_async: %x, %v", got, err)
	}
	req := payload(1 << 20)
	if got, err := checksum.CallAsync(context.Background(), req); err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
		t.Fatalf("checksum of 1 MiB: %x, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := sleep.CallAsync(ctx, le64(300)); !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("sleep_async past the deadline: %v", err)
	}
}
