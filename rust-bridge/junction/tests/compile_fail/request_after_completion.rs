// An asynchronous handler's request is lent by its Completion until the call
// is answered: it cannot be read after answering.
fn main() {
    let _ = junction::Service::new("s").async_method("m", |call| {
        let request = call.request();
        call.succeed(Vec::new());
        let _ = request.len();
    });
}
