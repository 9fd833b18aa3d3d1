//! Cancels (ABI 1.10): a routed call ended while it waits for its answer,
//! a cancel signalled before the call, which methods wait, a cancel never
//! signalled, a handler in another host seeing its caller give up, a call
//! queued at a full listener cancelled before its turn, and an
//! asynchronous call cancelled by dropping its future.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use junction::{Cancel, Code, Deadline, Host, HostOptions, ListenOptions, RouteOptions, Service};

use crate::common::{block_on, run, wait_until};

const WAIT: Duration = Duration::from_secs(20);

/// Opens on drop, so that a failing test does not leave a handler blocked
/// (freeing a host waits for the handlers in flight): declare it after the
/// hosts.
struct Gate(Arc<AtomicBool>);

impl Gate {
    fn open(&self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// A host serving `gated/wait`, whose handler tells `entered` it began,
/// then blocks until the gate opens (polled every millisecond) or the
/// call's deadline passes.
fn gated_host() -> (Host, mpsc::Receiver<()>, Gate) {
    let open = Arc::new(AtomicBool::new(false));
    let (entered_tx, entered) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let host = Host::new().unwrap();
    let gate = Arc::clone(&open);
    host.register(
        Service::new("gated").method("wait", move |_: &[u8], deadline: Deadline| {
            let _ = entered_tx.lock().unwrap().send(());
            while !gate.load(Ordering::Acquire) {
                if deadline.has_passed() {
                    return Err(junction::Status::new(
                        Code::DeadlineExceeded,
                        "the gate stayed shut",
                    ));
                }
                thread::sleep(Duration::from_millis(1));
            }
            Ok(b"through".to_vec())
        }),
    )
    .unwrap();
    (host, entered, Gate(open))
}

#[test]
fn a_routed_call_waiting_for_its_answer_is_cancelled() {
    run(|| {
        let (server, entered, gate) = gated_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let url = listener.url().to_owned();
        let client = Host::new().unwrap();
        client.route("gated", &url, &RouteOptions::new()).unwrap();
        let gate = gate; // opened before the hosts are freed
        let wait = Arc::new(client.resolve("gated", "wait").unwrap());
        let cancel = Arc::new(Cancel::new().unwrap());

        let caller = {
            let (wait, cancel) = (Arc::clone(&wait), Arc::clone(&cancel));
            thread::spawn(move || {
                let outcome = wait.call_cancellable(b"", Deadline::after(WAIT), &cancel);
                (outcome, Instant::now())
            })
        };
        entered.recv_timeout(WAIT).unwrap();
        let signalled = Instant::now();
        cancel.signal();
        let (outcome, answered) = caller.join().unwrap();
        let error = outcome.unwrap_err();
        assert_eq!(error.code(), Code::Cancelled, "{error}");
        assert_eq!(
            error.message(),
            format!("call to {url} cancelled by its caller")
        );
        // Answered by the cancel, not by the handler or the deadline.
        assert!(
            answered.duration_since(signalled) < Duration::from_secs(2),
            "cancelled after {:?}",
            answered.duration_since(signalled)
        );

        // The handler ran on; its late answer is dropped and the route
        // carries the next call.
        gate.open();
        assert_eq!(wait.call(b"", Deadline::after(WAIT)).unwrap(), b"through");
        drop(client);
        listener.close(Deadline::after(WAIT)).unwrap();
    });
}

#[test]
fn a_call_queued_at_a_full_listener_and_cancelled_is_answered_unrun() {
    run(|| {
        let (server, entered, gate) = gated_host();
        let listener = server
            .listen(
                "zmq+tcp://127.0.0.1:0",
                &ListenOptions::new().threads(1).max_in_flight(2),
            )
            .unwrap();
        let client = Host::new().unwrap();
        client
            .route("gated", listener.url(), &RouteOptions::new())
            .unwrap();
        let gate = gate; // opened before the hosts are freed
        let wait = Arc::new(client.resolve("gated", "wait").unwrap());
        let call = |cancel: Option<Arc<Cancel>>| {
            let wait = Arc::clone(&wait);
            thread::spawn(move || match cancel {
                Some(cancel) => wait.call_cancellable(b"", Deadline::after(WAIT), &cancel),
                None => wait.call(b"", Deadline::after(WAIT)),
            })
        };
        let holders = [call(None), call(None)];
        for _ in &holders {
            entered.recv_timeout(WAIT).unwrap();
        }
        let cancel = Arc::new(Cancel::new().unwrap());
        let cancelled = call(Some(Arc::clone(&cancel)));
        wait_until(WAIT, || listener.stats().queued == 1);
        let full = listener.stats();
        assert_eq!((full.in_flight, full.queued), (2, 1), "{full:?}");

        cancel.signal();
        let error = cancelled.join().unwrap().unwrap_err();
        assert_eq!(error.code(), Code::Cancelled, "{error}");
        // Sent after the cancel on the same connection, so read after it.
        let next = call(None);
        wait_until(WAIT, || listener.stats().queued == 2);
        let both_queued = listener.stats();
        assert_eq!(both_queued.queued, 2, "{both_queued:?}");
        assert_eq!(
            both_queued.answered_unrun, 0,
            "answered before its turn: {both_queued:?}"
        );
        gate.open();
        for holder in holders.into_iter().chain([next]) {
            assert_eq!(holder.join().unwrap().unwrap(), b"through");
        }
        wait_until(WAIT, || listener.stats().answers == 4);
        let after = listener.stats();
        assert_eq!(after.answers, 4, "{after:?}");
        assert_eq!((after.queued, after.answered_unrun), (0, 1), "{after:?}");
        assert_eq!(
            entered.try_iter().count(),
            1,
            "only the next call's handler ran since"
        );
        drop(client);
        listener.close(Deadline::after(WAIT)).unwrap();
    });
}

#[test]
fn a_cancel_signalled_before_the_call_refuses_it() {
    run(|| {
        let (host, _entered, _gate) = gated_host();
        let wait = host.resolve("gated", "wait").unwrap();
        let cancel = Cancel::new().unwrap();
        cancel.signal();
        let error = wait
            .call_cancellable(b"", Deadline::after(WAIT), &cancel)
            .unwrap_err();
        assert_eq!(error.code(), Code::Cancelled, "{error}");
        assert_eq!(
            error.message(),
            "call cancelled by its caller before it started"
        );
        // It stays signalled.
        let again = wait
            .call_cancellable(b"", Deadline::after(WAIT), &cancel)
            .unwrap_err();
        assert_eq!(again.code(), Code::Cancelled, "{again}");
    });
}

#[test]
fn routed_methods_wait_and_local_synchronous_ones_do_not() {
    run(|| {
        let (server, _entered, _gate) = gated_host();
        let local = server.resolve("gated", "wait").unwrap();
        assert!(!local.waits());
        let client = Host::new().unwrap();
        client
            .route(
                "gated",
                "zmq+inproc://rust-test-cancel-waits",
                &RouteOptions::new(),
            )
            .unwrap();
        assert!(client.resolve("gated", "wait").unwrap().waits());
    });
}

#[test]
fn a_cancel_never_signalled_changes_nothing() {
    run(|| {
        let host = Host::new().unwrap();
        host.register(Service::new("echo").method("echo", |r: &[u8], _| Ok(r.to_vec())))
            .unwrap();
        let echo = host.resolve("echo", "echo").unwrap();
        let cancel = Cancel::new().unwrap();
        for request in [&b""[..], b"hello", &[7; 4096]] {
            let response = echo
                .call_cancellable(request, Deadline::after(WAIT), &cancel)
                .unwrap();
            assert_eq!(response, request);
        }
    });
}

/// A host serving `watching/wait`, whose handler tells `entered` it began,
/// then waits for its caller to give up (`call_cancelled`), sets `saw` and
/// answers Cancelled of its own accord; and `echo/echo`.
fn watching_host() -> (Host, mpsc::Receiver<()>, Arc<AtomicBool>) {
    let saw = Arc::new(AtomicBool::new(false));
    let (entered_tx, entered) = mpsc::channel();
    let entered_tx = Mutex::new(entered_tx);
    let server = Host::new().unwrap();
    let seen = Arc::clone(&saw);
    server
        .register(
            Service::new("watching").method("wait", move |_: &[u8], deadline: Deadline| {
                let _ = entered_tx.lock().unwrap().send(());
                while !deadline.has_passed() {
                    if junction::call_cancelled() {
                        seen.store(true, Ordering::Release);
                        return Err(junction::Status::new(Code::Cancelled, "gave up"));
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                Ok(b"never cancelled".to_vec())
            }),
        )
        .unwrap();
    server
        .register(Service::new("echo").method("echo", |r: &[u8], _| Ok(r.to_vec())))
        .unwrap();
    (server, entered, saw)
}

/// Waits (up to `WAIT`) for the handler of `watching_host` to see its
/// caller give up.
fn assert_saw_cancel(saw: &AtomicBool) {
    wait_until(WAIT, || saw.load(Ordering::Acquire));
    assert!(
        saw.load(Ordering::Acquire),
        "the handler never saw the cancel"
    );
}

/// A handler serving a call from another host sees its caller give up
/// (`call_cancelled`: the cancel reached the listener).
#[test]
fn a_handler_sees_its_caller_give_up() {
    run(|| {
        let (server, entered, saw) = watching_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let client = Host::new().unwrap();
        client
            .route("watching", listener.url(), &RouteOptions::new())
            .unwrap();
        let wait = Arc::new(client.resolve("watching", "wait").unwrap());
        let cancel = Arc::new(Cancel::new().unwrap());
        let caller = {
            let (wait, cancel) = (Arc::clone(&wait), Arc::clone(&cancel));
            thread::spawn(move || wait.call_cancellable(b"", Deadline::after(WAIT), &cancel))
        };
        entered
            .recv_timeout(WAIT)
            .expect("the handler did not start");
        assert!(!junction::call_cancelled(), "outside a handler");
        cancel.signal();
        let error = caller.join().unwrap().unwrap_err();
        assert_eq!(error.code(), Code::Cancelled);
        assert_saw_cancel(&saw);
    });
}

/// Dropping an asynchronous call's future before it resolves cancels the
/// call: the route stops waiting for it and tells the other host, whose
/// handler sees its caller give up, and the host's one worker serves the
/// next call.
#[test]
fn dropping_an_asynchronous_calls_future_cancels_it() {
    run(|| {
        let (server, entered, saw) = watching_host();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        // One worker, which the cancelled call must leave to the next.
        let client = Host::with_options(HostOptions::new().worker_threads(1)).unwrap();
        for service in ["watching", "echo"] {
            client
                .route(service, listener.url(), &RouteOptions::new())
                .unwrap();
        }
        let wait = client.resolve("watching", "wait").unwrap();
        let call = wait.call_async(Vec::new(), Deadline::after(WAIT));
        entered
            .recv_timeout(WAIT)
            .expect("the handler did not start");
        drop(call);
        assert_saw_cancel(&saw);
        let echo = client.resolve("echo", "echo").unwrap();
        let next = block_on(
            echo.call_async(b"next".to_vec(), Deadline::after(WAIT)),
            Duration::from_secs(10),
        );
        assert_eq!(next.unwrap(), b"next");
    });
}
