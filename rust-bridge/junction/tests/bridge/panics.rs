//! Panics at the wall: reported as INTERNAL with their message, never
//! unwound into C, leaving the host usable and nothing leaked.

use std::panic;
use std::sync::Arc;
use std::thread;

use junction::{Code, Deadline, Host, Service};

use crate::common::{block_on, run};

const WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn panicking_host() -> Host {
    let host = Host::new().unwrap();
    host.register(
        Service::new("test.panic")
            .method("str", |_: &[u8], _| -> junction::Result<Vec<u8>> {
                panic!("static message")
            })
            .method("string", |request: &[u8], _| -> junction::Result<Vec<u8>> {
                panic!("formatted message for {} bytes", request.len())
            })
            .method("other", |_: &[u8], _| -> junction::Result<Vec<u8>> {
                panic::panic_any(42_u32)
            })
            .method("fine", |request: &[u8], _| Ok(request.to_vec()))
            .async_method("async_before", |_completion| {
                panic!("async handler panicked before answering")
            })
            .async_method("async_after", |completion| {
                let response = completion.request().to_vec();
                completion.succeed(response);
                panic!("async handler panicked after answering")
            })
            .async_method("async_handed_on", |completion| {
                thread::spawn(move || {
                    thread::sleep(std::time::Duration::from_millis(5));
                    let response = completion.request().to_vec();
                    completion.succeed(response);
                });
                panic!("async handler panicked after handing its completion on")
            })
            .async_method("async_caught", |completion| {
                let _ = panic::catch_unwind(panic::AssertUnwindSafe(move || {
                    let _owned = completion;
                    panic!("caught inside the handler")
                }));
            }),
    )
    .unwrap();
    host
}

#[test]
fn panic_messages_become_internal_statuses() {
    run(|| {
        let host = panicking_host();
        let cases = [
            ("str", "handler panicked: static message"),
            ("string", "handler panicked: formatted message for 3 bytes"),
            (
                "other",
                "handler panicked: a panic with a non-string payload",
            ),
            (
                "async_before",
                "handler panicked: async handler panicked before answering",
            ),
            (
                "async_caught",
                "the handler's completion was dropped by a caught panic",
            ),
        ];
        for (method, message) in cases {
            let method = host.resolve("test.panic", method).unwrap();
            let error = method.call(b"abc", Deadline::none()).unwrap_err();
            assert_eq!(error.code(), Code::Internal, "{error}");
            assert_eq!(error.message(), message);
            let error =
                block_on(method.call_async(b"abc".to_vec(), Deadline::none()), WAIT).unwrap_err();
            assert_eq!(error.code(), Code::Internal, "{error}");
            assert_eq!(error.message(), message);
        }
        // A handler that answered, or handed its completion on, before
        // panicking: the answer stands.
        for method in ["async_after", "async_handed_on"] {
            let method = host.resolve("test.panic", method).unwrap();
            assert_eq!(method.call(b"kept", Deadline::none()).unwrap(), b"kept");
            let response = block_on(method.call_async(b"kept".to_vec(), Deadline::none()), WAIT);
            assert_eq!(response.unwrap(), b"kept");
        }
    });
}

#[test]
fn many_panics_in_a_row_leave_the_host_usable() {
    run(|| {
        let host = Arc::new(panicking_host());
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let string = host.resolve("test.panic", "string").unwrap();
                let before = host.resolve("test.panic", "async_before").unwrap();
                let fine = host.resolve("test.panic", "fine").unwrap();
                thread::spawn(move || {
                    for round in 0..250 {
                        let request = vec![0; round];
                        let error = string.call(&request, Deadline::none()).unwrap_err();
                        assert_eq!(error.code(), Code::Internal);
                        assert_eq!(
                            error.message(),
                            format!("handler panicked: formatted message for {round} bytes")
                        );
                        let error = before.call(&request, Deadline::none()).unwrap_err();
                        assert_eq!(error.code(), Code::Internal);
                        assert_eq!(fine.call(&request, Deadline::none()).unwrap(), request);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        let string = host.resolve("test.panic", "string").unwrap();
        assert_eq!(string.stats().errors, 4 * 250);
    });
}

#[test]
fn a_panicking_destroy_is_contained() {
    run(|| {
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("handler state panicked while being dropped");
            }
        }
        let host = Host::new().unwrap();
        let state = PanicsOnDrop;
        host.register(
            Service::new("test.destroy").method("m", move |_: &[u8], _| {
                let _ = &state;
                Ok(Vec::new())
            }),
        )
        .unwrap();
        let method = host.resolve("test.destroy", "m").unwrap();
        assert!(method.call(b"", Deadline::none()).is_ok());
        drop(host);
        assert_eq!(
            method.call(b"", Deadline::none()).unwrap_err().code(),
            Code::NotFound
        );
    });
}
