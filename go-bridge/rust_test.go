package junction_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"junction"
	"junction/goecho"
)

// rustHost is a host with the Rust module rust.echo loaded (from the path in
// JUNCTION_RUST_ECHO_MODULE, which the build sets) and go.echo registered.
// Without the variable the test is skipped, unless JUNCTION_REQUIRE_INTEROP
// is set (as under ctest), where that is a failure.
func rustHost(t *testing.T) *junction.Host {
	t.Helper()
	path := os.Getenv("JUNCTION_RUST_ECHO_MODULE")
	if path == "" {
		if os.Getenv("JUNCTION_REQUIRE_INTEROP") != "" {
			t.Fatal("JUNCTION_RUST_ECHO_MODULE is not set")
		}
		t.Skip("JUNCTION_RUST_ECHO_MODULE is not set: no Rust module to load")
	}
	host := echoHost(t)
	if err := host.LoadModule(path); err != nil {
		t.Fatalf("LoadModule(%s): %v", path, err)
	}
	return host
}

func TestGoCallsRust(t *testing.T) {
	host := rustHost(t)
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

func TestGoCallsRustFromManyGoroutines(t *testing.T) {
	host := rustHost(t)
	checksum := method(t, host, "rust.echo", "checksum")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for i := range 200 {
				req := payload((g*97 + i*13) % 5000)
				got, err := checksum.Call(ctx, req)
				if err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
					errs <- fmt.Errorf("goroutine %d call %d: %x, %v", g, i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRustDeadlinesAndPanics(t *testing.T) {
	host := rustHost(t)
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

// Go -> Rust -> Go: rust.echo/relay calls back into go.echo on the same
// host, and errors (a Go panic among them) cross both ways unchanged.
func TestGoRustGoRoundTrips(t *testing.T) {
	host := rustHost(t)
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
