// A Completion is a one-shot token: it may move to another thread, but
// cannot be shared between threads.
fn assert_sync<T: Sync>() {}

fn main() {
    assert_sync::<junction::Completion>();
}
