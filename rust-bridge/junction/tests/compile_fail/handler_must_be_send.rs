// Handlers run on many threads: a closure holding an Rc is refused.
use std::rc::Rc;

fn main() {
    let shared = Rc::new(0_u8);
    let _ = junction::Service::new("s").method("m", move |_: &[u8], _| Ok(vec![*shared]));
}
