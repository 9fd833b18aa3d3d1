// Internal declarations shared by libjunction's translation units.
#pragma once

#include <junction.h>

#include <array>
#include <atomic>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "buffer_store.hh"

namespace junction::detail {

// Process-wide counts behind jn_live_objects. Host buffers are counted
// apart, per thread (buffer_counts_read), because they are made and released
// on every call path.
struct LiveCounters {
  std::atomic<std::uint64_t> hosts{0};
  std::atomic<std::uint64_t> methods{0};
  std::atomic<std::uint64_t> services{0};
  std::atomic<std::uint64_t> pending_calls{0};
  std::atomic<std::uint64_t> cancels{0};
};
LiveCounters& live_counters() noexcept;

// Live host buffers and their bytes, summed over every thread's counts.
struct BufferCounts {
  std::uint64_t buffers;
  std::uint64_t bytes;
};
BufferCounts buffer_counts_read() noexcept;

// Length of a NUL-terminated service or method name, or 0 when it is NULL,
// empty or longer than 255 bytes.
std::size_t name_length(const char* name) noexcept;

// Replaces status's code and message. Never throws: if the message cannot be
// allocated the status keeps the code and an empty message.
void status_assign(jn_status* status, std::int32_t code, std::string_view message) noexcept;

// status_assign with a message made of parts, built without throwing.
void status_assign_parts(jn_status* status, std::int32_t code,
                         std::initializer_list<std::string_view> parts) noexcept;

// Writes code and message into status when status is not NULL; returns code.
std::int32_t report(jn_status* status, std::int32_t code, std::string_view message) noexcept;
// report with a message made of parts, built without throwing.
std::int32_t report_parts(jn_status* status, std::int32_t code,
                          std::initializer_list<std::string_view> parts) noexcept;

// From a catch block of a library call that failed (not a handler): reports
// code with "FAILED: WHAT" (FAILED, made of the parts given, names what
// could not be done; WHAT is the exception's what()), or the first part
// alone without memory for more.
std::int32_t report_exception(jn_status* status, std::int32_t code,
                              std::initializer_list<std::string_view> failed) noexcept;

// A whole number's decimal digits, made without allocating.
class DecimalText {
 public:
  template <std::integral Integer>
  explicit DecimalText(Integer value) noexcept
      : length_(static_cast<std::size_t>(
            std::to_chars(digits_.data(), digits_.data() + digits_.size(), value).ptr -
            digits_.data())) {}
  [[nodiscard]] std::string_view view() const noexcept { return {digits_.data(), length_}; }

 private:
  std::array<char, 20> digits_{};
  std::size_t length_ = 0;
};

// Moves a buffer out of src (bitwise copy) and marks src released.
inline jn_buffer buffer_take(jn_buffer& src) noexcept {
  jn_buffer out = src;
  src = jn_buffer{};
  return out;
}

// Enforces the handler result contract on *result (abi/junction.h,
// jn_handler_fn): an invalid code becomes JN_INTERNAL, an error drops the
// response, a response without a release callback is refused.
void result_normalize_slow(jn_result* result) noexcept;
inline void result_normalize(jn_result* result) noexcept {
  const bool response_well_formed = result->response.release != nullptr ||
                                    (result->response.data == nullptr && result->response.len == 0);
  if (result->status.code == JN_OK && response_well_formed) [[likely]] {
    return;
  }
  result_normalize_slow(result);
}

// The room a jn_call_into caller lent for the response of the call whose
// handler runs on this thread: jn_respond writes there when the handler
// answers that call's result and the response fits. Saved and restored
// around each jn_call_into, so nested calls each see their own.
struct LentSpace {
  jn_result* result;
  std::uint8_t* data;
  std::uint64_t cap;
};
extern constinit thread_local LentSpace tls_lent_space __attribute__((tls_model("initial-exec")));

// The handlers of every routed method (jn_host_route): its call goes to
// another host. routed_call waits for the answer; routed_start, for
// asynchronous calls, returns once the call is sent (MethodEntry::
// start_routed).
void routed_call(void* ctx, jn_bytes request, std::int64_t deadline_ns, jn_result* result);
bool routed_start(void* ctx, jn_buffer& request, std::int64_t deadline_ns, jn_completion completion,
                  bool may_wait);

// The message of the exception being handled, for the exception wall.
std::string current_exception_message();

// Refuses (JN_FAILED_PRECONDITION, with both versions in the message) code
// built against another ABI major or a newer minor. built names it for the
// message, e.g. "the service descriptor".
std::int32_t check_abi_version(std::uint32_t version, std::string_view built,
                               jn_status* status) noexcept;

// Sets result to JN_INTERNAL with the message of the exception being
// handled, dropping any response the handler set. Call only from a catch.
void handler_threw(jn_result* result) noexcept;

// Runs a synchronous handler behind the exception wall and enforces the
// result contract; returns the call's code.
inline std::int32_t invoke_handler(jn_handler_fn handler, void* ctx, jn_bytes request,
                                   std::int64_t deadline_ns, jn_result* result) noexcept {
  try {
    handler(ctx, request, deadline_ns, result);
  } catch (...) {
    handler_threw(result);
  }
  result_normalize(result);
  return result->status.code;
}

}  // namespace junction::detail
