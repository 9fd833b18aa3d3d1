// The request is borrowed from the caller for the call only: it cannot be
// kept after the handler returns.
use std::sync::Mutex;

static KEPT: Mutex<Option<&'static [u8]>> = Mutex::new(None);

fn main() {
    let _ = junction::Service::new("s").method("m", |request: &[u8], _| {
        *KEPT.lock().unwrap() = Some(request);
        Ok(Vec::new())
    });
}
