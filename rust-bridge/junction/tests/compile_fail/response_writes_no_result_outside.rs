// Only the crate writes a handler's result with a response: safe code
// outside it cannot call into_result, neither on a response (its trait cannot be
// named) nor through an IntoResponse bound (it takes a token only the crate
// makes), so it cannot hand jn_respond a result holding a raw buffer, which
// jn_respond releases: the same buffer in two results was freed twice.
use junction::{sys, Buffer, IntoResponse};

fn through_a_bound<R: IntoResponse>(response: R, result: &mut sys::jn_result) {
    response.into_result(result);
}

fn main() {
    let raw = Buffer::from(vec![0xAA; 64]).into_raw();
    let mut a = sys::jn_result {
        response: raw,
        ..Default::default()
    };
    let mut b = sys::jn_result {
        response: raw,
        ..Default::default()
    };
    [1u8; 4].into_result(&mut a);
    through_a_bound([1u8; 4], &mut b);
}
