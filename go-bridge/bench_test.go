package junction_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"

	"junction"
	"junction/goecho"
	"junction/internal/cgotest"
)

// benchSizes are the request sizes of every benchmark: the handlers read
// only the length, so with no copies all sizes cost the same.
var benchSizes = []struct {
	name string
	size int
}{{"0B", 0}, {"64B", 64}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}}

// benchEchoHost is a host serving go.echo, closed when the benchmark ends.
func benchEchoHost(b *testing.B) *junction.Host {
	b.Helper()
	host, err := junction.NewHost()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { host.Close() })
	if err := host.Register(goecho.Service(host)); err != nil {
		b.Fatal(err)
	}
	return host
}

// BenchmarkRustToGo: C code (standing for Rust: the same C ABI) calling the
// Go handler go.echo/length through junction, against a raw cgo export
// doing the same work, from a thread Go created and from one it did not.
func BenchmarkRustToGo(b *testing.B) {
	host := benchEchoHost(b)
	length, err := host.Method(goecho.Name, "length")
	if err != nil {
		b.Fatal(err)
	}
	defer length.Close()
	for _, thread := range []struct {
		name string
		new  bool
	}{{"go-thread", false}, {"c-thread", true}} {
		for _, s := range benchSizes {
			req := make([]byte, s.size)
			b.Run(fmt.Sprintf("raw-export/%s/%s", thread.name, s.name), func(b *testing.B) {
				if got := cgotest.LoopRaw(req, b.N, thread.new); got != b.N {
					b.Fatalf("%d of %d calls answered", got, b.N)
				}
			})
			b.Run(fmt.Sprintf("junction/%s/%s", thread.name, s.name), func(b *testing.B) {
				if got := cgotest.LoopJunction(length, req, b.N, thread.new); got != b.N {
					b.Fatalf("%d of %d calls answered", got, b.N)
				}
			})
		}
	}
}

// BenchmarkRouted: go.echo/echo routed over ipc to a listener in this
// process, 64 B: Call one at a time, then 64 goroutines at once with Call
// (each holding an OS thread in its cgo call) and with CallAsync (parked,
// the route's own thread receiving every answer). ns/op is per call.
func BenchmarkRouted(b *testing.B) {
	server := benchEchoHost(b)
	listener, err := server.Listen("zmq+ipc://" + filepath.Join(b.TempDir(), "routed.sock"))
	if err != nil {
		b.Fatal(err)
	}
	defer listener.Close(context.Background())
	client, err := junction.NewHost()
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	if err := client.Route(goecho.Name, listener.URL()); err != nil {
		b.Fatal(err)
	}
	echo, err := client.Method(goecho.Name, "echo")
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	req := make([]byte, 64)
	ctx := context.Background()
	b.Run("Call", func(b *testing.B) {
		for b.Loop() {
			if _, err := echo.Call(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	// RunParallel starts parallelism goroutines per GOMAXPROCS: 64 where
	// GOMAXPROCS divides 64 (it does on the machines of the README's
	// figures), otherwise the multiple of GOMAXPROCS below 64, or GOMAXPROCS
	// itself past 64.
	parallelism := max(1, 64/runtime.GOMAXPROCS(0))
	for _, form := range []struct {
		name string
		call func(context.Context, []byte) ([]byte, error)
	}{{"Call", echo.Call}, {"CallAsync", echo.CallAsync}} {
		b.Run("64-goroutines/"+form.name, func(b *testing.B) {
			b.SetParallelism(parallelism)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := form.call(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
