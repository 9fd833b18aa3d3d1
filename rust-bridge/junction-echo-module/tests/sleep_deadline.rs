//! `sleep_async` sleeps no longer than its caller's deadline: a long delay
//! asked with a short deadline leaves no thread sleeping past the deadline,
//! so its completion, and with it the service, goes soon after. Alone in
//! its test binary, as it compares process-wide live counts.

use std::time::{Duration, Instant};

use junction::{live, Code, Deadline, Host};

#[test]
fn sleep_async_gives_up_at_the_callers_deadline() {
    let baseline = live::host_objects();
    let host = Host::new().unwrap();
    junction_echo_module::register(&host).unwrap();
    let sleep = host
        .resolve(junction_echo_module::SERVICE, "sleep_async")
        .unwrap();
    let an_hour = 3_600_000_u64.to_le_bytes();
    let error = sleep
        .call(&an_hour, Deadline::after(Duration::from_millis(100)))
        .unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error}");
    drop(sleep);
    // The freed host's service goes once its pending call is answered.
    drop(host);
    let give_up = Instant::now() + Duration::from_secs(10);
    while live::host_objects() != baseline {
        assert!(
            Instant::now() < give_up,
            "sleep_async still holds its call 10 s past its deadline: {:?}",
            live::host_objects()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
