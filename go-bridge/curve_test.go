package junction_test

// CURVE on a listener and its routes (ABI 1.8): encrypted calls over ipc
// and tcp, a listener's client list and its replacement while it serves
// (ABI 1.9), the failures' messages, and options refused without repeating
// a secret.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"junction"
	"junction/goecho"
)

func newCurveKeyPair(t *testing.T) junction.CurveKeyPair {
	t.Helper()
	pair, err := junction.NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func TestCurveEncryptsAndLetsInOnlyTheListedClients(t *testing.T) {
	serverKeys := newCurveKeyPair(t)
	allowed := newCurveKeyPair(t)
	stranger := newCurveKeyPair(t)
	for _, transport := range transportURLs[1:] { // ipc and tcp
		t.Run(transport.name, func(t *testing.T) {
			server := echoHost(t)
			listener := listen(t, server, transport.url(t),
				junction.ListenCurveSecretKey(serverKeys.SecretKey),
				junction.ListenCurveClientKeys(allowed.PublicKey))
			routed := func(options ...junction.RouteOption) *junction.Host {
				client := newHost(t)
				if err := client.Route(goecho.Name, listener.URL(), options...); err != nil {
					t.Fatal(err)
				}
				return client
			}
			client := routed(junction.RouteCurveServerKey(serverKeys.PublicKey),
				junction.RouteCurveKeyPair(allowed))
			callGoEcho(t, client)

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			refused := routed(junction.RouteCurveServerKey(serverKeys.PublicKey),
				junction.RouteCurveKeyPair(stranger))
			_, err := method(t, refused, goecho.Name, "echo").Call(ctx, []byte("let me in"))
			expectCode(t, "a key the listener does not list", err, junction.Unavailable)
			want := fmt.Sprintf("the listener at %s refused this route's CURVE key (ZAP status 400)", listener.URL())
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("refused: %v, want %q", err, want)
			}
			if stats, err := refused.RouteStats(goecho.Name); err != nil || stats.State != junction.RouteDown {
				t.Fatalf("a refused route: %+v, %v", stats, err)
			}
			plain := routed()
			_, err = method(t, plain, goecho.Name, "echo").Call(ctx, []byte("in the clear"))
			expectCode(t, "a route without CURVE", err, junction.Unavailable)
		})
	}
}

// A list put in force while the listener serves holds at once: a key taken
// off is answered PERMISSION_DENIED on the connection it has, a key put on
// connects at its route's next attempt, and refused lists change nothing.
func TestCurveClientKeysReplacedWhileServingHoldForEveryConnection(t *testing.T) {
	serverKeys := newCurveKeyPair(t)
	first := newCurveKeyPair(t)
	second := newCurveKeyPair(t)
	server := echoHost(t)
	listener := listen(t, server, "zmq+tcp://127.0.0.1:0",
		junction.ListenCurveSecretKey(serverKeys.SecretKey),
		junction.ListenCurveClientKeys(first.PublicKey))
	routed := func(pair junction.CurveKeyPair) *junction.Method {
		client := newHost(t)
		if err := client.Route(goecho.Name, listener.URL(), junction.RouteCurveServerKey(serverKeys.PublicKey),
			junction.RouteCurveKeyPair(pair)); err != nil {
			t.Fatal(err)
		}
		return method(t, client, goecho.Name, "echo")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	firstEcho := routed(first)
	if _, err := firstEcho.Call(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	secondEcho := routed(second)
	_, err := secondEcho.Call(ctx, []byte("second"))
	expectCode(t, "a key not yet let in", err, junction.Unavailable)

	if err := listener.SetCurveClientKeys(second.PublicKey); err != nil {
		t.Fatal(err)
	}
	_, err = firstEcho.Call(ctx, []byte("revoked"))
	expectCode(t, "a key taken off", err, junction.PermissionDenied)
	if want := "this client's CURVE key is no longer let in at " + listener.URL(); !strings.Contains(err.Error(), want) {
		t.Fatalf("revoked: %v, want %q", err, want)
	}
	// The route makes its refused connection again a second later.
	for _, err = secondEcho.Call(ctx, nil); err != nil && ctx.Err() == nil; _, err = secondEcho.Call(ctx, nil) {
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a key put on: %v", err)
	}
	stats, err := listener.Stats()
	if err != nil || stats.RefusedClientKey != 1 || stats.RefusedHandshakes < 1 {
		t.Fatalf("stats: %+v, %v", stats, err)
	}

	expectCode(t, "no key", listener.SetCurveClientKeys(), junction.InvalidArgument)
	expectCode(t, "an empty key", listener.SetCurveClientKeys(first.PublicKey, ""), junction.InvalidArgument)
	err = listener.SetCurveClientKeys(first.SecretKey[1:] + "\x00")
	expectCode(t, "a key with a NUL byte", err, junction.InvalidArgument)
	if strings.Contains(err.Error(), first.SecretKey[1:]) {
		t.Fatalf("the error repeats the key: %v", err)
	}
	if _, err := secondEcho.Call(ctx, []byte("still let in")); err != nil {
		t.Fatalf("after refused lists: %v", err)
	}
	plain := listen(t, server, "zmq+tcp://127.0.0.1:0")
	expectCode(t, "a listener without CURVE", plain.SetCurveClientKeys(first.PublicKey), junction.FailedPrecondition)
	if err := plain.Close(ctx); err != nil {
		t.Fatal(err)
	}
	expectCode(t, "a closed listener", plain.SetCurveClientKeys(first.PublicKey), junction.FailedPrecondition)
}

func TestCurveOptionsAreCheckedWithoutRepeatingASecret(t *testing.T) {
	pair := newCurveKeyPair(t)
	if public, err := junction.CurvePublicKey(pair.SecretKey); err != nil || public != pair.PublicKey {
		t.Fatalf("CurvePublicKey: %q, %v; want %q", public, err, pair.PublicKey)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if printed := fmt.Sprintf(format, pair); strings.Contains(printed, pair.SecretKey) {
			t.Fatalf("%s shows the secret key: %s", format, printed)
		}
	}
	host := echoHost(t)
	_, err := host.Listen(inprocURL(t), junction.ListenCurveSecretKey(pair.SecretKey))
	expectCode(t, "CURVE on inproc", err, junction.InvalidArgument)
	_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveSecretKey(pair.SecretKey[1:]))
	expectCode(t, "a short secret key", err, junction.InvalidArgument)
	withNUL := pair.SecretKey[:20] + "\x00" + pair.SecretKey[21:]
	_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveSecretKey(withNUL))
	expectCode(t, "a secret key with a NUL byte", err, junction.InvalidArgument)
	if strings.Contains(err.Error(), pair.SecretKey[:20]) {
		t.Fatalf("the error repeats the key: %v", err)
	}
	_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveClientKeys(pair.PublicKey))
	expectCode(t, "a client list without a secret key", err, junction.InvalidArgument)
	// An empty key given is refused, not taken for none: a listener asked
	// for CURVE never serves in the clear, and a list of one empty key never
	// lets every client in.
	for _, keys := range [][]string{{""}, {pair.PublicKey, ""}} {
		_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveSecretKey(pair.SecretKey),
			junction.ListenCurveClientKeys(keys...))
		expectCode(t, fmt.Sprintf("client keys %q", keys), err, junction.InvalidArgument)
	}
	// A client list with no key lets no client in: it is refused, never
	// taken for no list (which lets in any client).
	_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveSecretKey(pair.SecretKey),
		junction.ListenCurveClientKeys())
	expectCode(t, "an empty client list", err, junction.InvalidArgument)
	_, err = host.Listen("zmq+tcp://127.0.0.1:0", junction.ListenCurveSecretKey(""))
	expectCode(t, "an empty secret key", err, junction.InvalidArgument)
	err = host.Route("far.away", "zmq+tcp://127.0.0.1:9", junction.RouteCurveServerKey(""))
	expectCode(t, "an empty server key", err, junction.InvalidArgument)
	err = host.Route("far.away", "zmq+tcp://127.0.0.1:9", junction.RouteCurveServerKey(pair.PublicKey),
		junction.RouteCurveKeyPair(junction.CurveKeyPair{}))
	expectCode(t, "an empty pair", err, junction.InvalidArgument)
	err = host.Route("far.away", "zmq+tcp://127.0.0.1:9", junction.RouteCurveKeyPair(pair))
	expectCode(t, "a pair without the server's key", err, junction.InvalidArgument)
	_, err = junction.CurvePublicKey("0123456789")
	expectCode(t, "a key that is not Z85", err, junction.InvalidArgument)
}
