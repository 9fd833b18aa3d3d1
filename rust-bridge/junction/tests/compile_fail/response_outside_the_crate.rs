// A response type cannot be made up outside the crate: IntoResponse is
// sealed, so only the responses whose result the crate writes exist.
use junction::IntoResponse;

struct MadeUp;

impl IntoResponse for MadeUp {}

fn main() {}
