package junction_test

import (
	"fmt"
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

// BenchmarkRustToGo: C code (standing for Rust: the same C ABI) calling the
// Go handler go.echo/length through junction, against a raw cgo export
// doing the same work, from a thread Go created and from one it did not.
func BenchmarkRustToGo(b *testing.B) {
	host, err := junction.NewHost()
	if err != nil {
		b.Fatal(err)
	}
	defer host.Close()
	if err := host.Register(goecho.Service(host)); err != nil {
		b.Fatal(err)
	}
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
