//go:build interop

// Cross-process tests: a junction-host daemon (JUNCTION_HOST_BIN) serves the
// Rust module (JUNCTION_RUST_ECHO_MODULE) and the Go bundle
// (JUNCTION_GO_ECHO_BUNDLE) in another process, over ZeroMQ ipc and tcp on
// loopback; this process routes rust.echo there and runs the same call
// functions as interop_test.go runs against the module loaded in process.
// ctest runs them as go.cross_process (go test -run '^TestCrossProcess');
// go.test skips them.

package junction_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"junction"
	"junction/goecho"
	"junction/internal/testsync"
)

// daemon is a junction-host process started by a test.
type daemon struct {
	cmd    *exec.Cmd
	urls   []string // the URLs it reported, in order
	stderr *testsync.LockedBuffer
	exited chan struct{} // closed once the process has been waited for
	err    error         // the process's exit, once exited is closed
}

var servingLine = regexp.MustCompile(`^junction-host: serving (.+) on (\S+)$`)

// startDaemon runs junction-host with args and waits (up to 30 s) for its
// "ready" line, collecting the URLs of its "serving ... on URL" lines. The
// test stops it at the end (stopDaemon, unless the test already did) and
// fails unless it then exits with status 0.
func startDaemon(t *testing.T, args ...string) *daemon {
	t.Helper()
	bin := requiredPath(t, "JUNCTION_HOST_BIN")
	d := &daemon{cmd: exec.Command(bin, args...), stderr: &testsync.LockedBuffer{}, exited: make(chan struct{})}
	d.cmd.Stderr = d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	type line struct {
		text string
		ok   bool
	}
	lines := make(chan line)
	waiting := make(chan struct{}) // closed once startDaemon stops reading lines
	defer close(waiting)
	go func() {
		scanner := bufio.NewScanner(stdout)
		forward := true
		for scanner.Scan() {
			if forward {
				select {
				case lines <- line{scanner.Text(), true}:
					forward = scanner.Text() != "junction-host: ready"
				case <-waiting:
					forward = false
				}
			}
		}
		if forward {
			close(lines)
		}
		io.Copy(io.Discard, stdout)
		d.err = d.cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.stop(t, syscall.SIGTERM)
		if t.Failed() {
			t.Logf("junction-host %s\nstderr:\n%s", strings.Join(args, " "), d.stderr.String())
		}
	})
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-d.exited
				t.Fatalf("junction-host exited (%v) before it was ready; stderr:\n%s", d.err, d.stderr.String())
			}
			if l.text == "junction-host: ready" {
				if len(d.urls) == 0 {
					t.Fatalf("junction-host is ready without reporting a URL")
				}
				return d
			}
			if m := servingLine.FindStringSubmatch(l.text); m != nil {
				d.urls = append(d.urls, m[2])
			} else {
				t.Logf("junction-host said: %s", l.text)
			}
		case <-timeout:
			t.Fatalf("junction-host not ready after 30 s; stderr:\n%s", d.stderr.String())
		}
	}
}

// stop sends sig (unless the process has exited) and waits up to 20 s for
// the exit; after SIGTERM the exit status must be 0 (a complete drain).
func (d *daemon) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(sig)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.exited
		t.Errorf("junction-host still running 20 s after %v", sig)
		return
	}
	if sig == syscall.SIGTERM && d.err != nil {
		t.Errorf("junction-host after SIGTERM: %v, want exit status 0", d.err)
	}
}

// daemonIPCURL is an ipc URL in a fresh, short directory.
func daemonIPCURL(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jn-xp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return "zmq+ipc://" + filepath.Join(dir, name)
}

// routedRustHost is a host with go.echo registered in this process and
// rust.echo routed to url.
func routedRustHost(t *testing.T, url string, options ...junction.RouteOption) *junction.Host {
	t.Helper()
	host := echoHost(t)
	if err := host.Route("rust.echo", url, options...); err != nil {
		t.Fatalf("Route(rust.echo, %s): %v", url, err)
	}
	return host
}

// The same call functions as against the module in this process, through a
// daemon serving the Rust module and the Go bundle (rust.echo/relay reaches
// the daemon's go.echo) on ipc and on tcp.
func TestCrossProcessGoCallsRust(t *testing.T) {
	ipc := daemonIPCURL(t, "rust-echo.sock")
	d := startDaemon(t,
		"--module", requiredPath(t, "JUNCTION_RUST_ECHO_MODULE"),
		"--module", requiredPath(t, "JUNCTION_GO_ECHO_BUNDLE"),
		"--listen", ipc, "--listen", "zmq+tcp://127.0.0.1:0")
	if len(d.urls) != 2 || d.urls[0] != ipc || !regexp.MustCompile(`^zmq\+tcp://127\.0\.0\.1:[1-9][0-9]*$`).MatchString(d.urls[1]) {
		t.Fatalf("junction-host serves on %q; want %s and a tcp URL with the port it picked", d.urls, ipc)
	}
	for i, transport := range []string{"ipc", "tcp"} {
		url := d.urls[i]
		t.Run(transport, func(t *testing.T) {
			t.Run("AllSizes", func(t *testing.T) { callRustAllSizes(t, routedRustHost(t, url)) })
			t.Run("ManyGoroutines", func(t *testing.T) { callRustFromManyGoroutines(t, routedRustHost(t, url)) })
			t.Run("DeadlinesAndPanics", func(t *testing.T) { callRustDeadlinesAndPanics(t, routedRustHost(t, url)) })
			t.Run("RoundTrips", func(t *testing.T) { callGoRustGoRoundTrips(t, routedRustHost(t, url)) })
			t.Run("Async", func(t *testing.T) { callRustAsync(t, routedRustHost(t, url)) })
		})
	}
}

// With CURVE: a key made here, written to a file only this user may read,
// the daemon serving with it and a client list; the listed Go caller runs
// the same calls over ipc and tcp, and a caller with another key is
// answered UNAVAILABLE with the reason.
func TestCrossProcessCurve(t *testing.T) {
	serverKeys, err := junction.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	listed, err := junction.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "daemon.secret")
	clientsFile := filepath.Join(dir, "clients")
	if err := os.WriteFile(secretFile, []byte(serverKeys.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clientsFile, []byte(listed.PublicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ipc := daemonIPCURL(t, "curve.sock")
	d := startDaemon(t,
		"--module", requiredPath(t, "JUNCTION_RUST_ECHO_MODULE"),
		"--listen", ipc, "--listen", "zmq+tcp://127.0.0.1:0",
		"--curve-secret-key-file", secretFile, "--curve-client-keys-file", clientsFile)
	for i, transport := range []string{"ipc", "tcp"} {
		url := d.urls[i]
		t.Run(transport, func(t *testing.T) {
			callRustAllSizes(t, routedRustHost(t, url, junction.RouteCurveServerKey(serverKeys.PublicKey),
				junction.RouteCurveKeyPair(listed)))
			stranger, err := junction.NewCurveKeyPair()
			if err != nil {
				t.Fatal(err)
			}
			refused := routedRustHost(t, url, junction.RouteCurveServerKey(serverKeys.PublicKey),
				junction.RouteCurveKeyPair(stranger))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err = method(t, refused, "rust.echo", "echo").Call(ctx, []byte("let me in"))
			if !errors.Is(err, junction.ErrUnavailable) || !strings.Contains(err.Error(), "refused this route's CURVE key") {
				t.Fatalf("a key the daemon does not list: %v, want UNAVAILABLE saying it was refused", err)
			}
		})
	}
}

// --serve: the daemon answers NOT_FOUND for a service it has but was told
// not to serve.
func TestCrossProcessServeOnlyTheNamedServices(t *testing.T) {
	d := startDaemon(t,
		"--module", requiredPath(t, "JUNCTION_RUST_ECHO_MODULE"),
		"--module", requiredPath(t, "JUNCTION_GO_ECHO_BUNDLE"),
		"--serve", "rust.echo", "--listen", "zmq+tcp://127.0.0.1:0")
	host := newHost(t)
	for _, service := range []string{"rust.echo", goecho.Name} {
		if err := host.Route(service, d.urls[0]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := method(t, host, "rust.echo", "echo").Call(ctx, []byte("served")); err != nil || string(got) != "served" {
		t.Fatalf("rust.echo: %q, %v", got, err)
	}
	if _, err := method(t, host, goecho.Name, "echo").Call(ctx, []byte("hidden")); !errors.Is(err, junction.ErrNotFound) {
		t.Fatalf("go.echo, loaded but not served: %v, want NOT_FOUND", err)
	}
	// rust.echo's relay reaches go.echo inside the daemon all the same.
	if got, err := method(t, host, "rust.echo", "relay").Call(ctx, []byte("go.echo/echo\ninside")); err != nil || string(got) != "inside" {
		t.Fatalf("relay inside the daemon: %q, %v", got, err)
	}
}

// takenByTheDaemon returns once the one call in flight on host's route of
// service has been taken by the far daemon: it was sent (the route counts
// it), and a call made after it on the same connection, which the daemon
// reads in order, has been answered.
func takenByTheDaemon(t *testing.T, host *junction.Host, service string) {
	t.Helper()
	for giveUp := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if stats, err := host.RouteStats(service); err == nil && stats.InFlight == 1 {
			break
		}
		if time.Now().After(giveUp) {
			t.Fatal("the call was not sent within 10 s")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := method(t, host, service, "echo").Call(ctx, []byte("behind it")); err != nil {
		t.Fatalf("a call behind the one in flight: %v", err)
	}
}

// SIGTERM lets a call in flight finish and the daemon exit 0 (over ipc and
// tcp); calls after that answer UNAVAILABLE promptly, and so does a call
// whose daemon is killed while it runs.
func TestCrossProcessDaemonStopsAndDies(t *testing.T) {
	rust := requiredPath(t, "JUNCTION_RUST_ECHO_MODULE")
	for _, url := range []string{daemonIPCURL(t, "drain.sock"), "zmq+tcp://127.0.0.1:0"} {
		d := startDaemon(t, "--module", rust, "--listen", url)
		host := routedRustHost(t, d.urls[0], junction.RouteConnectTimeout(200*time.Millisecond))
		sleep := method(t, host, "rust.echo", "sleep_async")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		answer := make(chan error, 1)
		go func() {
			got, err := sleep.Call(ctx, le64(500))
			if err == nil && !bytes.Equal(got, le64(500)) {
				err = fmt.Errorf("answered %x", got)
			}
			answer <- err
		}()
		takenByTheDaemon(t, host, "rust.echo")
		d.stop(t, syscall.SIGTERM)
		if err := receive(t, answer, 30*time.Second, "the call in flight at SIGTERM"); err != nil {
			t.Fatalf("the call in flight at SIGTERM, through %s: %v, want its answer", d.urls[0], err)
		}
		start := time.Now()
		if _, err := method(t, host, "rust.echo", "echo").Call(ctx, []byte("x")); !errors.Is(err, junction.ErrUnavailable) {
			t.Fatalf("a call to the stopped daemon at %s: %v, want UNAVAILABLE", d.urls[0], err)
		}
		if elapsed := time.Since(start); elapsed > 3*time.Second {
			t.Fatalf("UNAVAILABLE from %s after %v", d.urls[0], elapsed)
		}
	}

	// Killed mid-call: never a hang. The ABI allows UNAVAILABLE at once or
	// DEADLINE_EXCEEDED at the deadline.
	killed := startDaemon(t, "--module", rust, "--listen", "zmq+tcp://127.0.0.1:0")
	victim := routedRustHost(t, killed.urls[0], junction.RouteConnectTimeout(200*time.Millisecond))
	slow := method(t, victim, "rust.echo", "sleep_async")
	callCtx, cancelCall := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelCall()
	answer := make(chan error, 1)
	go func() {
		_, err := slow.Call(callCtx, le64(10000))
		answer <- err
	}()
	takenByTheDaemon(t, victim, "rust.echo")
	start := time.Now()
	killed.stop(t, syscall.SIGKILL)
	err := receive(t, answer, 30*time.Second, "the call whose daemon was killed")
	elapsed := time.Since(start)
	if !errors.Is(err, junction.ErrUnavailable) && !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("a call whose daemon was killed: %v, want UNAVAILABLE", err)
	}
	if elapsed > 6*time.Second {
		t.Fatalf("a call whose daemon was killed answered after %v", elapsed)
	}
	t.Logf("a call whose daemon was killed mid-call answered %v after %v", junction.CodeOf(err), elapsed)
}
