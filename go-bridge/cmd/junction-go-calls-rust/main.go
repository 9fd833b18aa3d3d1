// Command junction-go-calls-rust shows from Go what junction promises: one
// piece of calling code (the rustEcho methods below) runs against the Rust
// echo module (rust.echo) loaded in this process, then against the same
// module served by junction-host in another process over zmq+ipc and
// zmq+tcp on loopback, unchanged; only the host it is given differs (a
// module loaded, or Host.Route). It checks every answer in each place and
// prints what a call costs there:
//
//	junction-go-calls-rust --module PATH/libjunction_echo_module.so
//	                       [--daemon PATH/junction-host] [--calls N] [--seconds S]
//
// Without --daemon it runs in this process only. --calls sets the calls
// each median is taken over (default 2000), --seconds how long the
// goroutines call for the throughput (default 1). The checks: echo and
// checksum from 0 B to 1 MiB, a Rust panic answered INTERNAL with its
// message, a deadline that stops a slow call as DEADLINE_EXCEEDED, and 8
// goroutines calling at once. The figures: the median latency of echo at
// 64 B and of checksum at 64 KiB (one goroutine; each latency includes the
// two clock reads that time it), and echo's calls per second at 64 B from 8
// goroutines.
//
// Exit status: 0 when every check passed; 1 at the first that failed, with
// a message; 2 for a usage error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"junction"
)

const (
	service    = "rust.echo"
	goroutines = 8
	// prompt is the deadline of calls that should answer at once: a hang
	// fails the run instead of stalling it.
	prompt = 10 * time.Second
	// How long junction-host may take to start, and to stop after SIGTERM.
	startTimeout = 30 * time.Second
	stopTimeout  = 20 * time.Second
)

// rustEcho is the calling code: rust.echo's methods, resolved once on a
// host that either holds the service or routes it elsewhere. Nothing in it
// knows which.
type rustEcho struct {
	echo, checksum, panics, sleep *junction.Method
}

func resolveRustEcho(host *junction.Host) (*rustEcho, error) {
	r := &rustEcho{}
	for _, m := range []struct {
		name string
		into **junction.Method
	}{{"echo", &r.echo}, {"checksum", &r.checksum}, {"panic", &r.panics}, {"sleep_async", &r.sleep}} {
		method, err := host.Method(service, m.name)
		if err != nil {
			r.close()
			return nil, fmt.Errorf("resolve %s/%s: %w", service, m.name, err)
		}
		*m.into = method
	}
	return r, nil
}

func (r *rustEcho) close() {
	for _, m := range []*junction.Method{r.echo, r.checksum, r.panics, r.sleep} {
		if m != nil {
			m.Close()
		}
	}
}

// checkData calls echo and checksum with request and checks both answers.
func (r *rustEcho) checkData(ctx context.Context, request []byte) error {
	echoed, err := r.echo.Call(ctx, request)
	if err != nil {
		return fmt.Errorf("echo of %d bytes: %w", len(request), err)
	}
	if !bytes.Equal(echoed, request) {
		return fmt.Errorf("echo of %d bytes answered %d other bytes", len(request), len(echoed))
	}
	sum, err := r.checksum.Call(ctx, request)
	if err != nil {
		return fmt.Errorf("checksum of %d bytes: %w", len(request), err)
	}
	if want := binary.LittleEndian.AppendUint64(nil, fnv1a(request)); !bytes.Equal(sum, want) {
		return fmt.Errorf("checksum of %d bytes answered %x, want %x", len(request), sum, want)
	}
	return nil
}

// check runs every check against the service.
func (r *rustEcho) check() error {
	ctx, cancel := context.WithTimeout(context.Background(), prompt)
	defer cancel()
	for _, size := range []int{0, 1, 64, 64 << 10, 1 << 20} {
		if err := r.checkData(ctx, payload(size)); err != nil {
			return err
		}
	}

	_, err := r.panics.Call(ctx, []byte("abc"))
	var status *junction.Error
	if !errors.As(err, &status) || status.Code != junction.Internal ||
		!strings.Contains(status.Message, "rust.echo/panic called with 3 bytes") {
		return fmt.Errorf("a Rust handler's panic answered %v, want INTERNAL with its message", err)
	}
	if err := r.checkData(ctx, payload(64)); err != nil {
		return fmt.Errorf("after a panic: %w", err)
	}

	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	started := time.Now()
	_, err = r.sleep.Call(short, binary.LittleEndian.AppendUint64(nil, 2000))
	if !errors.Is(err, junction.ErrDeadlineExceeded) || time.Since(started) > time.Second {
		return fmt.Errorf("a 2 s sleep with a 50 ms deadline answered %v after %v, want DEADLINE_EXCEEDED at once",
			err, time.Since(started))
	}

	return concurrently(func(g int) error {
		for i := range 50 {
			if err := r.checkData(ctx, payload([]int{64, 64 << 10}[(g+i)%2])); err != nil {
				return fmt.Errorf("call %d: %w", i, err)
			}
		}
		return nil
	})
}

// concurrently runs work on each of goroutines goroutines and returns the
// first error.
func concurrently(work func(g int) error) error {
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := work(g); err != nil {
				errs <- fmt.Errorf("goroutine %d: %w", g, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// costs is what a call costs in one place.
type costs struct {
	echo64, checksum64K time.Duration // medians
	callsPerSecond      float64       // echo at 64 B from 8 goroutines
}

// measure takes the medians over calls calls, and the throughput over
// window.
func (r *rustEcho) measure(calls int, window time.Duration) (costs, error) {
	ctx := context.Background()
	median := func(method *junction.Method, request []byte) (time.Duration, error) {
		latencies := make([]time.Duration, calls)
		response := make([]byte, 0, len(request))
		for i := range latencies {
			started := time.Now()
			_, err := method.CallAppend(ctx, response, request)
			latencies[i] = time.Since(started)
			if err != nil {
				return 0, err
			}
		}
		slices.Sort(latencies)
		return latencies[calls/2], nil
	}
	var c costs
	var err error
	if c.echo64, err = median(r.echo, payload(64)); err != nil {
		return c, fmt.Errorf("echo: %w", err)
	}
	if c.checksum64K, err = median(r.checksum, payload(64<<10)); err != nil {
		return c, fmt.Errorf("checksum: %w", err)
	}
	request := payload(64)
	var total atomic.Int64
	started := time.Now()
	stop := started.Add(window)
	err = concurrently(func(int) error {
		response := make([]byte, 0, len(request))
		for n := 0; ; n++ {
			// The clock is read every 64 calls: a read costs a fair share
			// of a call in process.
			if n%64 == 0 && time.Now().After(stop) {
				total.Add(int64(n))
				return nil
			}
			if _, err := r.echo.CallAppend(ctx, response, request); err != nil {
				return fmt.Errorf("echo: %w", err)
			}
		}
	})
	c.callsPerSecond = float64(total.Load()) / time.Since(started).Seconds()
	return c, err
}

// place runs the calling code against host: the checks, then the figures.
func place(host *junction.Host, calls int, window time.Duration) (costs, error) {
	r, err := resolveRustEcho(host)
	if err != nil {
		return costs{}, err
	}
	defer r.close()
	if err := r.check(); err != nil {
		return costs{}, err
	}
	return r.measure(calls, window)
}

func fnv1a(data []byte) uint64 {
	hash := uint64(0xcbf29ce484222325)
	for _, b := range data {
		hash = (hash ^ uint64(b)) * 0x100000001b3
	}
	return hash
}

func payload(size int) []byte {
	p := make([]byte, size)
	for i := range p {
		p[i] = byte(i*31 + size)
	}
	return p
}

// daemon is a junction-host process serving the module.
type daemon struct {
	cmd    *exec.Cmd
	urls   []string
	exited chan error // the process's exit, once
	dir    string
}

// startDaemon runs junction-host serving module on an ipc URL in a fresh
// directory and on tcp port 0 of 127.0.0.1, and waits for its "ready" line.
func startDaemon(bin, module string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "jn-go-calls-rust-")
	if err != nil {
		return nil, err
	}
	ipc := "zmq+ipc://" + filepath.Join(dir, "rust-echo.sock")
	d := &daemon{
		cmd:    exec.Command(bin, "--module", module, "--listen", ipc, "--listen", "zmq+tcp://127.0.0.1:0"),
		exited: make(chan error, 1),
		dir:    dir,
	}
	d.cmd.Stderr = os.Stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(dir))
	}
	if err := d.cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %s: %w", bin, err), os.RemoveAll(dir))
	}
	// junction-host's standard output is a line per listener and "ready",
	// nothing else, so the reader never blocks on this buffer.
	lines := make(chan string, 64)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			lines <- scanner.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		d.exited <- d.cmd.Wait()
	}()
	timeout := time.After(startTimeout)
	for {
		select {
		case line, ok := <-lines:
			switch {
			case !ok:
				return nil, errors.Join(fmt.Errorf("%s exited before it was ready: %v", bin, <-d.exited),
					os.RemoveAll(dir))
			case line == "junction-host: ready":
				return d, nil
			default:
				// "junction-host: serving SERVICES on URL"
				if _, url, found := strings.Cut(line, " on "); found {
					d.urls = append(d.urls, url)
				}
				fmt.Println(line)
			}
		case <-timeout:
			return nil, errors.Join(fmt.Errorf("%s not ready after %v", bin, startTimeout), d.kill())
		}
	}
}

// stop sends SIGTERM and expects exit status 0 (every call drained).
func (d *daemon) stop() error {
	defer os.RemoveAll(d.dir)
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-d.exited:
		if err != nil {
			return fmt.Errorf("junction-host after SIGTERM: %w, want exit status 0", err)
		}
		return nil
	case <-time.After(stopTimeout):
		return errors.Join(fmt.Errorf("junction-host still runs %v after SIGTERM", stopTimeout), d.kill())
	}
}

func (d *daemon) kill() error {
	_ = d.cmd.Process.Kill()
	<-d.exited
	return os.RemoveAll(d.dir)
}

func run(module, daemonBin string, calls int, window time.Duration) (err error) {
	local, err := junction.NewHost()
	if err != nil {
		return err
	}
	defer local.Close()
	if err := local.LoadModule(module); err != nil {
		return err
	}
	places := []string{"in process"}
	hosts := []*junction.Host{local}
	if daemonBin != "" {
		d, err := startDaemon(daemonBin, module)
		if err != nil {
			return err
		}
		// After the routing hosts below have closed (defers run last first).
		defer func() { err = errors.Join(err, d.stop()) }()
		for _, url := range d.urls {
			// The same calling code, on a host routing the service to url.
			remote, err := junction.NewHost()
			if err != nil {
				return err
			}
			defer remote.Close()
			if err := remote.Route(service, url); err != nil {
				return fmt.Errorf("route %s to %s: %w", service, url, err)
			}
			places = append(places, url)
			hosts = append(hosts, remote)
		}
	}
	w := width(places)
	fmt.Printf("\n%s called from Go through junction, by the same code in each place\n", service)
	fmt.Printf("(the checks make a Rust handler panic: its message on standard error is expected)\n\n")
	fmt.Printf("| %-*s | echo 64 B, p50 | checksum 64 KiB, p50 | echo 64 B, %d goroutines |\n",
		w, "where rust.echo runs", goroutines)
	fmt.Printf("|%s|---:|---:|---:|\n", strings.Repeat("-", w+2))
	for i, host := range hosts {
		c, err := place(host, calls, window)
		if err != nil {
			return fmt.Errorf("%s: %w", places[i], err)
		}
		fmt.Printf("| %-*s | %s | %s | %.0f calls/s |\n", w, places[i],
			duration(c.echo64), duration(c.checksum64K), c.callsPerSecond)
	}
	fmt.Printf("\nEvery check passed in each place (medians of %d calls; calls/s over %v).\n", calls, window)
	return nil
}

func width(places []string) int {
	w := len("where rust.echo runs")
	for _, p := range places {
		w = max(w, len(p))
	}
	return w
}

// duration prints d in ns below a microsecond and in us above.
func duration(d time.Duration) string {
	if d < time.Microsecond {
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	}
	return fmt.Sprintf("%.1f us", float64(d)/float64(time.Microsecond))
}

func main() {
	module := flag.String("module", "", "the Rust echo module (libjunction_echo_module.so)")
	daemonBin := flag.String("daemon", "", "junction-host, to serve the module in another process")
	calls := flag.Int("calls", 2000, "calls each median is taken over")
	seconds := flag.Float64("seconds", 1, "how long the goroutines call for the throughput")
	flag.Parse()
	if *module == "" || *calls < 1 || !(*seconds > 0 && *seconds <= 3600) || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr,
			"usage: junction-go-calls-rust --module PATH [--daemon PATH] [--calls N] [--seconds S]")
		os.Exit(2)
	}
	window := time.Duration(*seconds * float64(time.Second))
	if err := run(*module, *daemonBin, *calls, window); err != nil {
		fmt.Fprintln(os.Stderr, "junction-go-calls-rust: FAILED:", err)
		os.Exit(1)
	}
}
