// The junction wire protocol's frame codec (docs/wire.md): the header frame
// of a request or a response, encoded and decoded. Payloads travel in a
// frame of their own and are never copied here.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace junction::wire {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kFixedHeaderBytes = 40;
// Bytes 0..15 (magic, version, kind, name lengths, call id) are laid out
// the same in every version, so a peer can answer any call it can identify.
inline constexpr std::size_t kIdentityBytes = 16;
inline constexpr std::size_t kMaxNameBytes = 255;
inline constexpr std::size_t kMaxMessageBytes = 65535;
inline constexpr std::int64_t kNoTimeout = -1;
// A bound on the size of any header frame.
inline constexpr std::size_t kMaxHeaderBytes =
    kFixedHeaderBytes + 2 * kMaxNameBytes + kMaxMessageBytes;

// A cancel (a client's, for a call it stopped waiting for) carries only its
// call id and an empty payload; it is never answered.
enum class Kind : std::uint8_t { request = 1, response = 2, cancel = 3 };

// What a receiver accepts; a larger declared payload is refused before
// anything is allocated for it.
struct Limits {
  std::uint64_t max_payload_bytes = 64ull << 20;
};

// A decoded header. The views point into the decoded bytes.
struct Header {
  Kind kind = Kind::request;
  std::uint64_t call_id = 0;
  std::int64_t timeout_ns = kNoTimeout;  // requests: time the caller waits, or kNoTimeout
  std::int32_t code = 0;                 // responses: a junction status code
  std::string_view service;              // requests
  std::string_view method;               // requests
  std::string_view message;              // responses
  std::uint64_t payload_len = 0;
};

// Why a header could not be read: the status code to answer with, a
// message, and the call id when the header identifies its call (then the
// receiver answers that call with an error response; otherwise it drops the
// message).
struct DecodeError {
  std::int32_t code = 0;
  std::string message;
  std::optional<std::uint64_t> call_id;
};

struct Decoded {
  std::optional<Header> header;  // set on success
  DecodeError error;             // meaningful when header is empty
};

// Decodes a header frame. payload_frame_len is the length of the payload
// frame that came with it, which must equal the header's payload_len.
// Never throws, never reads outside header, allocates only for an error
// message.
[[nodiscard]] Decoded decode_header(std::span<const std::uint8_t> header,
                                    std::uint64_t payload_frame_len, const Limits& limits) noexcept;

// Encodes a request header. Returns false (and leaves out empty) when a name
// is empty, longer than kMaxNameBytes or holds a NUL byte, or the timeout is
// below kNoTimeout.
[[nodiscard]] bool encode_request(std::uint64_t call_id, std::int64_t timeout_ns,
                                  std::string_view service, std::string_view method,
                                  std::uint64_t payload_len, std::vector<std::uint8_t>& out);

// Writes timeout_ns (at least kNoTimeout) into a request header that
// encode_request made, for a request that waited to be sent: its timeout
// is the time left when it is sent (docs/wire.md). A header shorter than
// the fixed part is left as it is.
void store_request_timeout(std::span<std::uint8_t> header, std::int64_t timeout_ns) noexcept;

// Encodes a response header. A message longer than kMaxMessageBytes is cut
// there (at a UTF-8 character boundary). Returns false (and leaves out
// empty) for a code outside 0..16, or a payload with an error code.
[[nodiscard]] bool encode_response(std::uint64_t call_id, std::int32_t code,
                                   std::string_view message, std::uint64_t payload_len,
                                   std::vector<std::uint8_t>& out);

// Encodes a cancel header: the call id, every other field zero.
void encode_cancel(std::uint64_t call_id, std::vector<std::uint8_t>& out);

}  // namespace junction::wire
