#include "frame.hh"

#include <junction.h>

#include <array>
#include <cstring>

namespace junction::wire {
namespace {

constexpr std::array<std::uint8_t, 4> kMagic = {'J', 'N', 'W', 'F'};
constexpr std::int32_t kInvalidArgument = JN_INVALID_ARGUMENT;
constexpr std::int32_t kResourceExhausted = JN_RESOURCE_EXHAUSTED;
constexpr std::int32_t kFailedPrecondition = JN_FAILED_PRECONDITION;
constexpr std::int32_t kMaxCode = JN_STATUS_CODE_MAX;

// Offsets of the fixed part (docs/wire.md, "Header frame").
constexpr std::size_t kOffVersion = 4;
constexpr std::size_t kOffKind = 5;
constexpr std::size_t kOffServiceLen = 6;
constexpr std::size_t kOffMethodLen = 7;
constexpr std::size_t kOffCallId = 8;
constexpr std::size_t kOffTimeout = 16;
constexpr std::size_t kOffCode = 24;
constexpr std::size_t kOffMessageLen = 28;
constexpr std::size_t kOffPayloadLen = 32;

// Little-endian fixed-width fields, byte by byte: independent of the host's
// byte order and alignment.
template <typename T>
T load_le(const std::uint8_t* p) noexcept {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  }
  return static_cast<T>(value);
}

template <typename T>
void store_le(std::uint8_t* p, T value) noexcept {
  const auto bits = static_cast<std::uint64_t>(value);
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    p[i] = static_cast<std::uint8_t>(bits >> (8 * i));
  }
}

Decoded refuse(std::int32_t code, std::string message, std::optional<std::uint64_t> call_id) {
  Decoded decoded;
  decoded.error.code = code;
  decoded.error.call_id = call_id;
  decoded.error.message = std::move(message);
  return decoded;
}

bool valid_name(std::string_view name) noexcept {
  return !name.empty() && name.size() <= kMaxNameBytes && name.find('\0') == std::string_view::npos;
}

std::string_view view_at(std::span<const std::uint8_t> bytes, std::size_t offset,
                         std::size_t len) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()) + offset, len};
}

// The longest prefix of text of at most max bytes that does not end inside
// a UTF-8 character.
std::string_view utf8_prefix(std::string_view text, std::size_t max) noexcept {
  if (text.size() <= max) {
    return text;
  }
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0u) == 0x80u) {
    --end;
  }
  return text.substr(0, end);
}

void put_fixed(std::vector<std::uint8_t>& out, Kind kind, std::size_t service_len,
               std::size_t method_len, std::uint64_t call_id, std::int64_t timeout_ns,
               std::int32_t code, std::size_t message_len, std::uint64_t payload_len) {
  out.assign(kFixedHeaderBytes + service_len + method_len + message_len, 0);
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  out[kOffVersion] = kVersion;
  out[kOffKind] = static_cast<std::uint8_t>(kind);
  out[kOffServiceLen] = static_cast<std::uint8_t>(service_len);
  out[kOffMethodLen] = static_cast<std::uint8_t>(method_len);
  store_le(out.data() + kOffCallId, call_id);
  store_le(out.data() + kOffTimeout, timeout_ns);
  store_le(out.data() + kOffCode, code);
  store_le(out.data() + kOffMessageLen, static_cast<std::uint32_t>(message_len));
  store_le(out.data() + kOffPayloadLen, payload_len);
}

// decode_header, which may throw std::bad_alloc while building an error
// message.
Decoded decode_checked(std::span<const std::uint8_t> header, std::uint64_t payload_frame_len,
                       const Limits& limits) {
  if (header.size() < kMagic.size() ||
      std::memcmp(header.data(), kMagic.data(), kMagic.size()) != 0) {
    return refuse(kInvalidArgument, "not a junction frame (bad magic)", std::nullopt);
  }
  if (header.size() < kIdentityBytes) {
    return refuse(kInvalidArgument, "header frame truncated before its call id", std::nullopt);
  }
  const auto call_id = load_le<std::uint64_t>(header.data() + kOffCallId);
  const std::uint8_t version = header[kOffVersion];
  if (version != kVersion) {
    return refuse(kFailedPrecondition,
                  "unsupported wire protocol version " + std::to_string(version) +
                      " (this peer speaks version " + std::to_string(kVersion) + ")",
                  call_id);
  }
  if (header.size() < kFixedHeaderBytes) {
    return refuse(kInvalidArgument,
                  "header frame of " + std::to_string(header.size()) + " bytes, fewer than " +
                      std::to_string(kFixedHeaderBytes),
                  call_id);
  }
  Header out;
  out.call_id = call_id;
  const std::uint8_t kind = header[kOffKind];
  if (kind != static_cast<std::uint8_t>(Kind::request) &&
      kind != static_cast<std::uint8_t>(Kind::response) &&
      kind != static_cast<std::uint8_t>(Kind::cancel)) {
    return refuse(kInvalidArgument, "unknown frame kind " + std::to_string(kind), call_id);
  }
  out.kind = static_cast<Kind>(kind);
  const std::size_t service_len = header[kOffServiceLen];
  const std::size_t method_len = header[kOffMethodLen];
  const auto message_len = load_le<std::uint32_t>(header.data() + kOffMessageLen);
  out.timeout_ns = load_le<std::int64_t>(header.data() + kOffTimeout);
  out.code = load_le<std::int32_t>(header.data() + kOffCode);
  out.payload_len = load_le<std::uint64_t>(header.data() + kOffPayloadLen);

  if (message_len > kMaxMessageBytes) {
    return refuse(kInvalidArgument,
                  "status message of " + std::to_string(message_len) + " bytes, more than " +
                      std::to_string(kMaxMessageBytes),
                  call_id);
  }
  const std::uint64_t expected = kFixedHeaderBytes + service_len + method_len + message_len;
  if (header.size() != expected) {
    return refuse(kInvalidArgument,
                  "header frame of " + std::to_string(header.size()) +
                      " bytes, but its lengths add up to " + std::to_string(expected),
                  call_id);
  }
  if (out.payload_len > limits.max_payload_bytes) {
    return refuse(kResourceExhausted,
                  "payload of " + std::to_string(out.payload_len) + " bytes, more than the " +
                      std::to_string(limits.max_payload_bytes) + " this peer accepts",
                  call_id);
  }
  if (out.payload_len != payload_frame_len) {
    return refuse(kInvalidArgument,
                  "header declares a payload of " + std::to_string(out.payload_len) +
                      " bytes, the payload frame has " + std::to_string(payload_frame_len),
                  call_id);
  }
  out.service = view_at(header, kFixedHeaderBytes, service_len);
  out.method = view_at(header, kFixedHeaderBytes + service_len, method_len);
  out.message = view_at(header, kFixedHeaderBytes + service_len + method_len, message_len);

  if (out.kind == Kind::request) {
    if (!valid_name(out.service) || !valid_name(out.method)) {
      return refuse(kInvalidArgument, "request without a valid service and method name", call_id);
    }
    if (out.timeout_ns < kNoTimeout) {
      return refuse(kInvalidArgument, "negative timeout other than -1 (none)", call_id);
    }
    if (out.code != 0 || message_len != 0) {
      return refuse(kInvalidArgument, "request with a status code or message", call_id);
    }
  } else if (out.kind == Kind::cancel) {
    if (service_len != 0 || method_len != 0 || out.timeout_ns != 0 || out.code != 0 ||
        message_len != 0 || out.payload_len != 0) {
      return refuse(kInvalidArgument, "cancel with names, a timeout, a status or a payload",
                    call_id);
    }
  } else {
    if (service_len != 0 || method_len != 0 || out.timeout_ns != 0) {
      return refuse(kInvalidArgument, "response with names or a timeout", call_id);
    }
    if (out.code < 0 || out.code > kMaxCode) {
      return refuse(kInvalidArgument, "response with status code " + std::to_string(out.code),
                    call_id);
    }
    if (out.code != 0 && out.payload_len != 0) {
      return refuse(kInvalidArgument, "failed response with a payload", call_id);
    }
  }
  Decoded decoded;
  decoded.header = out;
  return decoded;
}

}  // namespace

Decoded decode_header(std::span<const std::uint8_t> header, std::uint64_t payload_frame_len,
                      const Limits& limits) noexcept {
  try {
    return decode_checked(header, payload_frame_len, limits);
  } catch (...) {
    // No memory for the error message: the frame is dropped.
    Decoded decoded;
    decoded.error.code = kResourceExhausted;
    return decoded;
  }
}

bool encode_request(std::uint64_t call_id, std::int64_t timeout_ns, std::string_view service,
                    std::string_view method, std::uint64_t payload_len,
                    std::vector<std::uint8_t>& out) {
  out.clear();
  if (!valid_name(service) || !valid_name(method) || timeout_ns < kNoTimeout) {
    return false;
  }
  put_fixed(out, Kind::request, service.size(), method.size(), call_id, timeout_ns, 0, 0,
            payload_len);
  std::memcpy(out.data() + kFixedHeaderBytes, service.data(), service.size());
  std::memcpy(out.data() + kFixedHeaderBytes + service.size(), method.data(), method.size());
  return true;
}

void store_request_timeout(std::span<std::uint8_t> header, std::int64_t timeout_ns) noexcept {
  if (header.size() >= kFixedHeaderBytes) {
    store_le(header.data() + kOffTimeout, timeout_ns);
  }
}

bool encode_response(std::uint64_t call_id, std::int32_t code, std::string_view message,
                     std::uint64_t payload_len, std::vector<std::uint8_t>& out) {
  out.clear();
  if (code < 0 || code > kMaxCode || (code != 0 && payload_len != 0)) {
    return false;
  }
  const std::string_view kept = utf8_prefix(message, kMaxMessageBytes);
  put_fixed(out, Kind::response, 0, 0, call_id, 0, code, kept.size(), payload_len);
  if (!kept.empty()) {
    std::memcpy(out.data() + kFixedHeaderBytes, kept.data(), kept.size());
  }
  return true;
}

void encode_cancel(std::uint64_t call_id, std::vector<std::uint8_t>& out) {
  put_fixed(out, Kind::cancel, 0, 0, call_id, 0, 0, 0, 0);
}

}  // namespace junction::wire
