// The C++ RAII API: Host / Service / Method round trips, errors as
// junction::Error with codes, deadlines, call_async with Result, async
// methods with Completion, stats, moves, and handler state lifetime.
#include <future>
#include <junction/junction.hpp>
#include <memory>
#include <optional>
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

class CxxApiTest : public LeakCheckedTest {
 protected:
  CountingProducer producer_;
};

Buffer Echo(std::span<const uint8_t> req, Deadline /*deadline*/) { return Buffer::copy_of(req); }

// Runs f, expecting a junction::Error; returns its code (or -1 if none).
template <class F>
int ExpectError(F&& f, std::string* what = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (what != nullptr) *what = e.what();
    return static_cast<int>(e.code());
  } catch (...) {
    return -2;
  }
  return -1;
}

// Parked completions of an async method, finished by the test.
struct Parked {
  std::mutex mu;
  std::vector<Completion> completions;
  std::vector<std::string> requests;
  std::atomic<int> invoked{0};

  junction::AsyncHandler handler() {
    return [this](std::span<const uint8_t> req, Deadline, Completion c) {
      std::lock_guard<std::mutex> lock(mu);
      requests.emplace_back(req.begin(), req.end());
      completions.push_back(std::move(c));
      invoked.fetch_add(1);
    };
  }
  std::optional<Completion> Take() {
    std::lock_guard<std::mutex> lock(mu);
    if (completions.empty()) return std::nullopt;
    Completion c = std::move(completions.front());
    completions.erase(completions.begin());
    return c;
  }
};

// Register, resolve, call: bytes in, bytes out, for text, spans, empty and
// large payloads.
TEST_F(CxxApiTest, RoundTrip) {
  Host host;
  host.register_service(Service("echo").method("echo", &Echo));
  Method m = host.resolve("echo", "echo");
  ASSERT_NE(m.raw(), nullptr);
  EXPECT_EQ(m.call("hello").text(), "hello");
  const std::vector<uint8_t> bytes = {0, 1, 2, 255};
  Buffer out = m.call(std::span<const uint8_t>(bytes));
  EXPECT_EQ(std::vector<uint8_t>(out.bytes().begin(), out.bytes().end()), bytes);
  EXPECT_TRUE(m.call("").empty());
  const std::string big(16u << 20, 'b');
  Buffer large = m.call(big);
  EXPECT_EQ(large.size(), big.size());
  EXPECT_EQ(large.text(), big);
}

// Handlers see the caller's deadline; a past deadline throws
// DEADLINE_EXCEEDED without running the handler.
TEST_F(CxxApiTest, Deadlines) {
  std::atomic<Deadline> seen{0};
  std::atomic<int> calls{0};
  Host host;
  host.register_service(Service("d").method("m", [&](std::span<const uint8_t>, Deadline d) {
    seen.store(d);
    calls.fetch_add(1);
    return Buffer();
  }));
  Method m = host.resolve("d", "m");
  const Deadline d = junction::deadline_after(10s);
  (void)m.call("x", d);
  EXPECT_EQ(seen.load(), d);
  (void)m.call("x");
  EXPECT_EQ(seen.load(), junction::no_deadline);
  EXPECT_EQ(ExpectError([&] { (void)m.call("x", jn_now_ns() - 1); }),
            static_cast<int>(Code::deadline_exceeded));
  EXPECT_EQ(calls.load(), 2);
}

// Host operations report failures as junction::Error with the right code.
TEST_F(CxxApiTest, HostErrorsCarryCodes) {
  Host host;
  host.register_service(Service("svc").method("m", &Echo));
  EXPECT_EQ(ExpectError([&] { (void)host.resolve("nope", "m"); }),
            static_cast<int>(Code::not_found));
  EXPECT_EQ(ExpectError([&] { (void)host.resolve("svc", "nope"); }),
            static_cast<int>(Code::not_found));
  EXPECT_EQ(ExpectError([&] { host.register_service(Service("svc").method("m", &Echo)); }),
            static_cast<int>(Code::already_exists));
  EXPECT_EQ(ExpectError([&] { host.unregister_service("nope"); }),
            static_cast<int>(Code::not_found));
  EXPECT_EQ(ExpectError([&] { host.register_service(Service("")); }),
            static_cast<int>(Code::invalid_argument));
  EXPECT_EQ(ExpectError([&] { host.register_service(Service("empty")); }),
            static_cast<int>(Code::invalid_argument));
  EXPECT_EQ(ExpectError([&] {
              host.register_service(Service("dupm").method("a", &Echo).method("a", &Echo));
            }),
            static_cast<int>(Code::invalid_argument));
  EXPECT_EQ(ExpectError(
                [&] { host.register_service(Service(std::string(256, 'x')).method("m", &Echo)); }),
            static_cast<int>(Code::invalid_argument));
  EXPECT_EQ(host.resolve("svc", "m").call("unharmed").text(), "unharmed");
}

// A handler's junction::Error reaches Method::call as an Error with the same
// code and message.
TEST_F(CxxApiTest, HandlerErrorReachesCaller) {
  Host host;
  host.register_service(
      Service("svc").method("m", [](std::span<const uint8_t>, Deadline) -> Buffer {
        throw Error(Code::permission_denied, "keep out");
      }));
  Method m = host.resolve("svc", "m");
  std::string what;
  EXPECT_EQ(ExpectError([&] { (void)m.call("x"); }, &what),
            static_cast<int>(Code::permission_denied));
  EXPECT_TRUE(Contains(what, "keep out")) << what;
}

// Calls on an empty Method, or on a handle whose service went away, throw.
TEST_F(CxxApiTest, StaleAndEmptyMethods) {
  Method empty;
  EXPECT_EQ(ExpectError([&] { (void)empty.call("x"); }), static_cast<int>(Code::invalid_argument));
  std::atomic<int> dones{0};
  EXPECT_EQ(ExpectError([&] {
              empty.call_async(Buffer::copy_of(std::string_view("x")), junction::no_deadline,
                               [&](Result) { dones.fetch_add(1); });
            }),
            static_cast<int>(Code::invalid_argument));
  EXPECT_EQ(dones.load(), 0);

  Host host;
  host.register_service(Service("svc").method("m", &Echo));
  Method m = host.resolve("svc", "m");
  host.unregister_service("svc");
  EXPECT_EQ(ExpectError([&] { (void)m.call("x"); }), static_cast<int>(Code::not_found));
}

// call_async delivers a Result exactly once: OK with the response, or the
// handler's code and message.
TEST_F(CxxApiTest, CallAsyncWithResult) {
  Host host;
  host.register_service(Service("svc")
                            .method("echo", &Echo)
                            .method("fail", [](std::span<const uint8_t>, Deadline) -> Buffer {
                              throw Error(Code::unavailable, "down for now");
                            }));
  Method echo = host.resolve("svc", "echo");
  Method fail = host.resolve("svc", "fail");

  auto ok = std::make_shared<std::promise<Result>>();
  auto ok_count = std::make_shared<std::atomic<int>>(0);
  echo.call_async(Buffer::copy_of(std::string_view("async hi")), junction::deadline_after(5s),
                  [ok, ok_count](Result r) {
                    if (ok_count->fetch_add(1) == 0) ok->set_value(std::move(r));
                  });
  auto f1 = ok->get_future();
  ASSERT_EQ(f1.wait_for(5s), std::future_status::ready);
  Result r1 = f1.get();
  EXPECT_EQ(r1.code, Code::ok);
  EXPECT_EQ(r1.response.text(), "async hi");

  auto err = std::make_shared<std::promise<Result>>();
  fail.call_async(Buffer(), junction::no_deadline,
                  [err](Result r) { err->set_value(std::move(r)); });
  auto f2 = err->get_future();
  ASSERT_EQ(f2.wait_for(5s), std::future_status::ready);
  Result r2 = f2.get();
  EXPECT_EQ(r2.code, Code::unavailable);
  EXPECT_TRUE(Contains(r2.message, "down for now")) << r2.message;
  EXPECT_TRUE(r2.response.empty());

  host = Host();  // frees the old host: joins workers
  EXPECT_EQ(ok_count->load(), 1);
}

// An async method completed from another thread with Completion::succeed.
TEST_F(CxxApiTest, AsyncMethodCompletesFromAnotherThread) {
  Parked parked;
  Host host;
  host.register_service(Service("svc").async_method("later", parked.handler()));
  Method m = host.resolve("svc", "later");
  auto p = std::make_shared<std::promise<Result>>();
  m.call_async(Buffer::copy_of(std::string_view("q")), junction::no_deadline,
               [p](Result r) { p->set_value(std::move(r)); });
  ASSERT_TRUE(WaitFor([&] { return parked.invoked.load() == 1; }));
  Code rc = Code::unknown;
  std::thread t([&] {
    std::optional<Completion> c = parked.Take();
    if (c) rc = c->succeed(Buffer::copy_of(std::string_view("answer to " + parked.requests[0])));
  });
  t.join();
  EXPECT_EQ(rc, Code::ok);
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  Result r = f.get();
  EXPECT_EQ(r.code, Code::ok);
  EXPECT_EQ(r.response.text(), "answer to q");
}

// Completion::fail answers with its code and message; a sync Method::call
// on an async method works.
TEST_F(CxxApiTest, CompletionFail) {
  Host host;
  host.register_service(
      Service("svc").async_method("m", [](std::span<const uint8_t> req, Deadline, Completion c) {
        if (!req.empty() && req[0] == 'f') {
          c.fail(Code::data_loss, "lost it");
        } else {
          c.succeed(Buffer::copy_of(req));
        }
      }));
  Method m = host.resolve("svc", "m");
  EXPECT_EQ(m.call("good").text(), "good");
  std::string what;
  EXPECT_EQ(ExpectError([&] { (void)m.call("fail"); }, &what), static_cast<int>(Code::data_loss));
  EXPECT_TRUE(Contains(what, "lost it")) << what;
}

// A Completion destroyed without completing answers JN_INTERNAL; a moved
// Completion answers only once, through its new owner.
TEST_F(CxxApiTest, DroppedCompletionAnswersInternal) {
  Host host;
  host.register_service(
      Service("svc")
          .async_method("drop", [](std::span<const uint8_t>, Deadline, Completion) {})
          .async_method("move", [](std::span<const uint8_t> req, Deadline, Completion c) {
            Completion moved(std::move(c));
            Completion assigned = std::move(moved);
            assigned.succeed(Buffer::copy_of(req));
          }));
  Method drop = host.resolve("svc", "drop");
  Method move = host.resolve("svc", "move");
  EXPECT_EQ(ExpectError([&] { (void)drop.call("x", junction::deadline_after(5s)); }),
            static_cast<int>(Code::internal));
  ScopedResult r;
  EXPECT_EQ(Call(drop.raw(), "x", r, junction::deadline_after(5s)), JN_INTERNAL);
  EXPECT_EQ(move.call("moved").text(), "moved");

  auto p = std::make_shared<std::promise<Result>>();
  drop.call_async(Buffer(), junction::no_deadline,
                  [p](Result res) { p->set_value(std::move(res)); });
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code, Code::internal);
}

// A Completion used after the caller's deadline reports DEADLINE_EXCEEDED.
TEST_F(CxxApiTest, CompletionAfterDeadline) {
  Parked parked;
  Host host;
  host.register_service(Service("svc").async_method("m", parked.handler()));
  Method m = host.resolve("svc", "m");
  auto p = std::make_shared<std::promise<Result>>();
  // A host worker runs the handler: the deadline leaves it time to get
  // there on a loaded machine (a call whose deadline passes first is
  // answered without its handler).
  m.call_async(Buffer(), junction::deadline_after(500ms),
               [p](Result r) { p->set_value(std::move(r)); });
  auto f = p->get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get().code, Code::deadline_exceeded);
  std::optional<Completion> c = parked.Take();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->succeed(Buffer::copy_of(std::string_view("late"))), Code::deadline_exceeded);
}

// A response Buffer from a handler is released exactly once, by the caller.
TEST_F(CxxApiTest, HandlerResponseReleasedOnce) {
  Host host;
  host.register_service(Service("svc").method("m", [this](std::span<const uint8_t>, Deadline) {
    return Buffer(producer_.Make("counted"));
  }));
  Method m = host.resolve("svc", "m");
  {
    Buffer out = m.call("x");
    EXPECT_EQ(out.text(), "counted");
    EXPECT_EQ(producer_.released(), 0);
  }
  EXPECT_EQ(producer_.releases_of(0), 1);
  for (int i = 0; i < 100; ++i) (void)m.call("x");
  EXPECT_EQ(producer_.released(), 101);
  EXPECT_EQ(producer_.over_released(), 0);
}

// Handler state (captured by the std::function) is destroyed once the
// service is unregistered, and when its host is destroyed.
TEST_F(CxxApiTest, HandlerStateDestroyedWithService) {
  auto state = std::make_shared<int>(7);
  {
    Host host;
    host.register_service(Service("a").method("m", [state](std::span<const uint8_t>, Deadline) {
      return Buffer::copy_of(std::string_view(std::to_string(*state)));
    }));
    host.register_service(
        Service("b").method("m", [state](std::span<const uint8_t>, Deadline) { return Buffer(); }));
    EXPECT_EQ(state.use_count(), 3);
    EXPECT_EQ(host.resolve("a", "m").call("").text(), "7");
    host.unregister_service("a");
    EXPECT_TRUE(WaitFor([&] { return state.use_count() == 2; }));
  }
  EXPECT_EQ(state.use_count(), 1);
}

// Stats through the C++ API.
TEST_F(CxxApiTest, Stats) {
  Host host;
  host.register_service(Service("svc").method("m", [](std::span<const uint8_t> req, Deadline) {
    if (!req.empty() && req[0] == 'e') throw Error(Code::aborted, "e");
    return Buffer();
  }));
  Method m = host.resolve("svc", "m");
  for (int i = 0; i < 10; ++i) (void)m.call("ok");
  for (int i = 0; i < 4; ++i) (void)ExpectError([&] { (void)m.call("err"); });
  const junction::MethodStats s = m.stats();
  EXPECT_EQ(s.calls, 14u);
  EXPECT_EQ(s.errors, 4u);
  EXPECT_EQ(ExpectError([] { (void)Method().stats(); }), static_cast<int>(Code::invalid_argument));
}

// Host and Method are movable; a moved-from object owns nothing and a
// move-assigned Host frees what it held.
// close() frees the host, or says why it cannot and keeps it serving: here
// while a Listener of it is open.
TEST_F(CxxApiTest, CloseRefusesWhileAListenerIsOpenAndKeepsTheHost) {
  Host host;
  host.register_service(Service("s").method("echo", &Echo));
  junction::Listener listener = host.listen("zmq+inproc://cxx-api-close");
  try {
    host.close();
    ADD_FAILURE() << "closed with a listener open";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Code::failed_precondition);
    EXPECT_TRUE(Contains(e.what(), "a Listener of the host is still open")) << e.what();
  }
  ASSERT_NE(host.raw(), nullptr);
  EXPECT_EQ(host.resolve("s", "echo").call("still here").text(), "still here");
  listener = junction::Listener();
  host.close();
  EXPECT_EQ(host.raw(), nullptr);
  host.close();  // an empty host: nothing to do
}

TEST_F(CxxApiTest, HostAndMethodMoves) {
  Host a(junction::HostOptions{3});
  a.register_service(Service("svc").method("m", &Echo));
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts + 1);
  Host b(std::move(a));
  EXPECT_EQ(a.raw(), nullptr);  // NOLINT(*use-after-move,*.Move)
  Method m = b.resolve("svc", "m");
  Method m2(std::move(m));
  EXPECT_EQ(m.raw(), nullptr);  // NOLINT(*use-after-move,*.Move)
  EXPECT_EQ(m2.call("moved").text(), "moved");
  Method m3;
  m3 = std::move(m2);
  EXPECT_EQ(m3.call("again").text(), "again");
  EXPECT_EQ(LiveCounts().methods, baseline_.methods + 1);

  Host c;
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts + 2);
  c = std::move(b);
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts + 1) << "the host c held was freed";
  EXPECT_EQ(m3.call("still").text(), "still");
}

}  // namespace
}  // namespace jntest
