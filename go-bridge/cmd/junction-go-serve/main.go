// Command junction-go-serve serves Go services to other processes with
// Host.Listen: the go.echo service (package junction/goecho), plus the
// services of any (Rust or C/C++) modules it is given, on every URL it is
// given, until SIGTERM or SIGINT; then it lets the calls in flight finish
// and exits. SIGUSR1 reports the statistics so far; SIGHUP reads the CURVE
// client keys file again and lets in its keys only. It speaks like the
// junction-host daemon, so that the same tests drive both:
//
//	junction-go-serve --listen URL... [--module PATH]... [--serve SERVICE]...
//	                  [--threads N] [--thread-slice MILLISECONDS|inherit] [--drain-timeout SECONDS]
//	                  [--max-in-flight N] [--max-payload BYTES]
//	                  [--max-unread-answers N] [--max-unread-bytes BYTES]
//	                  [--curve-secret-key-file FILE] [--curve-client-keys-file FILE]
//
// --threads sets the threads per listener receiving and running calls (1 to
// 1024; default 4). --thread-slice sets the scheduler slice the host's and
// listeners' threads ask the kernel for (0.1 to 100 ms; default 0.5), or
// with "inherit" none. The --max options set each listener's limits (calls
// at once, 1 to 65536; the largest request payload; the answers, 1 to
// 1048576, and bytes a client's connection may leave unread): all as
// junction-host's options of the same names. So are the CURVE options
// (ABI 1.8): --curve-secret-key-file names a file holding the listeners'
// secret key (Z85, readable by its owner only), --curve-client-keys-file
// one listing the public keys of the clients let in, one a line, read
// again on SIGHUP (Listener.SetCurveClientKeys); standard error then names
// the public key clients route with.
//
// Once every listener is bound, standard output carries one line
//
//	junction-go-serve: serving SERVICES on URL
//
// per listener (SERVICES: "all services" or the names, comma-separated;
// URL: the address bound, with the port the system picked for port 0),
// then
//
//	junction-go-serve: ready
//
// Standard error names the services go.echo and each module brought, with
// their methods; on SIGUSR1 it carries the listener lines below and each
// method's calls, errors and sampled latency, as junction-host's do. After
// SIGTERM or SIGINT and the drain, it carries one line per listener:
//
//	junction-go-serve: URL: N requests taken and N answers sent; N calls refused and N dropped because their clients left answers unread; N unreadable and N over the payload limit; N in flight on N threads and N queued; N answered unrun, cancelled or past their deadline in the queue
//
// (with CURVE, ending "; CURVE client keys refused N handshakes and N
// calls").
//
// --drain-timeout is seconds from 0 to 86400, as junction-host takes them,
// or a Go duration up to 24h (default 30). A SIGTERM or
// SIGINT that comes while the modules load ends the daemon before it binds
// or says "ready". When the drain timeout cuts calls short, the daemon exits
// without waiting for their handlers.
//
// Exit status: 0 after a complete drain (or a stop before serving); 1 when
// a module cannot be loaded, an address cannot be bound or the drain
// timeout cut calls short; 2 for a usage error, a --serve name no service
// has or a URL junction cannot read included.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"junction"
	"junction/goecho"
)

// junction-host's bounds for --threads, --max-in-flight and --drain-timeout.
const (
	maxThreads      = 1024
	maxInFlight     = 65536
	maxDrainTimeout = 24 * time.Hour
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// countFlag is a whole number from 1 to most: 0 (the library's default)
// until set.
type countFlag struct {
	value, most uint64
}

func (c *countFlag) String() string { return strconv.FormatUint(c.value, 10) }
func (c *countFlag) Set(v string) error {
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n < 1 || n > c.most {
		return fmt.Errorf("want a whole number from 1 to %d", c.most)
	}
	c.value = n
	return nil
}

// drainFlag is --drain-timeout: seconds, as junction-host takes them
// (fractions allowed), or a Go duration ("1m30s"), from 0 to
// maxDrainTimeout.
type drainFlag struct {
	value time.Duration
}

func (d *drainFlag) String() string { return d.value.String() }
func (d *drainFlag) Set(v string) error {
	timeout, err := time.ParseDuration(v)
	if seconds, notSeconds := strconv.ParseFloat(v, 64); notSeconds == nil {
		timeout, err = time.Duration(math.Round(seconds*float64(time.Second))), nil
		if !(seconds >= 0 && seconds <= maxDrainTimeout.Seconds()) { // the negation refuses NaN
			err = errors.New("out of bounds")
		}
	}
	if err != nil || timeout < 0 || timeout > maxDrainTimeout {
		return fmt.Errorf("want seconds from 0 to %g, or a duration from 0s to %v",
			maxDrainTimeout.Seconds(), maxDrainTimeout)
	}
	d.value = timeout
	return nil
}

// sliceFlag is --thread-slice: the host option it chooses, nil until set.
type sliceFlag struct {
	text   string
	option junction.HostOption
}

func (s *sliceFlag) String() string { return s.text }
func (s *sliceFlag) Set(v string) error {
	if v == "inherit" {
		s.text, s.option = v, junction.WithInheritedThreadSlice()
		return nil
	}
	ms, err := strconv.ParseFloat(v, 64)
	slice := time.Duration(math.Round(ms * float64(time.Millisecond)))
	// The negated test also refuses NaN.
	if err != nil || !(slice >= junction.MinThreadSlice && slice <= junction.MaxThreadSlice) {
		return fmt.Errorf("want milliseconds from %g to %g or 'inherit'",
			float64(junction.MinThreadSlice)/float64(time.Millisecond),
			float64(junction.MaxThreadSlice)/float64(time.Millisecond))
	}
	s.text, s.option = v, junction.WithThreadSlice(slice)
	return nil
}

// z85 is Z85's alphabet (ZeroMQ RFC 32), in which CURVE keys are written.
const z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// curveKeyLength is a CURVE key's length in Z85.
const curveKeyLength = 40

func isZ85Key(text string) bool {
	return len(text) == curveKeyLength && strings.Trim(text, z85) == ""
}

// keyLines is the lines of path without the blanks around them, blank
// lines and '#' comment lines left out, each with its "path:line:".
func keyLines(path string) (lines, where []string, err error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	for number, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		lines = append(lines, line)
		where = append(where, fmt.Sprintf("%s:%d:", path, number+1))
	}
	return lines, where, nil
}

// readCurveOptions reads the CURVE key files, as junction-host does: the
// secret key file must be readable by its owner only and hold one key; the
// client keys file lists one or more public keys. It returns the listen
// options and the line that tells the public key (none without a secret
// key file).
func readCurveOptions(secretKeyFile, clientKeysFile string) ([]junction.ListenOption, string, error) {
	if secretKeyFile == "" {
		if clientKeysFile != "" {
			return nil, "", errors.New("--curve-client-keys-file needs --curve-secret-key-file")
		}
		return nil, "", nil
	}
	if info, err := os.Stat(secretKeyFile); err == nil && info.Mode().Perm()&0o077 != 0 {
		return nil, "", fmt.Errorf("--curve-secret-key-file %s may be read by other users (mode %04o): chmod 600 it",
			secretKeyFile, info.Mode().Perm())
	}
	secret, _, err := keyLines(secretKeyFile)
	if err != nil {
		return nil, "", fmt.Errorf("--curve-secret-key-file: %w", err)
	}
	if len(secret) != 1 || !isZ85Key(secret[0]) {
		return nil, "", fmt.Errorf("--curve-secret-key-file %s must hold one CURVE secret key, 40 Z85 characters on a line",
			secretKeyFile)
	}
	public, err := junction.CurvePublicKey(secret[0])
	if err != nil {
		return nil, "", fmt.Errorf("--curve-secret-key-file %s: %w", secretKeyFile, err)
	}
	options := []junction.ListenOption{junction.ListenCurveSecretKey(secret[0])}
	line := "CURVE on every listener; clients route with the public key " + public + "; "
	if clientKeysFile == "" {
		return options, line + "any client that knows it may connect", nil
	}
	keys, err := readClientKeys(clientKeysFile)
	if err != nil {
		return nil, "", err
	}
	options = append(options, junction.ListenCurveClientKeys(keys...))
	return options, fmt.Sprintf("%s%d client key(s) let in, no other", line, len(keys)), nil
}

// readClientKeys reads a CURVE client keys file, as junction-host does: one
// or more public keys, one a line.
func readClientKeys(path string) ([]string, error) {
	keys, where, err := keyLines(path)
	if err != nil {
		return nil, fmt.Errorf("--curve-client-keys-file: %w", err)
	}
	for i, key := range keys {
		if !isZ85Key(key) {
			return nil, fmt.Errorf("%s not a CURVE public key (40 Z85 characters): '%s'", where[i], key)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--curve-client-keys-file %s lists no key, which would let no client in", path)
	}
	return keys, nil
}

// reloadClientKeys reads the CURVE client keys file again (on SIGHUP) and
// puts its keys in force on every listener, as junction-host does; a file
// that cannot be used is reported and changes nothing.
func reloadClientKeys(stderr io.Writer, path string, listeners []*junction.Listener) {
	if path == "" {
		fmt.Fprintln(stderr, "junction-go-serve: SIGHUP received; there is no --curve-client-keys-file to read again")
		return
	}
	keys, err := readClientKeys(path)
	if err != nil {
		fmt.Fprintf(stderr, "junction-go-serve: SIGHUP received; %v; the client keys in force stay\n", err)
		return
	}
	for _, listener := range listeners {
		if err := listener.SetCurveClientKeys(keys...); err != nil {
			// The keys are the same for every listener: the first refuses them all.
			fmt.Fprintf(stderr, "junction-go-serve: SIGHUP received; %s: %v; the client keys in force stay\n", path, err)
			return
		}
	}
	fmt.Fprintf(stderr, "junction-go-serve: SIGHUP received; %d client key(s) from %s let in, no other "+
		"(a connection whose key is gone is refused at its next call)\n", len(keys), path)
}

func main() {
	// Signals are caught from the start, so one that comes while getting
	// ready is acted on. A stop has a channel of its own: the signal package
	// drops a signal that finds its channel full, and a SIGHUP or SIGUSR1
	// waiting there must not cost a SIGTERM.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	requests := make(chan os.Signal, 2)
	signal.Notify(requests, syscall.SIGUSR1, syscall.SIGHUP)
	// A log reader that has gone away (a closed pipe on standard error) must
	// not end the daemon at its next line, in the middle of a drain: Go ends
	// a program whose write to standard output or error meets a closed pipe,
	// unless SIGPIPE is ignored, when the write fails instead.
	signal.Ignore(syscall.SIGPIPE)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, stop, requests))
}

// run serves as the command line args says, acting on the SIGUSR1 and
// SIGHUP that arrive on requests, until a SIGTERM or SIGINT arrives on
// stop; then it drains and returns the exit status. A drain cut short
// returns without closing the host, whose handlers still run: the caller
// ends the process.
func run(args []string, stdout, stderr io.Writer, stop, requests <-chan os.Signal) int {
	var listens, modules, serve list
	threads := countFlag{most: maxThreads}
	inFlight := countFlag{most: maxInFlight}
	payload := countFlag{most: math.MaxUint64}
	unreadAnswers := countFlag{most: junction.MaxUnreadAnswers}
	unreadBytes := countFlag{most: math.MaxUint64}
	var slice sliceFlag
	flags := flag.NewFlagSet("junction-go-serve", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Var(&listens, "listen", "serve on `URL` (at least one; repeatable)")
	flags.Var(&modules, "module", "load the module at `PATH` besides go.echo (repeatable)")
	flags.Var(&serve, "serve", "serve only the `SERVICE`s named (repeatable; default: all)")
	flags.Var(&threads, "threads", "`N` threads per listener receiving and running calls (1 to 1024; default 4)")
	flags.Var(&slice, "thread-slice",
		"the scheduler slice the threads running calls ask the kernel for, in `MILLISECONDS` (0.1 to 100; default 0.5), or 'inherit' to ask for none")
	drain := drainFlag{value: 30 * time.Second}
	flags.Var(&drain, "drain-timeout", "how long calls in flight may run on after the signal: `SECONDS` from 0 to 86400, or a Go duration (default 30)")
	flags.Var(&inFlight, "max-in-flight", "`N` calls each listener serves at once (1 to 65536; default 1024)")
	flags.Var(&payload, "max-payload", "the largest request payload accepted, in `BYTES` (default 64 MiB)")
	flags.Var(&unreadAnswers, "max-unread-answers",
		"`N` answers a client's connection may leave unread before its calls are refused (1 to 1048576; default 1024)")
	flags.Var(&unreadBytes, "max-unread-bytes",
		"`BYTES` of answers a client's connection may leave unread before its calls are refused (default 256 MiB)")
	secretKeyFile := flags.String("curve-secret-key-file", "",
		"encrypt every connection with CURVE: the listeners' secret key is in `FILE` (readable by its owner only)")
	clientKeysFile := flags.String("curve-client-keys-file", "",
		"let in only the clients whose CURVE public keys `FILE` lists, one a line")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(listens) == 0 || flags.NArg() > 0 {
		fmt.Fprintln(stderr, "junction-go-serve: at least one --listen URL, and no other arguments")
		return 2
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "junction-go-serve: "+format+"\n", args...)
		return 1
	}
	curveOptions, curveLine, err := readCurveOptions(*secretKeyFile, *clientKeysFile)
	if err != nil {
		fmt.Fprintf(stderr, "junction-go-serve: %v\n", err)
		return 2
	}

	var hostOptions []junction.HostOption
	if slice.option != nil {
		hostOptions = append(hostOptions, slice.option)
	}
	host, err := junction.NewHost(hostOptions...)
	if err != nil {
		return fail("host: %v", err)
	}
	closeHost := true // not after a drain cut short
	defer func() {
		if closeHost {
			_ = host.Close() // closes listeners still open
		}
	}()
	if err := host.Register(goecho.Service(host)); err != nil {
		return fail("register %s: %v", goecho.Name, err)
	}
	before, err := host.Services()
	if err != nil {
		return fail("list the services: %v", err)
	}
	fmt.Fprintf(stderr, "junction-go-serve: registered %s\n", describe(before))
	for _, module := range modules {
		if err := host.LoadModule(module); err != nil {
			return fail("load %s: %v", module, err)
		}
		after, err := host.Services()
		if err != nil {
			return fail("list the services: %v", err)
		}
		fmt.Fprintf(stderr, "junction-go-serve: loaded module %s: %s\n", module, describe(added(before, after)))
		before = after
	}
	for _, name := range serve {
		if !slices.ContainsFunc(before, func(s junction.ServiceInfo) bool { return s.Name == name }) {
			fmt.Fprintf(stderr, "junction-go-serve: --serve %s: no service of that name here (there are: %s)\n",
				name, strings.Join(names(before), ", "))
			return 2
		}
	}
	options := []junction.ListenOption{
		junction.ListenThreads(uint32(threads.value)),
		junction.ListenMaxInFlight(uint32(inFlight.value)),
		junction.ListenMaxPayload(payload.value),
		junction.ListenMaxUnreadAnswers(unreadAnswers.value),
		junction.ListenMaxUnreadBytes(unreadBytes.value),
	}
	options = append(options, curveOptions...)
	if curveLine != "" {
		fmt.Fprintf(stderr, "junction-go-serve: %s\n", curveLine)
	}
	served := "all services"
	if len(serve) > 0 {
		options = append(options, junction.ListenServices(serve...))
		served = strings.Join(serve, ",")
	}
	select {
	case received := <-stop:
		fmt.Fprintf(stderr, "junction-go-serve: %s received while the modules loaded; exiting without serving\n",
			signalName(received))
		return 0
	default:
	}
	var listeners []*junction.Listener
	for _, url := range listens {
		listener, err := host.Listen(url, options...)
		if errors.Is(err, junction.ErrInvalidArgument) {
			// A URL junction cannot read is the command line's fault.
			fmt.Fprintf(stderr, "junction-go-serve: listen on %s: %v\n", url, err)
			return 2
		}
		if err != nil {
			return fail("listen on %s: %v", url, err)
		}
		listeners = append(listeners, listener)
	}
	for _, listener := range listeners {
		fmt.Fprintf(stdout, "junction-go-serve: serving %s on %s\n", served, listener.URL())
	}
	fmt.Fprintln(stdout, "junction-go-serve: ready")

	curve := *secretKeyFile != ""
	var received os.Signal
	for received == nil {
		select {
		case received = <-stop:
		case request := <-requests:
			if request == syscall.SIGHUP {
				reloadClientKeys(stderr, *clientKeysFile, listeners)
				continue
			}
			fmt.Fprintln(stderr, "junction-go-serve: SIGUSR1 received; the statistics so far:")
			for _, listener := range listeners {
				reportListener(stderr, listener, curve)
			}
			reportMethods(stderr, host)
		}
	}
	fmt.Fprintf(stderr, "junction-go-serve: %s received; draining calls in flight (at most %g s)\n",
		signalName(received), drain.value.Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), drain.value)
	defer cancel()
	// All at once, so that none keeps taking calls while another drains.
	// A drain the deadline ended is told; the close after it says whether
	// calls were cut short (they may have ended since), as junction-host's.
	for _, err := range atOnce(listeners, func(l *junction.Listener) error { return l.Drain(ctx) }) {
		if err != nil {
			fmt.Fprintf(stderr, "junction-go-serve: %v\n", err)
		}
	}
	status := 0
	cutShort := false
	for _, listener := range listeners {
		reportListener(stderr, listener, curve)
	}
	// Drained (or cut short: a context done closes without waiting).
	for _, err := range atOnce(listeners, func(l *junction.Listener) error { return l.Close(ctx) }) {
		if err != nil && status == 0 {
			fmt.Fprintf(stderr, "junction-go-serve: %v\n", err)
			status = 1
		}
		cutShort = cutShort || errors.Is(err, junction.ErrDeadlineExceeded)
	}
	if cutShort {
		// Handlers cut short may still run, and closing the host would wait
		// for them: leaving it keeps the shutdown within the timeout.
		fmt.Fprintln(stderr, "junction-go-serve: the drain timeout passed with calls still in flight; they were cut short")
		closeHost = false
		return status
	}
	if err := host.Close(); err != nil {
		return fail("close the host: %v", err)
	}
	return status
}

// signalName is "SIGTERM" or "SIGINT", as junction-host logs them.
func signalName(stop os.Signal) string {
	if stop == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}

// describe is "NAME (METHOD, METHOD)" for each service, separated by "; ".
func describe(services []junction.ServiceInfo) string {
	if len(services) == 0 {
		return "no services"
	}
	described := make([]string, 0, len(services))
	for _, service := range services {
		described = append(described, service.Name+" ("+strings.Join(service.Methods, ", ")+")")
	}
	return strings.Join(described, "; ")
}

// added is the services of after that before lacks.
func added(before, after []junction.ServiceInfo) []junction.ServiceInfo {
	var brought []junction.ServiceInfo
	for _, service := range after {
		if !slices.ContainsFunc(before, func(s junction.ServiceInfo) bool { return s.Name == service.Name }) {
			brought = append(brought, service)
		}
	}
	return brought
}

func names(services []junction.ServiceInfo) []string {
	listed := make([]string, 0, len(services))
	for _, service := range services {
		listed = append(listed, service.Name)
	}
	return listed
}

// reportListener writes what listener has done, as junction-host does;
// with curve, what its client keys refused too.
func reportListener(stderr io.Writer, listener *junction.Listener, curve bool) {
	stats, err := listener.Stats()
	if err != nil {
		return
	}
	refusedByKeys := ""
	if curve {
		refusedByKeys = fmt.Sprintf("; CURVE client keys refused %d handshakes and %d calls",
			stats.RefusedHandshakes, stats.RefusedClientKey)
	}
	fmt.Fprintf(stderr, "junction-go-serve: %s: %d requests taken and %d answers sent; "+
		"%d calls refused and %d dropped because their clients left answers unread; "+
		"%d unreadable and %d over the payload limit; %d in flight on %d threads and %d queued; "+
		"%d answered unrun, cancelled or past their deadline in the queue%s\n",
		listener.URL(), stats.Requests, stats.Answers, stats.RefusedUnread, stats.DroppedUnread,
		stats.Unreadable, stats.RefusedTooLarge, stats.InFlight, stats.Threads, stats.Queued,
		stats.AnsweredUnrun, refusedByKeys)
}

// reportMethods writes each method's calls, errors and sampled latency, as
// junction-host does.
func reportMethods(stderr io.Writer, host *junction.Host) {
	services, err := host.Services()
	if err != nil {
		fmt.Fprintf(stderr, "junction-go-serve: list the services: %v\n", err)
		return
	}
	for _, service := range services {
		for _, name := range service.Methods {
			method, err := host.Method(service.Name, name)
			if err != nil {
				continue // unregistered since the listing
			}
			stats, err := method.Stats()
			method.Close()
			if err != nil {
				continue
			}
			line := fmt.Sprintf("junction-go-serve: %s/%s: %d calls, %d errors", service.Name, name, stats.Calls, stats.Errors)
			if stats.LatencySamples != 0 {
				line += fmt.Sprintf("; latency of %d sampled calls: p50 <= %d ns, p99 <= %d ns, max %d ns",
					stats.LatencySamples, stats.LatencyP50.Nanoseconds(), stats.LatencyP99.Nanoseconds(),
					stats.LatencyMax.Nanoseconds())
			}
			fmt.Fprintln(stderr, line)
		}
	}
}

// atOnce runs operation on every listener, each in a goroutine of its own,
// and returns their errors (a listener's errors name it).
func atOnce(listeners []*junction.Listener, operation func(*junction.Listener) error) []error {
	errs := make([]error, len(listeners))
	var wg sync.WaitGroup
	for i, listener := range listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = operation(listener)
		}()
	}
	wg.Wait()
	return errs
}
