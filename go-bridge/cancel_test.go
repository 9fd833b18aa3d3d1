package junction_test

// A context that ends while a routed call waits ends the call at once, in
// every way of calling and over every transport; the handler's late answer
// is dropped and the route carries the next call; a local handler is never
// interrupted; CallAsync's context cancels its call; a call queued at a
// full listener past its deadline is answered unrun; and contexts ending at
// any moment of many calls at once leave nothing behind (run with -race;
// newHost checks the live objects).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"junction"
	"junction/goecho"
)

// callForms are the ways of making a synchronous call, each returning the
// response's bytes.
var callForms = []struct {
	name string
	call func(ctx context.Context, m *junction.Method, req []byte) ([]byte, error)
}{
	{"Call", func(ctx context.Context, m *junction.Method, req []byte) ([]byte, error) {
		return m.Call(ctx, req)
	}},
	{"CallAppend", func(ctx context.Context, m *junction.Method, req []byte) ([]byte, error) {
		return m.CallAppend(ctx, make([]byte, 0, 64), req)
	}},
	{"CallBorrowed", func(ctx context.Context, m *junction.Method, req []byte) ([]byte, error) {
		response, err := m.CallBorrowed(ctx, req)
		if err != nil {
			return nil, err
		}
		defer response.Release()
		return bytes.Clone(response.Bytes()), nil
	}},
}

func TestContextCancelEndsARoutedCallsWait(t *testing.T) {
	for _, transport := range transportURLs {
		for _, form := range callForms {
			t.Run(transport.name+"/"+form.name, func(t *testing.T) {
				server := echoHost(t)
				started, release := blocking(t, server)
				listener := listen(t, server, transport.url(t))
				client := newHost(t)
				routeTo(t, client, listener.URL(), goecho.Name, "blocking")
				bound, cancelBound := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancelBound()
				wait := method(t, client, "blocking", "wait")
				if !wait.Waits() {
					t.Fatal("a routed method does not wait")
				}
				ctx, cancel := context.WithCancel(bound)
				answer := inBackground(t, release, func() error {
					_, err := form.call(ctx, wait, nil)
					return err
				})
				select {
				case <-started:
				case <-bound.Done():
					t.Fatal("the handler did not start within 20 s")
				}
				cancel()
				var err error
				select {
				case err = <-answer:
				case <-time.After(10 * time.Second):
					t.Fatal("the cancelled call did not end within 10 s")
				}
				if !errors.Is(err, context.Canceled) || !errors.Is(err, junction.ErrCanceled) ||
					!strings.Contains(err.Error(), "cancelled by its caller") {
					t.Fatalf("a call whose context was cancelled: %v, want CANCELLED", err)
				}
				if stats, err := client.RouteStats("blocking"); err != nil || stats.InFlight != 0 {
					t.Fatalf("route stats after the cancel: %+v, %v; want none in flight", stats, err)
				}
				release() // the handler answers; the answer is dropped
				echo := method(t, client, goecho.Name, "echo")
				if response, err := form.call(bound, echo, []byte("next")); err != nil || string(response) != "next" {
					t.Fatalf("the next call on the route: %q, %v", response, err)
				}
			})
		}
	}
}

// A cancel travels: the caller's route tells the relay's listener, whose
// call ends the wait of the relay handler's own routed call (made with the
// handler's context), while the last host's handler still blocks.
func TestACancelEndsTheWaitsAlongARelay(t *testing.T) {
	last := newHost(t)
	started, release := blocking(t, last)
	lastListener := listen(t, last, "zmq+tcp://127.0.0.1:0")

	relay := newHost(t)
	routeTo(t, relay, lastListener.URL(), "blocking")
	wait := method(t, relay, "blocking", "wait")
	if err := relay.Register(junction.NewService("relay").
		Method("forward", func(ctx context.Context, req []byte) ([]byte, error) {
			return wait.Call(ctx, req)
		})); err != nil {
		t.Fatal(err)
	}
	relayListener := listen(t, relay, "zmq+tcp://127.0.0.1:0")

	client := newHost(t)
	routeTo(t, client, relayListener.URL(), "relay")
	forward := method(t, client, "relay", "forward")
	// A deadline beyond the waits below: the relay's call must end by the
	// cancel, not by the deadline it carries.
	bound, cancelBound := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelBound()
	ctx, cancel := context.WithCancel(bound)
	answer := inBackground(t, release, func() error {
		_, err := forward.Call(ctx, nil)
		return err
	})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the last handler did not start within 20 s")
	}
	cancel()
	if err := <-answer; !errors.Is(err, context.Canceled) {
		t.Fatalf("the cancelled call: %v, want CANCELLED", err)
	}
	give := time.Now().Add(10 * time.Second)
	for {
		stats, err := relay.RouteStats("blocking")
		if err != nil {
			t.Fatal(err)
		}
		if stats.InFlight == 0 {
			break
		}
		if time.Now().After(give) {
			t.Fatalf("the relay's own call still waits 10 s after the cancel: %+v", stats)
		}
		time.Sleep(time.Millisecond)
	}
	release()
}

// A Go handler serving a call from another host sees its caller give up:
// its context ends, Canceled, when the caller's context does (the cancel
// message reaches the listener, whose cancel the handler watches), with a
// deadline or without.
func TestAHandlersContextEndsWhenItsCallerGivesUp(t *testing.T) {
	for _, withDeadline := range []bool{false, true} {
		t.Run(fmt.Sprintf("deadline=%v", withDeadline), func(t *testing.T) {
			server := newHost(t)
			started, seen := watching(t, server)
			listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
			client := newHost(t)
			routeTo(t, client, listener.URL(), "watching")
			wait := method(t, client, "watching", "wait")
			parent := context.Background()
			if withDeadline {
				var cancelParent context.CancelFunc
				parent, cancelParent = context.WithTimeout(parent, time.Minute)
				defer cancelParent()
			}
			callerErr, handlerErr := giveUpOnWatching(parent, started, seen, func(ctx context.Context) error {
				_, err := wait.Call(ctx, nil)
				return err
			})
			if !errors.Is(callerErr, context.Canceled) {
				t.Fatalf("the caller: %v, want CANCELLED", callerErr)
			}
			if err := handlerErr; err != context.Canceled {
				t.Fatalf("the handler's context ended with %v, want context.Canceled", err)
			}
		})
	}
}

// watching registers the service "watching", whose "wait" method says on
// started when a call has begun, then waits for its context to end (20 s at
// most) and says on seen how it ended (nil: it did not).
func watching(t *testing.T, host *junction.Host) (started chan struct{}, seen chan error) {
	started = make(chan struct{}, 1)
	seen = make(chan error, 1)
	if err := host.Register(junction.NewService("watching").
		Method("wait", func(ctx context.Context, _ []byte) ([]byte, error) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				seen <- ctx.Err()
				return nil, ctx.Err()
			case <-time.After(20 * time.Second):
				seen <- nil
				return nil, errors.New("the context did not end within 20 s")
			}
		})); err != nil {
		t.Fatal(err)
	}
	return started, seen
}

// giveUpOnWatching makes call with a context of parent on another
// goroutine, cancels that context once the handler of watching has
// started, and returns the caller's error and how the handler's context
// ended.
func giveUpOnWatching(parent context.Context, started chan struct{}, seen chan error,
	call func(ctx context.Context) error) (callerErr, handlerErr error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	answer := make(chan error, 1)
	go func() { answer <- call(ctx) }()
	select {
	case <-started:
	case err := <-answer: // the call ended before its handler started
		return err, errors.New("the handler never started")
	case <-time.After(30 * time.Second):
		return errors.New("the handler did not start within 30 s"), nil
	}
	cancel()
	select {
	case callerErr = <-answer:
	case <-time.After(30 * time.Second):
		return errors.New("the call not answered within 30 s of its cancel"), nil
	}
	select {
	case handlerErr = <-seen:
	case <-time.After(30 * time.Second):
		handlerErr = errors.New("the handler's context did not end within 30 s")
	}
	return callerErr, handlerErr
}

// CallAsync's context ending cancels the call: the route stops waiting for
// it and tells the other host, whose Go handler sees its caller give up,
// and the host's one worker serves the next call.
func TestCallAsyncContextEndCancelsTheCall(t *testing.T) {
	server := echoHost(t)
	started, seen := watching(t, server)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
	// One worker, which the cancelled call must leave to the next.
	client := newHost(t, junction.WithWorkerThreads(1))
	routeTo(t, client, listener.URL(), "watching", goecho.Name)
	wait := method(t, client, "watching", "wait")
	callerErr, handlerErr := giveUpOnWatching(context.Background(), started, seen, func(ctx context.Context) error {
		_, err := wait.CallAsync(ctx, nil)
		return err
	})
	if !errors.Is(callerErr, context.Canceled) || !errors.Is(callerErr, junction.ErrCanceled) {
		t.Fatalf("the caller: %v, want CANCELLED", callerErr)
	}
	if err := handlerErr; err != context.Canceled {
		t.Fatalf("the handler's context ended with %v, want context.Canceled", err)
	}
	bounded, cancelBounded := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelBounded()
	echo := method(t, client, goecho.Name, "echo")
	if got, err := echo.CallAsync(bounded, []byte("next")); err != nil || string(got) != "next" {
		t.Fatalf("the next call on the one worker: %q, %v", got, err)
	}
}

// A context whose deadline passes while the call waits is
// DEADLINE_EXCEEDED, whether the call's own deadline or the context's end
// answered it first.
func TestContextDeadlineWhileARoutedCallWaits(t *testing.T) {
	server := echoHost(t)
	_, release := blocking(t, server)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0")
	client := newHost(t)
	routeTo(t, client, listener.URL(), "blocking")
	wait := method(t, client, "blocking", "wait")
	for _, form := range callForms {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := form.call(ctx, wait, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, junction.ErrDeadlineExceeded) {
			t.Errorf("%s: %v, want DEADLINE_EXCEEDED", form.name, err)
		}
	}
	release()
}

// A call queued at a listener serving its max_in_flight calls, whose
// deadline passes while it waits its turn, is answered without its handler
// running, and the listener's stats tell it.
func TestAQueuedCallPastItsDeadlineIsAnsweredUnrun(t *testing.T) {
	server := echoHost(t)
	started, release := blocking(t, server)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0",
		junction.ListenThreads(1), junction.ListenMaxInFlight(1))
	client := newHost(t)
	routeTo(t, client, listener.URL(), "blocking")
	wait := method(t, client, "blocking", "wait")
	holder := inBackground(t, release, func() error {
		_, err := wait.Call(context.Background(), nil)
		return err
	})
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("the handler did not start within 20 s")
	}

	const timeout = 200 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	late := inBackground(t, release, func() error {
		_, err := wait.Call(ctx, nil)
		return err
	})
	eventually(t, 10*time.Second, func() error {
		if stats, err := listener.Stats(); err != nil || stats.Queued != 1 || stats.InFlight != 1 {
			return fmt.Errorf("stats %+v, %v; want 1 in flight and 1 queued", stats, err)
		}
		return nil
	})
	// The listener started the call's deadline when it read it, by now.
	serverDeadline := time.Now().Add(timeout)
	if err := <-late; !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("the queued call: %v, want DEADLINE_EXCEEDED", err)
	}
	time.Sleep(time.Until(serverDeadline))

	release()
	if err := receive(t, holder, 30*time.Second, "the call holding the slot"); err != nil {
		t.Fatalf("the call holding the slot: %v", err)
	}
	eventually(t, 10*time.Second, func() error {
		stats, err := listener.Stats()
		if err != nil || stats.Answers != 2 || stats.AnsweredUnrun != 1 || stats.Queued != 0 {
			return fmt.Errorf("stats %+v, %v; want 2 answers, 1 of them unrun, none queued", stats, err)
		}
		return nil
	})
	if len(started) != 0 {
		t.Fatal("the handler of the call past its deadline ran")
	}
}

// A handler in this process runs on the caller's thread: its context's
// end while it runs changes nothing of the call.
func TestALocalHandlerIsNotInterrupted(t *testing.T) {
	host := newHost(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := host.Register(junction.NewService("local").
		Method("cancel_then_answer", func(context.Context, []byte) ([]byte, error) {
			cancel()
			return []byte("answered"), nil
		})); err != nil {
		t.Fatal(err)
	}
	local := method(t, host, "local", "cancel_then_answer")
	if local.Waits() {
		t.Fatal("a local Go method waits")
	}
	if response, err := local.Call(ctx, nil); err != nil || string(response) != "answered" {
		t.Fatalf("a local call whose context ended while it ran: %q, %v", response, err)
	}
}

// Many goroutines call through one route, each with a context that ends at
// some moment of its call: each answer is the right echo or CANCELLED.
func TestContextsEndingAtAnyMomentOfManyCalls(t *testing.T) {
	_, client, _ := routedEcho(t, "zmq+tcp://127.0.0.1:0")
	echo := method(t, client, goecho.Name, "echo")
	const goroutines, calls = 8, 40
	var wg sync.WaitGroup
	failures := make(chan error, goroutines*calls)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				request := []byte(fmt.Sprintf("%d-%d", g, i))
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(time.Duration(i%10)*20*time.Microsecond, cancel)
				response, err := callForms[i%len(callForms)].call(ctx, echo, request)
				cancel()
				switch {
				case err == nil && !bytes.Equal(response, request):
					failures <- fmt.Errorf("call %s answered %q", request, response)
				case err != nil && !errors.Is(err, junction.ErrCanceled):
					failures <- fmt.Errorf("call %s: %v, want its echo or CANCELLED", request, err)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if response, err := echo.Call(ctx, []byte("after")); err != nil || string(response) != "after" {
		t.Fatalf("a call after the others: %q, %v", response, err)
	}
}

// A handler's context is done (its Done channel closed) by the time its
// Err reports the deadline, as the context contract asks: code that reads
// Err first and then selects on Done never finds them disagreeing.
func TestAHandlersContextIsDoneOnceErrSaysSo(t *testing.T) {
	host := newHost(t)
	var open atomic.Int32
	err := host.Register(junction.NewService("spin").Method("until", func(ctx context.Context, _ []byte) ([]byte, error) {
		done := ctx.Done() // asked for first, as a select in a loop does
		for ctx.Err() == nil {
		}
		select {
		case <-done:
		default:
			open.Add(1)
		}
		return nil, ctx.Err()
	}))
	if err != nil {
		t.Fatal(err)
	}
	until := method(t, host, "spin", "until")
	const calls = 50
	for range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
		_, err := until.Call(ctx, nil)
		cancel()
		if !errors.Is(err, junction.ErrDeadlineExceeded) {
			t.Fatalf("a call past its deadline: %v", err)
		}
	}
	if n := open.Load(); n != 0 {
		t.Fatalf("Err said the deadline had passed while Done was still open in %d of %d calls", n, calls)
	}
}

// A handler's context keeps the error it ended with, as the context
// contract asks: one that ended Canceled when its handler returned stays
// Canceled past its deadline, and one that ended at its deadline stays
// DeadlineExceeded after its handler returned.
func TestAHandlersContextKeepsTheErrorItEndedWith(t *testing.T) {
	host := newHost(t)
	kept := make(chan context.Context, 1)
	err := host.Register(junction.NewService("keep").
		Method("return", func(ctx context.Context, _ []byte) ([]byte, error) {
			kept <- ctx
			return nil, nil
		}).
		Method("expire", func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done()
			kept <- ctx
			return nil, ctx.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	check := func(ctx context.Context, want error, when string) {
		t.Helper()
		if err := ctx.Err(); err != want {
			t.Fatalf("Err %s: %v, want %v", when, err, want)
		}
		select {
		case <-ctx.Done():
		default:
			t.Fatalf("Done open %s, with Err %v", when, ctx.Err())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := method(t, host, "keep", "return").Call(ctx, nil); err != nil {
		t.Fatal(err)
	}
	returned := receive(t, kept, 10*time.Second, "the returning handler's context")
	check(returned, context.Canceled, "after its handler returned")
	<-ctx.Done()
	time.Sleep(10 * time.Millisecond) // past the handler's deadline too
	check(returned, context.Canceled, "past its deadline, after its handler returned")

	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if _, err := method(t, host, "keep", "expire").Call(ctx, nil); !errors.Is(err, junction.ErrDeadlineExceeded) {
		t.Fatalf("a handler waiting for its deadline: %v", err)
	}
	expired := receive(t, kept, 10*time.Second, "the expired handler's context")
	check(expired, context.DeadlineExceeded, "after its deadline and its handler's return")
}
