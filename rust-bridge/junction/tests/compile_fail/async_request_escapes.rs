// An asynchronous handler's request is lent by its Completion: work on
// another thread takes the Completion along rather than the bare bytes.
fn main() {
    let _ = junction::Service::new("s").async_method("m", |call| {
        let request = call.request();
        std::thread::spawn(move || request.len());
        drop(call);
    });
}
