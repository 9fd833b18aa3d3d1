// Ownership across the ABI, counted with a test-side producer: responses
// made by handlers, error responses dropped by the host, and request buffers
// transferred by jn_call_async are each released exactly once, and a refused
// jn_call_async takes nothing.
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

// What a handler answers: a counting-producer echo of the request and a code
// (set raw, so out-of-range codes can be tried).
struct Answer {
  CountingProducer* producer = nullptr;
  int32_t code = JN_OK;

  void Fill(jn_bytes req, jn_result* r) const {
    r->response = producer->Make(
        std::string_view(reinterpret_cast<const char*>(req.data), static_cast<size_t>(req.len)));
    r->status.code = code;
  }
  static void Sync(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_result* r) {
    static_cast<Answer*>(ctx)->Fill(req, r);
  }
  static void Async(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_completion c) {
    jn_result r{};
    static_cast<Answer*>(ctx)->Fill(req, &r);
    jn_complete(c, &r);
  }
};

class OwnershipTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    answer_.producer = &responses_;
    host_ = NewHost();
    ASSERT_NE(host_, nullptr);
    ASSERT_EQ(Register(host_.get(), "own",
                       {{"sync", &Answer::Sync, nullptr, &answer_},
                        {"async", nullptr, &Answer::Async, &answer_},
                        {"park", nullptr, &Parking::Handler, &parking_}}),
              JN_OK);
    sync_ = Resolve(host_.get(), "own", "sync");
    async_ = Resolve(host_.get(), "own", "async");
    park_ = Resolve(host_.get(), "own", "park");
    ASSERT_TRUE(sync_ && async_ && park_);
  }
  void TearDown() override {
    sync_.reset();
    async_.reset();
    park_.reset();
    host_.reset();
    EXPECT_EQ(responses_.over_released(), 0);
    EXPECT_EQ(requests_.over_released(), 0);
    LeakCheckedTest::TearDown();
  }

  // Starts an async call with a counting request; returns the code.
  int32_t StartAsync(const jn_method* m, std::string_view text, DoneRecord* done, jn_buffer* req,
                     int64_t deadline = JN_NO_DEADLINE) {
    *req = requests_.Make(text);
    return jn_call_async(m, req, deadline, &DoneRecord::Fn, done, nullptr);
  }

  CountingProducer responses_;
  CountingProducer requests_;
  Answer answer_;
  Parking parking_;
  HostPtr host_;
  MethodPtr sync_, async_, park_;
};

// A handler's response reaches the caller untouched by the host and is
// released once, when the caller releases the result.
TEST_F(OwnershipTest, SyncResponseReleasedOnceByCaller) {
  jn_result r{};
  ASSERT_EQ(jn_call(sync_.get(), View("resp"), JN_NO_DEADLINE, &r), JN_OK);
  EXPECT_EQ(Text(r.response), "resp");
  EXPECT_EQ(responses_.released(), 0) << "the host released a response it handed over";
  jn_result_release(&r);
  EXPECT_EQ(responses_.releases_of(0), 1);
  jn_result_release(&r);
  EXPECT_EQ(responses_.releases_of(0), 1);
}

// A handler that sets a response and an error code gets the response
// released by the host, exactly once, before jn_call returns.
TEST_F(OwnershipTest, ErrorResponseReleasedByHost) {
  int i = 0;
  for (int32_t code : {int32_t{JN_ABORTED}, int32_t{JN_NOT_FOUND}, int32_t{99}, int32_t{-3}}) {
    SCOPED_TRACE(code);
    answer_.code = code;
    jn_result r{};
    const int32_t rc = jn_call(sync_.get(), View("dropped"), JN_NO_DEADLINE, &r);
    EXPECT_EQ(rc, (code >= 0 && code <= JN_STATUS_CODE_MAX) ? code : JN_INTERNAL);
    EXPECT_EQ(r.response.release, nullptr);
    EXPECT_EQ(responses_.releases_of(i), 1);
    jn_result_release(&r);
    EXPECT_EQ(responses_.releases_of(i), 1);
    ++i;
  }
}

// A thousand calls: every response released exactly once.
TEST_F(OwnershipTest, ManyResponsesEachReleasedOnce) {
  for (int i = 0; i < 1000; ++i) {
    answer_.code = (i % 3 == 0) ? JN_UNAVAILABLE : JN_OK;
    jn_result r{};
    jn_call(sync_.get(), View("r"), JN_NO_DEADLINE, &r);
    jn_result_release(&r);
  }
  EXPECT_EQ(responses_.made(), 1000);
  EXPECT_EQ(responses_.released(), 1000);
  EXPECT_EQ(responses_.over_released(), 0);
}

// jn_call_async takes the request (source marked released) and releases it
// once; the response reaches done, which releases it once.
TEST_F(OwnershipTest, AsyncRequestAndResponseReleasedOnce) {
  for (const jn_method* m : {sync_.get(), async_.get()}) {
    DoneRecord& done = *NewDone();
    jn_buffer req{};
    ASSERT_EQ(StartAsync(m, "ping", &done, &req), JN_OK);
    EXPECT_EQ(req.release, nullptr) << "a transferred request is marked released";
    ASSERT_TRUE(done.Wait());
    EXPECT_EQ(done.Code(), JN_OK);
    EXPECT_EQ(done.Response(), "ping");
  }
  EXPECT_TRUE(requests_.WaitReleased(2));
  EXPECT_TRUE(responses_.WaitReleased(2));
  host_.reset();
  EXPECT_EQ(requests_.released(), 2);
  EXPECT_EQ(responses_.released(), 2);
}

// An async handler's request stays valid (unreleased) until jn_complete,
// even when completion happens on another thread.
TEST_F(OwnershipTest, AsyncRequestHeldUntilComplete) {
  DoneRecord& done = *NewDone();
  jn_buffer req{};
  ASSERT_EQ(StartAsync(park_.get(), "held request", &done, &req), JN_OK);
  ASSERT_TRUE(parking_.WaitInvoked(1));
  jn_completion c{};
  jn_bytes view{};
  ASSERT_TRUE(parking_.Take(&c, &view));
  EXPECT_EQ(requests_.released(), 0);
  int32_t rc = -1;
  std::thread completer([&] {
    const std::string seen(reinterpret_cast<const char*>(view.data), static_cast<size_t>(view.len));
    EXPECT_EQ(requests_.released(), 0);
    jn_result r{};
    r.response = responses_.Make(seen);
    rc = jn_complete(c, &r);
    EXPECT_EQ(r.response.release, nullptr);
  });
  completer.join();
  EXPECT_EQ(rc, JN_OK);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Response(), "held request");
  EXPECT_TRUE(requests_.WaitReleased(1));
  EXPECT_TRUE(responses_.WaitReleased(1));
}

// An async handler that completes with a response and an error code: done
// sees the code and no response; the host released the response once.
TEST_F(OwnershipTest, AsyncErrorResponseReleasedByHost) {
  for (const jn_method* m : {sync_.get(), async_.get()}) {
    answer_.code = JN_RESOURCE_EXHAUSTED;
    DoneRecord& done = *NewDone();
    jn_buffer req{};
    ASSERT_EQ(StartAsync(m, "err", &done, &req), JN_OK);
    ASSERT_TRUE(done.Wait());
    EXPECT_EQ(done.Code(), JN_RESOURCE_EXHAUSTED);
    EXPECT_FALSE(done.response_on_error);
  }
  EXPECT_TRUE(responses_.WaitReleased(2));
  EXPECT_TRUE(requests_.WaitReleased(2));
  host_.reset();
  EXPECT_EQ(responses_.released(), 2);
  EXPECT_EQ(requests_.released(), 2);
}

// jn_complete takes the whole result (message and response) even when the
// call it names is unknown.
TEST_F(OwnershipTest, CompleteAlwaysTakesResult) {
  jn_result r{};
  ASSERT_EQ(jn_status_set(&r.status, JN_ABORTED, "msg"), JN_OK);
  r.response = responses_.Make("orphan");
  EXPECT_EQ(jn_complete(jn_completion{0xdeadbeefcafeull, 0}, &r), JN_FAILED_PRECONDITION);
  EXPECT_EQ(r.response.release, nullptr);
  EXPECT_EQ(r.status.message.release, nullptr);
  EXPECT_EQ(responses_.releases_of(0), 1);
}

// A refused jn_call_async (no done) takes nothing: the request is still the
// caller's to release.
TEST_F(OwnershipTest, RefusedAsyncCallTakesNothing) {
  jn_buffer req = requests_.Make("keep");
  EXPECT_EQ(jn_call_async(sync_.get(), &req, JN_NO_DEADLINE, nullptr, nullptr, nullptr),
            JN_INVALID_ARGUMENT);
  EXPECT_NE(req.release, nullptr);
  EXPECT_EQ(Text(req), "keep");
  EXPECT_EQ(requests_.released(), 0);
  jn_buffer_release(&req);
  EXPECT_EQ(requests_.releases_of(0), 1);
}

// After unregister or with a past deadline, jn_call_async either refuses
// (request still the caller's, done never runs) or accepts and answers done
// once with the failure; either way the request is released exactly once.
TEST_F(OwnershipTest, AsyncFailureEitherRefusesOrAnswersOnce) {
  struct Case {
    const char* what;
    const jn_method* method;
    int64_t deadline;
    int32_t want;
  };
  DoneRecord& d1 = *NewDone();
  DoneRecord& d2 = *NewDone();
  const Case cases[] = {{"past deadline", sync_.get(), jn_now_ns() - 1, JN_DEADLINE_EXCEEDED},
                        {"unregistered", nullptr, JN_NO_DEADLINE, JN_NOT_FOUND}};
  DoneRecord* dones[] = {&d1, &d2};
  int made = 0;
  for (int i = 0; i < 2; ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.what);
    const jn_method* m = c.method;
    if (m == nullptr) {
      ASSERT_EQ(jn_host_unregister(host_.get(), "own", nullptr), JN_OK);
      m = sync_.get();
    }
    jn_buffer req{};
    const int32_t rc = StartAsync(m, "x", dones[i], &req, c.deadline);
    ++made;
    if (rc == JN_OK) {
      EXPECT_EQ(req.release, nullptr);
      ASSERT_TRUE(dones[i]->Wait());
      EXPECT_EQ(dones[i]->Code(), c.want);
    } else {
      EXPECT_EQ(rc, c.want);
      EXPECT_NE(req.release, nullptr) << "a refused call must not take the request";
      EXPECT_EQ(dones[i]->count.load(), 0);
      jn_buffer_release(&req);
    }
    EXPECT_TRUE(requests_.WaitReleased(made));
  }
  EXPECT_EQ(responses_.made(), 0) << "no handler ran";
  host_.reset();
  EXPECT_LE(d1.count.load(), 1);
  EXPECT_LE(d2.count.load(), 1);
  EXPECT_EQ(requests_.released(), 2);
}

}  // namespace
}  // namespace jntest
