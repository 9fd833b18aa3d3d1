// libFuzzer target for the wire frame decoder (transports/wire/frame.hh).
// Input: an 8-byte little-endian payload frame length, then the header
// frame's bytes. The decoder must never crash or read out of bounds
// (AddressSanitizer, UndefinedBehaviorSanitizer); a header it accepts must
// encode back to exactly the same bytes; a refusal must carry one of the
// codes docs/wire.md names, and a call id only when the header has one.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "frame.hh"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace junction::wire;
  if (size < 8) {
    return 0;
  }
  std::uint64_t payload_frame_len = 0;
  for (int i = 0; i < 8; ++i) {
    payload_frame_len |= static_cast<std::uint64_t>(data[i]) << (8 * i);
  }
  const std::span<const std::uint8_t> header(data + 8, size - 8);
  const Decoded decoded = decode_header(header, payload_frame_len, Limits{1 << 20});
  if (!decoded.header) {
    const std::int32_t code = decoded.error.code;
    if ((code != 3 && code != 8 && code != 9) ||
        (decoded.error.call_id.has_value() && header.size() < kIdentityBytes)) {
      std::abort();
    }
    return 0;
  }
  const Header& h = *decoded.header;
  std::vector<std::uint8_t> again;
  bool encoded = true;
  switch (h.kind) {
    case Kind::request:
      encoded = encode_request(h.call_id, h.timeout_ns, h.service, h.method, h.payload_len, again);
      break;
    case Kind::response:
      encoded = encode_response(h.call_id, h.code, h.message, h.payload_len, again);
      break;
    case Kind::cancel:
      encode_cancel(h.call_id, again);
      break;
  }
  if (!encoded || again.size() != header.size() ||
      !std::equal(again.begin(), again.end(), header.begin())) {
    std::abort();
  }
  return 0;
}
