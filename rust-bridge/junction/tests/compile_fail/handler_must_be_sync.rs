// Handlers run on many threads at once: a closure holding a Cell is refused.
use std::cell::Cell;

fn main() {
    let calls = Cell::new(0_u64);
    let _ = junction::Service::new("s").method("m", move |_: &[u8], _| {
        calls.set(calls.get() + 1);
        Ok(Vec::new())
    });
}
