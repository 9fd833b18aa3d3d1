// Synchronous calls: payload sizes, request validation, deadlines, status
// codes and messages from handlers, and the result out-parameter.
#include <algorithm>
#include <climits>
#include <string>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

class CallTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    host_ = NewHost();
    ASSERT_NE(host_, nullptr);
    ASSERT_EQ(Register(host_.get(), "svc",
                       {{"echo", &Probe::Echo, nullptr, &probe_},
                        {"fail", &Fail, nullptr, &fail_code_},
                        {"big", &Big, nullptr, nullptr}}),
              JN_OK);
    echo_ = Resolve(host_.get(), "svc", "echo");
    fail_ = Resolve(host_.get(), "svc", "fail");
    ASSERT_TRUE(echo_ && fail_);
  }
  void TearDown() override {
    echo_.reset();
    fail_.reset();
    host_.reset();
    LeakCheckedTest::TearDown();
  }

  // Sets the request as message, the code in *ctx (raw, so out-of-range
  // codes can be tried), and a response.
  static void Fail(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_result* result) {
    const std::string msg(reinterpret_cast<const char*>(req.data), static_cast<size_t>(req.len));
    jn_status_set(&result->status, JN_UNKNOWN, msg.c_str());
    result->status.code = *static_cast<int32_t*>(ctx);
    jn_buffer_copy(reinterpret_cast<const uint8_t*>("junk"), 4, &result->response);
  }
  // Answers 16 MiB made with jn_buffer_new, each byte its index mod 251.
  static void Big(void* /*ctx*/, jn_bytes /*request*/, int64_t /*deadline_ns*/, jn_result* result) {
    uint8_t* data = nullptr;
    if (jn_buffer_new(kBig, &data, &result->response) != JN_OK) return;
    for (uint64_t i = 0; i < kBig; ++i) data[i] = static_cast<uint8_t>(i % 251);
  }
  static constexpr uint64_t kBig = 16u << 20;

  Probe probe_;
  int32_t fail_code_ = JN_ABORTED;
  HostPtr host_;
  MethodPtr echo_, fail_;
};

// Bytes go in and come back unchanged; the return value is the result code.
TEST_F(CallTest, EchoRoundTrip) {
  ScopedResult r;
  r.r.status.code = -1;
  const std::string req("hello\0world", 11);
  EXPECT_EQ(Call(echo_.get(), req, r), JN_OK);
  EXPECT_EQ(r.code(), JN_OK);
  EXPECT_EQ(r.response(), req);
  EXPECT_EQ(r.message(), "");
}

// Zero-length requests (NULL or not) and responses round-trip.
TEST_F(CallTest, ZeroLengthPayload) {
  const uint8_t byte = 0;
  for (jn_bytes req : {jn_bytes{nullptr, 0}, jn_bytes{&byte, 0}}) {
    ScopedResult r;
    EXPECT_EQ(jn_call(echo_.get(), req, JN_NO_DEADLINE, r.get()), JN_OK);
    EXPECT_EQ(r.r.response.len, 0u);
    EXPECT_EQ(probe_.last_len.load(), 0u);
  }
  EXPECT_EQ(probe_.calls.load(), 2);
}

// A 16 MiB request round-trips byte for byte.
TEST_F(CallTest, LargePayloadRoundTrip) {
  std::vector<uint8_t> req(16u << 20);
  for (size_t i = 0; i < req.size(); ++i) req[i] = static_cast<uint8_t>((i * 7) ^ (i >> 13));
  ScopedResult r;
  ASSERT_EQ(jn_call(echo_.get(), View(req), JN_NO_DEADLINE, r.get()), JN_OK);
  ASSERT_EQ(r.r.response.len, req.size());
  EXPECT_TRUE(std::equal(req.begin(), req.end(), r.r.response.data));
}

// A 16 MiB response made by the handler reaches the caller intact.
TEST_F(CallTest, LargeResponse) {
  MethodPtr big = Resolve(host_.get(), "svc", "big");
  ScopedResult r;
  ASSERT_EQ(Call(big.get(), "", r), JN_OK);
  ASSERT_EQ(r.r.response.len, kBig);
  bool same = true;
  for (uint64_t i = 0; i < kBig && same; ++i) same = r.r.response.data[i] == i % 251;
  EXPECT_TRUE(same);
}

// NULL data with a length is refused before the handler runs.
TEST_F(CallTest, NullDataWithLengthRefused) {
  ScopedResult r;
  EXPECT_EQ(jn_call(echo_.get(), jn_bytes{nullptr, 1}, JN_NO_DEADLINE, r.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(r.code(), JN_INVALID_ARGUMENT);
  EXPECT_EQ(probe_.calls.load(), 0);
}

// A deadline already past is JN_DEADLINE_EXCEEDED without running the
// handler.
TEST_F(CallTest, PastDeadlineDoesNotRunHandler) {
  for (int64_t deadline : {int64_t{0}, jn_now_ns() - 1, int64_t{INT64_MIN}, int64_t{-1}}) {
    SCOPED_TRACE(deadline);
    ScopedResult r;
    EXPECT_EQ(Call(echo_.get(), "late", r, deadline), JN_DEADLINE_EXCEEDED);
    EXPECT_EQ(r.code(), JN_DEADLINE_EXCEEDED);
    EXPECT_EQ(r.r.response.release, nullptr);
  }
  EXPECT_EQ(probe_.calls.load(), 0);
}

// The handler sees the caller's deadline unchanged.
TEST_F(CallTest, DeadlineReachesHandler) {
  ScopedResult r;
  const int64_t deadline = jn_now_ns() + 60'000'000'000;
  EXPECT_EQ(Call(echo_.get(), "x", r, deadline), JN_OK);
  EXPECT_EQ(probe_.last_deadline.load(), deadline);
  EXPECT_EQ(Call(echo_.get(), "x", r, JN_NO_DEADLINE), JN_OK);
  EXPECT_EQ(probe_.last_deadline.load(), JN_NO_DEADLINE);
}

// Every valid code set by a handler reaches the caller with its message,
// and the response of a failed call is empty.
TEST_F(CallTest, HandlerCodesAndMessagesPassThrough) {
  for (int32_t code = 1; code <= JN_STATUS_CODE_MAX; ++code) {
    SCOPED_TRACE(code);
    fail_code_ = code;
    ScopedResult r;
    const std::string msg = std::string("because ") + jn_status_name(code);
    EXPECT_EQ(Call(fail_.get(), msg, r), code);
    EXPECT_EQ(r.code(), code);
    EXPECT_EQ(r.message(), msg);
    EXPECT_EQ(r.r.response.release, nullptr) << "response of a failed call is released";
  }
}

// A code outside 0..JN_STATUS_CODE_MAX becomes JN_INTERNAL.
TEST_F(CallTest, OutOfRangeHandlerCodeBecomesInternal) {
  for (int32_t code : {-1, JN_STATUS_CODE_MAX + 1, 1000, INT32_MIN, INT32_MAX}) {
    SCOPED_TRACE(code);
    fail_code_ = code;
    ScopedResult r;
    EXPECT_EQ(Call(fail_.get(), "odd", r), JN_INTERNAL);
    EXPECT_EQ(r.code(), JN_INTERNAL);
    EXPECT_EQ(r.r.response.release, nullptr);
  }
}

// The result is written on failure too (NOT_FOUND after unregister).
TEST_F(CallTest, ResultWrittenOnFailure) {
  ASSERT_EQ(jn_host_unregister(host_.get(), "svc", nullptr), JN_OK);
  jn_result r{};
  r.status.code = -1;
  EXPECT_EQ(jn_call(echo_.get(), View("gone"), JN_NO_DEADLINE, &r), JN_NOT_FOUND);
  EXPECT_EQ(r.status.code, JN_NOT_FOUND);
  EXPECT_EQ(r.response.release, nullptr);
  jn_result_release(&r);
}

// Many calls in a row keep working and allocate nothing that outlives them.
TEST_F(CallTest, ManySequentialCalls) {
  const jn_live_counts before = LiveCounts();
  for (int i = 0; i < 10000; ++i) {
    ScopedResult r;
    const std::string req = std::to_string(i);
    ASSERT_EQ(Call(echo_.get(), req, r), JN_OK);
    ASSERT_EQ(r.response(), req);
  }
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

}  // namespace
}  // namespace jntest
