// Statuses, results, version and clock: the small library-level functions.
#include <array>
#include <ctime>
#include <exception>
#include <new>
#include <stdexcept>

#include "internal.hh"

namespace junction::detail {

void status_assign(jn_status* status, std::int32_t code, std::string_view message) noexcept {
  // Copied before the old message is released: message may be the old
  // message itself (a status given its own text with another code).
  jn_buffer copy{};
  if (!message.empty()) {
    jn_buffer_copy(reinterpret_cast<const std::uint8_t*>(message.data()), message.size(), &copy);
  }
  jn_buffer_release(&status->message);
  status->message = copy;
  status->code = code;
  status->reserved = 0;
}

void status_assign_parts(jn_status* status, std::int32_t code,
                         std::initializer_list<std::string_view> parts) noexcept {
  try {
    std::string message;
    for (std::string_view part : parts) {
      message += part;
    }
    status_assign(status, code, message);
  } catch (...) {
    status_assign(status, code, "");
  }
}

std::int32_t report(jn_status* status, std::int32_t code, std::string_view message) noexcept {
  if (status != nullptr) {
    status_assign(status, code, message);
  }
  return code;
}

std::int32_t report_parts(jn_status* status, std::int32_t code,
                          std::initializer_list<std::string_view> parts) noexcept {
  if (status != nullptr) {
    status_assign_parts(status, code, parts);
  }
  return code;
}

std::int32_t report_exception(jn_status* status, std::int32_t code,
                              std::initializer_list<std::string_view> failed) noexcept {
  if (status == nullptr) {
    return code;
  }
  const char* what = "an exception not derived from std::exception";
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  try {
    std::string message;
    for (std::string_view part : failed) {
      message += part;
    }
    message += ": ";
    message += what;
    status_assign(status, code, message);
  } catch (...) {
    // No memory for the whole message: its first part.
    status_assign(status, code, failed.size() == 0 ? std::string_view() : *failed.begin());
  }
  return code;
}

void result_normalize_slow(jn_result* result) noexcept {
  const std::int32_t code = result->status.code;
  if (code < JN_OK || code > JN_STATUS_CODE_MAX) {
    jn_buffer_release(&result->response);
    result->response = jn_buffer{};
    status_assign_parts(&result->status, JN_INTERNAL,
                        {"handler returned invalid status code ", DecimalText(code).view()});
    return;
  }
  if (code != JN_OK) {
    jn_buffer_release(&result->response);
    result->response = jn_buffer{};
    return;
  }
  // OK with data but no release callback: the host cannot know who frees it.
  result->response = jn_buffer{};
  status_assign(&result->status, JN_INTERNAL,
                "handler returned a response without a release callback");
}

std::string current_exception_message() {
  try {
    throw;
  } catch (const std::exception& e) {
    return std::string("handler threw: ") + e.what();
  } catch (...) {
    return "handler threw a non-standard exception";
  }
}

namespace {

std::string version_text(std::uint32_t version) {
  return std::to_string(JN_ABI_VERSION_MAJOR_OF(version)) + "." +
         std::to_string(JN_ABI_VERSION_MINOR_OF(version));
}

}  // namespace

std::int32_t check_abi_version(std::uint32_t version, std::string_view built,
                               jn_status* status) noexcept {
  const bool other_major = JN_ABI_VERSION_MAJOR_OF(version) != JN_ABI_VERSION_MAJOR;
  if (!other_major && JN_ABI_VERSION_MINOR_OF(version) <= JN_ABI_VERSION_MINOR) {
    return report(status, JN_OK, "");
  }
  try {
    return report(status, JN_FAILED_PRECONDITION,
                  "ABI version mismatch: " + std::string(built) +
                      " was built against junction ABI " + version_text(version) +
                      ", this host implements ABI " + version_text(JN_ABI_VERSION) +
                      (other_major ? " (the major versions must be equal)"
                                   : " (a newer minor than the host's)"));
  } catch (...) {
    return report(status, JN_FAILED_PRECONDITION, "ABI version mismatch");
  }
}

void handler_threw(jn_result* result) noexcept {
  jn_buffer_release(&result->response);
  result->response = jn_buffer{};
  std::string message;
  try {
    message = current_exception_message();
  } catch (...) {
    message.clear();
  }
  status_assign(&result->status, JN_INTERNAL, message);
}

}  // namespace junction::detail

extern "C" {

JN_API std::uint32_t jn_abi_version(void) { return JN_ABI_VERSION; }

JN_API const char* jn_status_name(std::int32_t code) {
  static constexpr std::array<const char*, JN_STATUS_CODE_MAX + 1> names = {
      "OK",
      "CANCELLED",
      "UNKNOWN",
      "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED",
      "NOT_FOUND",
      "ALREADY_EXISTS",
      "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION",
      "ABORTED",
      "OUT_OF_RANGE",
      "UNIMPLEMENTED",
      "INTERNAL",
      "UNAVAILABLE",
      "DATA_LOSS",
      "UNAUTHENTICATED",
  };
  if (code < 0 || code > JN_STATUS_CODE_MAX) {
    return "INVALID_CODE";
  }
  return names[static_cast<std::size_t>(code)];
}

JN_API std::int64_t jn_now_ns(void) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

JN_API std::int32_t jn_status_set(jn_status* status, std::int32_t code, const char* message) {
  if (status == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  if (code < JN_OK || code > JN_STATUS_CODE_MAX) {
    return junction::detail::report_parts(
        status, JN_INVALID_ARGUMENT,
        {"status code ", junction::detail::DecimalText(code).view(), " is outside 0..16"});
  }
  junction::detail::status_assign(status, code, message == nullptr ? "" : message);
  return JN_OK;
}

JN_API void jn_status_release(jn_status* status) {
  if (status != nullptr) {
    jn_buffer_release(&status->message);
  }
}

JN_API void jn_result_release(jn_result* result) {
  if (result != nullptr) {
    jn_buffer_release(&result->status.message);
    jn_buffer_release(&result->response);
  }
}

}  // extern "C"
