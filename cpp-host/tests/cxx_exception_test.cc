// The exception wall: exceptions thrown by C++ handlers never cross the C
// ABI. junction::Error becomes its code and message, std::exception becomes
// JN_INTERNAL with what(), anything else JN_INTERNAL; the host stays usable.
#include <future>
#include <junction/junction.hpp>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

using junction::Buffer;
using junction::Code;
using junction::Completion;
using junction::Deadline;
using junction::Error;
using junction::Host;
using junction::Method;
using junction::Result;
using junction::Service;

// Throws according to the request's first byte.
Buffer Thrower(std::span<const uint8_t> req, Deadline /*deadline*/) {
  const char kind = req.empty() ? '-' : static_cast<char>(req[0]);
  switch (kind) {
    case 'e':
      throw Error(Code::not_found, "no such thing");
    case 'r':
      throw std::runtime_error("kaboom");
    case 'o':
      throw std::out_of_range("index 42");
    case 'a':
      throw std::bad_alloc();
    case 'i':
      throw 42;
    case 's':
      throw std::string("a string");
    default:
      return Buffer::copy_of(std::string_view("fine"));
  }
}

class CxxExceptionTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    host_ = std::make_unique<Host>();
    host_->register_service(Service("svc")
                                .method("throw", &Thrower)
                                .async_method("async_throw", [](std::span<const uint8_t> req,
                                                                Deadline d, Completion c) {
                                  if (!req.empty() && req[0] == 'c') {  // complete, then throw
                                    c.succeed(Buffer::copy_of(std::string_view("completed")));
                                    throw std::runtime_error("after completion");
                                  }
                                  (void)Thrower(req, d);
                                  c.succeed(Buffer::copy_of(std::string_view("fine")));
                                }));
    m_ = host_->resolve("svc", "throw");
    async_ = host_->resolve("svc", "async_throw");
  }
  void TearDown() override {
    m_ = Method();
    async_ = Method();
    host_.reset();
    LeakCheckedTest::TearDown();
  }

  // Calls through the C ABI and returns (code, message).
  static std::pair<int32_t, std::string> CCall(const Method& m, std::string_view req) {
    ScopedResult r;
    const int32_t rc = Call(m.raw(), req, r, jn_now_ns() + 5'000'000'000);
    if (rc != JN_OK) {
      EXPECT_EQ(r.r.response.release, nullptr) << "failed calls carry no response";
    }
    return {rc, r.message()};
  }

  std::unique_ptr<Host> host_;
  Method m_, async_;
};

// junction::Error(code, message) becomes that code and message.
TEST_F(CxxExceptionTest, ErrorBecomesItsCode) {
  const auto [rc, msg] = CCall(m_, "e");
  EXPECT_EQ(rc, JN_NOT_FOUND);
  EXPECT_TRUE(Contains(msg, "no such thing")) << msg;
}

// std::runtime_error and other std exceptions become JN_INTERNAL with what().
TEST_F(CxxExceptionTest, StdExceptionsBecomeInternalWithWhat) {
  const auto [rc, msg] = CCall(m_, "r");
  EXPECT_EQ(rc, JN_INTERNAL);
  EXPECT_TRUE(Contains(msg, "kaboom")) << msg;
  const auto [rc2, msg2] = CCall(m_, "o");
  EXPECT_EQ(rc2, JN_INTERNAL);
  EXPECT_TRUE(Contains(msg2, "index 42")) << msg2;
  const auto [rc3, msg3] = CCall(m_, "a");
  EXPECT_EQ(rc3, JN_INTERNAL);
}

// A junction::Error whose code is outside 0..JN_STATUS_CODE_MAX becomes
// JN_INTERNAL, like any out-of-range handler code.
TEST_F(CxxExceptionTest, ErrorWithOutOfRangeCodeBecomesInternal) {
  Host host;
  host.register_service(
      Service("odd").method("m", [](std::span<const uint8_t>, Deadline) -> Buffer {
        throw Error(static_cast<Code>(99), "odd code");
      }));
  Method m = host.resolve("odd", "m");
  ScopedResult r;
  EXPECT_EQ(Call(m.raw(), "x", r), JN_INTERNAL) << r.message();
}

// Completion::fail with an out-of-range code answers JN_INTERNAL too.
TEST_F(CxxExceptionTest, CompletionFailWithOutOfRangeCodeBecomesInternal) {
  Host host;
  host.register_service(
      Service("odd").async_method("m", [](std::span<const uint8_t>, Deadline, Completion c) {
        c.fail(static_cast<Code>(99), "odd code");
      }));
  Method m = host.resolve("odd", "m");
  ScopedResult r;
  EXPECT_EQ(Call(m.raw(), "x", r, jn_now_ns() + 5'000'000'000), JN_INTERNAL) << r.message();
}

// Non-std exceptions (an int, a std::string) become JN_INTERNAL.
TEST_F(CxxExceptionTest, NonStdExceptionsBecomeInternal) {
  EXPECT_EQ(CCall(m_, "i").first, JN_INTERNAL);
  EXPECT_EQ(CCall(m_, "s").first, JN_INTERNAL);
}

// The same mapping holds for async handlers throwing before completing.
TEST_F(CxxExceptionTest, AsyncHandlerThrows) {
  const auto [rc, msg] = CCall(async_, "e");
  EXPECT_EQ(rc, JN_NOT_FOUND) << msg;
  EXPECT_TRUE(Contains(msg, "no such thing")) << msg;
  const auto [rc2, msg2] = CCall(async_, "r");
  EXPECT_EQ(rc2, JN_INTERNAL);
  EXPECT_EQ(CCall(async_, "i").first, JN_INTERNAL);
  EXPECT_EQ(CCall(async_, "normal").first, JN_OK);
}

// A completion dropped while an exception unwinds that the handler catches
// itself is answered INTERNAL when the handler returns: the call does not
// hang, and nothing is left pending.
TEST_F(CxxExceptionTest, ACompletionDroppedByAnExceptionTheHandlerCatchesIsAnswered) {
  host_->register_service(Service("swallows")
                              .async_method("wait", [](std::span<const uint8_t> /*request*/,
                                                       Deadline /*deadline*/, Completion c) {
                                try {
                                  const Completion held = std::move(c);
                                  throw std::runtime_error("bad request");
                                } catch (const std::runtime_error&) {
                                  // handled here, the completion gone with it
                                }
                              }));
  const auto [rc, msg] = CCall(host_->resolve("swallows", "wait"), "x");
  EXPECT_EQ(rc, JN_INTERNAL) << msg;
  EXPECT_TRUE(Contains(msg, "dropped its completion")) << msg;
}

// A handler that hands its Completion to another thread and then throws
// leaves the call to that thread: the caller gets the thread's answer, not
// the exception's, and the request the thread reads stays the call's until
// it answers.
TEST_F(CxxExceptionTest, AHandlerThatHandsOnItsCompletionAndThrowsLeavesTheCallToIt) {
  auto go_on = std::make_shared<std::promise<void>>();
  auto answered = std::make_shared<std::promise<Code>>();
  std::thread holder;
  host_->register_service(
      Service("hands_on")
          .async_method("wait", [&holder, go_on, answered](std::span<const uint8_t> request,
                                                           Deadline /*deadline*/, Completion c) {
            holder = std::thread([request, go_on, answered, held = std::move(c)]() mutable {
              go_on->get_future().wait();
              answered->set_value(held.succeed(Buffer::copy_of(request)));
            });
            throw std::runtime_error("failed after handing on its completion");
          }));
  const Method wait = host_->resolve("hands_on", "wait");
  auto result = std::make_shared<std::promise<Result>>();
  wait.call_async(Buffer::copy_of(std::string_view("the request")), junction::no_deadline,
                  [result](Result r) { result->set_value(std::move(r)); });
  auto outcome = result->get_future();
  EXPECT_EQ(outcome.wait_for(100ms), std::future_status::timeout) << "answered by the exception";
  go_on->set_value();
  auto holder_code = answered->get_future();
  ASSERT_EQ(holder_code.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(holder_code.get(), Code::ok);
  ASSERT_EQ(outcome.wait_for(5s), std::future_status::ready);
  const Result r = outcome.get();
  EXPECT_EQ(r.code, Code::ok) << r.message;
  EXPECT_EQ(r.response.text(), "the request");
  holder.join();
}

// A failure's code is an error code: Error(Code::ok) thrown, or
// Completion::fail(Code::ok), answers INTERNAL, never a success without a
// response.
TEST_F(CxxExceptionTest, AFailureWithCodeOkIsInternal) {
  Host host;
  host.register_service(
      Service("ok_failures")
          .method("thrown",
                  [](std::span<const uint8_t>, Deadline) -> Buffer {
                    throw Error(Code::ok, "not really");
                  })
          .async_method("failed", [](std::span<const uint8_t>, Deadline, Completion c) {
            c.fail(Code::ok, "not really");
          }));
  for (const char* name : {"thrown", "failed"}) {
    SCOPED_TRACE(name);
    const Method m = host.resolve("ok_failures", name);
    ScopedResult r;
    EXPECT_EQ(Call(m.raw(), "x", r, jn_now_ns() + 5'000'000'000), JN_INTERNAL);
    EXPECT_TRUE(Contains(r.message(), "failed with code OK: not really")) << r.message();
  }
}

// An exception after the completion was used leaves the answer unchanged.
TEST_F(CxxExceptionTest, ThrowAfterCompletionKeepsAnswer) {
  ScopedResult r;
  EXPECT_EQ(Call(async_.raw(), "c", r, jn_now_ns() + 5'000'000'000), JN_OK);
  EXPECT_EQ(r.response(), "completed");
}

// The exception reaches call_async's Result the same way.
TEST_F(CxxExceptionTest, CallAsyncSeesMappedCode) {
  for (const char* req : {"e", "r", "i"}) {
    SCOPED_TRACE(req);
    auto p = std::make_shared<std::promise<Result>>();
    m_.call_async(Buffer::copy_of(std::string_view(req)), junction::no_deadline,
                  [p](Result r) { p->set_value(std::move(r)); });
    auto f = p->get_future();
    ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
    const Result r = f.get();
    EXPECT_EQ(r.code, req[0] == 'e' ? Code::not_found : Code::internal);
  }
}

// Many throws in a row (and from several threads) leave the host working,
// counted as errors, and leak nothing (checked by the fixture).
TEST_F(CxxExceptionTest, HostUsableAfterManyThrows) {
  const char* kinds[] = {"e", "r", "o", "a", "i", "s"};
  for (int i = 0; i < 3000; ++i) {
    const auto [rc, msg] = CCall(m_, kinds[i % 6]);
    ASSERT_NE(rc, JN_OK) << i;
  }
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        ScopedResult r;
        const int32_t rc = Call(m_.raw(), kinds[(i + t) % 6], r);
        if (rc != JN_NOT_FOUND && rc != JN_INTERNAL) wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(m_.call("normal").text(), "fine");
  const junction::MethodStats s = m_.stats();
  EXPECT_EQ(s.calls, 3000u + 2000u + 1u);
  EXPECT_EQ(s.errors, 3000u + 2000u);
}

// Method::call rethrows the mapped status as junction::Error.
TEST_F(CxxExceptionTest, MethodCallRethrowsAsError) {
  try {
    (void)m_.call("r");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Code::internal);
    EXPECT_TRUE(Contains(e.what(), "kaboom")) << e.what();
  }
}

}  // namespace
}  // namespace jntest
