//! Asynchronous calls (futures over jn_call_async) and asynchronous
//! handlers (Completion).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use junction::{
    Code, Completion, Deadline, Host, HostOptions, ListenOptions, RouteOptions, Service, Status,
};

use crate::common::{block_on, fnv1a, payload, run, tokio_runtime, wait_until, SIZES};

const WAIT: Duration = Duration::from_secs(30);

/// A host serving "test.async": a synchronous checksum, an asynchronous
/// echo answered from another thread, and a method whose completions are
/// handed to the test through `parked`.
fn async_host(parked: mpsc::Sender<Completion>) -> Host {
    let parked = std::sync::Mutex::new(parked);
    let host = Host::new().unwrap();
    host.register(
        Service::new("test.async")
            .method("checksum", |request: &[u8], _| {
                Ok(fnv1a(request).to_le_bytes().to_vec())
            })
            .async_method("echo_later", |call| {
                thread::spawn(move || {
                    let response = call.request().to_vec();
                    call.succeed(response)
                });
            })
            .async_method("echo_now", |call| {
                let response = call.request().to_vec();
                call.succeed(response);
            })
            .async_method("park", move |call| {
                let _ = parked.lock().unwrap().send(call);
            })
            .async_method("forget", drop),
    )
    .unwrap();
    host
}

#[test]
fn futures_under_tokio_from_0_bytes_to_1_mib() {
    run(|| {
        let (parked, _) = mpsc::channel();
        let host = async_host(parked);
        let checksum = Arc::new(host.resolve("test.async", "checksum").unwrap());
        let echo = Arc::new(host.resolve("test.async", "echo_later").unwrap());
        tokio_runtime().block_on(async move {
            let mut tasks = Vec::new();
            for size in SIZES {
                for task in 0..4 {
                    let checksum = Arc::clone(&checksum);
                    let echo = Arc::clone(&echo);
                    tasks.push(tokio::spawn(async move {
                        let request = payload(size + task);
                        let sum = checksum
                            .call_async(request.clone(), Deadline::none())
                            .await
                            .unwrap();
                        assert_eq!(sum, fnv1a(&request).to_le_bytes());
                        let back = echo
                            .call_async(request.clone(), Deadline::none())
                            .await
                            .unwrap();
                        assert_eq!(back, request);
                    }));
                }
            }
            for task in tasks {
                tokio::time::timeout(WAIT, task).await.unwrap().unwrap();
            }
        });
    });
}

#[test]
fn futures_need_no_runtime() {
    run(|| {
        let (parked, _) = mpsc::channel();
        let host = async_host(parked);
        for method in ["checksum", "echo_later", "echo_now"] {
            let method = host.resolve("test.async", method).unwrap();
            for size in SIZES {
                let request = payload(size);
                let response = block_on(method.call_async(request, Deadline::none()), WAIT);
                assert!(response.is_ok(), "{response:?}");
            }
        }
    });
}

#[test]
fn synchronous_calls_on_asynchronous_handlers() {
    run(|| {
        let (parked, _) = mpsc::channel();
        let host = async_host(parked);
        for method in ["echo_later", "echo_now"] {
            let method = host.resolve("test.async", method).unwrap();
            for size in SIZES {
                let request = payload(size);
                assert_eq!(method.call(&request, Deadline::none()).unwrap(), request);
            }
        }
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let echo = host.resolve("test.async", "echo_later").unwrap();
                thread::spawn(move || {
                    for round in 0..50 {
                        let request = payload(worker * 100 + round);
                        assert_eq!(echo.call(&request, Deadline::none()).unwrap(), request);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
    });
}

#[test]
fn a_forgotten_completion_answers_internal() {
    run(|| {
        let (parked, _) = mpsc::channel();
        let host = async_host(parked);
        let forget = host.resolve("test.async", "forget").unwrap();
        let error = forget.call(b"", Deadline::none()).unwrap_err();
        assert_eq!(error.code(), Code::Internal);
        assert_eq!(
            error.message(),
            "the handler dropped its completion without answering"
        );
        let error = block_on(forget.call_async(Vec::new(), Deadline::none()), WAIT).unwrap_err();
        assert_eq!(error.code(), Code::Internal);
    });
}

#[test]
fn deadlines_bound_asynchronous_handlers() {
    run(|| {
        let (parked, completions) = mpsc::channel();
        let host = async_host(parked);
        let park = host.resolve("test.async", "park").unwrap();

        // Synchronous caller: answered at the deadline, the late answer is
        // refused.
        let error = park
            .call(b"", Deadline::after(Duration::from_millis(20)))
            .unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded);
        let late = completions.recv_timeout(WAIT).unwrap();
        assert_eq!(late.succeed(b"late".to_vec()), Code::DeadlineExceeded);

        // Asynchronous caller: the same through the future.
        let call = park.call_async(b"x".to_vec(), Deadline::after(Duration::from_millis(20)));
        let late = completions.recv_timeout(WAIT).unwrap();
        assert_eq!(
            block_on(call, WAIT).unwrap_err().code(),
            Code::DeadlineExceeded
        );
        assert_eq!(late.succeed(b"late".to_vec()), Code::DeadlineExceeded);

        // Already past: the handler never starts.
        let error = block_on(park.call_async(Vec::new(), Deadline::from_ns(0)), WAIT).unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded);
        assert!(completions.try_recv().is_err());
    });
}

#[test]
fn completions_answer_from_other_threads_with_any_outcome() {
    run(|| {
        let (parked, completions) = mpsc::channel();
        let host = async_host(parked);
        let park = host.resolve("test.async", "park").unwrap();

        let call = park.call_async(b"request".to_vec(), Deadline::none());
        let completion = completions.recv_timeout(WAIT).unwrap();
        assert!(completion.deadline().is_none());
        assert_eq!(completion.request(), b"request");
        let answered = thread::spawn(move || {
            completion.complete(Err::<Vec<u8>, _>(Status::new(Code::Aborted, "conflict")))
        });
        assert_eq!(answered.join().unwrap(), Code::Ok);
        assert_eq!(
            block_on(call, WAIT).unwrap_err(),
            Status::new(Code::Aborted, "conflict")
        );

        let call = park.call_async(Vec::new(), Deadline::none());
        let completion = completions.recv_timeout(WAIT).unwrap();
        assert_eq!(completion.fail(Status::from(Code::Unavailable)), Code::Ok);
        assert_eq!(block_on(call, WAIT).unwrap_err().code(), Code::Unavailable);

        let call = park.call_async(Vec::new(), Deadline::none());
        let completion = completions.recv_timeout(WAIT).unwrap();
        assert_eq!(completion.complete(Ok(b"fine".to_vec())), Code::Ok);
        assert_eq!(block_on(call, WAIT).unwrap(), b"fine");
    });
}

#[test]
fn freeing_the_host_cancels_pending_calls() {
    run(|| {
        let services_before = junction::live::host_objects().services;
        let (parked, completions) = mpsc::channel();
        let host = async_host(parked);
        let park = host.resolve("test.async", "park").unwrap();
        let call = park.call_async(b"pending".to_vec(), Deadline::none());
        let completion = completions.recv_timeout(WAIT).unwrap();
        drop(host);
        assert_eq!(block_on(call, WAIT).unwrap_err().code(), Code::Cancelled);
        // The handler keeps its request, and its service, until it answers.
        assert_eq!(completion.request(), b"pending");
        assert_eq!(junction::live::host_objects().services, 1 + services_before);
        assert_eq!(completion.succeed(b"too late".to_vec()), Code::Cancelled);
        assert_eq!(junction::live::host_objects().services, services_before);
    });
}

/// A future dropped before it resolves cancels its call: the call is
/// answered Cancelled (counted as a failed call), the handler's late answer
/// is refused, and both outcomes are released.
#[test]
fn dropped_futures_cancel_their_calls_and_release_their_outcome() {
    run(|| {
        let (parked, completions) = mpsc::channel();
        let host = async_host(parked);
        let park = host.resolve("test.async", "park").unwrap();
        let call = park.call_async(payload(1024), Deadline::none());
        let completion = completions.recv_timeout(WAIT).unwrap();
        drop(call);
        wait_until(WAIT, || park.stats().errors != 0);
        assert_eq!(park.stats().errors, 1, "the dropped call was not answered");
        assert_eq!(completion.succeed(payload(4096)), Code::Cancelled);

        let echo = host.resolve("test.async", "echo_later").unwrap();
        for _ in 0..100 {
            drop(echo.call_async(payload(512), Deadline::none()));
        }
    });
}

#[test]
fn refused_calls_resolve_at_once_and_keep_nothing() {
    run(|| {
        let (parked, _) = mpsc::channel();
        let host = async_host(parked);
        let echo = host.resolve("test.async", "echo_now").unwrap();
        host.unregister("test.async").unwrap();
        let error = block_on(echo.call_async(payload(100), Deadline::none()), WAIT).unwrap_err();
        assert_eq!(error.code(), Code::NotFound);
    });
}

/// Routed asynchronous calls hold no host worker while they wait: on a host
/// with one worker, sixteen of them meet in the remote handler, which
/// answers only once all have come.
#[test]
fn routed_asynchronous_calls_wait_together_on_one_worker() {
    const CALLS: usize = 16;
    run(|| {
        let arrived = Arc::new(AtomicUsize::new(0));
        let server = Host::new().unwrap();
        let counted = Arc::clone(&arrived);
        server
            .register(
                Service::new("meet").method("all", move |request: &[u8], _| {
                    counted.fetch_add(1, Ordering::AcqRel);
                    wait_until(Duration::from_secs(10), || {
                        counted.load(Ordering::Acquire) >= CALLS
                    });
                    if counted.load(Ordering::Acquire) < CALLS {
                        return Err(Status::new(Code::DeadlineExceeded, "not all calls came"));
                    }
                    Ok(request.to_vec())
                }),
            )
            .unwrap();
        let listener = server
            .listen("zmq+tcp://127.0.0.1:0", &ListenOptions::new())
            .unwrap();
        let client = Host::with_options(HostOptions::new().worker_threads(1)).unwrap();
        client
            .route("meet", listener.url(), &RouteOptions::new())
            .unwrap();
        let all = client.resolve("meet", "all").unwrap();
        let calls: Vec<_> = (0..CALLS)
            .map(|i| all.call_async(i.to_string().into_bytes(), Deadline::after(WAIT)))
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let answer = block_on(call, WAIT).expect("the call failed");
            assert_eq!(answer, i.to_string().into_bytes());
        }
        assert_eq!(arrived.load(Ordering::Acquire), CALLS);
    });
}
