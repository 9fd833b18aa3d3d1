package junction_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"junction"
)

// A Go service registered on a host and called through a resolved method.
func Example() {
	host, err := junction.NewHost()
	if err != nil {
		panic(err)
	}
	defer host.Close()

	greeter := junction.NewService("greeter").
		Method("hello", func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte("hello, "), req...), nil
		})
	if err := host.Register(greeter); err != nil {
		panic(err)
	}

	hello, err := host.Method("greeter", "hello") // resolve once ...
	if err != nil {
		panic(err)
	}
	defer hello.Close()
	response, err := hello.Call(context.Background(), []byte("junction")) // ... call many times
	fmt.Println(string(response), err)
	// Output: hello, junction <nil>
}

// Handler errors reach the caller with their code; errors.Is matches the
// sentinels, and a deadline maps to context.DeadlineExceeded.
func ExampleError() {
	host, _ := junction.NewHost()
	defer host.Close()
	_ = host.Register(junction.NewService("kv").
		Method("get", func(_ context.Context, key []byte) ([]byte, error) {
			return nil, junction.Errorf(junction.NotFound, "no key %q", key)
		}).
		Method("slow", func(ctx context.Context, _ []byte) ([]byte, error) {
			<-ctx.Done() // the caller's deadline
			return nil, ctx.Err()
		}))

	get, _ := host.Method("kv", "get")
	defer get.Close()
	_, err := get.Call(context.Background(), []byte("k1"))
	var status *junction.Error
	fmt.Println(errors.Is(err, junction.ErrNotFound), errors.As(err, &status), status.Message)

	slow, _ := host.Method("kv", "slow")
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = slow.Call(ctx, nil)
	fmt.Println(errors.Is(err, context.DeadlineExceeded), junction.CodeOf(err))
	// Output:
	// true true no key "k1"
	// true DEADLINE_EXCEEDED
}

// A panicking handler answers INTERNAL; the host keeps serving.
func ExampleHandlerFunc_panic() {
	host, _ := junction.NewHost()
	defer host.Close()
	_ = host.Register(junction.NewService("fragile").
		Method("boom", func(context.Context, []byte) ([]byte, error) { panic("out of range") }))
	boom, _ := host.Method("fragile", "boom")
	defer boom.Close()
	_, err := boom.Call(context.Background(), nil)
	fmt.Println(err)
	// Output: junction: INTERNAL: go handler panicked: out of range
}

// CallBorrowed lends the producer's buffer instead of copying it: worth it
// for large responses.
func ExampleMethod_CallBorrowed() {
	host, _ := junction.NewHost()
	defer host.Close()
	_ = host.Register(junction.NewService("blob").
		Method("get", func(context.Context, []byte) ([]byte, error) {
			return []byte(strings.Repeat("x", 1<<20)), nil
		}))
	get, _ := host.Method("blob", "get")
	defer get.Close()
	response, err := get.CallBorrowed(context.Background(), nil)
	if err != nil {
		panic(err)
	}
	defer response.Release() // hands the buffer back to its producer
	fmt.Println(response.Len())
	// Output: 1048576
}

// An appending handler and CallAppend with a reused buffer: a call that
// allocates nothing, on either side.
func ExampleMethod_CallAppend() {
	host, _ := junction.NewHost()
	defer host.Close()
	_ = host.Register(junction.NewService("counter").
		AppendMethod("len", func(_ context.Context, req, resp []byte) ([]byte, error) {
			return fmt.Appendf(resp, "%d bytes", len(req)), nil
		}))
	length, _ := host.Method("counter", "len")
	defer length.Close()
	buf := make([]byte, 0, 64) // reused from call to call
	for _, req := range []string{"a", "abc"} {
		out, err := length.CallAppend(context.Background(), buf[:0], []byte(req))
		fmt.Println(string(out), err)
	}
	// Output:
	// 1 bytes <nil>
	// 3 bytes <nil>
}

// A method's calls and errors are counted exactly (its latency is sampled),
// and a host lists the services it has with their methods.
func ExampleMethod_Stats() {
	host, _ := junction.NewHost()
	defer host.Close()
	_ = host.Register(junction.NewService("kv").
		Method("get", func(_ context.Context, key []byte) ([]byte, error) {
			if len(key) == 0 {
				return nil, junction.Errorf(junction.InvalidArgument, "no key")
			}
			return []byte("value"), nil
		}).
		Method("put", func(_ context.Context, _ []byte) ([]byte, error) { return nil, nil }))
	get, _ := host.Method("kv", "get")
	defer get.Close()
	for _, key := range []string{"a", "b", ""} {
		_, _ = get.Call(context.Background(), []byte(key))
	}
	stats, err := get.Stats()
	fmt.Println(stats.Calls, "calls,", stats.Errors, "error", err)
	services, _ := host.Services()
	fmt.Printf("%+v\n", services)
	// Output:
	// 3 calls, 1 error <nil>
	// [{Name:kv Methods:[get put] RouteURL:}]
}

// A service served on one host and routed to from another: the caller's
// code is the same as for a local service. zmq+inproc works within one
// process; across processes the URL is zmq+ipc:///path or
// zmq+tcp://host:port, and the serving side may be the junction-host daemon.
func ExampleHost_Route() {
	// The serving side: a host with the service, listening on a URL.
	server, _ := junction.NewHost()
	defer server.Close()
	_ = server.Register(junction.NewService("greeter").
		Method("hello", func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte("hello, "), req...), nil
		}))
	listener, err := server.Listen("zmq+inproc://example-greeter")
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background()) // waits for calls in flight

	// The calling side: only the route says where the service runs.
	client, _ := junction.NewHost()
	defer client.Close()
	if err := client.Route("greeter", listener.URL()); err != nil {
		panic(err)
	}
	hello, err := client.Method("greeter", "hello")
	if err != nil {
		panic(err)
	}
	defer hello.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // the deadline travels
	defer cancel()
	response, err := hello.Call(ctx, []byte("junction"))
	fmt.Println(string(response), err)
	// Output: hello, junction <nil>
}

// A routed call ends as soon as its context does: the caller stops
// waiting, the other host's handler runs to its end (its deadline, here)
// and its answer is dropped.
func ExampleMethod_Call_cancel() {
	server, _ := junction.NewHost()
	defer server.Close()
	started := make(chan struct{})
	_ = server.Register(junction.NewService("report").
		Method("build", func(ctx context.Context, _ []byte) ([]byte, error) {
			close(started)
			<-ctx.Done() // a long job that gives up at its deadline
			return nil, ctx.Err()
		}))
	listener, err := server.Listen("zmq+inproc://example-report")
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background())

	client, _ := junction.NewHost()
	defer client.Close()
	_ = client.Route("report", listener.URL())
	build, _ := client.Method("report", "build")
	defer build.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() {
		<-started
		cancel() // the user went away
	}()
	_, err = build.Call(ctx, nil)
	fmt.Println(build.Waits(), errors.Is(err, context.Canceled))
	// Output: true true
}

// CallAsync waits for a slow call without holding an OS thread; a ctx that
// ends cancels the call, and its handler, here in another host, sees its
// own ctx end.
func ExampleMethod_CallAsync() {
	server, _ := junction.NewHost()
	defer server.Close()
	started := make(chan struct{})
	handlerSaw := make(chan error, 1)
	_ = server.Register(junction.NewService("search").
		Method("slow", func(ctx context.Context, _ []byte) ([]byte, error) {
			close(started)
			<-ctx.Done() // its caller gave up
			handlerSaw <- ctx.Err()
			return nil, ctx.Err()
		}))
	listener, err := server.Listen("zmq+inproc://example-search")
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background())

	client, _ := junction.NewHost()
	defer client.Close()
	_ = client.Route("search", listener.URL())
	slow, _ := client.Method("search", "slow")
	defer slow.Close()
	// The deadline only bounds the example: the user goes away first.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		<-started
		cancel() // the user went away
	}()
	_, err = slow.CallAsync(ctx, []byte("query"))
	select {
	case saw := <-handlerSaw:
		fmt.Println(errors.Is(err, context.Canceled), saw)
	case <-time.After(20 * time.Second):
		fmt.Println(err, "(the handler never ran)")
	}
	// Output: true context canceled
}

// CURVE encrypts a listener's connections and lets in only the clients it
// lists: the listener keeps its secret key and hands out its public key;
// each client route gets the listener's public key and brings its own pair.
func ExampleNewCurveKeyPair() {
	serverKeys, err := junction.NewCurveKeyPair()
	if err != nil {
		panic(err) // UNIMPLEMENTED: libzmq without CURVE
	}
	clientKeys, _ := junction.NewCurveKeyPair()

	server, _ := junction.NewHost()
	defer server.Close()
	_ = server.Register(junction.NewService("vault").
		Method("open", func(_ context.Context, req []byte) ([]byte, error) {
			return []byte("opened for " + string(req)), nil
		}))
	listener, err := server.Listen("zmq+tcp://127.0.0.1:0",
		junction.ListenCurveSecretKey(serverKeys.SecretKey),
		junction.ListenCurveClientKeys(clientKeys.PublicKey))
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background())

	client, _ := junction.NewHost()
	defer client.Close()
	if err := client.Route("vault", listener.URL(),
		junction.RouteCurveServerKey(serverKeys.PublicKey),
		junction.RouteCurveKeyPair(clientKeys)); err != nil {
		panic(err)
	}
	open, _ := client.Method("vault", "open")
	defer open.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	response, err := open.Call(ctx, []byte("a listed client"))
	fmt.Println(string(response), err)
	// Output: opened for a listed client <nil>
}

// Rotating a client's key: the listener lets in the new key and revokes the
// old one while it serves; the old key's connection is refused at its next
// call.
func ExampleListener_SetCurveClientKeys() {
	serverKeys, _ := junction.NewCurveKeyPair()
	oldKeys, _ := junction.NewCurveKeyPair()
	newKeys, _ := junction.NewCurveKeyPair()

	server, _ := junction.NewHost()
	defer server.Close()
	_ = server.Register(junction.NewService("vault").
		Method("open", func(_ context.Context, req []byte) ([]byte, error) {
			return []byte("opened"), nil
		}))
	listener, err := server.Listen("zmq+tcp://127.0.0.1:0",
		junction.ListenCurveSecretKey(serverKeys.SecretKey),
		junction.ListenCurveClientKeys(oldKeys.PublicKey))
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background())

	client, _ := junction.NewHost()
	defer client.Close()
	_ = client.Route("vault", listener.URL(),
		junction.RouteCurveServerKey(serverKeys.PublicKey),
		junction.RouteCurveKeyPair(oldKeys))
	open, _ := client.Method("vault", "open")
	defer open.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	response, err := open.Call(ctx, nil)
	fmt.Println(string(response), err)

	if err := listener.SetCurveClientKeys(newKeys.PublicKey); err != nil {
		panic(err)
	}
	_, err = open.Call(ctx, nil)
	fmt.Println(errors.Is(err, junction.ErrPermissionDenied))
	// Output:
	// opened <nil>
	// true
}

// A listener on port 0 reports the port the system chose, which is what
// other hosts route to.
func ExampleHost_Listen() {
	host, _ := junction.NewHost()
	defer host.Close()
	listener, err := host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenThreads(2))
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(listener.URL(), "zmq+tcp://127.0.0.1:"), listener.URL() != "zmq+tcp://127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	fmt.Println(listener.Close(ctx)) // drains calls in flight until ctx's deadline
	// Output:
	// true true
	// <nil>
}

// A listener counts the calls it takes and answers, and those it refuses:
// unreadable, too large, or from clients that leave answers unread.
func ExampleListener_Stats() {
	server, _ := junction.NewHost()
	defer server.Close()
	_ = server.Register(junction.NewService("greeter").
		Method("hello", func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte("hello, "), req...), nil
		}))
	listener, err := server.Listen("zmq+inproc://example-stats")
	if err != nil {
		panic(err)
	}
	defer listener.Close(context.Background())

	client, _ := junction.NewHost()
	defer client.Close()
	_ = client.Route("greeter", listener.URL())
	hello, _ := client.Method("greeter", "hello")
	defer hello.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{"ada", "grace"} {
		_, _ = hello.Call(ctx, []byte(name))
	}
	stats, err := listener.Stats()
	fmt.Println(stats.Requests, "requests,", stats.Answers, "answers", err)
	fmt.Println(stats.Unreadable, "unreadable,", stats.RefusedTooLarge, "too large,",
		stats.RefusedUnread, "refused and", stats.DroppedUnread, "dropped for answers left unread")
	// Output:
	// 2 requests, 2 answers <nil>
	// 0 unreadable, 0 too large, 0 refused and 0 dropped for answers left unread
}

// A service stopping: it drains its listener (calls that arrive now are
// answered UNAVAILABLE, those in flight finish), reads what the listener
// did, the drained calls included, and closes it.
func ExampleListener_Drain() {
	server, _ := junction.NewHost()
	defer server.Close()
	_ = server.Register(junction.NewService("greeter").
		Method("hello", func(_ context.Context, req []byte) ([]byte, error) {
			return append([]byte("hello, "), req...), nil
		}))
	listener, err := server.Listen("zmq+inproc://example-drain")
	if err != nil {
		panic(err)
	}

	client, _ := junction.NewHost()
	defer client.Close()
	_ = client.Route("greeter", listener.URL())
	hello, _ := client.Method("greeter", "hello")
	defer hello.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = hello.Call(ctx, []byte("ada"))

	fmt.Println(listener.Drain(ctx))
	_, err = hello.Call(ctx, []byte("grace"))
	fmt.Println(junction.CodeOf(err))
	stats, _ := listener.Stats()
	fmt.Printf("%d answers\n", stats.Answers)
	fmt.Println(listener.Close(ctx))
	// Output:
	// <nil>
	// UNAVAILABLE
	// 2 answers
	// <nil>
}

// A host for a batch job, whose threads may keep a longer scheduler slice
// (fewer preemptions among busy threads); a slice out of bounds is refused.
func ExampleWithThreadSlice() {
	host, err := junction.NewHost(junction.WithThreadSlice(4 * time.Millisecond))
	if err != nil {
		panic(err)
	}
	defer host.Close()

	_, err = junction.NewHost(junction.WithThreadSlice(time.Second))
	fmt.Println(errors.Is(err, junction.ErrInvalidArgument))
	// Output: true
}
