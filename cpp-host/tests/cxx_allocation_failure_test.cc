// Out of memory in the C++ API's exception wall and in call_async's
// delivery: the caller still gets its answer, with the code and whatever
// message memory allowed, and the process goes on (failing_allocation.hh:
// built without sanitizers).
#include <gtest/gtest.h>
#include <junction.h>

#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <junction/junction.hpp>
#include <memory>
#include <string>

#include "failing_allocation.hh"

namespace {

using junction::Buffer;
using junction::Code;
using junction::Deadline;
using junction::Host;
using junction::Method;
using junction::Result;
using junction::Service;
using std::chrono::seconds;

constexpr std::size_t kLongText = 3000;

// An exception whose what() is kLongText bytes, thrown without allocating.
struct LongWhat : std::exception {
  [[nodiscard]] const char* what() const noexcept override { return text().c_str(); }
  static const std::string& text() {
    static const std::string long_text(kLongText, 'w');
    return long_text;
  }
};

// A handler whose exception's what() is long, and after whose throw this
// thread has no memory for anything as long: the wall's "handler threw: "
// message cannot be made.
TEST(CxxAllocationFailureTest, TheWallAnswersInternalWithoutMemoryForItsMessage) {
  Host host;
  host.register_service(
      Service("throws").method("long", [](std::span<const std::uint8_t>, Deadline) -> Buffer {
        static_cast<void>(LongWhat::text());
        jnfail::failing_from = kLongText;
        throw LongWhat();
      }));
  const Method method = host.resolve("throws", "long");
  jn_result result{};
  const std::int32_t code = jn_call(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, &result);
  jnfail::failing_from = 0;
  EXPECT_EQ(code, JN_INTERNAL);
  EXPECT_EQ(result.status.message.len, kLongText) << "what() alone, without the prefix";
  jn_result_release(&result);
}

// A C handler failing with a long message, on a worker thread that then
// has no memory for a copy of it: call_async's done still runs, once, with
// the code.
void fails_long(void* /*ctx*/, jn_bytes /*request*/, std::int64_t /*deadline*/, jn_result* result) {
  const std::string message(kLongText, 'm');
  jn_status_set(&result->status, JN_PERMISSION_DENIED, message.c_str());
  jnfail::failing_from = kLongText;
}

TEST(CxxAllocationFailureTest, CallAsyncsDoneRunsWithoutMemoryForTheMessage) {
  Host host;
  const jn_method_desc methods[] = {{"long", fails_long, nullptr, nullptr}};
  jn_service_desc service{};
  service.abi_version = JN_ABI_VERSION;
  service.name = "fails";
  service.method_count = 1;
  service.methods = methods;
  ASSERT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
  const Method method = host.resolve("fails", "long");
  auto done = std::make_shared<std::promise<Result>>();
  method.call_async(Buffer(), junction::no_deadline, [done](Result result) {
    jnfail::failing_from = 0;
    done->set_value(std::move(result));
  });
  auto outcome = done->get_future();
  ASSERT_EQ(outcome.wait_for(seconds(10)), std::future_status::ready);
  const Result result = outcome.get();
  EXPECT_EQ(result.code, Code::permission_denied);
  EXPECT_TRUE(result.message.empty());
}

}  // namespace
