// A module's init borrows the host for the call only: it cannot hand the
// host to a thread that outlives it.
fn init(host: &junction::HostRef) -> junction::Result<()> {
    std::thread::spawn(move || host.unregister("s"));
    Ok(())
}

fn main() {
    let _ = init;
}
