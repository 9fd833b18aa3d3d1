// Cancelling routed calls (ABI 1.10): a signal ends a call's wait for its
// answer over tcp, ipc and inproc, and its wait for a connection; the
// answer that comes later is dropped and the route carries the next call;
// a cancelled call that was receiving for the others hands that on; a
// cancel racing its answer gives the answer or CANCELLED; a cancel
// signalled before the call, or while it waits for a connection that then
// comes up, sends nothing; and an asynchronous call's
// cancel ends it and reaches the handler at once, also while a synchronous
// call waits, while one started without a cancel inside a handler has
// none.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cut_link.hh"
#include "run_last.hh"
#include "test_support.hh"

namespace jnzmq {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(CancelTest, SignalEndsTheWaitForTheAnswerOverEveryTransport) {
  TempDir dir;
  for (const std::string& bind_url :
       {std::string("zmq+tcp://127.0.0.1:0"), dir.ipc_url(), inproc_url()}) {
    SCOPED_TRACE(bind_url);
    Gate gate;
    junction::Host server;
    server.register_service(gate.service());
    server.register_service(test_service());
    junction::Listener listener = server.listen(bind_url);
    junction::Host client;
    const std::string url(listener.url());
    client.route("gate", url);
    client.route("test", url);
    const junction::Method wait = client.resolve("gate", "wait");
    EXPECT_TRUE(wait.waits());
    const junction::Cancel cancel;
    std::future<CallOutcome> call =
        call_in_background(wait, {}, junction::deadline_after(seconds(10)), &cancel);
    ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
    cancel.signal();
    const CallOutcome result = call.get();
    EXPECT_EQ(result.code, Code::cancelled) << result.message;
    EXPECT_EQ(result.message, "call to " + url + " cancelled by its caller");
    EXPECT_EQ(client.route_stats("gate").in_flight, 0U);
    // The handler's answer, sent once the gate opens, is dropped; the
    // connection carries the next call.
    gate.open = true;
    EXPECT_TRUE(eventually([&] { return listener.stats().answers == 1; }));
    EXPECT_EQ(client.resolve("test", "echo").call("next").text(), "next");
    EXPECT_EQ(client.route_stats("test").connections_lost, 0U);
  }
}

// The first caller receives for both; cancelled, it hands receiving to the
// second, whose answer still reaches it.
TEST(CancelTest, ACancelledReceiverHandsReceivingOn) {
  Gate gate;
  junction::Host server;
  server.register_service(gate.service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const junction::Host client = routed_to(listener, {}, "gate");
  const junction::Method wait = client.resolve("gate", "wait");
  const junction::Cancel first_cancel;
  const junction::Cancel second_cancel;  // never signalled
  std::future<CallOutcome> first =
      call_in_background(wait, {}, junction::deadline_after(seconds(10)), &first_cancel);
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
  std::future<CallOutcome> second =
      call_in_background(wait, {}, junction::deadline_after(seconds(10)), &second_cancel);
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 2; }));
  first_cancel.signal();
  EXPECT_EQ(first.get().code, Code::cancelled);
  gate.open = true;
  const CallOutcome answered = second.get();
  EXPECT_EQ(answered.code, Code::ok) << answered.message;
}

// A cancel racing its call's answer, with calls from several threads in
// flight on one route (one receiving for the others): the call ends with
// its answer, whole, or CANCELLED, never with an answer taken while it was
// being delivered. The cancels come from just before the answer to well
// after it.
TEST(CancelTest, ACancelRacingItsAnswerGivesTheAnswerOrCancelled) {
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const junction::Host client = routed_to(listener);
  const junction::Method echo = client.resolve("test", "echo");
  constexpr int kCallers = 4;
  constexpr int kCallsEach = 500;
  std::atomic<int> answered{0};
  std::atomic<int> cancelled{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int caller = 0; caller < kCallers; ++caller) {
    callers.emplace_back([&, caller] {
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string request = std::to_string(caller) + "-" + std::to_string(i);
        const junction::Cancel cancel;
        std::future<CallOutcome> call =
            call_in_background(echo, request, junction::deadline_after(seconds(10)), &cancel);
        // Mostly within a round trip, every tenth well after it.
        std::this_thread::sleep_for(std::chrono::microseconds(i % 10 == 9 ? 2000 : i % 20 * 5));
        cancel.signal();
        const CallOutcome outcome = call.get();
        if (outcome.code == Code::ok && outcome.text == request) {
          ++answered;
        } else if (outcome.code == Code::cancelled) {
          ++cancelled;
        } else {
          ADD_FAILURE() << request << ": code " << static_cast<int>(outcome.code) << ", answer '"
                        << outcome.text << "', " << outcome.message;
        }
      }
    });
  }
  for (std::thread& caller : callers) {
    caller.join();
  }
  // Both ends of the race were reached.
  EXPECT_GT(answered.load(), 0);
  EXPECT_GT(cancelled.load(), 0);
  EXPECT_EQ(echo.call("next").text(), "next");
}

TEST(CancelTest, SignalledBeforeTheCallNothingIsSent) {
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const junction::Host client = routed_to(listener);
  const junction::Method echo = client.resolve("test", "echo");
  ASSERT_EQ(echo.call("up").text(), "up");
  const junction::Cancel cancel;
  cancel.signal();
  std::string message;
  EXPECT_EQ(
      code_of(
          [&] { static_cast<void>(echo.call({}, junction::deadline_after(seconds(2)), cancel)); },
          &message),
      Code::cancelled);
  EXPECT_EQ(message, "call cancelled by its caller before it started");
  EXPECT_EQ(listener.stats().requests, 1U);
  EXPECT_EQ(client.route_stats("test").in_flight, 0U);
}

// A cancel travels: the caller's route sends it to the listener, which
// ends the wait of the call there. Here that call is a relay waiting on a
// routed call of its own (the handler's calls wait with its caller's
// cancel), so the relay's host answers and stops waiting while the last
// host's handler still runs.
TEST(CancelTest, ACancelEndsTheWaitsAlongARelay) {
  Gate gate;
  junction::Host last;
  last.register_service(gate.service());
  junction::Listener last_listener = last.listen("zmq+tcp://127.0.0.1:0");

  junction::Host relay = routed_to(last_listener, {}, "gate");
  const junction::Method wait = relay.resolve("gate", "wait");
  junction::Service forward("relay");
  forward.method("forward",
                 [&wait](auto request, Deadline deadline) { return wait.call(request, deadline); });
  relay.register_service(std::move(forward));
  junction::Listener relay_listener = relay.listen("zmq+tcp://127.0.0.1:0");

  const junction::Host client = routed_to(relay_listener, {}, "relay");
  const junction::Method forward_method = client.resolve("relay", "forward");
  const junction::Cancel cancel;
  // A deadline beyond the waits below: the relay's call must end by the
  // cancel, not by the deadline it carries.
  std::future<CallOutcome> call =
      call_in_background(forward_method, {}, junction::deadline_after(seconds(30)), &cancel);
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
  cancel.signal();
  EXPECT_EQ(call.get().code, Code::cancelled);
  // The relay's own call ended and was answered, the gate still closed.
  EXPECT_TRUE(eventually([&] { return relay.route_stats("gate").in_flight == 0; }))
      << relay.route_stats("gate").in_flight;
  EXPECT_TRUE(eventually([&] { return relay_listener.stats().answers == 1; }));
  EXPECT_FALSE(gate.open.load());
  gate.open = true;
  EXPECT_TRUE(eventually([&] { return last_listener.stats().answers == 1; }));
}

// An asynchronous routed call's cancel answers it at once; the route
// forgets the call and the cancel travels on to the handler, which sees it
// while it keeps running; the host's one worker serves the next call.
TEST(CancelTest, AnAsynchronousCallsCancelEndsItAndReachesTheHandler) {
  std::atomic<bool> open{false};
  std::atomic<bool> saw_cancel{false};
  std::atomic<int> entered{0};
  junction::Service watched("watched");
  watched.method("wait", [&](auto, Deadline deadline) {
    entered.fetch_add(1);
    while (!open.load() && jn_now_ns() < deadline) {
      if (junction::call_cancelled()) {
        saw_cancel = true;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    return Buffer::copy_of("opened");
  });
  junction::Host server;
  server.register_service(std::move(watched));
  server.register_service(test_service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const OpenOnExit open_on_exit{open};
  junction::Host client(junction::HostOptions{1});  // one worker
  client.route("watched", std::string(listener.url()));
  client.route("test", std::string(listener.url()));
  const junction::Method wait = client.resolve("watched", "wait");
  const junction::Method echo = client.resolve("test", "echo");

  const auto call_async = [](const junction::Method& method, const junction::Cancel& cancel) {
    auto outcome = std::make_shared<std::promise<junction::Result>>();
    method.call_async(
        Buffer::copy_of("async"), junction::deadline_after(seconds(30)), cancel,
        [outcome](junction::Result result) { outcome->set_value(std::move(result)); });
    return outcome->get_future();
  };
  std::future<junction::Result> cancelled;
  {
    const junction::Cancel cancel;
    cancelled = call_async(wait, cancel);
    ASSERT_TRUE(eventually([&] { return entered.load() == 1; }));
    cancel.signal();
  }  // freed: the call holds its own
  ASSERT_EQ(cancelled.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(cancelled.get().code, Code::cancelled);
  EXPECT_TRUE(eventually([&] { return saw_cancel.load(); })) << "the cancel did not travel";
  EXPECT_TRUE(eventually([&] { return client.route_stats("watched").in_flight == 0; }));
  // The one worker serves the next call while that handler still runs.
  const junction::Cancel unsignalled;
  std::future<junction::Result> next = call_async(echo, unsignalled);
  ASSERT_EQ(next.wait_for(seconds(10)), std::future_status::ready);
  const junction::Result answered = next.get();
  EXPECT_EQ(answered.code, Code::ok) << answered.message;
  EXPECT_EQ(answered.response.text(), "async");
  EXPECT_EQ(entered.load(), 1);
  open = true;
  EXPECT_TRUE(eventually([&] { return listener.stats().answers == 2; }));
}

// An asynchronous call's cancel is sent at once while a synchronous call,
// left alone in flight by it, waits for its answer: that caller does not
// take the socket to wait in libzmq before the cancel is out (the handler
// would see the cancel only once that other call was answered). Repeated:
// the two race.
TEST(CancelTest, AnAsynchronousCallsCancelIsSentWhileASynchronousCallWaits) {
  constexpr int kRounds = 40;
  std::atomic<bool> open{false};
  std::atomic<int> cancels_seen{0};
  junction::Service watched("watched");
  watched.method("wait", [&](auto, Deadline deadline) {
    while (!open.load() && jn_now_ns() < deadline) {
      if (junction::call_cancelled()) {
        cancels_seen.fetch_add(1);
        return Buffer::copy_of("cancelled");
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
    return Buffer::copy_of("opened");
  });
  junction::Host server;
  server.register_service(std::move(watched));
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const OpenOnExit open_on_exit{open};
  const junction::Host client = routed_to(listener, {}, "watched");
  const junction::Method wait = client.resolve("watched", "wait");
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(round);
    open = false;
    cancels_seen = 0;
    std::future<std::string> held = std::async(std::launch::async, [&] {
      return std::string(wait.call("held", junction::deadline_after(seconds(20))).text());
    });
    auto done = std::make_shared<std::promise<junction::Code>>();
    {
      const junction::Cancel cancel;
      wait.call_async(Buffer::copy_of("cancelled"), junction::deadline_after(seconds(20)), cancel,
                      [done](junction::Result result) { done->set_value(result.code); });
      ASSERT_TRUE(eventually([&] { return listener.stats().in_flight == 2; }));
      cancel.signal();
    }
    std::future<Code> cancelled = done->get_future();
    ASSERT_EQ(cancelled.wait_for(seconds(20)), std::future_status::ready);
    EXPECT_EQ(cancelled.get(), Code::cancelled);
    const bool cancel_arrived = eventually([&] { return cancels_seen.load() == 1; }, seconds(5));
    open = true;
    EXPECT_TRUE(cancel_arrived) << "the cancel waited for the other call's answer";
    EXPECT_EQ(held.get(), "opened");
    ASSERT_TRUE(cancel_arrived);
    ASSERT_TRUE(eventually([&] { return listener.stats().in_flight == 0; }));
  }
}

// A handler serving a call from another host hands its cancel (the
// listener's, jn_call_cancel) to an asynchronous call that outlives it; the
// call holds the cancel, which its handler still reads once the first call
// was answered (ASan would catch the cancel freed under it).
TEST(CancelTest, AHandlersCancelOutlivesItInTheAsynchronousCallItStarts) {
  std::atomic<bool> open{false};
  std::atomic<int> seen_signalled{-1};
  junction::Service later("later");
  later.method("read", [&](auto, Deadline) {
    while (!open.load()) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    seen_signalled = jn_cancel_signalled(jn_call_cancel());
    return Buffer::copy_of("read");
  });
  junction::Host server;
  server.register_service(std::move(later));
  const junction::Method read = server.resolve("later", "read");
  std::promise<std::int32_t> read_done;
  const auto on_done = [](void* promise, jn_result* result) {
    static_cast<std::promise<std::int32_t>*>(promise)->set_value(result->status.code);
    jn_result_release(result);
  };
  junction::Service starts("starts");
  starts.method("start", [&](auto, Deadline) {
    jn_status status{};
    const std::int32_t code = jn_call_async_cancellable(
        read.raw(), nullptr, JN_NO_DEADLINE, jn_call_cancel(), on_done, &read_done, &status);
    jn_status_release(&status);
    return Buffer::copy_of(code == JN_OK ? "started" : "refused");
  });
  server.register_service(std::move(starts));
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const OpenOnExit open_on_exit{open};
  const junction::Host client = routed_to(listener, {}, "starts");
  EXPECT_EQ(client.resolve("starts", "start").call("").text(), "started");
  std::future<std::int32_t> read_code = read_done.get_future();
  open = true;
  ASSERT_EQ(read_code.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(read_code.get(), JN_OK);
  ASSERT_TRUE(eventually([&] { return seen_signalled.load() != -1; }));
  EXPECT_EQ(seen_signalled.load(), 0);
}

// A handler starting an asynchronous call without a cancel (jn_call_async)
// gives it none: the call outlives the call the handler serves, so that
// call's cancel, signalled and freed once it is answered, neither ends it
// nor is held by it (ASan would catch the freed cancel's wait taken back).
// Routed over a connection that is up, the call starts on the handler's
// thread; on every transport.
TEST(CancelTest, AnAsynchronousCallStartedWithoutACancelOutlivesItsHandlersCancel) {
  TempDir dir;
  for (const std::string& bind_url :
       {std::string("zmq+tcp://127.0.0.1:0"), dir.ipc_url(), inproc_url()}) {
    SCOPED_TRACE(bind_url);
    Gate gate(/*heeds_deadline=*/false);
    junction::Host server;
    server.register_service(gate.service());
    junction::Listener listener = server.listen(bind_url);
    const OpenOnExit open_on_exit{gate.open};
    junction::Host client;
    client.route("gate", std::string(listener.url()));
    const junction::Method wait = client.resolve("gate", "wait");
    gate.open = true;
    ASSERT_EQ(wait.call("", junction::deadline_after(seconds(10))).text(), "opened");
    gate.open = false;
    auto started = std::make_shared<std::promise<junction::Result>>();
    junction::Service starts("starts");
    starts.method("start", [&](auto, Deadline) {
      wait.call_async(
          Buffer::copy_of(""), junction::deadline_after(seconds(20)),
          [started](junction::Result result) { started->set_value(std::move(result)); });
      return Buffer::copy_of("started");
    });
    client.register_service(std::move(starts));
    {
      const junction::Cancel cancel;
      const junction::Method start = client.resolve("starts", "start");
      EXPECT_EQ(start.call(std::span<const std::uint8_t>(), junction::no_deadline, cancel).text(),
                "started");
      cancel.signal();
    }  // freed
    ASSERT_TRUE(eventually([&] { return gate.entered.load() == 2; }));
    gate.open = true;
    std::future<junction::Result> outcome = started->get_future();
    ASSERT_EQ(outcome.wait_for(seconds(10)), std::future_status::ready);
    const junction::Result result = outcome.get();
    EXPECT_EQ(result.code, Code::ok) << result.message;
    EXPECT_EQ(result.response.text(), "opened");
  }
}

// A TCP listener that accepts and never speaks ZeroMQ's handshake: a route
// to it stays connecting, and its calls wait for the connection.
class SilentAcceptor {
 public:
  SilentAcceptor() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        listen(fd_, 8) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length)) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  SilentAcceptor(const SilentAcceptor&) = delete;
  SilentAcceptor& operator=(const SilentAcceptor&) = delete;
  ~SilentAcceptor() { close(fd_); }
  [[nodiscard]] std::string url() const { return "zmq+tcp://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

TEST(CancelTest, SignalEndsTheWaitForAConnection) {
  SilentAcceptor acceptor;
  junction::Host client;
  junction::RouteOptions options;
  options.connect_timeout = seconds(20);
  client.route("test", acceptor.url(), options);
  const junction::Method echo = client.resolve("test", "echo");
  const junction::Cancel cancel;
  std::future<CallOutcome> call =
      call_in_background(echo, {}, junction::deadline_after(seconds(30)), &cancel);
  // The call waits for a connection that never comes up: 200 ms in, it is
  // waiting.
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(client.route_stats("test").state, JN_ROUTE_CONNECTING);
  cancel.signal();
  ASSERT_EQ(call.wait_for(seconds(10)), std::future_status::ready);
  const CallOutcome result = call.get();
  EXPECT_EQ(result.code, Code::cancelled) << result.message;
}

// A cancel signalled while the call waits for its connection, which then
// comes up before the caller looks again: the call is CANCELLED and sends
// nothing (abi/ABI.md: a routed call cancelled before it goes out). The
// connection is held (a cut relay, cut_link.hh) until the cancel is
// signalled, and the caller held back (run_last.hh) until the connection
// is up; the scheduler lets it run early now and then, so the test tries
// many rounds. Each round ends with a call on the connection, so the
// listener has taken whatever the cancelled call sent before it.
TEST(CancelTest, SignalledWhileWaitingForAConnectionThatComesUpNothingIsSent) {
  junction::Host server;
  server.register_service(test_service());
  const junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  const std::string listener_url(listener.url());
  const auto listener_port =
      static_cast<std::uint16_t>(std::stoi(listener_url.substr(listener_url.rfind(':') + 1)));
  const int cpu = first_cpu();
  for (int round = 0; round < 20 && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    CutLink link(listener_port);
    link.cut();  // connections made now are held, not relayed
    junction::Host client;
    junction::RouteOptions options;
    options.connect_timeout = seconds(20);
    client.route("test", "zmq+tcp://127.0.0.1:" + std::to_string(link.port()), options);
    const junction::Method echo = client.resolve("test", "echo");
    const junction::Cancel cancel;
    std::atomic<pid_t> caller{0};
    std::future<CallOutcome> call = std::async(std::launch::async, [&] {
      EXPECT_TRUE(run_last_on(cpu));
      caller = static_cast<pid_t>(syscall(SYS_gettid));
      CallOutcome outcome;
      outcome.code = code_of(
          [&] {
            static_cast<void>(echo.call(std::span<const std::uint8_t>(),
                                        junction::deadline_after(seconds(30)), cancel));
          },
          &outcome.message);
      return outcome;
    });
    // Waiting for the connection (on a futex).
    ASSERT_TRUE(eventually([&] { return caller != 0 && blocked_in(caller, SYS_futex); }));
    ASSERT_EQ(client.route_stats("test").state, JN_ROUTE_CONNECTING);
    {
      const PinnedTo pinned(cpu);
      ASSERT_TRUE(pinned.pinned());
      cancel.signal();
      link.heal(listener_port);
      // Busy, not asleep, until the connection is up: the caller stays
      // held back.
      const std::int64_t give_up = jn_now_ns() + millis(10'000);
      while (client.route_stats("test").state != JN_ROUTE_READY && jn_now_ns() < give_up) {
      }
    }
    ASSERT_EQ(call.wait_for(seconds(20)), std::future_status::ready);
    const CallOutcome outcome = call.get();
    EXPECT_EQ(outcome.code, Code::cancelled) << outcome.message;
    EXPECT_EQ(echo.call("after", junction::deadline_after(seconds(10))).text(), "after");
    EXPECT_EQ(listener.stats().requests, static_cast<std::uint64_t>(round) + 1)
        << "the cancelled call was sent";
  }
}

}  // namespace
}  // namespace jnzmq
