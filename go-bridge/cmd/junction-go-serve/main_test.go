package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"junction"
	"junction/internal/cgotest"
	"junction/internal/testsync"
)

// asMainEnv, set in the environment of this test binary run again, makes
// it junction-go-serve itself (main), for tests of the whole process.
const asMainEnv = "JUNCTION_GO_SERVE_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Args = append([]string{"junction-go-serve"}, os.Args[1:]...)
		main()
	}
	os.Exit(m.Run())
}

// Standard error is a pipe nobody reads any longer (a log reader that
// died): every line the daemon logs fails to be written, and it serves,
// drains the call in flight on SIGTERM and exits 0 all the same.
func TestAGoneLogReaderStopsNeitherTheServingNorTheDrain(t *testing.T) {
	readEnd, writeEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	readEnd.Close()
	daemon, url, exited := startDaemon(t, writeEnd)
	writeEnd.Close()

	caller, err := junction.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Close() })
	if err := caller.Route("go.echo", url); err != nil {
		t.Fatal(err)
	}
	sleep, err := caller.Method("go.echo", "sleep")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sleep.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inFlight := make(chan error, 1)
	go func() {
		_, err := sleep.Call(ctx, binary.LittleEndian.AppendUint64(nil, 500))
		inFlight <- err
	}()
	// Sent, then followed by a call answered on the same connection: the
	// daemon, which reads a connection's requests in order, has taken it.
	for giveUp := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if stats, err := caller.RouteStats("go.echo"); err == nil && stats.InFlight == 1 {
			break
		}
		if time.Now().After(giveUp) {
			t.Fatal("the sleep was not sent within 10 s")
		}
	}
	length, err := caller.Method("go.echo", "length") // on the sleep's connection
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(length.Close)
	if got, err := length.Call(ctx, []byte("four")); err != nil || len(got) != 8 {
		t.Fatalf("a call behind the sleep: %x, %v", got, err)
	}
	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := testsync.Receive(t, inFlight, 30*time.Second, "the call in flight at SIGTERM"); err != nil {
		t.Fatalf("the call in flight at SIGTERM: %v", err)
	}
	if err := testsync.Receive(t, exited, 30*time.Second, "the daemon's exit after SIGTERM"); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}

// startDaemon starts this test binary as junction-go-serve listening on
// one tcp port, its standard error to stderr, and returns it once it
// serves, with its URL and a channel that carries its exit.
func startDaemon(t *testing.T, stderr io.Writer) (daemon *exec.Cmd, url string, exited <-chan error) {
	t.Helper()
	daemon = exec.Command(os.Args[0], "--listen", "zmq+tcp://127.0.0.1:0")
	daemon.Env = append(os.Environ(), asMainEnv+"=1")
	daemon.Stderr = stderr
	stdout, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = daemon.Process.Kill() })
	urls := make(chan string, 1)
	exit := make(chan error, 1)
	go func() {
		defer close(urls)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if served, found := strings.CutPrefix(lines.Text(), "junction-go-serve: serving all services on "); found {
				urls <- served
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exit <- daemon.Wait()
	}()
	url = testsync.Receive(t, urls, 30*time.Second, "the serving line")
	if url == "" {
		t.Fatal("standard output ended before a serving line")
	}
	return daemon, url, exit
}

// A SIGTERM right behind a SIGHUP and a SIGUSR1 stops the daemon: the
// requests waiting to be acted on do not crowd the stop out.
func TestASIGTERMBehindOtherSignalsStops(t *testing.T) {
	daemon, _, exited := startDaemon(t, io.Discard)
	for _, signal := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGTERM} {
		if err := daemon.Process.Signal(signal); err != nil {
			t.Fatal(err)
		}
	}
	if err := testsync.Receive(t, exited, 30*time.Second, "the daemon's exit after SIGTERM"); err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
}

// A stop that came while the daemon got ready ends it before it binds or
// says ready, with status 0.
func TestAStopWhileGettingReadyServesNothing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	stop := make(chan os.Signal, 1)
	stop <- syscall.SIGINT
	if status := run([]string{"--listen", "zmq+tcp://127.0.0.1:0"}, &stdout, &stderr, stop, nil); status != 0 {
		t.Errorf("exit status %d, want 0 (stderr %q)", status, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout %q, want nothing", stdout.String())
	}
	if says := "SIGINT received while the modules loaded; exiting without serving"; !strings.Contains(stderr.String(), says) {
		t.Errorf("stderr %q, want it to say %q", stderr.String(), says)
	}
}

// A URL junction cannot read is a usage error, as junction-host has it.
func TestAURLJunctionCannotReadIsAUsageError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	status := make(chan int, 1)
	stop := make(chan os.Signal, 1)
	go func() { status <- run([]string{"--listen", "zmq+tcp//127.0.0.1:0"}, &stdout, &stderr, stop, nil) }()
	select {
	case got := <-status:
		if got != 2 || !strings.Contains(stderr.String(), "listen on zmq+tcp//127.0.0.1:0: junction: INVALID_ARGUMENT") {
			t.Errorf("exit status %d, stderr %q; want 2 and the URL refused", got, stderr.String())
		}
	case <-time.After(30 * time.Second):
		stop <- syscall.SIGTERM
		t.Fatalf("still running 30 s after start: it served (stderr %q)", stderr.String())
	}
}

// Refused command lines exit 2 with the reason, before serving anything.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{}, "at least one --listen URL"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "extra"}, "at least one --listen URL"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--threads", "0"}, "from 1 to 1024"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--threads", "1025"}, "from 1 to 1024"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--threads", "two"}, "from 1 to 1024"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--thread-slice", "0.09"}, "from 0.1 to 100 or 'inherit'"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--thread-slice", "100.5"}, "from 0.1 to 100 or 'inherit'"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--thread-slice", "NaN"}, "from 0.1 to 100 or 'inherit'"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--thread-slice", "inherited"}, "from 0.1 to 100 or 'inherit'"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--max-in-flight", "65537"}, "from 1 to 65536"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--max-payload", "0"}, "from 1 to 18446744073709551615"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--max-unread-answers", "1048577"}, "from 1 to 1048576"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--max-unread-bytes", "-1"}, "from 1 to 18446744073709551615"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--drain-timeout", "-5s"}, "from 0s to 24h0m0s"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--drain-timeout", "25h"}, "from 0s to 24h0m0s"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--drain-timeout", "86401"}, "seconds from 0 to 86400"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--drain-timeout", "NaN"}, "seconds from 0 to 86400"},
		{[]string{"--listen", "zmq+tcp://127.0.0.1:0", "--serve", "go.ech"},
			"--serve go.ech: no service of that name here (there are: go.echo)"},
	} {
		var stdout, stderr bytes.Buffer
		// A run that took the command line would serve until this stops it.
		stop := make(chan os.Signal, 1)
		stop <- syscall.SIGTERM
		if status := run(c.args, &stdout, &stderr, stop, nil); status != 2 {
			t.Errorf("%q: exit status %d, want 2", c.args, status)
		}
		if !strings.Contains(stderr.String(), c.says) {
			t.Errorf("%q: stderr %q, want it to say %q", c.args, stderr.String(), c.says)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: stdout %q, want nothing", c.args, stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if status := run([]string{"--help"}, &stdout, &stderr, nil, nil); status != 0 ||
		!strings.Contains(stderr.String(), "-thread-slice MILLISECONDS") {
		t.Errorf("--help: exit status %d, stderr %q", status, stderr.String())
	}
}

// writeFile writes text to name in dir with mode perm and returns its path.
func writeFile(t *testing.T, dir, name, text string, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil { // past the umask
		t.Fatal(err)
	}
	return path
}

func curveKeyPair(t *testing.T) junction.CurveKeyPair {
	t.Helper()
	pair, err := junction.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// The CURVE key files are refused as junction-host refuses them: exit 2
// with the reason, before serving anything.
func TestCurveKeyFilesThatCannotBeUsedAreUsageErrors(t *testing.T) {
	dir := t.TempDir()
	secret := curveKeyPair(t).SecretKey
	good := writeFile(t, dir, "good.secret", secret+"\n", 0o600)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--curve-secret-key-file", writeFile(t, dir, "open.secret", secret, 0o644)},
			"may be read by other users (mode 0644): chmod 600 it"},
		{[]string{"--curve-secret-key-file", writeFile(t, dir, "bad.secret", "# a key\nnot a key\n", 0o600)},
			"must hold one CURVE secret key"},
		{[]string{"--curve-secret-key-file", filepath.Join(dir, "none")}, "no such file"},
		{[]string{"--curve-client-keys-file", good}, "--curve-client-keys-file needs --curve-secret-key-file"},
		{[]string{"--curve-secret-key-file", good, "--curve-client-keys-file",
			writeFile(t, dir, "clients", curveKeyPair(t).PublicKey+"\ntooshort\n", 0o644)},
			"clients:2: not a CURVE public key (40 Z85 characters): 'tooshort'"},
		{[]string{"--curve-secret-key-file", good, "--curve-client-keys-file",
			writeFile(t, dir, "nobody", "# none yet\n", 0o644)}, "lists no key, which would let no client in"},
	} {
		var stdout, stderr bytes.Buffer
		stop := make(chan os.Signal, 1)
		stop <- syscall.SIGTERM
		args := append([]string{"--listen", "zmq+tcp://127.0.0.1:0"}, c.args...)
		if status := run(args, &stdout, &stderr, stop, nil); status != 2 {
			t.Errorf("%q: exit status %d, want 2 (stderr %q)", c.args, status, stderr.String())
		}
		if !strings.Contains(stderr.String(), c.says) {
			t.Errorf("%q: stderr %q, want it to say %q", c.args, stderr.String(), c.says)
		}
		if strings.Contains(stderr.String(), secret) {
			t.Errorf("%q: stderr shows the secret key: %q", c.args, stderr.String())
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: stdout %q, want nothing", c.args, stdout.String())
		}
	}
}

// With the key files, the listener lets in the listed client only, and
// the log names the public key to route with.
func TestCurveServesTheListedClientsOnly(t *testing.T) {
	dir := t.TempDir()
	server := curveKeyPair(t)
	allowed := curveKeyPair(t)
	s, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0",
		"--curve-secret-key-file", writeFile(t, dir, "secret", server.SecretKey+"\n", 0o600),
		"--curve-client-keys-file", writeFile(t, dir, "clients", "# who\n"+allowed.PublicKey+"\n", 0o644))
	url := s.readyURL(t)
	if want := "clients route with the public key " + server.PublicKey + "; 1 client key(s) let in, no other\n"; !s.stderr.WaitFor(want) {
		t.Errorf("stderr %q, want %q", s.stderr.String(), want)
	}
	call := func(pair junction.CurveKeyPair) error {
		echo := routedCurveEcho(t, url, server, pair)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		response, err := echo.Call(ctx, []byte("sealed"))
		if err == nil && string(response) != "sealed" {
			t.Errorf("echo answered %q", response)
		}
		return err
	}
	if err := call(allowed); err != nil {
		t.Errorf("the listed client: %v", err)
	}
	if err := call(curveKeyPair(t)); !errors.Is(err, junction.ErrUnavailable) {
		t.Errorf("another client: %v, want UNAVAILABLE", err)
	}
	s.stopCleanly(t)
}

// SIGHUP reads the client keys file again: a key taken off is refused at
// its connection's next call, a key put on connects, and a file that
// cannot be used changes nothing. Without the file SIGHUP says so.
func TestSIGHUPPutsTheClientKeysFileInForce(t *testing.T) {
	dir := t.TempDir()
	server := curveKeyPair(t)
	first := curveKeyPair(t)
	second := curveKeyPair(t)
	clients := writeFile(t, dir, "clients", first.PublicKey+"\n", 0o644)
	s, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0",
		"--curve-secret-key-file", writeFile(t, dir, "secret", server.SecretKey+"\n", 0o600),
		"--curve-client-keys-file", clients)
	url := s.readyURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	firstEcho, secondEcho := routedCurveEcho(t, url, server, first), routedCurveEcho(t, url, server, second)
	if _, err := firstEcho.Call(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if _, err := secondEcho.Call(ctx, []byte("second")); !errors.Is(err, junction.ErrUnavailable) {
		t.Fatalf("a key not yet let in: %v", err)
	}

	writeFile(t, dir, "clients", "# rotated\n"+second.PublicKey+"\n", 0o644)
	s.requests <- syscall.SIGHUP
	if want := "SIGHUP received; 1 client key(s) from " + clients + " let in, no other"; !s.stderr.WaitFor(want) {
		t.Fatalf("stderr %q lacks %q", s.stderr.String(), want)
	}
	if _, err := firstEcho.Call(ctx, []byte("revoked")); !errors.Is(err, junction.ErrPermissionDenied) {
		t.Fatalf("a key taken off: %v", err)
	}
	// The route makes its refused connection again a second later.
	_, err := secondEcho.Call(ctx, nil)
	for ; err != nil && ctx.Err() == nil; _, err = secondEcho.Call(ctx, nil) {
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a key put on: %v", err)
	}

	writeFile(t, dir, "clients", "not a key\n", 0o644)
	s.requests <- syscall.SIGHUP
	if want := clients + ":1: not a CURVE public key"; !s.stderr.WaitFor(want) {
		t.Fatalf("stderr %q lacks %q", s.stderr.String(), want)
	}
	if !strings.Contains(s.stderr.String(), "; the client keys in force stay\n") {
		t.Errorf("stderr %q does not say the keys stay", s.stderr.String())
	}
	if _, err := secondEcho.Call(ctx, []byte("still let in")); err != nil {
		t.Fatalf("after a file it cannot use: %v", err)
	}
	s.requests <- syscall.SIGUSR1
	if want := " handshakes and 1 calls\n"; !s.stderr.WaitFor(want) {
		t.Errorf("stderr %q lacks %q", s.stderr.String(), want)
	}
	s.stopCleanly(t)

	plain, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0")
	plain.readyURL(t)
	plain.requests <- syscall.SIGHUP
	if want := "SIGHUP received; there is no --curve-client-keys-file to read again\n"; !plain.stderr.WaitFor(want) {
		t.Errorf("stderr %q lacks %q", plain.stderr.String(), want)
	}
	plain.stopCleanly(t)
}

// served is a run in progress: its standard output's lines and, once it
// has returned, its exit status. Its stderr is read only once it has
// returned (status received, or lines closed after run's output ended).
type served struct {
	lines    chan string
	stderr   *testsync.LockedBuffer
	stop     chan os.Signal // SIGTERM, SIGINT
	requests chan os.Signal // SIGUSR1, SIGHUP
	status   chan int
}

// serve runs the command line args on a goroutine whose OS thread is locked
// (so that the listeners' threads are started from it) and reports that
// thread's own scheduler slice.
func serve(t *testing.T, args ...string) (*served, uint64) {
	t.Helper()
	s := &served{lines: make(chan string, 16), stderr: &testsync.LockedBuffer{},
		stop: make(chan os.Signal, 1), requests: make(chan os.Signal, 1), status: make(chan int, 1)}
	own := make(chan uint64, 1)
	reader, writer := io.Pipe()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		own <- cgotest.OwnThreadSlice()
		status := run(args, writer, s.stderr, s.stop, s.requests)
		_ = writer.Close()
		s.status <- status
	}()
	go func() {
		scanner := bufio.NewScanner(reader)
		for scanner.Scan() {
			s.lines <- scanner.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		select {
		case s.stop <- syscall.SIGTERM:
		default:
		}
	})
	return s, <-own
}

// readyURL reads the run's output up to "ready" and returns the URL of its
// one listener.
func (s *served) readyURL(t *testing.T) string {
	t.Helper()
	url := ""
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("output ended before ready (stderr %q)", s.stderr.String())
			}
			if rest, found := strings.CutPrefix(line, "junction-go-serve: serving all services on "); found {
				url = rest
			}
			if line == "junction-go-serve: ready" {
				if url == "" {
					t.Fatal("ready without a serving line")
				}
				return url
			}
		case <-timeout:
			t.Fatal("not ready within 30 s")
		}
	}
}

// stopCleanly sends SIGTERM and expects the run to drain and exit 0
// within 30 s.
func (s *served) stopCleanly(t *testing.T) {
	t.Helper()
	s.stop <- syscall.SIGTERM
	select {
	case status := <-s.status:
		if status != 0 {
			t.Errorf("exit status %d after SIGTERM, stderr %q", status, s.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still serving 30 s after the signal")
	}
}

// routedMethod is go.echo's method name on a host routing go.echo to url
// with options, both closed when the test ends.
func routedMethod(t *testing.T, url, name string, options ...junction.RouteOption) *junction.Method {
	t.Helper()
	caller, err := junction.NewHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Close() })
	if err := caller.Route("go.echo", url, options...); err != nil {
		t.Fatal(err)
	}
	method, err := caller.Method("go.echo", name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(method.Close)
	return method
}

// routedLength is go.echo/length on a host routing go.echo to url.
func routedLength(t *testing.T, url string) *junction.Method {
	t.Helper()
	return routedMethod(t, url, "length")
}

// routedCurveEcho is go.echo/echo on a host routing go.echo to url with
// CURVE: the server's public key, and pair as the route's own.
func routedCurveEcho(t *testing.T, url string, server, pair junction.CurveKeyPair) *junction.Method {
	t.Helper()
	return routedMethod(t, url, "echo", junction.RouteCurveServerKey(server.PublicKey),
		junction.RouteCurveKeyPair(pair))
}

// --threads and --thread-slice reach the listener: it keeps that many
// threads, each asking for the slice chosen or keeping the slice of the
// thread that started the listener; and it serves go.echo, then drains on
// a signal, reports the listener's counts and exits 0. Kernels before
// Linux 6.12 report 0 for every thread's slice: there all but the slices
// are checked, and the test ends skipped, saying so.
func TestThreadsAndSliceReachTheListener(t *testing.T) {
	for _, c := range []struct {
		slice   string
		sliceNs func(own uint64) uint64
	}{
		{"2", func(own uint64) uint64 { return 2_000_000 }},
		{"0.25", func(own uint64) uint64 { return 250_000 }},
		{"inherit", func(own uint64) uint64 { return own }},
	} {
		t.Run(c.slice, func(t *testing.T) {
			reported := func(own uint64) uint64 {
				if own == 0 {
					return 0
				}
				return c.sliceNs(own)
			}
			// Counted before this run's listener starts (no other is open):
			// a Go thread that the runtime started from an earlier
			// listener's thread, in the instant a call spends in Go before
			// the bridge locks that thread, bears its name. Every Go thread
			// reports the same slice.
			before := cgotest.CountThreads("jn-listener", reported(cgotest.OwnThreadSlice()))
			s, own := serve(t, "--listen", "zmq+tcp://127.0.0.1:0", "--threads", "3", "--thread-slice", c.slice)
			url := s.readyURL(t)
			want := reported(own)
			// A listener thread just started reports the inherited slice
			// until it asks.
			deadline := time.Now().Add(5 * time.Second)
			threads := cgotest.CountThreads("jn-listener", want) - before
			for threads != 3 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
				threads = cgotest.CountThreads("jn-listener", want) - before
			}
			if threads != 3 {
				t.Errorf("%d listener threads report a %d ns slice, want 3", threads, want)
			}

			length := routedLength(t, url)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := length.Call(ctx, make([]byte, 300))
			if err != nil || len(got) != 8 || binary.LittleEndian.Uint64(got) != 300 {
				t.Fatalf("go.echo/length of 300 bytes: %x, %v", got, err)
			}

			s.stopCleanly(t)
			if !strings.Contains(s.stderr.String(), "draining calls in flight") {
				t.Errorf("stderr %q does not tell of the drain", s.stderr.String())
			}
			for _, counts := range []string{
				url + ": 1 requests taken and 1 answers sent; 0 calls refused and 0 dropped",
				" threads and 0 queued; 0 answered unrun, cancelled or past their deadline in the queue\n",
			} {
				if !strings.Contains(s.stderr.String(), counts) {
					t.Errorf("stderr %q lacks the listener's counts %q", s.stderr.String(), counts)
				}
			}
			if own == 0 {
				t.Skip("the kernel reports no thread slices (Linux before 6.12): " +
					"the listener's threads were counted, their slices not checked")
			}
		})
	}
}

// A drain the timeout cuts short ends the run at once, with status 1, not
// once the handlers still running return: closing the host would wait for
// them.
func TestADrainCutShortEndsWithoutWaitingForItsHandlers(t *testing.T) {
	s, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0", "--drain-timeout", "0.1") // seconds, as junction-host's
	url := s.readyURL(t)
	sleep := routedMethod(t, url, "sleep")
	go func() {
		// Runs on after the run has returned; its answer finds the
		// listener closed.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = sleep.Call(ctx, binary.LittleEndian.AppendUint64(nil, 20_000))
	}()
	// The sleep's handler is running once a SIGUSR1 report counts the
	// listener's call in flight.
	for giveUp := time.Now().Add(10 * time.Second); !strings.Contains(s.stderr.String(), "; 1 in flight on "); {
		if time.Now().After(giveUp) {
			t.Fatalf("the sleep never ran (stderr %q)", s.stderr.String())
		}
		select {
		case s.requests <- syscall.SIGUSR1:
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop <- syscall.SIGTERM
	select {
	case status := <-s.status:
		if status != 1 {
			t.Errorf("exit status %d, want 1", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after a 100 ms drain timeout: it waits for the 20 s handler")
	}
	if says := "the drain timeout passed with calls still in flight; they were cut short"; !strings.Contains(s.stderr.String(), says) {
		t.Errorf("stderr %q, want it to say %q", s.stderr.String(), says)
	}
}

// It names go.echo's methods at start, and on SIGUSR1 reports the
// listener's counts and each method's calls and errors, and serves on.
func TestReportsServicesAndOnSIGUSR1TheStatisticsSoFar(t *testing.T) {
	s, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0")
	url := s.readyURL(t)
	if !strings.Contains(s.stderr.String(), "junction-go-serve: registered go.echo (checksum, echo, length, panic, relay, sleep)\n") {
		t.Errorf("stderr %q does not name go.echo's methods", s.stderr.String())
	}
	length := routedLength(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 2 {
		if _, err := length.Call(ctx, []byte("abc")); err != nil {
			t.Fatal(err)
		}
	}
	s.requests <- syscall.SIGUSR1
	for _, line := range []string{
		"junction-go-serve: SIGUSR1 received; the statistics so far:\n",
		url + ": 2 requests taken and 2 answers sent; 0 calls refused",
		"junction-go-serve: go.echo/length: 2 calls, 0 errors\n",
		"junction-go-serve: go.echo/echo: 0 calls, 0 errors\n",
	} {
		if !s.stderr.WaitFor(line) {
			t.Errorf("stderr %q lacks %q", s.stderr.String(), line)
		}
	}
	if _, err := length.Call(ctx, []byte("still serving")); err != nil {
		t.Fatalf("a call after SIGUSR1: %v", err)
	}
	s.stopCleanly(t)
}

// The --max options reach the listener: with every one set, a payload at
// the 1024-byte limit is served and one byte more is RESOURCE_EXHAUSTED.
func TestLimitsReachTheListener(t *testing.T) {
	s, _ := serve(t, "--listen", "zmq+tcp://127.0.0.1:0", "--max-payload", "1024", "--max-in-flight", "2",
		"--max-unread-answers", "16", "--max-unread-bytes", "1048576")
	url := s.readyURL(t)
	length := routedLength(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, err := length.Call(ctx, make([]byte, 1024)); err != nil || len(got) != 8 || binary.LittleEndian.Uint64(got) != 1024 {
		t.Fatalf("go.echo/length of 1024 bytes: %x, %v", got, err)
	}
	if _, err := length.Call(ctx, make([]byte, 1025)); !errors.Is(err, junction.ErrResourceExhausted) {
		t.Fatalf("go.echo/length of 1025 bytes: %v, want RESOURCE_EXHAUSTED", err)
	}
	s.stopCleanly(t)
}
