package junction_test

// Transports within one process: a Go service served with Host.Listen on
// ZeroMQ inproc, ipc and tcp, routed back with Host.Route on a second host
// of the same process, and called by the same code as the local service.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction"
	"junction/goecho"
)

// transportURLs are the URLs a listener is made on, one per ZeroMQ
// transport: a unique inproc name, a socket in a fresh directory, and an
// ephemeral loopback port.
var transportURLs = []struct {
	name string
	url  func(t *testing.T) string
}{
	{"inproc", func(t *testing.T) string { return inprocURL(t) }},
	{"ipc", func(t *testing.T) string { return ipcURL(t) }},
	{"tcp", func(*testing.T) string { return "zmq+tcp://127.0.0.1:0" }},
}

var inprocNames atomic.Int64

func inprocURL(t *testing.T) string {
	return fmt.Sprintf("zmq+inproc://go-test-%s-%d", strings.ReplaceAll(t.Name(), "/", "-"), inprocNames.Add(1))
}

// ipcURL is a socket path in a fresh directory. os.MkdirTemp keeps it short:
// a Unix socket path has room for about 100 bytes.
func ipcURL(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jn-go-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return "zmq+ipc://" + filepath.Join(dir, "s.sock")
}

// listen serves host on url; the test closes the listener (waiting for its
// calls) before the host.
func listen(t *testing.T, host *junction.Host, url string, options ...junction.ListenOption) *junction.Listener {
	t.Helper()
	listener, err := host.Listen(url, options...)
	if err != nil {
		t.Fatalf("Listen(%q): %v", url, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := listener.Close(ctx); err != nil {
			t.Errorf("Close listener %s: %v", listener.URL(), err)
		}
	})
	return listener
}

// routedEcho is a host serving go.echo on url and a second host of the
// same process with go.echo routed to it.
func routedEcho(t *testing.T, url string, options ...junction.ListenOption) (server, client *junction.Host, listener *junction.Listener) {
	t.Helper()
	server = echoHost(t)
	listener = listen(t, server, url, options...)
	client = newHost(t)
	if err := client.Route(goecho.Name, listener.URL()); err != nil {
		t.Fatalf("Route(%q, %q): %v", goecho.Name, listener.URL(), err)
	}
	return server, client, listener
}

// routeTo routes each of services on host to url.
func routeTo(t *testing.T, host *junction.Host, url string, services ...string) {
	t.Helper()
	for _, service := range services {
		if err := host.Route(service, url); err != nil {
			t.Fatalf("Route(%q, %q): %v", service, url, err)
		}
	}
}

// expectCode fails unless err is an *Error with code.
func expectCode(t *testing.T, what string, err error, code junction.Code) {
	t.Helper()
	var status *junction.Error
	if !errors.As(err, &status) || status.Code != code {
		t.Fatalf("%s: got %v, want %v", what, err, code)
	}
}

// callGoEcho is the calling code of the location-transparency tests: it
// runs unchanged against a host holding go.echo and a host with go.echo
// routed elsewhere, and checks every way of calling, errors with their
// messages, deadlines and many goroutines at once.
func callGoEcho(t *testing.T, host *junction.Host) {
	t.Helper()
	echo := method(t, host, goecho.Name, "echo")
	length := method(t, host, goecho.Name, "length")
	checksum := method(t, host, goecho.Name, "checksum")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, size := range sizes {
		req := payload(size)
		if got, err := echo.Call(ctx, req); err != nil || !bytes.Equal(got, req) {
			t.Fatalf("echo %d bytes: %d back, %v", size, len(got), err)
		}
		if got, err := echo.CallAppend(ctx, []byte("prefix:"), req); err != nil || !bytes.Equal(got, append([]byte("prefix:"), req...)) {
			t.Fatalf("CallAppend echo %d bytes: %d back, %v", size, len(got), err)
		}
		r, err := echo.CallBorrowed(ctx, req)
		if err != nil || !bytes.Equal(r.Bytes(), req) {
			t.Fatalf("CallBorrowed echo %d bytes: %v", size, err)
		}
		r.Release()
		if got, err := echo.CallAsync(ctx, req); err != nil || !bytes.Equal(got, req) {
			t.Fatalf("CallAsync echo %d bytes: %d back, %v", size, len(got), err)
		}
		if got, err := length.Call(ctx, req); err != nil || !bytes.Equal(got, le64(uint64(size))) {
			t.Fatalf("length of %d bytes: %x, %v", size, got, err)
		}
		if got, err := checksum.Call(ctx, req); err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
			t.Fatalf("checksum of %d bytes: %x, %v", size, got, err)
		}
	}

	// Errors keep their codes and messages.
	boom := method(t, host, goecho.Name, "panic")
	for i := range 20 {
		_, err := boom.Call(ctx, payload(i))
		var status *junction.Error
		want := fmt.Sprintf("go handler panicked: go.echo/panic called with %d bytes", i)
		if !errors.As(err, &status) || status.Code != junction.Internal || status.Message != want {
			t.Fatalf("panic %d: %v", i, err)
		}
	}
	relay := method(t, host, goecho.Name, "relay")
	if _, err := relay.Call(ctx, []byte("go.echo/nothing\nabc")); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("relay to a missing method: %v", err)
	}
	if _, err := relay.Call(ctx, []byte("no newline")); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("malformed relay: %v", err)
	}
	if got, err := relay.Call(ctx, []byte("go.echo/echo\nrelayed")); err != nil || string(got) != "relayed" {
		t.Fatalf("relay to echo: %q, %v", got, err)
	}

	// Deadlines travel with the call, and a context already done is
	// answered without calling.
	sleep := method(t, host, goecho.Name, "sleep")
	if got, err := sleep.Call(ctx, le64(5)); err != nil || !bytes.Equal(got, le64(5)) {
		t.Fatalf("sleep 5 ms: %x, %v", got, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if _, err := sleep.Call(short, le64(5000)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sleep 5 s with a 50 ms deadline: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("DEADLINE_EXCEEDED after %v for a 50 ms deadline", elapsed)
	}
	done, cancelDone := context.WithCancel(ctx)
	cancelDone()
	if _, err := echo.Call(done, []byte("x")); !errors.Is(err, junction.ErrCanceled) {
		t.Fatalf("call with a cancelled context: %v", err)
	}

	// Many goroutines at once, on one handle.
	concurrently(t, 16, 50, func(g, i int) error {
		req := payload((g*131 + i*17) % 3000)
		if got, err := checksum.Call(ctx, req); err != nil || !bytes.Equal(got, le64(goecho.Checksum(req))) {
			return fmt.Errorf("checksum of %d bytes: %x, %v", len(req), got, err)
		}
		return nil
	})()
}

func TestRoutedServiceIsLocationTransparent(t *testing.T) {
	for _, transport := range transportURLs {
		t.Run(transport.name, func(t *testing.T) {
			server, client, _ := routedEcho(t, transport.url(t))
			t.Run("local", func(t *testing.T) { callGoEcho(t, server) })
			t.Run("routed", func(t *testing.T) { callGoEcho(t, client) })
		})
	}
}

func TestListenerURL(t *testing.T) {
	host := echoHost(t)
	tcp := listen(t, host, "zmq+tcp://127.0.0.1:0")
	if !regexp.MustCompile(`^zmq\+tcp://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(tcp.URL()) {
		t.Fatalf("a listener on port 0 reports %q, want the port the system chose", tcp.URL())
	}
	if tcp.String() != tcp.URL() {
		t.Fatalf("String %q, URL %q", tcp.String(), tcp.URL())
	}
	ipc := ipcURL(t)
	if got := listen(t, host, ipc).URL(); got != ipc {
		t.Fatalf("ipc listener reports %q, want %q", got, ipc)
	}
	inproc := inprocURL(t)
	if got := listen(t, host, inproc).URL(); got != inproc {
		t.Fatalf("inproc listener reports %q, want %q", got, inproc)
	}
	// A second listener on the port the first one got is refused.
	if _, err := host.Listen(tcp.URL()); !errors.Is(err, junction.ErrUnavailable) {
		t.Fatalf("Listen on a port in use: %v", err)
	}
}

func TestListenRefusesBadURLs(t *testing.T) {
	host := echoHost(t)
	for _, url := range []string{
		"", "nonsense", "ftp://127.0.0.1:21", "zmq+udp://127.0.0.1:0", "zmq://127.0.0.1:0",
		"zmq+tcp://127.0.0.1", "zmq+tcp://127.0.0.1:notaport", "zmq+tcp://127.0.0.1:99999",
		"zmq+ipc://relative/path", "zmq+inproc://", "zmq+tcp://127.0.0.1:0\x00",
	} {
		if listener, err := host.Listen(url); !errors.Is(err, junction.ErrInvalidArgument) {
			if err == nil {
				listener.Close(context.Background())
			}
			t.Errorf("Listen(%q): %v, want INVALID_ARGUMENT", url, err)
		}
	}
	// Readable URLs that cannot be bound.
	missingDir := "zmq+ipc://" + filepath.Join(t.TempDir(), "missing", "s.sock")
	inproc := inprocURL(t)
	listen(t, host, inproc)
	for _, url := range []string{missingDir, inproc, "zmq+tcp://192.0.2.1:0"} {
		if listener, err := host.Listen(url); !errors.Is(err, junction.ErrUnavailable) {
			if err == nil {
				listener.Close(context.Background())
			}
			t.Errorf("Listen(%q): %v, want UNAVAILABLE", url, err)
		}
	}
}

func TestListenServicesServesOnlyThose(t *testing.T) {
	server := echoHost(t)
	if err := server.Register(junction.NewService("hidden").
		Method("get", func(context.Context, []byte) ([]byte, error) { return []byte("secret"), nil })); err != nil {
		t.Fatal(err)
	}
	if _, err := server.Listen(inprocURL(t), junction.ListenServices()); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("ListenServices with no names: %v", err)
	}
	if _, err := server.Listen(inprocURL(t), junction.ListenServices("a\x00b")); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("ListenServices with a NUL byte: %v", err)
	}
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0", junction.ListenServices(goecho.Name, "not.registered.yet"))
	client := newHost(t)
	for _, service := range []string{goecho.Name, "hidden", "not.registered.yet"} {
		if err := client.Route(service, listener.URL()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := method(t, client, goecho.Name, "echo").Call(ctx, []byte("hi")); err != nil || string(got) != "hi" {
		t.Fatalf("allowed service: %q, %v", got, err)
	}
	if _, err := method(t, client, "hidden", "get").Call(ctx, nil); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("service left out of the list: %v", err)
	}
	// Listed but registered after the listener started: served.
	late := method(t, client, "not.registered.yet", "get")
	if _, err := late.Call(ctx, nil); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("listed service before it is registered: %v", err)
	}
	if err := server.Register(junction.NewService("not.registered.yet").
		Method("get", func(context.Context, []byte) ([]byte, error) { return []byte("now"), nil })); err != nil {
		t.Fatal(err)
	}
	if got, err := late.Call(ctx, nil); err != nil || string(got) != "now" {
		t.Fatalf("listed service once registered: %q, %v", got, err)
	}
	// Gone before the client's cleanup compares the live objects with
	// what they were when it was made.
	if err := server.Unregister("not.registered.yet"); err != nil {
		t.Fatal(err)
	}
}

func TestListenAndRouteOptions(t *testing.T) {
	_, client, payloadLimited := routedEcho(t, "zmq+tcp://127.0.0.1:0",
		junction.ListenThreads(2), junction.ListenMaxInFlight(8), junction.ListenMaxPayload(1024))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echo := method(t, client, goecho.Name, "echo")
	if got, err := echo.Call(ctx, payload(1024)); err != nil || !bytes.Equal(got, payload(1024)) {
		t.Fatalf("a request at the listener's limit: %d back, %v", len(got), err)
	}
	if _, err := echo.Call(ctx, payload(1025)); !errors.Is(err, junction.ErrResourceExhausted) {
		t.Fatalf("a request over the listener's limit: %v", err)
	}
	if stats, err := payloadLimited.Stats(); err != nil || stats.RefusedTooLarge != 1 || stats.Unreadable != 0 {
		t.Fatalf("stats after a request over the limit: %+v, %v", stats, err)
	}
	// More goroutines than threads and calls in flight allowed: all are
	// answered.
	sleep := method(t, client, goecho.Name, "sleep")
	concurrently(t, 32, 5, func(g, i int) error {
		if got, err := sleep.Call(ctx, le64(2)); err != nil || !bytes.Equal(got, le64(2)) {
			return fmt.Errorf("sleep: %x, %v", got, err)
		}
		return nil
	})()

	// The route's own limit refuses before sending.
	server := echoHost(t)
	listener := listen(t, server, inprocURL(t))
	limited := newHost(t)
	if err := limited.Route(goecho.Name, listener.URL(), junction.RouteMaxPayload(100),
		junction.RouteConnectTimeout(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	limitedEcho := method(t, limited, goecho.Name, "echo")
	if got, err := limitedEcho.Call(ctx, payload(100)); err != nil || !bytes.Equal(got, payload(100)) {
		t.Fatalf("a request at the route's limit: %d back, %v", len(got), err)
	}
	if _, err := limitedEcho.Call(ctx, payload(101)); !errors.Is(err, junction.ErrResourceExhausted) {
		t.Fatalf("a request over the route's limit: %v", err)
	}
}

// The unread-answer bounds reach the listener: one over the most it takes
// is refused, and a client that reads its answers is served under the
// least (the listener's own tests fill a connection's backlog).
func TestListenUnreadAnswerBounds(t *testing.T) {
	host := echoHost(t)
	if listener, err := host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenMaxUnreadAnswers(junction.MaxUnreadAnswers+1)); !errors.Is(err, junction.ErrInvalidArgument) ||
		!strings.Contains(err.Error(), "max_unread_answers") {
		t.Fatalf("a bound over the most: %v, %v", listener, err)
	}
	_, client, _ := routedEcho(t, "zmq+tcp://127.0.0.1:0",
		junction.ListenMaxUnreadAnswers(junction.MaxUnreadAnswers), junction.ListenMaxUnreadBytes(1<<20))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	echo := method(t, client, goecho.Name, "echo")
	for range 3 {
		if got, err := echo.Call(ctx, payload(64)); err != nil || !bytes.Equal(got, payload(64)) {
			t.Fatalf("echo: %d back, %v", len(got), err)
		}
	}
}

func TestRouteErrors(t *testing.T) {
	host := echoHost(t)
	if err := host.Route(goecho.Name, "zmq+tcp://127.0.0.1:1"); !errors.Is(err, junction.ErrAlreadyExists) {
		t.Fatalf("route over a registered service: %v", err)
	}
	for _, url := range []string{"", "nonsense", "ftp://127.0.0.1:21", "zmq+tcp://127.0.0.1", "zmq+ipc://relative"} {
		if err := host.Route("elsewhere", url); !errors.Is(err, junction.ErrInvalidArgument) {
			t.Errorf("Route to %q: %v, want INVALID_ARGUMENT", url, err)
			host.Unregister("elsewhere")
		}
	}
	if err := host.Route("elsewhere", "zmq+tcp://127.0.0.1:1", junction.RouteConnectTimeout(-time.Second)); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("negative connect timeout: %v", err)
	}
	if err := host.Route("a\x00b", "zmq+tcp://127.0.0.1:1"); !errors.Is(err, junction.ErrInvalidArgument) {
		t.Fatalf("service name with NUL: %v", err)
	}
	// A route is registered like a service: taken, unregistered, taken again.
	if err := host.Route("elsewhere", "zmq+tcp://127.0.0.1:1"); err != nil {
		t.Fatal(err)
	}
	if err := host.Route("elsewhere", "zmq+tcp://127.0.0.1:2"); !errors.Is(err, junction.ErrAlreadyExists) {
		t.Fatalf("a second route for one name: %v", err)
	}
	routed := method(t, host, "elsewhere", "anything")
	if err := host.Unregister("elsewhere"); err != nil {
		t.Fatal(err)
	}
	if _, err := routed.Call(context.Background(), nil); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("a call on an unregistered route: %v", err)
	}
	if _, err := host.Method("elsewhere", "anything"); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("resolving an unregistered route: %v", err)
	}
}

// freeTCPURL is a loopback URL nobody listens on: a port a listener was
// given and has given back.
func freeTCPURL(t *testing.T) string {
	t.Helper()
	host := newHost(t)
	listener, err := host.Listen("zmq+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := listener.URL()
	if err := listener.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return url
}

func TestCallsToADeadURLAreUnavailable(t *testing.T) {
	dead := map[string]string{
		"tcp":    freeTCPURL(t),
		"ipc":    "zmq+ipc://" + filepath.Join(t.TempDir(), "nobody.sock"),
		"inproc": inprocURL(t),
	}
	for name, url := range dead {
		t.Run(name, func(t *testing.T) {
			host := newHost(t)
			if err := host.Route(goecho.Name, url, junction.RouteConnectTimeout(200*time.Millisecond)); err != nil {
				t.Fatalf("Route to %s: %v", url, err)
			}
			echo := method(t, host, goecho.Name, "echo")
			for _, call := range []func(context.Context) error{
				func(ctx context.Context) error { _, err := echo.Call(ctx, []byte("x")); return err },
				func(ctx context.Context) error { _, err := echo.CallAsync(ctx, []byte("x")); return err },
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				start := time.Now()
				err := call(ctx)
				cancel()
				if !errors.Is(err, junction.ErrUnavailable) {
					t.Fatalf("a call to %s: %v, want UNAVAILABLE", url, err)
				}
				if elapsed := time.Since(start); elapsed > 3*time.Second {
					t.Fatalf("UNAVAILABLE after %v (connect timeout 200 ms)", elapsed)
				}
			}
			// A deadline shorter than the connect timeout ends the wait.
			host.Unregister(goecho.Name)
			if err := host.Route(goecho.Name, url, junction.RouteConnectTimeout(5*time.Second)); err != nil {
				t.Fatal(err)
			}
			slowEcho := method(t, host, goecho.Name, "echo")
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := slowEcho.Call(ctx, []byte("x"))
			if !errors.Is(err, junction.ErrDeadlineExceeded) && !errors.Is(err, junction.ErrUnavailable) {
				t.Fatalf("a 100 ms call to %s: %v", url, err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("a 100 ms call to %s answered after %v", url, elapsed)
			}
		})
	}
}

// countsOf is stats with the state fields zeroed: how many threads a
// listener runs depends on how its calls overlapped, and a call whose
// answer is out is in flight until its thread has counted it done.
func countsOf(stats junction.ListenerStats) junction.ListenerStats {
	stats.InFlight, stats.Threads = 0, 0
	return stats
}

func TestRouteStatsFollowTheListener(t *testing.T) {
	server := echoHost(t)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
	client := newHost(t)
	if err := client.Route(goecho.Name, listener.URL()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := method(t, client, goecho.Name, "echo").Call(ctx, []byte("up")); err != nil {
		t.Fatal(err)
	}
	if stats, err := client.RouteStats(goecho.Name); err != nil || stats != (junction.RouteStats{State: junction.RouteReady}) {
		t.Fatalf("a route that answered: %+v, %v", stats, err)
	}
	if err := listener.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The listener's two connections close one after the other: the route
	// may be down for the first before it counts the loss of the second.
	stats, err := client.RouteStats(goecho.Name)
	for err == nil && (stats.State != junction.RouteDown || stats.ConnectionsLost < 1) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
		stats, err = client.RouteStats(goecho.Name)
	}
	if err != nil || stats.State != junction.RouteDown || stats.ConnectionsLost < 1 {
		t.Fatalf("the route once its listener closed: %+v (%v), %v", stats, stats.State, err)
	}
	if _, err := server.RouteStats(goecho.Name); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("stats of a registered service: %v, want NOT_FOUND", err)
	}
}

func TestListenerStats(t *testing.T) {
	_, client, listener := routedEcho(t, "zmq+tcp://127.0.0.1:0")
	if stats, err := listener.Stats(); err != nil || stats.Threads == 0 ||
		stats != (junction.ListenerStats{Threads: stats.Threads}) {
		t.Fatalf("a new listener's stats: %+v, %v", stats, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := method(t, client, goecho.Name, "echo").Call(ctx, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := method(t, client, goecho.Name, "no-such-method").Call(ctx, nil); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("a method go.echo lacks: %v", err)
	}
	want := junction.ListenerStats{Requests: 2, Answers: 2}
	if stats, err := listener.Stats(); err != nil || countsOf(stats) != want {
		t.Fatalf("stats %+v, %v; want %+v", stats, err, want)
	}
	if err := listener.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := listener.Stats(); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("a closed listener's stats: %v, want FAILED_PRECONDITION", err)
	}
}

// Drain waits for the call in flight as Close does but keeps the listener:
// a drain whose deadline passes first leaves the call running, later calls
// are answered UNAVAILABLE, and Stats counts the call the drain waited for.
func TestListenerDrain(t *testing.T) {
	server := echoHost(t)
	// The handler says when it has begun: the listener counts a request
	// before the call reaches the host, and a drain in between refuses it.
	started, release := blocking(t, server)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
	client := newHost(t)
	routeTo(t, client, listener.URL(), goecho.Name, "blocking")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wait := method(t, client, "blocking", "wait")
	slow := make(chan error, 1)
	go func() {
		_, err := wait.Call(ctx, nil)
		slow <- err
	}()
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("the handler did not start within 10 s")
	}

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := listener.Drain(short); !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("a drain whose deadline passes first: %v, want DEADLINE_EXCEEDED", err)
	}
	release()
	if err := listener.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if err := <-slow; err != nil {
		t.Fatalf("the call the drain waited for: %v", err)
	}
	if _, err := method(t, client, goecho.Name, "echo").Call(ctx, []byte("late")); !errors.Is(err, junction.ErrUnavailable) {
		t.Fatalf("a call after the drain: %v, want UNAVAILABLE", err)
	}
	want := junction.ListenerStats{Requests: 2, Answers: 2}
	if stats, err := listener.Stats(); err != nil || countsOf(stats) != want {
		t.Fatalf("stats after the drain %+v, %v; want %+v", stats, err, want)
	}
	if err := listener.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := listener.Drain(ctx); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("draining a closed listener: %v, want FAILED_PRECONDITION", err)
	}
}

func TestClosedListener(t *testing.T) {
	for _, transport := range transportURLs {
		t.Run(transport.name, func(t *testing.T) {
			server := echoHost(t)
			listener, err := server.Listen(transport.url(t))
			if err != nil {
				t.Fatal(err)
			}
			url := listener.URL()
			client := newHost(t)
			if err := client.Route(goecho.Name, url, junction.RouteConnectTimeout(200*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
			echo := method(t, client, goecho.Name, "echo")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if got, err := echo.Call(ctx, []byte("open")); err != nil || string(got) != "open" {
				t.Fatalf("before Close: %q, %v", got, err)
			}
			if err := listener.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := listener.Close(ctx); err != nil {
				t.Fatalf("a second Close: %v", err)
			}
			if listener.URL() != url {
				t.Fatalf("URL after Close: %q, was %q", listener.URL(), url)
			}
			start := time.Now()
			if _, err := echo.Call(ctx, []byte("closed")); !errors.Is(err, junction.ErrUnavailable) {
				t.Fatalf("a call after Close: %v, want UNAVAILABLE", err)
			}
			if elapsed := time.Since(start); elapsed > 3*time.Second {
				t.Fatalf("UNAVAILABLE after %v", elapsed)
			}
			// The address is free again, and the route reconnects by itself
			// (within ZeroMQ's reconnect interval).
			again := listen(t, server, url)
			eventually(t, 5*time.Second, func() error {
				got, err := echo.Call(ctx, []byte("again"))
				if err == nil && string(got) != "again" {
					t.Fatalf("on a new listener at %s: %q", again.URL(), got)
				}
				return err
			})
		})
	}
}

// While Close waits for a handler, the handler reading its listener's
// stats gets FAILED_PRECONDITION at once rather than waiting for the
// Close, which waits for it.
func TestListenerStatsFromAHandlerDuringClose(t *testing.T) {
	server := newHost(t)
	started := make(chan struct{})
	proceed := make(chan struct{})
	var listener *junction.Listener
	if err := server.Register(junction.NewService("stats").
		Method("read", func(context.Context, []byte) ([]byte, error) {
			close(started)
			<-proceed
			_, err := listener.Stats()
			return nil, err
		})); err != nil {
		t.Fatal(err)
	}
	listener, err := server.Listen(inprocURL(t))
	if err != nil {
		t.Fatal(err)
	}
	client := newHost(t)
	routeTo(t, client, listener.URL(), "stats")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release := sync.OnceFunc(func() { close(proceed) })
	answer := inBackground(t, release, func() error {
		_, err := method(t, client, "stats", "read").Call(ctx, nil)
		return err
	})
	receive(t, started, 10*time.Second, "the handler starting")
	closed := inBackground(t, release, func() error { return listener.Close(context.Background()) })
	eventually(t, 5*time.Second, func() error {
		if _, err := listener.Stats(); !errors.Is(err, junction.ErrFailedPrecondition) {
			return fmt.Errorf("stats while the listener closes: %v", err)
		}
		return nil
	})
	release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Close still waits for the handler, which waits for Stats")
	}
	expectCode(t, "the handler's Stats during Close", <-answer, junction.FailedPrecondition)
}

// blocking is a service whose "wait" method blocks until release is
// called (at the latest when the test ends, before its hosts close), and
// says on started when a call has begun.
func blocking(t *testing.T, host *junction.Host) (started chan struct{}, release func()) {
	started = make(chan struct{}, 16)
	released := make(chan struct{})
	release = sync.OnceFunc(func() { close(released) })
	t.Cleanup(release)
	if err := host.Register(junction.NewService("blocking").
		Method("wait", func(context.Context, []byte) ([]byte, error) {
			started <- struct{}{}
			<-released
			return []byte("released"), nil
		})); err != nil {
		t.Fatal(err)
	}
	return started, release
}

func TestListenerCloseDrainsCallsInFlight(t *testing.T) {
	server := newHost(t)
	started, release := blocking(t, server)
	listener, err := server.Listen("zmq+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := newHost(t)
	if err := client.Route("blocking", listener.URL()); err != nil {
		t.Fatal(err)
	}
	wait := method(t, client, "blocking", "wait")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answer := inBackground(t, release, func() error {
		got, err := wait.Call(ctx, nil)
		if err == nil && string(got) != "released" {
			err = fmt.Errorf("answered %q", got)
		}
		return err
	})
	receive(t, started, 10*time.Second, "the handler starting")
	closed := make(chan error, 1)
	go func() { closed <- listener.Close(context.Background()) }() // no deadline: waits
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a call was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := receive(t, answer, 30*time.Second, "the call in flight at Close"); err != nil {
		t.Fatalf("the call in flight at Close: %v", err)
	}
	if err := receive(t, closed, 30*time.Second, "Close"); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// selfClosing registers on server the service "admin", whose "stop"
// closes the listener *listener (with a deadline 20 s away) once release
// is called, saying on entered that it began and on closed what the Close
// returned and whether it returned well before its deadline.
type selfClosing struct {
	entered chan struct{}
	proceed chan struct{}
	closed  chan error
}

func newSelfClosing(t *testing.T, server *junction.Host, listener **junction.Listener) *selfClosing {
	t.Helper()
	admin := &selfClosing{entered: make(chan struct{}, 1), proceed: make(chan struct{}), closed: make(chan error, 1)}
	if err := server.Register(junction.NewService("admin").
		Method("stop", func(context.Context, []byte) ([]byte, error) {
			admin.entered <- struct{}{}
			<-admin.proceed
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			err := (*listener).Close(ctx)
			if err == nil && ctx.Err() != nil {
				err = fmt.Errorf("Close returned nil only at its deadline")
			}
			admin.closed <- err
			return []byte("stopped"), nil
		})); err != nil {
		t.Fatal(err)
	}
	return admin
}

// A handler may close the listener running it: Close waits for the other
// calls in flight (one held until the handler is about to close), not for
// the handler itself, which it used to wait for without end; the closing
// handler's caller sees its connection close.
func TestAHandlerMayCloseItsListener(t *testing.T) {
	server := newHost(t)
	started, release := blocking(t, server)
	var listener *junction.Listener
	admin := newSelfClosing(t, server, &listener)
	listener, err := server.Listen("zmq+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	client := newHost(t)
	routeTo(t, client, listener.URL(), "blocking", "admin")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held := inBackground(t, release, func() error {
		got, err := method(t, client, "blocking", "wait").Call(ctx, nil)
		if err == nil && string(got) != "released" {
			err = fmt.Errorf("answered %q", got)
		}
		return err
	})
	receive(t, started, 10*time.Second, "the held call starting")
	proceed := sync.OnceFunc(func() { close(admin.proceed) })
	stop := inBackground(t, proceed, func() error {
		_, err := method(t, client, "admin", "stop").Call(ctx, nil)
		return err
	})
	receive(t, admin.entered, 10*time.Second, "the handler starting")
	proceed()
	release()
	if err := receive(t, held, 30*time.Second, "the call held while the handler closed"); err != nil {
		t.Fatalf("the call held while the handler closed: %v", err)
	}
	if err := receive(t, admin.closed, 30*time.Second, "Close from the handler"); err != nil {
		t.Fatalf("Close from the handler: %v", err)
	}
	expectCode(t, "the closing handler's call", receive(t, stop, 30*time.Second, "the closing handler's call"),
		junction.Unavailable)
}

// A handler closing its listener while another party is at work on it
// waits for neither: Host.Close, which closes the listener and waits for
// the handler (the handler's Close returns at once), or a Drain without a
// deadline, which waits for the handler (and ends FAILED_PRECONDITION once
// the Close begins).
func TestAHandlerMayCloseItsListenerWhileOthersCloseOrDrainIt(t *testing.T) {
	for _, other := range []string{"Host.Close", "Drain"} {
		t.Run(other, func(t *testing.T) {
			// Made first: its baseline of live objects, checked last, holds
			// nothing of the server, which the test may close itself.
			client := newHost(t)
			server, err := junction.NewHost()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = server.Close() })
			var listener *junction.Listener
			admin := newSelfClosing(t, server, &listener)
			if err := server.Register(junction.NewService("ping").
				Method("ping", func(context.Context, []byte) ([]byte, error) { return nil, nil })); err != nil {
				t.Fatal(err)
			}
			listener, err = server.Listen("zmq+tcp://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			routeTo(t, client, listener.URL(), "admin", "ping")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			proceed := sync.OnceFunc(func() { close(admin.proceed) })
			stop := inBackground(t, proceed, func() error {
				_, err := method(t, client, "admin", "stop").Call(ctx, nil)
				return err
			})
			receive(t, admin.entered, 10*time.Second, "the handler starting")
			var otherErr <-chan error
			if other == "Host.Close" {
				otherErr = inBackground(t, proceed, server.Close)
			} else {
				otherErr = inBackground(t, proceed, func() error { return listener.Drain(context.Background()) })
			}
			// At work, waiting for the handler's call: the listener answers
			// new calls UNAVAILABLE.
			ping := method(t, client, "ping", "ping")
			eventually(t, 10*time.Second, func() error {
				if _, err := ping.Call(ctx, nil); !errors.Is(err, junction.ErrUnavailable) {
					return fmt.Errorf("a call while the listener drains: %v", err)
				}
				return nil
			})
			proceed()
			if err := receive(t, admin.closed, 30*time.Second, "Close from the handler"); err != nil {
				t.Fatalf("Close from the handler: %v", err)
			}
			err = receive(t, otherErr, 30*time.Second, other)
			if other == "Host.Close" && err != nil {
				t.Fatalf("Host.Close: %v", err)
			}
			if other == "Drain" {
				expectCode(t, "a Drain when a Close began", err, junction.FailedPrecondition)
			}
			receive(t, stop, 30*time.Second, "the closing handler's call")
		})
	}
}

// A drain deadline cuts Close short; the call it cut off is answered by
// its own deadline at the latest, never left hanging: UNAVAILABLE when the
// transport sees the connection close (ipc, tcp), DEADLINE_EXCEEDED at the
// caller's deadline where it cannot (the ABI allows both).
func TestListenerCloseStopsAtItsDeadline(t *testing.T) {
	for _, transport := range transportURLs {
		t.Run(transport.name, func(t *testing.T) {
			server := newHost(t)
			started, release := blocking(t, server)
			listener, err := server.Listen(transport.url(t))
			if err != nil {
				t.Fatal(err)
			}
			client := newHost(t)
			if err := client.Route("blocking", listener.URL()); err != nil {
				t.Fatal(err)
			}
			wait := method(t, client, "blocking", "wait")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			callStart := time.Now()
			answer := inBackground(t, release, func() error { _, err := wait.Call(ctx, nil); return err })
			receive(t, started, 10*time.Second, "the handler starting")
			drain, cancelDrain := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancelDrain()
			start := time.Now()
			err = listener.Close(drain)
			if !errors.Is(err, junction.ErrDeadlineExceeded) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Close with a call stuck past its deadline: %v", err)
			}
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Fatalf("Close with a 100 ms drain deadline took %v", elapsed)
			}
			select {
			case err := <-answer:
				if !errors.Is(err, junction.ErrUnavailable) && !errors.Is(err, junction.ErrDeadlineExceeded) {
					t.Fatalf("the call cut off by Close: %v, want UNAVAILABLE", err)
				}
				t.Logf("the call cut off by Close answered %v after %v", junction.CodeOf(err), time.Since(callStart))
			case <-time.After(5 * time.Second):
				t.Fatal("the call cut off by Close is still waiting 2 s past its deadline")
			}
		})
	}
}

// inBackground runs call on a goroutine and returns where its error
// arrives. Before the test's cleanups close anything, release runs and the
// goroutine is waited for (a method must not be closed during a call).
func inBackground(t *testing.T, release func(), call func() error) <-chan error {
	answer := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		answer <- call()
	}()
	t.Cleanup(wg.Wait)
	t.Cleanup(release)
	return answer
}

func TestHostCloseClosesItsListeners(t *testing.T) {
	client := newHost(t) // first: its live-object baseline does not count the server
	server, err := junction.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Register(goecho.Service(server)); err != nil {
		t.Fatal(err)
	}
	tcp, err := server.Listen("zmq+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inproc, err := server.Listen(inprocURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Route(goecho.Name, tcp.URL(), junction.RouteConnectTimeout(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	echo := method(t, client, goecho.Name, "echo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := echo.Call(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := server.Close(); err != nil {
		t.Fatalf("Close of a host with two listeners open: %v", err)
	}
	if err := tcp.Close(ctx); err != nil {
		t.Fatalf("Close of a listener its host closed: %v", err)
	}
	if err := inproc.Close(ctx); err != nil {
		t.Fatalf("Close of a listener its host closed: %v", err)
	}
	if _, err := echo.Call(ctx, []byte("x")); !errors.Is(err, junction.ErrUnavailable) {
		t.Fatalf("a call to a closed host: %v, want UNAVAILABLE", err)
	}
	if _, err := server.Listen(inprocURL(t)); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("Listen on a closed host: %v", err)
	}
	if err := server.Route("x", "zmq+tcp://127.0.0.1:1"); !errors.Is(err, junction.ErrFailedPrecondition) {
		t.Fatalf("Route on a closed host: %v", err)
	}
}

// Go -> (zmq) -> Go -> (zmq) -> Go: a routed relay whose target is routed
// too, with the deadline and errors crossing both hops.
func TestRoutedRelayAcrossTwoHops(t *testing.T) {
	far := echoHost(t)
	farListener := listen(t, far, ipcURL(t))
	middle := newHost(t)
	if err := middle.Register(junction.NewService("middle").
		Method("relay", func(ctx context.Context, req []byte) ([]byte, error) {
			return goecho.Relay(ctx, middle, req)
		})); err != nil {
		t.Fatal(err)
	}
	if err := middle.Route(goecho.Name, farListener.URL()); err != nil {
		t.Fatal(err)
	}
	middleListener := listen(t, middle, "zmq+tcp://127.0.0.1:0")
	near := newHost(t)
	if err := near.Route("middle", middleListener.URL()); err != nil {
		t.Fatal(err)
	}
	relay := method(t, near, "middle", "relay")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := relay.Call(ctx, append([]byte("go.echo/checksum\n"), payload(100000)...)); err != nil ||
		!bytes.Equal(got, le64(goecho.Checksum(payload(100000)))) {
		t.Fatalf("two hops: %x, %v", got, err)
	}
	_, err := relay.Call(ctx, []byte("go.echo/panic\nab"))
	var status *junction.Error
	if !errors.As(err, &status) || status.Code != junction.Internal ||
		status.Message != "go handler panicked: go.echo/panic called with 2 bytes" {
		t.Fatalf("a panic two hops away: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if _, err := relay.Call(short, append([]byte("go.echo/sleep\n"), le64(5000)...)); !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("a deadline two hops away: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("DEADLINE_EXCEEDED two hops away after %v", elapsed)
	}
}

// eventually retries f until it succeeds, failing the test with its last
// error after limit.
func eventually(t *testing.T, limit time.Duration, f func() error) {
	t.Helper()
	giveUp := time.Now().Add(limit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(giveUp) {
			t.Fatalf("still failing after %v: %v", limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
