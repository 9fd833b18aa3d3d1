// jn_call_into and jn_respond (ABI 1.1): a response written into the room
// the caller lends, without an allocation when it fits; a host buffer when
// it does not, when nothing was lent, or for another call's result; nested
// calls each with their own room; bad arguments refused.
#include <array>
#include <cstring>
#include <junction/junction.hpp>
#include <string>

#include "test_support.h"

namespace jntest {
namespace {

// Answers the request through jn_respond.
void RespondEcho(void* /*ctx*/, jn_bytes request, int64_t /*deadline_ns*/, jn_result* result) {
  jn_respond(result, request.data, request.len);
}

// Answers through jn_respond, then fails: the response must be dropped.
void RespondThenFail(void* /*ctx*/, jn_bytes request, int64_t /*deadline_ns*/, jn_result* result) {
  jn_respond(result, request.data, request.len);
  jn_status_set(&result->status, JN_UNAVAILABLE, "changed its mind");
}

// Calls the method in ctx with jn_call_into and its own room, then answers
// "outer:" + the inner response through jn_respond.
void Nesting(void* ctx, jn_bytes request, int64_t /*deadline_ns*/, jn_result* result) {
  uint8_t inner_room[64];
  jn_result inner{};
  jn_call_into(static_cast<const jn_method*>(ctx), request, JN_NO_DEADLINE, inner_room,
               sizeof inner_room, &inner);
  const bool inner_in_room = inner.response.data == inner_room;
  std::string answer = inner_in_room ? "outer:" : "inner missed its room:";
  answer.append(reinterpret_cast<const char*>(inner.response.data),
                static_cast<size_t>(inner.response.len));
  jn_result_release(&inner);
  jn_respond(result, reinterpret_cast<const uint8_t*>(answer.data()), answer.size());
}

class CallIntoTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    host_ = NewHost();
    ASSERT_NE(host_, nullptr);
    ASSERT_EQ(Register(host_.get(), "lent",
                       {{"echo", &RespondEcho, nullptr, nullptr},
                        {"fail", &RespondThenFail, nullptr, nullptr},
                        {"owned", &Probe::Echo, nullptr, &probe_}}),
              JN_OK);
    echo_ = Resolve(host_.get(), "lent", "echo");
    fail_ = Resolve(host_.get(), "lent", "fail");
    owned_ = Resolve(host_.get(), "lent", "owned");
    ASSERT_TRUE(echo_ && fail_ && owned_);
  }
  void TearDown() override {
    echo_.reset();
    fail_.reset();
    owned_.reset();
    host_.reset();
    LeakCheckedTest::TearDown();
  }

  Probe probe_;
  HostPtr host_;
  MethodPtr echo_, fail_, owned_;
};

jn_bytes Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST_F(CallIntoTest, AResponseThatFitsIsWrittenIntoTheRoomWithoutAnAllocation) {
  uint8_t room[32];
  const jn_live_counts before = LiveCounts();
  ScopedResult r;
  ASSERT_EQ(jn_call_into(echo_.get(), Bytes("lent room"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_OK);
  EXPECT_EQ(r.r.response.data, room);
  EXPECT_EQ(Text(r.r.response), "lent room");
  EXPECT_NE(r.r.response.release, nullptr);
  EXPECT_TRUE(SameCounts(LiveCounts(), before)) << "no host buffer for a response that fits";
}

TEST_F(CallIntoTest, ALargerResponseIsAnOwnedBuffer) {
  uint8_t room[4];
  ScopedResult r;
  ASSERT_EQ(jn_call_into(echo_.get(), Bytes("too long"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_OK);
  EXPECT_NE(r.r.response.data, room);
  EXPECT_EQ(Text(r.r.response), "too long");
  EXPECT_EQ(LiveCounts().buffers, baseline_.buffers + 1);
}

TEST_F(CallIntoTest, ExactFitAndEmptyResponses) {
  uint8_t room[5];
  ScopedResult exact;
  ASSERT_EQ(jn_call_into(echo_.get(), Bytes("12345"), JN_NO_DEADLINE, room, sizeof room, &exact.r),
            JN_OK);
  EXPECT_EQ(exact.r.response.data, room);
  ScopedResult empty;
  ASSERT_EQ(jn_call_into(echo_.get(), Bytes(""), JN_NO_DEADLINE, nullptr, 0, &empty.r), JN_OK);
  EXPECT_EQ(empty.r.response.len, 0U);
  EXPECT_NE(empty.r.response.release, nullptr);
}

// Every length up to and past the room arrives intact (short responses are
// copied inline, longer ones by memcpy).
TEST_F(CallIntoTest, EveryLengthArrivesIntact) {
  uint8_t room[32];
  for (size_t len = 0; len <= 40; ++len) {
    SCOPED_TRACE(len);
    std::string request(len, '\0');
    for (size_t i = 0; i < len; ++i) request[i] = static_cast<char>('a' + i % 26);
    std::memset(room, 0xee, sizeof room);
    ScopedResult r;
    ASSERT_EQ(jn_call_into(echo_.get(), Bytes(request), JN_NO_DEADLINE, room, sizeof room, &r.r),
              JN_OK);
    EXPECT_EQ(Text(r.r.response), request);
    EXPECT_EQ(r.r.response.data == room, len <= sizeof room);
    if (len < sizeof room) {
      EXPECT_EQ(room[len], 0xee) << "written past the response";
    }
  }
}

TEST_F(CallIntoTest, WithoutARoomJnRespondMakesAHostBuffer) {
  ScopedResult r;
  ASSERT_EQ(jn_call(echo_.get(), Bytes("plain call"), JN_NO_DEADLINE, &r.r), JN_OK);
  EXPECT_EQ(Text(r.r.response), "plain call");
  EXPECT_EQ(LiveCounts().buffers, baseline_.buffers + 1);
}

TEST_F(CallIntoTest, HandlersThatSetTheirOwnResponseAreUnaffected) {
  uint8_t room[64];
  ScopedResult r;
  ASSERT_EQ(jn_call_into(owned_.get(), Bytes("owned"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_OK);
  EXPECT_NE(r.r.response.data, room);
  EXPECT_EQ(Text(r.r.response), "owned");
}

TEST_F(CallIntoTest, AFailedCallDropsWhatWasWrittenIntoTheRoom) {
  uint8_t room[64];
  ScopedResult r;
  EXPECT_EQ(jn_call_into(fail_.get(), Bytes("x"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_UNAVAILABLE);
  EXPECT_EQ(r.r.response.release, nullptr);
  EXPECT_EQ(Message(r.r.status), "changed its mind");
}

TEST_F(CallIntoTest, NestedCallsEachUseTheirOwnRoom) {
  ASSERT_EQ(Register(host_.get(), "nest", {{"outer", &Nesting, nullptr, echo_.get()}}), JN_OK);
  MethodPtr outer = Resolve(host_.get(), "nest", "outer");
  ASSERT_TRUE(outer);
  uint8_t room[64];
  ScopedResult r;
  ASSERT_EQ(jn_call_into(outer.get(), Bytes("inner"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_OK);
  EXPECT_EQ(r.r.response.data, room);
  EXPECT_EQ(Text(r.r.response), "outer:inner");
}

// After jn_call_into returns, its room is no longer lent: answering the same
// result again (a misbehaving caller) makes a host buffer instead of writing
// into memory the caller may have reused.
TEST_F(CallIntoTest, TheRoomIsLentForTheCallOnly) {
  uint8_t room[64];
  ScopedResult r;
  ASSERT_EQ(jn_call_into(echo_.get(), Bytes("first"), JN_NO_DEADLINE, room, sizeof room, &r.r),
            JN_OK);
  ASSERT_EQ(jn_respond(&r.r, reinterpret_cast<const uint8_t*>("late"), 4), JN_OK);
  EXPECT_NE(r.r.response.data, room);
  EXPECT_EQ(Text(r.r.response), "late");
  EXPECT_EQ(std::memcmp(room, "first", 5), 0) << "the room was written after the call";
}

TEST(CallIntoCxxTest, MethodCallIntoViewsTheRoom) {
  junction::Host host;
  junction::register_service(host.raw(), [] {
    junction::Service service("lent");
    service.method("len", [](std::span<const std::uint8_t> request, junction::Deadline) {
      return junction::Buffer::copy_of(std::to_string(request.size()));
    });
    return service;
  }());
  jn_method_desc desc = {"respond", &RespondEcho, nullptr, nullptr};
  jn_service_desc service = {JN_ABI_VERSION, 1, "raw", &desc, nullptr, nullptr};
  ASSERT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
  std::array<std::uint8_t, 16> room{};
  const junction::Method respond = host.resolve("raw", "respond");
  const std::string request = "in the room";
  const junction::Buffer answer = respond.call_into(
      {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()}, room);
  EXPECT_EQ(answer.data(), room.data());
  EXPECT_EQ(answer.text(), "in the room");
  const junction::Buffer owned =
      host.resolve("lent", "len")
          .call_into({reinterpret_cast<const std::uint8_t*>(request.data()), request.size()}, room);
  EXPECT_NE(owned.data(), room.data());
  EXPECT_EQ(owned.text(), "11");
  // A deadline already past: the call fails, as call would.
  EXPECT_THROW((void)respond.call_into({}, room, 0), junction::Error);
}

TEST_F(CallIntoTest, BadArgumentsAreRefused) {
  EXPECT_EQ(jn_call_into(echo_.get(), Bytes("x"), JN_NO_DEADLINE, nullptr, 0, nullptr),
            JN_INVALID_ARGUMENT);
  ScopedResult r;
  EXPECT_EQ(jn_call_into(echo_.get(), Bytes("x"), JN_NO_DEADLINE, nullptr, 8, &r.r),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(r.r.status.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(Message(r.r.status), "dst is NULL but dst_cap is not 0");
  uint8_t room[8];
  ScopedResult no_method;
  EXPECT_EQ(jn_call_into(nullptr, Bytes("x"), JN_NO_DEADLINE, room, sizeof room, &no_method.r),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_respond(nullptr, reinterpret_cast<const uint8_t*>("x"), 1), JN_INVALID_ARGUMENT);
  ScopedResult untouched;
  EXPECT_EQ(jn_respond(&untouched.r, nullptr, 3), JN_INVALID_ARGUMENT);
  EXPECT_EQ(untouched.r.response.release, nullptr);
}

}  // namespace
}  // namespace jntest
