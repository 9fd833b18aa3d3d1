// Buffer::from_static never frees its bytes, so they must live forever.
fn main() {
    let local = vec![1_u8, 2, 3];
    let _ = junction::Buffer::from_static(&local);
}
