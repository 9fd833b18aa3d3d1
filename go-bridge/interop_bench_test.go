//go:build interop

package junction_test

import (
	"context"
	"testing"

	"junction"
	"junction/internal/cgotest"
)

// benchRustHost loads the Rust module for benchmarks.
func benchRustHost(b *testing.B) (*junction.Host, string) {
	b.Helper()
	path := requiredPath(b, "JUNCTION_RUST_ECHO_MODULE")
	host, err := junction.NewHost()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = host.Close() })
	if err := host.LoadModule(path); err != nil {
		b.Fatal(err)
	}
	return host, path
}

// BenchmarkGoToRust: Go calling the Rust module's length, directly through
// its typed cgo export (the floor) and through junction.
func BenchmarkGoToRust(b *testing.B) {
	host, path := benchRustHost(b)
	typed, ok := cgotest.FindTypedLength(path)
	if !ok {
		b.Fatal("junction_echo_length not found in the loaded module")
	}
	length, err := host.Method("rust.echo", "length")
	if err != nil {
		b.Fatal(err)
	}
	defer length.Close()
	ctx := context.Background()
	for _, s := range benchSizes {
		req := make([]byte, s.size)
		b.Run("typed-cgo/"+s.name, func(b *testing.B) {
			for b.Loop() {
				if typed.Call(req) != uint64(s.size) {
					b.Fatal("wrong length")
				}
			}
		})
		b.Run("junction-Call/"+s.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := length.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("junction-CallAppend/"+s.name, func(b *testing.B) {
			out := make([]byte, 0, 64) // reused: the call allocates nothing
			for b.Loop() {
				if _, err := length.CallAppend(ctx, out, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("junction-CallBorrowed/"+s.name, func(b *testing.B) {
			for b.Loop() {
				r, err := length.CallBorrowed(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				r.Release()
			}
		})
	}
	// echo returns the request: what the copy of Call costs against the
	// borrowed response of CallBorrowed (whose safety-net cleanup has a
	// fixed cost).
	echo, err := host.Method("rust.echo", "echo")
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	for _, s := range benchSizes {
		req := make([]byte, s.size)
		b.Run("echo-Call/"+s.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := echo.Call(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("echo-CallBorrowed/"+s.name, func(b *testing.B) {
			for b.Loop() {
				r, err := echo.CallBorrowed(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				r.Release()
			}
		})
	}
	// CallAsync hands the call to a host worker and back: its cost for a
	// quick handler (it pays only for calls that wait).
	b.Run("junction-CallAsync/64B", func(b *testing.B) {
		req := make([]byte, 64)
		for b.Loop() {
			if _, err := length.CallAsync(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// GOMAXPROCS callers at once.
	for _, s := range benchSizes[1:2] {
		req := make([]byte, s.size)
		b.Run("parallel/typed-cgo/"+s.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					typed.Call(req)
				}
			})
		})
		b.Run("parallel/junction-CallAppend/"+s.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				out := make([]byte, 0, 64)
				for pb.Next() {
					if _, err := length.CallAppend(ctx, out, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run("parallel/junction-Call/"+s.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := length.Call(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
