//! Transports within one process: the echo module served on ZeroMQ inproc,
//! ipc and tcp by one host and routed to from another, called by the same
//! code as when it is local; listeners' and routes' errors, closing and
//! draining.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use junction::{
    Buffer, Code, CurveKeyPair, Deadline, Host, HostRef, ListenOptions, Listener, ListenerStats,
    Method, RouteOptions, RouteState, Service,
};

use crate::common::{
    block_on, check_echo_length_checksum, checksum_from_threads, fixture_module, payload, run,
    SIZES,
};

const WAIT: Duration = Duration::from_secs(20);

fn echo_module() -> PathBuf {
    fixture_module("junction-echo-module", "JUNCTION_ECHO_MODULE")
}

/// A unique inproc URL.
fn inproc_url(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "zmq+inproc://rust-test-{what}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A socket path in a fresh directory (removed when dropped).
struct IpcDir(PathBuf);

impl IpcDir {
    fn new() -> IpcDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "jn-rs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        IpcDir(dir)
    }

    fn url(&self, name: &str) -> String {
        format!("zmq+ipc://{}", self.0.join(name).display())
    }
}

impl Drop for IpcDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A host with the echo module (rust.echo) loaded.
fn echo_host() -> Host {
    let host = Host::new().unwrap();
    host.load_module(echo_module()).unwrap();
    host
}

/// A host with `service` routed to `url`.
fn routed(service: &str, url: &str, options: &RouteOptions) -> Host {
    let host = Host::new().unwrap();
    host.route(service, url, options).unwrap();
    host
}

fn expect_code<T: std::fmt::Debug>(what: &str, outcome: junction::Result<T>, code: Code) {
    match outcome {
        Err(status) => assert_eq!(status.code(), code, "{what}: {status}"),
        Ok(value) => panic!("{what}: expected {code}, got {value:?}"),
    }
}

/// The calling code of the location-transparency test: run unchanged
/// against a host holding rust.echo and a host with rust.echo routed
/// elsewhere.
fn call_rust_echo(host: &HostRef) {
    for size in SIZES {
        check_echo_length_checksum(host, "rust.echo", size);
    }
    let echo = host.resolve("rust.echo", "echo").unwrap();
    let request = payload(70_000);
    let back = block_on(echo.call_async(request.clone(), Deadline::none()), WAIT);
    assert_eq!(back.unwrap(), request);
    let mut out = b"prefix".to_vec();
    echo.call_into(b"-and-more", Deadline::after(WAIT), &mut out)
        .unwrap();
    assert_eq!(out, b"prefix-and-more");

    let panic = host.resolve("rust.echo", "panic").unwrap();
    for size in 0..20 {
        let status = panic
            .call(&payload(size), Deadline::after(WAIT))
            .unwrap_err();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(
            status.message(),
            format!("handler panicked: rust.echo/panic called with {size} bytes")
        );
    }
    let relay = host.resolve("rust.echo", "relay").unwrap();
    expect_code(
        "relay to a missing method",
        relay.call(b"rust.echo/nothing\nabc", Deadline::after(WAIT)),
        Code::NotFound,
    );
    assert_eq!(
        relay
            .call(b"rust.echo/echo\nrelayed", Deadline::after(WAIT))
            .unwrap(),
        b"relayed"
    );

    let sleep = host.resolve("rust.echo", "sleep_async").unwrap();
    assert_eq!(
        sleep
            .call(&5_u64.to_le_bytes(), Deadline::after(WAIT))
            .unwrap(),
        5_u64.to_le_bytes()
    );
    let started = Instant::now();
    expect_code(
        "sleep 5 s with a 50 ms deadline",
        sleep.call(
            &5000_u64.to_le_bytes(),
            Deadline::after(Duration::from_millis(50)),
        ),
        Code::DeadlineExceeded,
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    expect_code(
        "a deadline already passed",
        echo.call(b"x", Deadline::from_ns(1)),
        Code::DeadlineExceeded,
    );

    let checksum = Arc::new(host.resolve("rust.echo", "checksum").unwrap());
    checksum_from_threads(&checksum, 8, 50, 5000);
}

#[test]
fn a_routed_service_is_called_like_a_local_one() {
    run(|| {
        let dir = IpcDir::new();
        for url in [
            inproc_url("transparent"),
            dir.url("transparent.sock"),
            "zmq+tcp://127.0.0.1:0".to_owned(),
        ] {
            let server = echo_host();
            let listener = server.listen(&url, &ListenOptions::new()).unwrap();
            let client = routed("rust.echo", listener.url(), &RouteOptions::new());
            call_rust_echo(&server);
            call_rust_echo(&client);
            drop(client);
            listener.close(Deadline::after(WAIT)).unwrap();
        }
    });
}

#[test]
fn listener_urls() {
    run(|| {
        let host = Host::new().unwrap();
        let tcp = host
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let port = tcp.url().strip_prefix("zmq+tcp://127.0.0.1:").unwrap();
        assert!(port.parse::<u16>().unwrap() > 0, "{}", tcp.url());
        expect_code(
            "a second listener on a port in use",
            host.listen(tcp.url(), &ListenOptions::new()),
            Code::Unavailable,
        );
        let dir = IpcDir::new();
        let ipc = dir.url("urls.sock");
        assert_eq!(host.listen(&ipc, &ListenOptions::new()).unwrap().url(), ipc);
        assert!(format!("{tcp:?}").contains(tcp.url()));
        tcp.close(Deadline::none()).unwrap();
    });
}

#[test]
fn listener_stats_count_requests_and_answers() {
    run(|| {
        let server = echo_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let opened = listener.stats();
        assert!(opened.threads >= 1, "{opened:?}");
        assert_eq!(
            opened,
            ListenerStats {
                threads: opened.threads,
                ..ListenerStats::default()
            }
        );
        let client = routed("rust.echo", listener.url(), &RouteOptions::new());
        let echo = client.resolve("rust.echo", "echo").unwrap();
        for _ in 0..3 {
            assert_eq!(echo.call(b"abc", Deadline::after(WAIT)).unwrap(), b"abc");
        }
        expect_code(
            "a method rust.echo lacks",
            client
                .resolve("rust.echo", "no-such-method")
                .unwrap()
                .call(b"", Deadline::after(WAIT)),
            Code::NotFound,
        );
        let limited = server
            .listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new().max_payload_bytes(16),
            )
            .unwrap();
        let to_limited = routed("rust.echo", limited.url(), &RouteOptions::new());
        expect_code(
            "a payload over the listener's limit",
            to_limited
                .resolve("rust.echo", "echo")
                .unwrap()
                .call(&[0; 17], Deadline::after(WAIT)),
            Code::ResourceExhausted,
        );
        assert_eq!(limited.stats().refused_too_large, 1);
        drop(to_limited);
        limited.close(Deadline::after(WAIT)).unwrap();

        let stats = listener.stats();
        assert_eq!(
            stats,
            ListenerStats {
                requests: 4,
                answers: 4,
                // The state when read: a call whose answer is out is in
                // flight until its thread has counted it done.
                in_flight: stats.in_flight,
                threads: stats.threads,
                ..ListenerStats::default()
            }
        );
        drop(client);
        listener.close(Deadline::after(WAIT)).unwrap();
    });
}

#[test]
fn bad_urls_are_refused() {
    run(|| {
        let host = Host::new().unwrap();
        for url in [
            "",
            "nonsense",
            "ftp://127.0.0.1:21",
            "zmq+udp://127.0.0.1:0",
            "zmq+tcp://127.0.0.1",
            "zmq+tcp://127.0.0.1:99999",
            "zmq+ipc://relative/path",
        ] {
            expect_code(
                &format!("listen on {url:?}"),
                host.listen(url, &ListenOptions::new()),
                Code::InvalidArgument,
            );
            expect_code(
                &format!("route to {url:?}"),
                host.route("elsewhere", url, &RouteOptions::new()),
                Code::InvalidArgument,
            );
        }
        let dir = IpcDir::new();
        let missing = format!("zmq+ipc://{}/missing/s.sock", dir.0.display());
        for url in [missing.as_str(), "zmq+tcp://192.0.2.1:0"] {
            expect_code(
                &format!("listen on {url:?}"),
                host.listen(url, &ListenOptions::new()),
                Code::Unavailable,
            );
        }
    });
}

#[test]
fn only_the_listed_services_are_served() {
    run(|| {
        let server = echo_host();
        server
            .register(Service::new("hidden").method("get", |_: &[u8], _| Ok(b"secret".to_vec())))
            .unwrap();
        let listener = server
            .listen(
                &inproc_url("listed"),
                &ListenOptions::new().services(["rust.echo"]),
            )
            .unwrap();
        let client = Host::new().unwrap();
        for service in ["rust.echo", "hidden"] {
            client
                .route(service, listener.url(), &RouteOptions::new())
                .unwrap();
        }
        check_echo_length_checksum(&client, "rust.echo", 100);
        let hidden = client.resolve("hidden", "get").unwrap();
        expect_code(
            "a service left out of the list",
            hidden.call(b"", Deadline::after(WAIT)),
            Code::NotFound,
        );
        drop(client);
        listener.close(Deadline::none()).unwrap();
    });
}

#[test]
fn unread_answer_bounds_reach_the_listener() {
    run(|| {
        let server = echo_host();
        let over = junction::sys::JN_MAX_UNREAD_ANSWERS + 1;
        match server.listen(
            "zmq+tcp://127.0.0.1:0",
            &ListenOptions::new().max_unread_answers(over),
        ) {
            Err(status) => {
                assert_eq!(status.code(), Code::InvalidArgument, "{status}");
                assert!(status.message().contains("max_unread_answers"), "{status}");
            }
            Ok(listener) => panic!("a bound of {over} was taken: {}", listener.url()),
        }
        let listener = server
            .listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new()
                    .max_unread_answers(junction::sys::JN_MAX_UNREAD_ANSWERS)
                    .max_unread_answer_bytes(1 << 20),
            )
            .unwrap();
        let client = routed("rust.echo", listener.url(), &RouteOptions::new());
        let echo = client.resolve("rust.echo", "echo").unwrap();
        for _ in 0..3 {
            assert_eq!(echo.call(b"abc", Deadline::after(WAIT)).unwrap(), b"abc");
        }
        assert_eq!(listener.stats().refused_unread, 0);
        drop(client);
        listener.close(Deadline::after(WAIT)).unwrap();
    });
}

#[test]
fn payload_limits() {
    run(|| {
        let server = echo_host();
        let listener = server
            .listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new()
                    .threads(2)
                    .max_in_flight(8)
                    .max_payload_bytes(1024),
            )
            .unwrap();
        let client = routed("rust.echo", listener.url(), &RouteOptions::new());
        let echo = client.resolve("rust.echo", "echo").unwrap();
        assert_eq!(
            echo.call(&payload(1024), Deadline::after(WAIT)).unwrap(),
            payload(1024)
        );
        expect_code(
            "over the listener's limit",
            echo.call(&payload(1025), Deadline::after(WAIT)),
            Code::ResourceExhausted,
        );
        let limited = routed(
            "rust.echo",
            listener.url(),
            &RouteOptions::new()
                .max_payload_bytes(100)
                .connect_timeout(Duration::from_secs(2)),
        );
        let limited_echo = limited.resolve("rust.echo", "echo").unwrap();
        assert_eq!(
            limited_echo
                .call(&payload(100), Deadline::after(WAIT))
                .unwrap(),
            payload(100)
        );
        expect_code(
            "over the route's limit",
            limited_echo.call(&payload(101), Deadline::after(WAIT)),
            Code::ResourceExhausted,
        );
        drop((client, limited));
        listener.close(Deadline::none()).unwrap();
    });
}

#[test]
fn routes_are_registered_like_services() {
    run(|| {
        let host = echo_host();
        let options = RouteOptions::new();
        expect_code(
            "a route over a registered service",
            host.route("rust.echo", "zmq+tcp://127.0.0.1:1", &options),
            Code::AlreadyExists,
        );
        host.route("elsewhere", "zmq+tcp://127.0.0.1:1", &options)
            .unwrap();
        expect_code(
            "a second route for one name",
            host.route("elsewhere", "zmq+tcp://127.0.0.1:2", &options),
            Code::AlreadyExists,
        );
        let method = host.resolve("elsewhere", "anything").unwrap();
        host.unregister("elsewhere").unwrap();
        expect_code(
            "a call on an unregistered route",
            method.call(b"", Deadline::after(WAIT)),
            Code::NotFound,
        );
        host.route("elsewhere", "zmq+tcp://127.0.0.1:1", &options)
            .unwrap();
    });
}

#[test]
fn services_lists_a_modules_services_and_routes_by_name() {
    run(|| {
        let host = echo_host();
        let url = inproc_url("listed");
        host.route("a.route", &url, &RouteOptions::new()).unwrap();
        let services = host.services().unwrap();
        let names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a.route", "rust.echo"]);
        assert!(services[0].methods.is_empty(), "a route lists no methods");
        assert_eq!(services[0].route_url.as_deref(), Some(url.as_str()));
        assert_eq!(
            services[1].methods,
            [
                "checksum",
                "echo",
                "length",
                "panic",
                "relay",
                "sleep_async"
            ]
        );
        assert_eq!(services[1].route_url, None);

        host.unregister("a.route").unwrap();
        let names: Vec<String> = host
            .services()
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["rust.echo"]);
    });
}

#[test]
fn route_stats_follow_the_listener() {
    run(|| {
        let server = echo_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let url = listener.url().to_owned();
        let client = routed("rust.echo", &url, &RouteOptions::new());
        let echo = client.resolve("rust.echo", "echo").unwrap();
        assert_eq!(echo.call(b"abc", Deadline::after(WAIT)).unwrap(), b"abc");
        let stats = client.route_stats("rust.echo").unwrap();
        assert_eq!(
            (stats.state, stats.connections_lost, stats.in_flight),
            (RouteState::Ready, 0, 0)
        );
        listener.close(Deadline::after(WAIT)).unwrap();
        // The listener's two connections close one after the other: the
        // route may be down for the first before it counts the loss of the
        // second.
        let give_up = Instant::now() + WAIT;
        let lost = |stats: junction::RouteStats| {
            stats.state == RouteState::Down && stats.connections_lost >= 1
        };
        while !lost(client.route_stats("rust.echo").unwrap()) && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
        let stats = client.route_stats("rust.echo").unwrap();
        assert_eq!(stats.state, RouteState::Down, "{stats:?}");
        assert!(stats.connections_lost >= 1, "{stats:?}");
        expect_code(
            "stats of a registered service",
            server.route_stats("rust.echo"),
            Code::NotFound,
        );
        drop(echo);
    });
}

/// A tcp listener on `server` encrypting with `server_keys` and letting in
/// `client`'s key only.
fn curve_listener<'host>(
    server: &'host Host,
    server_keys: &CurveKeyPair,
    client: &CurveKeyPair,
) -> Listener<'host> {
    server
        .listen(
            "zmq+tcp://127.0.0.1:0",
            &ListenOptions::new()
                .curve_secret_key(server_keys.secret_key.clone())
                .curve_client_keys([client.public_key.clone()]),
        )
        .unwrap()
}

/// A host routing "rust.echo" to `url` with CURVE: the listener's public
/// key, and `pair` as the route's own.
fn curve_routed(url: &str, server_keys: &CurveKeyPair, pair: &CurveKeyPair) -> Host {
    routed(
        "rust.echo",
        url,
        &RouteOptions::new()
            .curve_server_key(server_keys.public_key.clone())
            .curve_key_pair(pair),
    )
}

#[test]
fn curve_encrypts_and_refuses_keys_the_listener_does_not_allow() {
    run(|| {
        let server_keys = CurveKeyPair::generate().unwrap();
        let allowed = CurveKeyPair::generate().unwrap();
        let stranger = CurveKeyPair::generate().unwrap();
        assert_eq!(
            junction::curve_public_key(&server_keys.secret_key).unwrap(),
            server_keys.public_key
        );
        let server = echo_host();
        let listener = curve_listener(&server, &server_keys, &allowed);
        let to_server = |pair: &CurveKeyPair| curve_routed(listener.url(), &server_keys, pair);
        let client = to_server(&allowed);
        call_rust_echo(&client);
        assert_eq!(
            client.route_stats("rust.echo").unwrap().state,
            RouteState::Ready
        );

        let refused = to_server(&stranger);
        let error = refused
            .resolve("rust.echo", "echo")
            .unwrap()
            .call(b"", Deadline::after(WAIT))
            .unwrap_err();
        assert_eq!(error.code(), Code::Unavailable, "{error}");
        assert_eq!(
            error.message(),
            format!(
                "the listener at {} refused this route's CURVE key (ZAP status 400)",
                listener.url()
            )
        );

        let plain = routed("rust.echo", listener.url(), &RouteOptions::new());
        let error = plain
            .resolve("rust.echo", "echo")
            .unwrap()
            .call(b"", Deadline::after(WAIT))
            .unwrap_err();
        assert_eq!(error.code(), Code::Unavailable, "{error}");
    });
}

#[test]
fn curve_client_keys_replaced_while_serving_hold_for_every_connection() {
    run(|| {
        let server_keys = CurveKeyPair::generate().unwrap();
        let first = CurveKeyPair::generate().unwrap();
        let second = CurveKeyPair::generate().unwrap();
        let server = echo_host();
        let listener = curve_listener(&server, &server_keys, &first);
        let to_server = |pair: &CurveKeyPair| curve_routed(listener.url(), &server_keys, pair);
        let first_client = to_server(&first);
        call_rust_echo(&first_client);
        let second_client = to_server(&second);
        let second_echo = second_client.resolve("rust.echo", "echo").unwrap();
        expect_code(
            "a key not yet let in",
            second_echo.call(b"", Deadline::after(WAIT)),
            Code::Unavailable,
        );

        listener
            .set_curve_client_keys([second.public_key.as_str()])
            .unwrap();
        let error = first_client
            .resolve("rust.echo", "echo")
            .unwrap()
            .call(b"revoked", Deadline::after(WAIT))
            .unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied, "{error}");
        assert_eq!(
            error.message(),
            format!(
                "this client's CURVE key is no longer let in at {}",
                listener.url()
            )
        );
        // The route makes its refused connection again a second later.
        let give_up = Instant::now() + WAIT;
        while second_echo.call(b"", Deadline::after(WAIT)).is_err() && Instant::now() < give_up {
            thread::sleep(Duration::from_millis(50));
        }
        call_rust_echo(&second_client);
        let stats = listener.stats();
        assert_eq!(stats.refused_client_key, 1, "{stats:?}");
        assert!(stats.refused_handshakes >= 1, "{stats:?}");

        // Refusals change nothing.
        expect_code(
            "no key",
            listener.set_curve_client_keys(Vec::<String>::new()),
            Code::InvalidArgument,
        );
        let with_nul = format!("{}\0", &first.public_key[1..]);
        expect_code(
            "a key with a NUL byte",
            listener.set_curve_client_keys([with_nul]),
            Code::InvalidArgument,
        );
        expect_code(
            "a short key",
            listener.set_curve_client_keys(["short"]),
            Code::InvalidArgument,
        );
        call_rust_echo(&second_client);
        let plain = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        expect_code(
            "a listener without CURVE",
            plain.set_curve_client_keys([first.public_key.as_str()]),
            Code::FailedPrecondition,
        );
    });
}

#[test]
fn an_empty_curve_client_list_is_refused_not_taken_for_none() {
    run(|| {
        let server_keys = CurveKeyPair::generate().unwrap();
        let stranger = CurveKeyPair::generate().unwrap();
        let server = echo_host();
        let dir = IpcDir::new();
        let url = dir.url("curve.sock");
        // No list lets in any client that knows the listener's key; a list
        // of no keys is refused rather than read as that.
        let options = ListenOptions::new()
            .curve_secret_key(server_keys.secret_key.clone())
            .curve_client_keys(Vec::<String>::new());
        expect_code(
            "an empty client list",
            server.listen(&url, &options),
            Code::InvalidArgument,
        );
        // Nothing listens there.
        assert!(!dir.0.join("curve.sock").exists());
        let client = routed(
            "rust.echo",
            &url,
            &RouteOptions::new()
                .connect_timeout(Duration::from_millis(200))
                .curve_server_key(server_keys.public_key.clone())
                .curve_key_pair(&stranger),
        );
        expect_code(
            "a call to the refused listener's URL",
            client
                .resolve("rust.echo", "echo")
                .unwrap()
                .call(b"", Deadline::after(WAIT)),
            Code::Unavailable,
        );
    });
}

#[test]
fn bad_curve_options_are_refused_without_repeating_a_secret() {
    run(|| {
        let host = echo_host();
        let pair = CurveKeyPair::generate().unwrap();
        assert!(!format!("{pair:?}").contains(&pair.secret_key));
        let options = ListenOptions::new().curve_secret_key(pair.secret_key.clone());
        assert!(!format!("{options:?}").contains(&pair.secret_key));
        expect_code(
            "CURVE on inproc",
            host.listen(&inproc_url("curve"), &options),
            Code::InvalidArgument,
        );
        let short = ListenOptions::new().curve_secret_key("short");
        expect_code(
            "a short key",
            host.listen("zmq+tcp://127.0.0.1:0", &short),
            Code::InvalidArgument,
        );
        let with_nul = format!("{}\0", &pair.secret_key[1..]);
        let error = host
            .listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new().curve_secret_key(with_nul.clone()),
            )
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(!error.message().contains(&pair.secret_key[1..]), "{error}");
        let options = RouteOptions::new().curve_key_pair(&pair);
        assert!(!format!("{options:?}").contains(&pair.secret_key));
        expect_code(
            "a pair without the server's key",
            host.route("svc", "zmq+tcp://127.0.0.1:9", &options),
            Code::InvalidArgument,
        );
        expect_code(
            "a key that is not Z85",
            junction::curve_public_key("0123456789"),
            Code::InvalidArgument,
        );
        // A key given empty is refused, not taken for none: a listener asked
        // for CURVE never serves in the clear.
        expect_code(
            "an empty secret key",
            host.listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new().curve_secret_key(""),
            ),
            Code::InvalidArgument,
        );
        expect_code(
            "an empty server key",
            host.route(
                "svc",
                "zmq+tcp://127.0.0.1:9",
                &RouteOptions::new().curve_server_key(""),
            ),
            Code::InvalidArgument,
        );
    });
}

/// A URL nobody listens on: a port a listener was given and gave back.
fn free_tcp_url() -> String {
    let host = Host::new().unwrap();
    let listener = host
        .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
        .unwrap();
    let url = listener.url().to_owned();
    listener.close(Deadline::none()).unwrap();
    url
}

#[test]
fn calls_to_a_dead_url_are_unavailable() {
    run(|| {
        let dir = IpcDir::new();
        for url in [free_tcp_url(), dir.url("nobody.sock"), inproc_url("nobody")] {
            let host = routed(
                "rust.echo",
                &url,
                &RouteOptions::new().connect_timeout(Duration::from_millis(200)),
            );
            let echo = host.resolve("rust.echo", "echo").unwrap();
            let started = Instant::now();
            expect_code(
                &format!("a call to {url}"),
                echo.call(b"x", Deadline::after(WAIT)),
                Code::Unavailable,
            );
            assert!(
                started.elapsed() < Duration::from_secs(3),
                "UNAVAILABLE from {url} after {:?}",
                started.elapsed()
            );
            let outcome = block_on(echo.call_async(b"x".to_vec(), Deadline::after(WAIT)), WAIT);
            expect_code(
                &format!("an async call to {url}"),
                outcome,
                Code::Unavailable,
            );
        }
    });
}

/// A service whose `wait` method blocks until [`Release::one`] lets one
/// call go, or the [`Release`] is dropped (which lets every call go), and
/// tells `started` when a call has begun.
///
/// Freeing any host waits for the synchronous calls in flight in the whole
/// process, these included, so the `Release` must be dropped before the
/// hosts: declare it after them.
fn blocking_service(host: &HostRef) -> (mpsc::Receiver<()>, Release) {
    let (started_tx, started) = mpsc::sync_channel::<()>(16);
    let (release, release_rx) = mpsc::sync_channel::<()>(16);
    let release_rx = std::sync::Mutex::new(release_rx);
    let started_tx = std::sync::Mutex::new(started_tx);
    host.register(Service::new("blocking").method("wait", move |_: &[u8], _| {
        let _ = started_tx.lock().unwrap().send(());
        let _ = release_rx.lock().unwrap().recv();
        Ok(b"released".to_vec())
    }))
    .unwrap();
    (started, Release(release))
}

struct Release(mpsc::SyncSender<()>);

impl Release {
    fn one(&self) {
        self.0.send(()).unwrap();
    }
}

/// The blocking service of `server` served over tcp, and a client host
/// routed to it with `blocking/wait` resolved. Bound in this order, release
/// is dropped first, before the hosts: a call still blocked then ends.
fn blocking_route(
    server: &HostRef,
) -> (Listener<'_>, Host, Arc<Method>, mpsc::Receiver<()>, Release) {
    let (started, release) = blocking_service(server);
    let listener = server
        .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
        .unwrap();
    let client = routed("blocking", listener.url(), &RouteOptions::new());
    let wait = Arc::new(client.resolve("blocking", "wait").unwrap());
    (listener, client, wait, started, release)
}

/// Calls `wait` on a thread of its own.
fn call_in_background(wait: &Arc<Method>) -> thread::JoinHandle<junction::Result<Buffer>> {
    let wait = Arc::clone(wait);
    thread::spawn(move || wait.call(b"", Deadline::after(WAIT)))
}

/// Runs `operation` on another thread while a blocked call holds it up:
/// whether it was still waiting 100 ms later, and its result once `release`
/// ends the call.
fn waits_until_released<T: Send>(
    release: &Release,
    operation: impl FnOnce() -> T + Send,
) -> (bool, T) {
    thread::scope(|scope| {
        let running = scope.spawn(operation);
        thread::sleep(Duration::from_millis(100));
        let waited = !running.is_finished();
        release.one();
        (waited, running.join().unwrap())
    })
}

#[test]
fn close_drains_calls_in_flight() {
    run(|| {
        let server = Host::new().unwrap();
        let (listener, _client, wait, started, release) = blocking_route(&server);
        let caller = call_in_background(&wait);
        started.recv_timeout(WAIT).unwrap();
        let (waited, closed) = waits_until_released(&release, || listener.close(Deadline::none()));
        let answered = caller.join().unwrap();
        assert!(waited, "close did not wait for the call in flight");
        closed.unwrap();
        assert_eq!(answered.unwrap(), b"released");
    });
}

/// `drain` waits for the call in flight as `close` does but keeps the
/// listener: later calls are answered UNAVAILABLE, its stats count the
/// call the drain waited for, and a drain whose deadline passes first
/// leaves the call running for `close` to wait for.
#[test]
fn drain_waits_for_calls_in_flight_and_keeps_the_listener() {
    run(|| {
        let server = Host::new().unwrap();
        let (listener, client, wait, started, release) = blocking_route(&server);
        let caller = call_in_background(&wait);
        started.recv_timeout(WAIT).unwrap();
        expect_code(
            "a drain whose deadline passes first",
            listener.drain(Deadline::after(Duration::from_millis(50))),
            Code::DeadlineExceeded,
        );
        let (waited, drained) = waits_until_released(&release, || listener.drain(Deadline::none()));
        assert!(waited, "drain did not wait for the call in flight");
        drained.unwrap();
        assert_eq!(caller.join().unwrap().unwrap(), b"released");
        let answered = listener.stats();
        assert_eq!((answered.requests, answered.answers), (1, 1));

        expect_code(
            "a call after the drain",
            call_in_background(&wait).join().unwrap(),
            Code::Unavailable,
        );
        let refused = listener.stats();
        assert_eq!((refused.requests, refused.answers), (2, 2));
        assert!(listener.url().starts_with("zmq+tcp://127.0.0.1:"));
        drop(client);
        listener.close(Deadline::after(WAIT)).unwrap();
    });
}

/// A drain deadline cuts `close` short, and dropping a listener does not
/// wait at all; the call cut off is answered by its own deadline at the
/// latest: UNAVAILABLE where the transport sees the connection close (ipc,
/// tcp), DEADLINE_EXCEEDED at the caller's deadline where it cannot
/// (inproc); the ABI allows both, never a hang.
#[test]
fn close_stops_draining_at_its_deadline_and_drop_does_not_wait() {
    run(|| {
        let dir = IpcDir::new();
        let server = Host::new().unwrap();
        let (started, release) = blocking_service(&server);
        let client = Host::new().unwrap();
        let release = release; // dropped before the hosts
        for transport in ["inproc", "ipc", "tcp"] {
            for how in ["close", "drop"] {
                // A fresh address each time: this is not about rebinding.
                let url = match transport {
                    "inproc" => inproc_url(how),
                    "ipc" => dir.url(&format!("cut-{how}.sock")),
                    _ => "zmq+tcp://127.0.0.1:0".to_owned(),
                };
                let listener = server.listen(&url, &ListenOptions::new()).unwrap();
                client.unregister("blocking").ok();
                client
                    .route("blocking", listener.url(), &RouteOptions::new())
                    .unwrap();
                let wait = Arc::new(client.resolve("blocking", "wait").unwrap());
                let call_deadline = Duration::from_secs(3);
                let caller = {
                    let wait = Arc::clone(&wait);
                    thread::spawn(move || {
                        let began = Instant::now();
                        (
                            wait.call(b"", Deadline::after(call_deadline)),
                            began.elapsed(),
                        )
                    })
                };
                started.recv_timeout(WAIT).unwrap();
                let began = Instant::now();
                let closed = if how == "close" {
                    listener.close(Deadline::after(Duration::from_millis(100)))
                } else {
                    drop(listener);
                    Ok(())
                };
                let took = began.elapsed();
                let (outcome, waited) = caller.join().unwrap();
                release.one(); // the handler runs to its end
                if how == "close" {
                    let error = closed.unwrap_err();
                    assert_eq!(error.code(), Code::DeadlineExceeded, "{error}");
                }
                assert!(
                    took < Duration::from_secs(2),
                    "{how} on {url} took {took:?}"
                );
                match outcome {
                    Err(status)
                        if status.code() == Code::Unavailable
                            || status.code() == Code::DeadlineExceeded =>
                    {
                        println!("a call cut off by {how} on {url}: {status} after {waited:?}")
                    }
                    other => panic!("a call cut off by {how} on {url}: {other:?}"),
                }
                assert!(
                    waited < call_deadline + Duration::from_secs(1),
                    "a call cut off by {how} on {url} answered after {waited:?}"
                );
            }
        }
    });
}

#[test]
fn calls_after_close_are_unavailable() {
    run(|| {
        let server = echo_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let url = listener.url().to_owned();
        let client = routed(
            "rust.echo",
            &url,
            &RouteOptions::new().connect_timeout(Duration::from_millis(200)),
        );
        let echo = client.resolve("rust.echo", "echo").unwrap();
        assert_eq!(echo.call(b"open", Deadline::after(WAIT)).unwrap(), b"open");
        listener.close(Deadline::after(WAIT)).unwrap();
        let started = Instant::now();
        expect_code(
            "a call after close",
            echo.call(b"closed", Deadline::after(WAIT)),
            Code::Unavailable,
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    });
}
