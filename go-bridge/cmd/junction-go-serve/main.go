// Command junction-go-serve serves Go services to other processes with
// Host.Listen: the go.echo service (package junction/goecho), plus the
// services of any (Rust or C/C++) modules it is given, on every URL it is
// given, until SIGTERM or SIGINT; then it lets the calls in flight finish
// and exits. It speaks like the junction-host daemon, so that the same
// tests drive both:
//
//	junction-go-serve --listen URL... [--module PATH]... [--serve SERVICE]... [--drain-timeout DURATION]
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
// Exit status: 0 after a complete drain; 1 when a module cannot be loaded,
// an address cannot be bound or the drain timeout cut calls short; 2 for a
// usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"junction"
	"junction/goecho"
)

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	os.Exit(run())
}

func run() int {
	var listens, modules, serve list
	flags := flag.NewFlagSet("junction-go-serve", flag.ContinueOnError)
	flags.Var(&listens, "listen", "serve on `URL` (at least one; repeatable)")
	flags.Var(&modules, "module", "load the module at `PATH` besides go.echo (repeatable)")
	flags.Var(&serve, "serve", "serve only the `SERVICE`s named (repeatable; default: all)")
	drain := flags.Duration("drain-timeout", 30*time.Second, "how long calls in flight may run on after the signal")
	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}
	if len(listens) == 0 || flags.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "junction-go-serve: at least one --listen URL, and no other arguments")
		return 2
	}

	// Signals are caught from the start, so one that comes while binding
	// still drains.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)

	host, err := junction.NewHost()
	if err != nil {
		return fail("host: %v", err)
	}
	defer host.Close() // closes listeners still open
	if err := host.Register(goecho.Service(host)); err != nil {
		return fail("register %s: %v", goecho.Name, err)
	}
	for _, module := range modules {
		if err := host.LoadModule(module); err != nil {
			return fail("load %s: %v", module, err)
		}
	}
	var options []junction.ListenOption
	served := "all services"
	if len(serve) > 0 {
		options = append(options, junction.ListenServices(serve...))
		served = strings.Join(serve, ",")
	}
	var listeners []*junction.Listener
	for _, url := range listens {
		listener, err := host.Listen(url, options...)
		if err != nil {
			return fail("listen on %s: %v", url, err)
		}
		listeners = append(listeners, listener)
	}
	for _, listener := range listeners {
		fmt.Printf("junction-go-serve: serving %s on %s\n", served, listener.URL())
	}
	fmt.Println("junction-go-serve: ready")

	received := <-signals
	fmt.Fprintf(os.Stderr, "junction-go-serve: %v: draining calls in flight (up to %v)\n", received, *drain)
	ctx, cancel := context.WithTimeout(context.Background(), *drain)
	defer cancel()
	// All at once, so that none keeps taking calls while another drains.
	errs := make(chan error, len(listeners))
	for _, listener := range listeners {
		go func() {
			err := listener.Close(ctx)
			if err != nil {
				err = fmt.Errorf("closing %s: %w", listener.URL(), err)
			}
			errs <- err
		}()
	}
	status := 0
	for range listeners {
		if err := <-errs; err != nil {
			fmt.Fprintf(os.Stderr, "junction-go-serve: %v\n", err)
			if errors.Is(err, junction.ErrDeadlineExceeded) {
				status = 1
			}
		}
	}
	if err := host.Close(); err != nil {
		return fail("close the host: %v", err)
	}
	return status
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "junction-go-serve: "+format+"\n", args...)
	return 1
}
