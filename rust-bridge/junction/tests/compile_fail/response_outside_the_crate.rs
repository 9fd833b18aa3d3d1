// A response type cannot write the host's result itself: IntoResponse is
// sealed, so a buffer the host would trust cannot be made up in safe code.
use junction::{sys, IntoResponse};

struct MadeUp;

impl IntoResponse for MadeUp {
    fn into_result(self, result: &mut sys::jn_result) {
        result.response.len = 1 << 20;
    }
}

fn main() {}
