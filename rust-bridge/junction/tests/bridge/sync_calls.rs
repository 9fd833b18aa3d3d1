//! Synchronous calls: Rust caller -> host -> Rust handler.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use junction::{Code, Deadline, Host, HostOptions, Method, Service, Status, ThreadSlice};

use crate::common::{
    check_echo_length_checksum, checksum_from_threads, fnv1a, payload, run, u64_of, SIZES,
};

/// A host serving "test.sync" with echo, length, checksum and address
/// methods.
fn echo_host() -> Host {
    let host = Host::new().unwrap();
    host.register(
        Service::new("test.sync")
            .method("echo", |request: &[u8], _| Ok(request.to_vec()))
            .method("length", |request: &[u8], _| {
                Ok((request.len() as u64).to_le_bytes().to_vec())
            })
            .method("checksum", |request: &[u8], _| {
                Ok(fnv1a(request).to_le_bytes().to_vec())
            })
            .method("address", |request: &[u8], _| {
                Ok((request.as_ptr() as u64).to_le_bytes().to_vec())
            }),
    )
    .unwrap();
    host
}

#[test]
fn payloads_from_0_bytes_to_1_mib() {
    run(|| {
        let host = echo_host();
        for size in SIZES {
            check_echo_length_checksum(&host, "test.sync", size);
        }
    });
}

#[test]
fn requests_and_responses_cross_without_copies() {
    run(|| {
        static RESPONSE_DATA: AtomicUsize = AtomicUsize::new(0);
        let host = echo_host();
        host.register(
            Service::new("test.ptr").method("respond", |request: &[u8], _| {
                let response = request.to_vec();
                RESPONSE_DATA.store(response.as_ptr() as usize, Ordering::SeqCst);
                Ok(response)
            }),
        )
        .unwrap();
        let address = host.resolve("test.sync", "address").unwrap();
        let respond = host.resolve("test.ptr", "respond").unwrap();
        for size in [1, 64 * 1024, 1024 * 1024] {
            let request = payload(size);
            let seen = address.call(&request, Deadline::none()).unwrap();
            assert_eq!(u64_of(&seen), request.as_ptr() as u64, "request was copied");
            let response = respond.call(&request, Deadline::none()).unwrap();
            assert_eq!(
                response.as_ptr() as usize,
                RESPONSE_DATA.load(Ordering::SeqCst),
                "response was copied"
            );
        }
    });
}

#[test]
fn call_into_answers_into_the_room_it_lends() {
    run(|| {
        let host = echo_host();
        host.register(
            Service::new("test.array")
                .method("length", |request: &[u8], _| {
                    Ok((request.len() as u64).to_le_bytes())
                })
                .method("fail", |_: &[u8], _| -> junction::Result<[u8; 8]> {
                    Err(Status::new(Code::Unavailable, "not now"))
                })
                .method("empty", |_: &[u8], _| Ok([0u8; 0]))
                .method("empty_vec", |_: &[u8], _| Ok(Vec::new())),
        )
        .unwrap();
        let length = host.resolve("test.array", "length").unwrap();
        let empty = host.resolve("test.array", "empty").unwrap();
        let empty_vec = host.resolve("test.array", "empty_vec").unwrap();
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(b"prefix");
        let before = (
            junction::live::host_objects(),
            junction::live::rust_buffers(),
        );
        length
            .call_into(&payload(1000), Deadline::none(), &mut out)
            .unwrap();
        assert_eq!(&out[..6], b"prefix");
        assert_eq!(u64_of(&out[6..]), 1000);
        assert_eq!(
            (
                junction::live::host_objects(),
                junction::live::rust_buffers()
            ),
            before,
            "a response that fits allocates nothing"
        );

        // An empty answer, with room and with none (an unallocated Vec
        // lends a dangling pointer and no capacity).
        empty.call_into(b"x", Deadline::none(), &mut out).unwrap();
        assert_eq!(out.len(), 6 + 8);
        let mut unallocated = Vec::new();
        empty
            .call_into(b"x", Deadline::none(), &mut unallocated)
            .unwrap();
        assert!(unallocated.is_empty());
        // An empty Vec of the handler's own carries the same dangling
        // pointer as an unallocated out: it must still be released.
        empty_vec
            .call_into(b"x", Deadline::none(), &mut unallocated)
            .unwrap();
        assert!(unallocated.is_empty());
        assert_eq!(
            (
                junction::live::host_objects(),
                junction::live::rust_buffers()
            ),
            before,
            "an empty answer allocates nothing"
        );

        // No room: the array goes into a host buffer, copied onto out.
        let mut tight = Vec::new();
        length
            .call_into(b"abc", Deadline::none(), &mut tight)
            .unwrap();
        assert_eq!(u64_of(&tight), 3);
        // Plain call: a host buffer too.
        assert_eq!(u64_of(&length.call(b"ab", Deadline::none()).unwrap()), 2);

        // A Vec response is copied onto out.
        let echo = host.resolve("test.sync", "echo").unwrap();
        let mut echoed = b"<".to_vec();
        echo.call_into(b"vec", Deadline::none(), &mut echoed)
            .unwrap();
        assert_eq!(echoed, b"<vec");

        // A failure leaves out as it was.
        let fail = host.resolve("test.array", "fail").unwrap();
        let error = fail
            .call_into(b"", Deadline::none(), &mut echoed)
            .unwrap_err();
        assert_eq!(error, Status::new(Code::Unavailable, "not now"));
        assert_eq!(echoed, b"<vec");
    });
}

#[test]
fn many_threads_share_one_method() {
    run(|| {
        let host = echo_host();
        let checksum = Arc::new(host.resolve("test.sync", "checksum").unwrap());
        checksum_from_threads(&checksum, 8, 200, 70_000);
        assert_eq!(checksum.stats().calls, 8 * 200);
        assert_eq!(checksum.stats().errors, 0);
    });
}

#[test]
fn handler_statuses_reach_the_caller() {
    run(|| {
        let host = Host::new().unwrap();
        host.register(
            Service::new("test.status")
                .method("fail", |request: &[u8], _| -> junction::Result<Vec<u8>> {
                    let code = Code::try_from(i32::from(request[0]))
                        .map_err(|e| Status::new(Code::InvalidArgument, e.to_string()))?;
                    Err(Status::new(code, format!("failed with {code}")))
                })
                .method("ok_as_error", |_: &[u8], _| -> junction::Result<Vec<u8>> {
                    Err(Status::new(Code::Ok, "not really"))
                }),
        )
        .unwrap();
        let fail = host.resolve("test.status", "fail").unwrap();
        for code in &Code::ALL[1..] {
            let error = fail
                .call(&[code.as_raw() as u8], Deadline::none())
                .unwrap_err();
            assert_eq!(error.code(), *code);
            assert_eq!(error.message(), format!("failed with {code}"));
        }
        let invalid = fail.call(&[99], Deadline::none()).unwrap_err();
        assert_eq!(invalid.code(), Code::InvalidArgument);
        assert_eq!(
            invalid.message(),
            "99 is not a junction status code (0..=16)"
        );
        let ok_as_error = host.resolve("test.status", "ok_as_error").unwrap();
        let error = ok_as_error.call(b"", Deadline::none()).unwrap_err();
        assert_eq!(error.code(), Code::Internal);
        assert_eq!(
            error.message(),
            "an error status had the code OK: not really"
        );
    });
}

#[test]
fn deadline_already_past_skips_the_handler() {
    run(|| {
        let calls = Arc::new(AtomicU64::new(0));
        let host = Host::new().unwrap();
        let counted = Arc::clone(&calls);
        host.register(Service::new("test.deadline").method(
            "count",
            move |_: &[u8], deadline: Deadline| {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(deadline.as_ns().to_le_bytes().to_vec())
            },
        ))
        .unwrap();
        let count = host.resolve("test.deadline", "count").unwrap();
        let past = Deadline::after(Duration::ZERO);
        thread::sleep(Duration::from_millis(1));
        let error = count.call(b"x", past).unwrap_err();
        assert_eq!(error.code(), Code::DeadlineExceeded);
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let future = Deadline::after(Duration::from_secs(30));
        let seen = count.call(b"x", future).unwrap();
        assert_eq!(
            i64::from_le_bytes(seen[..].try_into().unwrap()),
            future.as_ns()
        );
        let seen = count.call(b"x", Deadline::none()).unwrap();
        assert_eq!(i64::from_le_bytes(seen[..].try_into().unwrap()), i64::MAX);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn unknown_and_unregistered_services() {
    run(|| {
        let host = echo_host();
        assert_eq!(
            host.resolve("nope", "echo").unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(
            host.resolve("test.sync", "nope").unwrap_err().code(),
            Code::NotFound
        );
        assert_eq!(host.unregister("nope").unwrap_err().code(), Code::NotFound);

        let echo = host.resolve("test.sync", "echo").unwrap();
        host.unregister("test.sync").unwrap();
        let error = echo.call(b"x", Deadline::none()).unwrap_err();
        assert_eq!(error.code(), Code::NotFound);
        assert!(error.message().contains("test.sync"), "{error}");
        assert_eq!(
            host.resolve("test.sync", "echo").unwrap_err().code(),
            Code::NotFound
        );

        // The name is free again.
        drop(echo);
        host.register(Service::new("test.sync").method("echo", |r: &[u8], _| Ok(r.to_vec())))
            .unwrap();
        let echo = host.resolve("test.sync", "echo").unwrap();
        assert_eq!(echo.call(b"again", Deadline::none()).unwrap(), b"again");
    });
}

#[test]
fn methods_outlive_their_host() {
    run(|| {
        let host = echo_host();
        let echo = host.resolve("test.sync", "echo").unwrap();
        host.close().unwrap();
        assert_eq!(
            echo.call(b"x", Deadline::none()).unwrap_err().code(),
            Code::NotFound
        );
    });
}

#[test]
fn handlers_call_back_into_the_host() {
    run(|| {
        let host = Arc::new(echo_host());
        let inner: Arc<Method> = Arc::new(host.resolve("test.sync", "checksum").unwrap());
        let weak_host = Arc::downgrade(&host);
        host.register(
            Service::new("test.outer")
                .method("nested", move |request: &[u8], deadline| {
                    inner.call(request, deadline).map(|sum| sum.into_vec())
                })
                .method("retire", move |_: &[u8], _| {
                    let host = weak_host.upgrade().ok_or(Code::Unavailable)?;
                    host.unregister("test.outer")?;
                    Ok(b"retired".to_vec())
                }),
        )
        .unwrap();
        let nested = host.resolve("test.outer", "nested").unwrap();
        let sum = nested.call(b"abc", Deadline::none()).unwrap();
        assert_eq!(u64_of(&sum), fnv1a(b"abc"));

        let retire = host.resolve("test.outer", "retire").unwrap();
        assert_eq!(retire.call(b"", Deadline::none()).unwrap(), b"retired");
        assert_eq!(
            nested.call(b"", Deadline::none()).unwrap_err().code(),
            Code::NotFound
        );
    });
}

/// A host owned by another host's service (a gateway's client, say) is
/// freed when that service's handlers are dropped: with the other host,
/// on the thread freeing it, or once unregistered, on that host's own
/// thread. Only a host's own threads and handlers cannot free it.
#[test]
fn a_host_owned_by_another_hosts_service_is_freed_with_it() {
    run(|| {
        for unregister_first in [false, true] {
            let owned = echo_host();
            let echo = owned.resolve("test.sync", "echo").unwrap();
            let owner = Host::new().unwrap();
            owner
                .register(Service::new("gateway").method(
                    "echo",
                    move |request: &[u8], deadline| {
                        let _owned_here = &owned;
                        echo.call(request, deadline).map(|answer| answer.into_vec())
                    },
                ))
                .unwrap();
            let gateway = owner.resolve("gateway", "echo").unwrap();
            assert_eq!(gateway.call(b"via", Deadline::none()).unwrap(), b"via");
            drop(gateway);
            if unregister_first {
                owner.unregister("gateway").unwrap();
            }
            drop(owner);
        }
    }); // run checks that both hosts, and all they made, are gone
}

#[test]
fn handlers_are_dropped_with_their_service() {
    run(|| {
        struct Tracked(Arc<AtomicU64>);
        impl Drop for Tracked {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let drops = Arc::new(AtomicU64::new(0));
        let host = Host::new().unwrap();
        for name in ["test.a", "test.b"] {
            let tracked = Tracked(Arc::clone(&drops));
            host.register(Service::new(name).method("m", move |_: &[u8], _| {
                let _ = &tracked;
                Ok(Vec::new())
            }))
            .unwrap();
        }
        host.unregister("test.a").unwrap();
        let give_up = std::time::Instant::now() + Duration::from_secs(5);
        while drops.load(Ordering::SeqCst) < 1 && std::time::Instant::now() < give_up {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(host);
        assert_eq!(drops.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn host_options_choose_the_thread_slice_within_the_kernels_bounds() {
    run(|| {
        for slice in [
            ThreadSlice::Default,
            ThreadSlice::Inherited,
            ThreadSlice::Chosen(Duration::from_micros(100)),
            ThreadSlice::Chosen(Duration::from_millis(100)),
        ] {
            let host = Host::with_options(HostOptions::new().worker_threads(1).thread_slice(slice))
                .unwrap_or_else(|status| panic!("{slice:?}: {status}"));
            host.register(
                Service::new("test.slice").method("echo", |request: &[u8], _| Ok(request.to_vec())),
            )
            .unwrap();
            let echo = host.resolve("test.slice", "echo").unwrap();
            assert_eq!(echo.call(b"sliced", Deadline::none()).unwrap(), b"sliced");
        }
        for (slice, message) in [
            (Duration::ZERO, "outside 0.1 ms to 100 ms"),
            (Duration::from_secs(u64::MAX), "outside 0.1 ms to 100 ms"),
            (Duration::from_nanos(99_999), "thread_slice_ns must be"),
            (Duration::from_nanos(100_000_001), "thread_slice_ns must be"),
        ] {
            let status =
                Host::with_options(HostOptions::new().thread_slice(ThreadSlice::Chosen(slice)))
                    .unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{slice:?}: {status}");
            assert!(status.message().contains(message), "{slice:?}: {status}");
        }
    });
}
