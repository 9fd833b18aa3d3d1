// Library-level functions: version, status names, the clock, jn_status_set
// and the release functions for statuses and results.
#include <climits>
#include <cstring>
#include <junction/junction.hpp>
#include <string>
#include <thread>

#include "test_support.h"

namespace jntest {
namespace {

class StatusTest : public LeakCheckedTest {
 protected:
  CountingProducer producer_;
};

// The library reports the ABI version it was built with.
TEST_F(StatusTest, AbiVersionMatchesHeader) {
  EXPECT_EQ(jn_abi_version(), JN_ABI_VERSION);
  EXPECT_EQ(JN_ABI_VERSION_MAJOR_OF(jn_abi_version()), static_cast<uint32_t>(JN_ABI_VERSION_MAJOR));
  EXPECT_EQ(JN_ABI_VERSION_MINOR_OF(jn_abi_version()), static_cast<uint32_t>(JN_ABI_VERSION_MINOR));
}

// Every code has its canonical gRPC name.
TEST_F(StatusTest, StatusNameForEveryCode) {
  const char* const names[] = {"OK",
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
                               "UNAUTHENTICATED"};
  static_assert(sizeof(names) / sizeof(names[0]) == JN_STATUS_CODE_MAX + 1);
  for (int32_t code = 0; code <= JN_STATUS_CODE_MAX; ++code) {
    const char* name = jn_status_name(code);
    ASSERT_NE(name, nullptr) << code;
    EXPECT_STREQ(name, names[code]) << code;
    EXPECT_EQ(junction::code_name(static_cast<junction::Code>(code)), std::string_view(name));
  }
}

// Numbers outside 0..JN_STATUS_CODE_MAX are "INVALID_CODE".
TEST_F(StatusTest, StatusNameOutOfRange) {
  for (int32_t code : {-1, JN_STATUS_CODE_MAX + 1, 100, INT32_MIN, INT32_MAX}) {
    const char* name = jn_status_name(code);
    ASSERT_NE(name, nullptr) << code;
    EXPECT_STREQ(name, "INVALID_CODE") << code;
  }
}

// The clock is monotonic and advances.
TEST_F(StatusTest, NowIsMonotonic) {
  int64_t prev = jn_now_ns();
  EXPECT_GT(prev, 0);
  for (int i = 0; i < 1000; ++i) {
    const int64_t now = jn_now_ns();
    ASSERT_GE(now, prev);
    prev = now;
  }
  const int64_t start = jn_now_ns();
  std::this_thread::sleep_for(2ms);
  EXPECT_GE(jn_now_ns() - start, 1'000'000);
  EXPECT_LT(jn_now_ns(), JN_NO_DEADLINE);
}

// jn_status_set copies the message (a live host buffer) and sets the code.
TEST_F(StatusTest, StatusSetCopiesMessage) {
  const jn_live_counts before = LiveCounts();
  char text[] = "boom";
  jn_status s{};
  ASSERT_EQ(jn_status_set(&s, JN_NOT_FOUND, text), JN_OK);
  text[0] = 'X';
  EXPECT_EQ(s.code, JN_NOT_FOUND);
  EXPECT_EQ(Message(s), "boom");
  EXPECT_EQ(LiveCounts().buffers, before.buffers + 1);
  jn_status_release(&s);
  EXPECT_EQ(s.message.release, nullptr);
  EXPECT_EQ(s.code, JN_NOT_FOUND) << "release leaves the code";
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// Setting a status again releases the message it held first.
TEST_F(StatusTest, StatusSetReplacesMessage) {
  const jn_live_counts before = LiveCounts();
  jn_status s{};
  ASSERT_EQ(jn_status_set(&s, JN_ABORTED, "first"), JN_OK);
  ASSERT_EQ(jn_status_set(&s, JN_UNAVAILABLE, "second message"), JN_OK);
  EXPECT_EQ(s.code, JN_UNAVAILABLE);
  EXPECT_EQ(Message(s), "second message");
  const jn_live_counts during = LiveCounts();
  EXPECT_EQ(during.buffers, before.buffers + 1);
  EXPECT_EQ(during.buffer_bytes, before.buffer_bytes + std::strlen("second message"));
  ASSERT_EQ(jn_status_set(&s, JN_OK, nullptr), JN_OK);
  EXPECT_EQ(s.code, JN_OK);
  EXPECT_EQ(Message(s), "");
  jn_status_release(&s);
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// A status given its own message with another code keeps the text: the
// message is copied before the old one is released (host messages are
// NUL-terminated, so their data is a C string).
TEST_F(StatusTest, StatusSetMayBeGivenItsOwnMessage) {
  const jn_live_counts before = LiveCounts();
  const std::string text(100, 'm');
  jn_status s{};
  ASSERT_EQ(jn_status_set(&s, JN_ABORTED, text.c_str()), JN_OK);
  ASSERT_EQ(jn_status_set(&s, JN_UNAVAILABLE, reinterpret_cast<const char*>(s.message.data)),
            JN_OK);
  EXPECT_EQ(s.code, JN_UNAVAILABLE);
  EXPECT_EQ(Message(s), text);
  jn_status_release(&s);
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// An out-of-range code is refused: the status then holds
// JN_INVALID_ARGUMENT with the reason, and its old message was released.
TEST_F(StatusTest, StatusSetOutOfRangeCode) {
  const jn_live_counts before = LiveCounts();
  for (int32_t code : {-1, JN_STATUS_CODE_MAX + 1, INT32_MIN}) {
    SCOPED_TRACE(code);
    jn_status s{};
    ASSERT_EQ(jn_status_set(&s, JN_ABORTED, "old"), JN_OK);
    EXPECT_EQ(jn_status_set(&s, code, "new"), JN_INVALID_ARGUMENT);
    EXPECT_EQ(s.code, JN_INVALID_ARGUMENT);
    EXPECT_FALSE(Message(s).empty());
    EXPECT_NE(Message(s), "old");
    EXPECT_EQ(LiveCounts().buffers, before.buffers + 1) << "one message held";
    jn_status_release(&s);
  }
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// A NULL status is refused.
TEST_F(StatusTest, StatusSetNullStatus) {
  EXPECT_EQ(jn_status_set(nullptr, JN_INTERNAL, "x"), JN_INVALID_ARGUMENT);
}

// jn_result_release releases both the message and the response, keeps the
// code, and is idempotent; NULLs are no-ops.
TEST_F(StatusTest, ResultReleaseReleasesBoth) {
  jn_result r{};
  ASSERT_EQ(jn_status_set(&r.status, JN_DATA_LOSS, "lost"), JN_OK);
  r.response = producer_.Make("resp");
  jn_result_release(&r);
  EXPECT_EQ(r.status.code, JN_DATA_LOSS);
  EXPECT_EQ(r.status.message.release, nullptr);
  EXPECT_EQ(r.response.release, nullptr);
  EXPECT_EQ(producer_.releases_of(0), 1);
  jn_result_release(&r);
  EXPECT_EQ(producer_.releases_of(0), 1);
  jn_result_release(nullptr);
  jn_status_release(nullptr);
}

// jn_live_objects needs somewhere to write.
TEST_F(StatusTest, LiveObjectsNull) { EXPECT_EQ(jn_live_objects(nullptr), JN_INVALID_ARGUMENT); }

// junction::Error carries its code and message.
TEST_F(StatusTest, CxxErrorCarriesCode) {
  junction::Error e(junction::Code::permission_denied, "no entry");
  EXPECT_EQ(e.code(), junction::Code::permission_denied);
  EXPECT_TRUE(Contains(e.what(), "no entry")) << e.what();
  const std::runtime_error& base = e;
  EXPECT_TRUE(Contains(base.what(), "no entry"));
}

// deadline_after is relative to jn_now_ns().
TEST_F(StatusTest, CxxDeadlineAfter) {
  const int64_t before = jn_now_ns();
  const junction::Deadline d = junction::deadline_after(100ms);
  const int64_t after = jn_now_ns();
  EXPECT_GE(d, before + 100'000'000);
  EXPECT_LE(d, after + 100'000'000);
  EXPECT_EQ(junction::no_deadline, JN_NO_DEADLINE);
}

}  // namespace
}  // namespace jntest
