// A listener borrows its host: the host cannot be freed while one of its
// listeners is open (libjunction refuses to, so the borrow checker does).
use junction::{Host, ListenOptions};

fn main() {
    let host = Host::new().unwrap();
    let listener = host
        .listen("zmq+inproc://outlives", &ListenOptions::new())
        .unwrap();
    drop(host);
    println!("{}", listener.url());
}
