package junction

/*
#include "bridge.h"
*/
import "C"

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Listener serves a host's services on one URL: calls that other hosts
// route there run on this process's handlers. Made by [Host.Listen];
// closed with [Listener.Close] or, if still open then, by [Host.Close]. A
// Listener's methods are safe for concurrent use.
type Listener struct {
	host *Host
	url  string

	// Set by the first Close: a later Close returns at once, and a Drain
	// under way ends within a slice, so that a handler closing its
	// listener never waits for a Close or a Drain that waits for it.
	closing atomic.Bool
	closed  chan struct{} // closed once the first Close is done

	// Held for writing while closing, for reading by Stats, Drain (a slice
	// at a time) and SetCurveClientKeys (useOpen), which the ABI lets run
	// side by side but not with the close.
	mu  sync.RWMutex
	raw *C.jn_listener // nil once closed
}

// ListenOption configures [Host.Listen].
type ListenOption func(*listenConfig)

type listenConfig struct {
	services         []string
	allowList        bool
	threads          uint32
	maxInFlight      uint32
	maxPayload       uint64
	maxUnreadAnswers uint64
	maxUnreadBytes   uint64
	curveSecretKey   *string // nil: no CURVE; given, even empty, it is checked
	curveClientKeys  []string
	curveClientList  bool // ListenCurveClientKeys was given, even with no key
}

// ListenServices serves only the named services: a call for any other
// service is answered NOT_FOUND. Without this option the listener serves
// every service of the host, registered now or later. At least one name is
// required.
func ListenServices(names ...string) ListenOption {
	return func(c *listenConfig) {
		c.services = append(c.services, names...)
		c.allowList = true
	}
}

// ListenThreads sets the number of threads the listener keeps to receive
// calls and run their handlers (0 keeps the default: 4; at most the
// ListenMaxInFlight). When the last free one takes a call the listener
// starts another, so a slow call never holds up the next one; the extra
// threads end when idle.
func ListenThreads(n uint32) ListenOption {
	return func(c *listenConfig) { c.threads = n }
}

// ListenMaxInFlight sets how many calls the listener serves at once (0
// keeps the default: 1024). Beyond them it reads on, queueing up to as many
// calls again with their deadlines started, and their cancels; a queued call
// cancelled or past its deadline is answered without its handler running.
// With the queue full it stops reading until a call ends. [ListenerStats]
// tells the calls queued and those answered unrun.
func ListenMaxInFlight(n uint32) ListenOption {
	return func(c *listenConfig) { c.maxInFlight = n }
}

// ListenMaxPayload sets the largest request payload the listener accepts,
// in bytes: a larger one is answered RESOURCE_EXHAUSTED, and a frame much
// larger than it closes the sender's connection (0 keeps the default:
// 64 MiB).
func ListenMaxPayload(bytes uint64) ListenOption {
	return func(c *listenConfig) { c.maxPayload = bytes }
}

// MaxUnreadAnswers is the most [ListenMaxUnreadAnswers] takes.
const MaxUnreadAnswers = uint64(C.JN_MAX_UNREAD_ANSWERS)

// ListenMaxUnreadAnswers sets how many answers one connection may leave
// unread (ABI 1.6; 0 keeps the default: 1024; at most [MaxUnreadAnswers],
// more is INVALID_ARGUMENT from Listen). While that many wait to be
// written, the connection's new calls are answered RESOURCE_EXHAUSTED; at
// four times as many they are dropped unanswered (docs/wire.md, "Unread
// answers").
func ListenMaxUnreadAnswers(answers uint64) ListenOption {
	return func(c *listenConfig) { c.maxUnreadAnswers = answers }
}

// ListenMaxUnreadBytes sets how many bytes of answers (headers and
// payloads) one connection may leave unread before its new calls are
// answered RESOURCE_EXHAUSTED (ABI 1.6; 0 keeps the default: 256 MiB).
func ListenMaxUnreadBytes(bytes uint64) ListenOption {
	return func(c *listenConfig) { c.maxUnreadBytes = bytes }
}

// ListenCurveSecretKey encrypts every connection with CURVE, ZeroMQ's
// encryption and authentication (tcp and ipc only; ABI 1.8): secretKey is
// the listener's secret key in Z85 ([NewCurveKeyPair]), and a client must
// know the matching public key to connect. Listen answers INVALID_ARGUMENT
// for a key that is not 40 Z85 characters and for a zmq+inproc URL.
func ListenCurveSecretKey(secretKey string) ListenOption {
	return func(c *listenConfig) { c.curveSecretKey = &secretKey }
}

// ListenCurveClientKeys lets in only the clients with these CURVE public
// keys (adding to any given before); a client with another key is refused
// in its handshake and its calls are answered UNAVAILABLE. Without it, any
// client that knows the listener's public key connects; with no key at all
// (a list read from an empty file, say), Listen answers INVALID_ARGUMENT
// rather than let every client in. It needs [ListenCurveSecretKey].
func ListenCurveClientKeys(publicKeys ...string) ListenOption {
	return func(c *listenConfig) {
		c.curveClientKeys = append(c.curveClientKeys, publicKeys...)
		c.curveClientList = true
	}
}

// Listen serves h's services to other hosts on url until the listener is
// closed (ABI 1.2). URLs name the transport:
//
//	zmq+tcp://127.0.0.1:7000     TCP; port 0 lets the system choose (see Listener.URL)
//	zmq+ipc:///run/app/svc.sock  a Unix domain socket at an absolute path
//	zmq+inproc://name            within this process only
//
// The listener binds exactly the address it is given: use a loopback
// address unless other machines should reach it. Calls arrive on the
// listener's threads and run the handlers as in-process calls do, with the
// caller's deadline; the wire protocol is docs/wire.md. Other hosts reach
// the services with [Host.Route].
//
// Listen fails with INVALID_ARGUMENT for a URL junction cannot read (an
// unknown scheme, a malformed address, a NUL byte) or an invalid option,
// UNAVAILABLE when the address cannot be bound (in use, no permission, not
// an address of this machine), and FAILED_PRECONDITION on a closed host.
//
// On a host lent by a module's init ([BorrowHost]) the listener must be
// closed before the host's owner frees it.
func (h *Host) Listen(url string, options ...ListenOption) (*Listener, error) {
	var config listenConfig
	for _, option := range options {
		option(&config)
	}
	cURL, err := cName(url, "URL")
	if err != nil {
		return nil, err
	}
	var names []byte
	if config.allowList {
		if len(config.services) == 0 {
			return nil, Errorf(InvalidArgument,
				"ListenServices needs at least one service name (leave it out to serve every service)")
		}
		if names, err = endToEnd(config.services, "service name", cName); err != nil {
			return nil, err
		}
	}
	secretKey, err := cOptionalKey(config.curveSecretKey, "CURVE secret key")
	if err != nil {
		return nil, err
	}
	if config.curveClientList && len(config.curveClientKeys) == 0 {
		return nil, Errorf(InvalidArgument, "ListenCurveClientKeys with no key would let no client in")
	}
	clientKeys, err := endToEnd(config.curveClientKeys, "CURVE client key", cKey)
	if err != nil {
		return nil, err
	}
	var listener *Listener
	err = h.use(func(host *C.jn_host) error {
		var raw *C.jn_listener
		err := statusError(C.junction_go_listen(host, cChars(cURL), cCharsOrNil(names), C.uint32_t(len(config.services)),
			C.uint32_t(config.threads), C.uint32_t(config.maxInFlight), C.uint64_t(config.maxPayload),
			C.uint64_t(config.maxUnreadAnswers), C.uint64_t(config.maxUnreadBytes),
			cCharsOrNil(secretKey), cCharsOrNil(clientKeys), C.uint32_t(len(config.curveClientKeys)), &raw))
		if err != nil {
			return err
		}
		listener = &Listener{host: h, url: C.GoString(C.jn_listener_url(raw)), raw: raw,
			closed: make(chan struct{})}
		// Still under the read lock: Close, which takes the write lock,
		// finds this listener among the open ones.
		h.listenersMu.Lock()
		if h.listeners == nil {
			h.listeners = make(map[*Listener]struct{})
		}
		h.listeners[listener] = struct{}{}
		h.listenersMu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return listener, nil
}

// endToEnd lays items, each made a C string by convert, end to end, as the
// bridge's C side takes a list (nil for none).
func endToEnd(items []string, what string, convert func(string, string) ([]byte, error)) ([]byte, error) {
	var joined []byte
	for _, item := range items {
		c, err := convert(item, what)
		if err != nil {
			return nil, err
		}
		joined = append(joined, c...)
	}
	return joined, nil
}

// URL is the URL the listener is bound to, with the port the system chose
// when the URL asked for port 0 (zmq+tcp://127.0.0.1:0). It is what other
// hosts pass to [Host.Route]. It stays readable after Close.
func (l *Listener) URL() string { return l.url }

// String is the listener's URL.
func (l *Listener) String() string { return l.url }

// ListenerStats is what a listener has done since it opened; each count
// only grows. InFlight, Threads and Queued are not counts but the state
// when the stats were read.
type ListenerStats struct {
	// Requests is the messages taken from its clients, each a call or
	// unreadable as one.
	Requests uint64
	// Answers is the answers sent, its refusals included.
	Answers uint64
	// RefusedUnread is the calls answered RESOURCE_EXHAUSTED because their
	// connection had too many answers unread (docs/wire.md, "Unread
	// answers").
	RefusedUnread uint64
	// DroppedUnread is the messages dropped unanswered because their
	// connection had even more answers unread.
	DroppedUnread uint64
	// Unreadable is the messages that could not be read as a call (a
	// header it cannot read or of another protocol version, a response, a
	// wrong number of frames), answered with an error where their call id
	// could be read.
	Unreadable uint64
	// RefusedTooLarge is the requests whose payload is over the listener's
	// limit ([ListenMaxPayload]), answered RESOURCE_EXHAUSTED.
	RefusedTooLarge uint64
	// InFlight is the messages being handled.
	InFlight uint64
	// Threads is the listener's threads.
	Threads uint64
	// RefusedHandshakes is the CURVE handshakes refused because their
	// client's key was not let in.
	RefusedHandshakes uint64
	// RefusedClientKey is the calls answered PERMISSION_DENIED because
	// their connection's CURVE key was taken off the list since it
	// connected ([Listener.SetCurveClientKeys]).
	RefusedClientKey uint64
	// Queued is the calls read and waiting for a call in flight to end: a
	// listener serving [ListenMaxInFlight] calls reads on into a queue as
	// deep. They are not counted in InFlight.
	Queued uint64
	// AnsweredUnrun is the queued calls whose turn came after their caller
	// cancelled them or their deadline passed, answered CANCELLED or
	// DEADLINE_EXCEEDED without their handler running.
	AnsweredUnrun uint64
}

// useOpen runs use with the listener, or fails with FAILED_PRECONDITION
// when it is closed or being closed. It does not wait for a Close, which
// waits for the calls in flight: one of them may be the caller.
func (l *Listener) useOpen(use func(raw *C.jn_listener) error) error {
	if !l.mu.TryRLock() {
		return Errorf(FailedPrecondition, "listener %s is being closed", l.url)
	}
	defer l.mu.RUnlock()
	if l.raw == nil {
		return Errorf(FailedPrecondition, "listener %s is closed", l.url)
	}
	return use(l.raw)
}

// Stats reports what the listener has done since it opened. A listener
// closed, or being closed, has no stats: FAILED_PRECONDITION.
func (l *Listener) Stats() (ListenerStats, error) {
	var raw C.jn_listener_stats
	raw.struct_size = C.uint32_t(unsafe.Sizeof(raw))
	if err := l.useOpen(func(open *C.jn_listener) error {
		// An open listener and this size are all it checks: it cannot fail.
		C.jn_listener_stats_get(open, &raw)
		return nil
	}); err != nil {
		return ListenerStats{}, err
	}
	return ListenerStats{
		Requests:          uint64(raw.requests),
		Answers:           uint64(raw.answers),
		RefusedUnread:     uint64(raw.refused_unread),
		DroppedUnread:     uint64(raw.dropped_unread),
		Unreadable:        uint64(raw.unreadable),
		RefusedTooLarge:   uint64(raw.refused_too_large),
		InFlight:          uint64(raw.in_flight),
		Threads:           uint64(raw.threads),
		RefusedHandshakes: uint64(raw.refused_handshakes),
		RefusedClientKey:  uint64(raw.refused_client_key),
		Queued:            uint64(raw.queued),
		AnsweredUnrun:     uint64(raw.answered_unrun),
	}, nil
}

// SetCurveClientKeys lets in the CURVE clients whose public keys are
// publicKeys, and no other, from now on, whatever list (or none) the
// listener started with: new connections are checked in their handshake,
// and the calls of connections made before with a key no longer listed are
// answered PERMISSION_DENIED (ZeroMQ checks a key only when a connection is
// made; the listener checks it again at each call). A key added connects
// at its route's next attempt. Keys are rotated this way without a restart
// and without dropping a call.
//
// It fails, changing nothing, with FAILED_PRECONDITION for a listener
// without CURVE or one closed or being closed, and INVALID_ARGUMENT for no
// key (a list that lets nobody in) or a key that is not 40 Z85 characters.
func (l *Listener) SetCurveClientKeys(publicKeys ...string) error {
	keys, err := endToEnd(publicKeys, "CURVE client key", cKey)
	if err != nil {
		return err
	}
	return l.useOpen(func(open *C.jn_listener) error {
		return statusError(C.junction_go_listener_set_curve_client_keys(open, cCharsOrNil(keys),
			C.uint32_t(len(publicKeys))))
	})
}

// Close stops serving: calls that arrive from now on are answered
// UNAVAILABLE, and calls in flight run to their end and are answered.
// ctx's deadline bounds that drain: Close returns nil once every call in
// flight has been answered, or a DEADLINE_EXCEEDED *Error (errors.Is with
// context.DeadlineExceeded) when the deadline came first, in which case
// those calls' callers see the connection close (their handlers still run
// to their end; [Host.Close] waits for them). Without a deadline, Close
// waits for every call in flight; with a ctx already done it does not wait
// at all. Cancelling ctx while Close waits has no effect: only its deadline
// counts.
//
// Closing a closed listener is a no-op returning nil, and so is a Close
// while another is under way: that one closes the listener. Called from a
// handler the listener is running, Close waits for the other calls in
// flight, and that handler's caller sees the connection close; so a
// handler may close its listener while [Host.Close], another handler or a
// Drain is at work on it. While Close waits, the listener's Stats, Drain
// and SetCurveClientKeys answer FAILED_PRECONDITION at once: a handler
// calling them ends, and with it the wait.
func (l *Listener) Close(ctx context.Context) error {
	if !l.closing.CompareAndSwap(false, true) {
		return nil
	}
	return l.close(drainTimeout(ctx))
}

// Drain does the first half of Close and keeps the listener: calls that
// arrive from now on are answered UNAVAILABLE, and Drain returns nil once
// no call is in flight, or a DEADLINE_EXCEEDED *Error when ctx's deadline
// came first (those calls run on; a later Drain or Close waits again). ctx
// counts as for Close. [Listener.Stats] then reports the calls the drain
// waited for, which a Close would have freed with the listener: a process
// stopping drains its listeners, reads their stats, then closes them.
// Drains may run side by side, and beside Stats. A listener closed or
// being closed cannot be drained: FAILED_PRECONDITION, also for a Drain
// under way when a Close begins (within drainSlice), which then closes the
// listener. Called from a handler the listener is running, Drain waits for
// the other calls in flight; that handler's call is answered when it
// returns.
func (l *Listener) Drain(ctx context.Context) error {
	timeout := drainTimeout(ctx)
	var deadline time.Time
	if timeout != int64(C.JUNCTION_GO_NO_TIMEOUT) {
		deadline = time.Now().Add(time.Duration(timeout))
	}
	for {
		slice := drainSlice
		if !deadline.IsZero() {
			slice = max(min(slice, time.Until(deadline)), 0)
		}
		var code Code
		if err := l.useOpen(func(open *C.jn_listener) error {
			code = Code(C.junction_go_listener_drain(open, C.int64_t(slice)))
			return nil
		}); err != nil {
			return err
		}
		switch {
		case code == OK:
			return nil
		case code != DeadlineExceeded:
			return Errorf(code, "draining listener %s", l.url)
		case !deadline.IsZero() && !time.Now().Before(deadline):
			return Errorf(DeadlineExceeded,
				"listener %s still had calls in flight at the drain deadline", l.url)
		}
	}
}

// drainSlice is the longest a Drain waits in libjunction at a time: a
// Close begun meanwhile, which the ABI does not let run beside it, waits
// no longer for it.
const drainSlice = 50 * time.Millisecond

// drainTimeout is how long ctx lets Close or Drain wait for calls in
// flight: JUNCTION_GO_NO_TIMEOUT without a deadline, 0 once ctx is done.
func drainTimeout(ctx context.Context) int64 {
	if ctx.Err() != nil {
		return 0
	}
	if deadline, ok := ctx.Deadline(); ok {
		return max(int64(time.Until(deadline)), 0)
	}
	return int64(C.JUNCTION_GO_NO_TIMEOUT)
}

// close closes the listener with a drain timeout (JUNCTION_GO_NO_TIMEOUT
// for none) and forgets it on its host. Only the Close that set closing
// calls it.
func (l *Listener) close(timeout int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer close(l.closed)
	code := Code(C.junction_go_listener_close(l.raw, C.int64_t(timeout)))
	l.raw = nil
	l.host.listenersMu.Lock()
	delete(l.host.listeners, l)
	l.host.listenersMu.Unlock()
	switch code {
	case OK:
		return nil
	case DeadlineExceeded:
		return Errorf(DeadlineExceeded,
			"listener %s closed at the drain deadline before every call in flight was answered", l.url)
	default:
		return Errorf(code, "closing listener %s", l.url)
	}
}

// closeListeners closes the host's open listeners, each waiting for its
// calls in flight, or waits for a Close under way (a handler's, which
// ends). Called by Close once no Listen can start.
func (h *Host) closeListeners() {
	h.listenersMu.Lock()
	open := make([]*Listener, 0, len(h.listeners))
	for listener := range h.listeners {
		open = append(open, listener)
	}
	h.listenersMu.Unlock()
	for _, listener := range open {
		if listener.closing.CompareAndSwap(false, true) {
			_ = listener.close(C.JUNCTION_GO_NO_TIMEOUT)
		} else {
			<-listener.closed
		}
	}
}

// RouteOption configures [Host.Route].
type RouteOption func(*routeConfig)

type routeConfig struct {
	connectTimeout time.Duration
	maxPayload     uint64
	// nil: not given; given, even empty, they are checked.
	curveServerKey *string
	curvePair      *CurveKeyPair
}

// RouteConnectTimeout sets how long a call waits for a connection that is
// still being made before it is answered UNAVAILABLE (0 keeps the default:
// one second). A peer known to be down answers at once.
func RouteConnectTimeout(d time.Duration) RouteOption {
	return func(c *routeConfig) { c.connectTimeout = d }
}

// RouteMaxPayload sets the largest request this route sends and the
// largest response it accepts, in bytes: a larger request is answered
// RESOURCE_EXHAUSTED before it is sent, and a larger response closes the
// connection (0 keeps the default: 64 MiB).
func RouteMaxPayload(bytes uint64) RouteOption {
	return func(c *routeConfig) { c.maxPayload = bytes }
}

// RouteCurveServerKey encrypts the route's connection with CURVE (tcp and
// ipc only; ABI 1.8): publicKey is the listener's public key in Z85. The
// route makes a key pair of its own for the connection unless given one
// ([RouteCurveKeyPair]). A listener whose key does not match, or that
// refuses the route's key, answers calls UNAVAILABLE, saying which.
func RouteCurveServerKey(publicKey string) RouteOption {
	return func(c *routeConfig) { c.curveServerKey = &publicKey }
}

// RouteCurveKeyPair gives the route its own CURVE key pair, for a listener
// that lets in only the clients it knows ([ListenCurveClientKeys]). It
// needs [RouteCurveServerKey].
func RouteCurveKeyPair(pair CurveKeyPair) RouteOption {
	return func(c *routeConfig) { c.curvePair = &pair }
}

// Route sends the calls of service to the host serving it at url (a
// [Listener]'s URL, or a junction-host daemon's): every method of service
// then resolves with [Host.Method], and calls on those handles go there.
// The calling code is the same as for a local service; requests, responses,
// status codes and messages, and the ctx deadline all travel.
//
// Routes to one URL with equal options share one connection, which carries
// many calls at once and reconnects by itself. A peer that is down, or dies
// mid-call, answers UNAVAILABLE (or DEADLINE_EXCEEDED at the call's
// deadline), never a hang. A route keeps at most 4096 methods: past that,
// resolving a new name drops those no [Method] or call holds (and their
// statistics), and is RESOURCE_EXHAUSTED only while all 4096 are held.
// [Method.Call] from many goroutines makes
// many remote calls at once, each holding its goroutine's OS thread until
// the answer; [Method.CallAsync] holds no thread while it waits (the
// route's own thread receives the answers), so the host's worker threads
// do not bound the calls in flight.
//
// The route is registered like a service: ALREADY_EXISTS if the name is
// taken, and [Host.Unregister] removes it. INVALID_ARGUMENT for a URL
// junction cannot read or a negative timeout.
func (h *Host) Route(service, url string, options ...RouteOption) error {
	var config routeConfig
	for _, option := range options {
		option(&config)
	}
	if config.connectTimeout < 0 {
		return Errorf(InvalidArgument, "negative connect timeout %v", config.connectTimeout)
	}
	cService, err := cName(service, "service name")
	if err != nil {
		return err
	}
	cURL, err := cName(url, "URL")
	if err != nil {
		return err
	}
	var publicKey, secretKey *string
	if config.curvePair != nil {
		publicKey, secretKey = &config.curvePair.PublicKey, &config.curvePair.SecretKey
	}
	var keys [3][]byte
	for i, key := range []struct {
		text *string
		what string
	}{
		{config.curveServerKey, "CURVE server key"},
		{publicKey, "CURVE public key"},
		{secretKey, "CURVE secret key"},
	} {
		if keys[i], err = cOptionalKey(key.text, key.what); err != nil {
			return err
		}
	}
	return h.use(func(host *C.jn_host) error {
		return statusError(C.junction_go_route(host, cChars(cService), cChars(cURL),
			C.int64_t(config.connectTimeout), C.uint64_t(config.maxPayload),
			cCharsOrNil(keys[0]), cCharsOrNil(keys[1]), cCharsOrNil(keys[2])))
	})
}

// RouteState is the state of a route's connection ([RouteStats]).
type RouteState uint32

const (
	// RouteConnecting: being made, at first or again after a loss.
	RouteConnecting RouteState = C.JN_ROUTE_CONNECTING
	// RouteReady: up; calls go out at once.
	RouteReady RouteState = C.JN_ROUTE_READY
	// RouteDown: the last attempt failed, the connection was lost or the
	// listener stopped answering; calls answer UNAVAILABLE until it is up
	// again (it is made again by itself).
	RouteDown RouteState = C.JN_ROUTE_DOWN
)

func (s RouteState) String() string {
	switch s {
	case RouteConnecting:
		return "CONNECTING"
	case RouteReady:
		return "READY"
	case RouteDown:
		return "DOWN"
	}
	return fmt.Sprintf("RouteState(%d)", uint32(s))
}

// RouteStats is what a route's connection is doing ([Host.RouteStats]).
type RouteStats struct {
	State RouteState // when read
	// ConnectionsLost is the connections lost (or listeners judged
	// silent) since it was first made.
	ConnectionsLost uint64
	// InFlight is the calls sent on it and not yet answered, when read.
	InFlight uint64
}

// RouteStats reports what the connection of the route service is doing
// (ABI 1.7). Routes to one URL with equal options share one connection,
// and report the same. NOT_FOUND when service is not a route.
func (h *Host) RouteStats(service string) (RouteStats, error) {
	cService, err := cName(service, "service name")
	if err != nil {
		return RouteStats{}, err
	}
	var raw C.jn_route_stats
	raw.struct_size = C.uint32_t(unsafe.Sizeof(raw))
	err = h.use(func(host *C.jn_host) error {
		if code := C.jn_host_route_stats(host, cChars(cService), &raw); code != C.JN_OK {
			return Errorf(Code(code), "%q is not a route", service)
		}
		return nil
	})
	if err != nil {
		return RouteStats{}, err
	}
	return RouteStats{
		State:           RouteState(raw.state),
		ConnectionsLost: uint64(raw.connections_lost),
		InFlight:        uint64(raw.in_flight),
	}, nil
}
