package junction_test

// CURVE on a listener and its routes (ABI 1.8): encrypted calls over ipc
// and tcp, a listener's client list, the failures' messages, and options
// refused without repeating a secret.

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
