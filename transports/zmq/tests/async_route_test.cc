// Asynchronous calls on routed methods (jn_call_async): the caller's thread
// sends them (a host worker when the connection is not up yet), and the
// route's own thread receives and finishes them, so many are in flight on
// one worker; a deadline (also one earlier than those of the calls in
// flight), a lost connection, or a route gone before the answer each
// finish them once, and they share the connection with synchronous
// callers. A call's request is released once the call is sent.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <frame.hh>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "test_support.hh"

namespace jnzmq {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
namespace wire = junction::wire;

// Starts an asynchronous call of method with request; its result once done.
std::future<junction::Result> call_async(const junction::Method& method, const std::string& request,
                                         junction::Deadline deadline) {
  auto outcome = std::make_shared<std::promise<junction::Result>>();
  method.call_async(Buffer::copy_of(request), deadline,
                    [outcome](junction::Result result) { outcome->set_value(std::move(result)); });
  return outcome->get_future();
}

// A gate (which does not heed deadlines) served at url, and a host with one
// worker routing to it; the gate opens before the listener closes.
struct GatedRoute {
  explicit GatedRoute(const std::string& url)
      : listener((server.register_service(gate.service()), server.listen(url))) {
    client.route("gate", std::string(listener.url()));
    wait = client.resolve("gate", "wait");
  }
  Gate gate{/*heeds_deadline=*/false};
  junction::Host server;
  junction::Listener listener;
  const OpenOnExit open_on_exit{gate.open};
  junction::Host client{junction::HostOptions{1}};
  junction::Method wait;
};

class AsyncRouteTest : public testing::TestWithParam<std::string> {
 protected:
  // A URL of this test's kind to listen on.
  std::string listen_url() {
    if (GetParam() == "tcp") return "zmq+tcp://127.0.0.1:0";
    if (GetParam() == "ipc") return dir_.ipc_url();
    return inproc_url();
  }

 private:
  TempDir dir_;
};

// Eight calls on a host with one worker thread meet in the remote handler:
// each waits there until all eight have come, which they could not if each
// held the worker for its round trip.
TEST_P(AsyncRouteTest, ManyCallsAreInFlightAtOnceOnOneWorker) {
  constexpr int kCalls = 8;
  std::atomic<int> arrived{0};
  junction::Service meet("meet");
  meet.method("all", [&](auto, Deadline) {
    arrived.fetch_add(1);
    const bool together = eventually([&] { return arrived.load() >= kCalls; }, seconds(5));
    return Buffer::copy_of(together ? "together" : "alone");
  });
  junction::Host server;
  server.register_service(std::move(meet));
  junction::Listener listener = server.listen(listen_url());
  junction::Host client(junction::HostOptions{1});
  client.route("meet", std::string(listener.url()));
  const junction::Method all = client.resolve("meet", "all");
  std::vector<std::future<junction::Result>> calls;
  calls.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(call_async(all, "", junction::deadline_after(seconds(20))));
  }
  for (auto& call : calls) {
    ASSERT_EQ(call.wait_for(seconds(30)), std::future_status::ready);
    const junction::Result result = call.get();
    EXPECT_EQ(result.code, Code::ok) << result.message;
    EXPECT_EQ(result.response.text(), "together");
  }
  EXPECT_TRUE(eventually([&] { return client.route_stats("meet").in_flight == 0; }));
}

// A deadline answers the call DEADLINE_EXCEEDED while the remote handler
// runs on, and the route forgets the call then, not when the answer comes;
// that answer, once it does, is dropped.
TEST_P(AsyncRouteTest, ADeadlineAnswersTheCallAndTheRouteForgetsIt) {
  GatedRoute route(listen_url());
  std::future<junction::Result> call =
      call_async(route.wait, "", junction::deadline_after(seconds(1)));
  ASSERT_TRUE(eventually([&] { return route.gate.entered.load() == 1; }));
  ASSERT_EQ(call.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(call.get().code, Code::deadline_exceeded);
  EXPECT_TRUE(eventually([&] { return route.client.route_stats("gate").in_flight == 0; }))
      << "the route still waits for the answer";
  EXPECT_EQ(route.listener.stats().in_flight, 1U) << "the handler still runs";
  route.gate.open = true;
  EXPECT_TRUE(eventually([&] { return route.listener.stats().answers == 1; }));
  // The route carries the next call.
  std::future<junction::Result> next =
      call_async(route.wait, "", junction::deadline_after(seconds(10)));
  ASSERT_EQ(next.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(next.get().response.text(), "opened");
}

// A call whose deadline comes before that of the calls already in flight
// (here one without a deadline) is forgotten at its deadline all the same.
TEST_P(AsyncRouteTest, ADeadlineEarlierThanTheOthersInFlightIsKept) {
  GatedRoute route(listen_url());
  std::future<junction::Result> unbounded = call_async(route.wait, "", junction::no_deadline);
  ASSERT_TRUE(eventually([&] { return route.gate.entered.load() == 1; }));
  std::future<junction::Result> bounded =
      call_async(route.wait, "", junction::deadline_after(milliseconds(300)));
  ASSERT_TRUE(eventually([&] { return route.gate.entered.load() == 2; }));
  ASSERT_EQ(bounded.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(bounded.get().code, Code::deadline_exceeded);
  EXPECT_TRUE(eventually([&] { return route.client.route_stats("gate").in_flight == 1; }))
      << "the route still waits for the expired call's answer";
  route.gate.open = true;
  ASSERT_EQ(unbounded.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(unbounded.get().response.text(), "opened");
}

// With its connection up, a call starts on its caller's thread: calls made
// while the host's only worker is held by a local handler are sent and
// answered all the same.
TEST_P(AsyncRouteTest, ACallOnAnUpConnectionStartsWithoutAWorker) {
  constexpr int kCalls = 20;
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen(listen_url());
  junction::Host client(junction::HostOptions{1});
  Gate gate(/*heeds_deadline=*/false);
  client.register_service(gate.service());
  client.route("test", std::string(listener.url()));
  const junction::Method echo = client.resolve("test", "echo");
  ASSERT_EQ(echo.call("up", junction::deadline_after(seconds(20))).text(), "up");
  const OpenOnExit open_on_exit{gate.open};
  std::future<junction::Result> held =
      call_async(client.resolve("gate", "wait"), "", junction::deadline_after(seconds(30)));
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
  std::vector<std::future<junction::Result>> calls;
  calls.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(call_async(echo, std::to_string(i), junction::deadline_after(seconds(20))));
  }
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_EQ(calls[i].wait_for(seconds(10)), std::future_status::ready)
        << "call " << i << " waits for the worker";
    const junction::Result result = calls[i].get();
    EXPECT_EQ(result.code, Code::ok) << result.message;
    EXPECT_EQ(result.response.text(), std::to_string(i));
  }
  EXPECT_EQ(held.wait_for(milliseconds(0)), std::future_status::timeout) << "the worker was free";
  gate.open = true;
  ASSERT_EQ(held.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(held.get().response.text(), "opened");
}

// Calls and asynchronous calls at once on one connection, each with its own
// request: every caller gets its own answer, whichever of them receives.
TEST_P(AsyncRouteTest, SynchronousAndAsynchronousCallersShareTheConnection) {
  constexpr int kThreads = 3;
  constexpr int kCallsEach = 200;
  constexpr int kAsyncCalls = 600;
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen(listen_url());
  junction::Host client;
  client.route("test", std::string(listener.url()));
  const junction::Method echo = client.resolve("test", "echo");
  std::atomic<int> wrong{0};
  std::vector<std::thread> callers;
  callers.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const std::string request = "sync " + std::to_string(t) + "/" + std::to_string(i);
        try {
          if (echo.call(request, junction::deadline_after(seconds(20))).text() != request) {
            wrong.fetch_add(1);
          }
        } catch (const junction::Error&) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  std::vector<std::future<junction::Result>> calls;
  calls.reserve(kAsyncCalls);
  for (int i = 0; i < kAsyncCalls; ++i) {
    calls.push_back(
        call_async(echo, "async " + std::to_string(i), junction::deadline_after(seconds(20))));
  }
  for (std::thread& caller : callers) {
    caller.join();
  }
  EXPECT_EQ(wrong.load(), 0);
  for (int i = 0; i < kAsyncCalls; ++i) {
    ASSERT_EQ(calls[i].wait_for(seconds(30)), std::future_status::ready);
    const junction::Result result = calls[i].get();
    EXPECT_EQ(result.code, Code::ok) << result.message;
    EXPECT_EQ(result.response.text(), "async " + std::to_string(i));
  }
  EXPECT_TRUE(eventually([&] { return client.route_stats("test").in_flight == 0; }));
}

// An asynchronous call made through the C ABI with a request of the test's,
// whose releases it counts, and the service "hold", whose method "echo"
// answers the request once the test opens it (or after 20 s).
struct TrackedCall {
  explicit TrackedCall(std::size_t size) : bytes(size) {
    for (std::size_t i = 0; i < size; ++i) {
      bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
    }
  }
  std::vector<std::uint8_t> bytes;
  std::atomic<int> releases{0};
  std::promise<std::pair<std::int32_t, std::vector<std::uint8_t>>> answer;  // code, response

  static void release(jn_buffer* buffer) {
    static_cast<TrackedCall*>(buffer->private_data)->releases.fetch_add(1);
    buffer->release = nullptr;
  }
  static void done(void* self, jn_result* result) {
    const auto* data = result->response.data;
    static_cast<TrackedCall*>(self)->answer.set_value(
        {result->status.code, std::vector<std::uint8_t>(data, data + result->response.len)});
    jn_result_release(result);
  }
  [[nodiscard]] std::int32_t start(const jn_method* method) {
    jn_buffer request{bytes.data(), bytes.size(), &release, this};
    return jn_call_async(method, &request, jn_now_ns() + millis(20'000), &done, this, nullptr);
  }
  // The answer echoes the request.
  void expect_echoed() {
    auto outcome = answer.get_future();
    ASSERT_EQ(outcome.wait_for(seconds(10)), std::future_status::ready);
    const auto [code, response] = outcome.get();
    EXPECT_EQ(code, JN_OK);
    EXPECT_TRUE(response == bytes)
        << bytes.size() << " bytes sent, " << response.size() << " answered";
  }
};

junction::Service hold_service(std::atomic<bool>& open, std::atomic<int>& entered) {
  junction::Service hold("hold");
  hold.method("echo", [&open, &entered](auto request, Deadline) {
    entered.fetch_add(1);
    const std::int64_t give_up = jn_now_ns() + millis(20'000);
    while (!open.load() && jn_now_ns() < give_up) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    return Buffer::copy_of(std::vector<std::uint8_t>(request.begin(), request.end()));
  });
  return hold;
}

// A call's request is released once the call is sent, not when its answer
// comes: copied (64 B) or lent to libzmq without a copy (64 KiB, released
// once written; over zmq+inproc, once the listener is done with it). The
// answers come back whole, and each request is released exactly once.
TEST_P(AsyncRouteTest, ARequestIsReleasedOnceSentNotWhenAnswered) {
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};
  junction::Host server;
  server.register_service(hold_service(open, entered));
  junction::Listener listener = server.listen(listen_url());
  const OpenOnExit open_on_exit{open};
  junction::Host client(junction::HostOptions{1});
  client.route("hold", std::string(listener.url()));
  const junction::Method echo = client.resolve("hold", "echo");
  open = true;
  ASSERT_EQ(echo.call("up", junction::deadline_after(seconds(20))).text(), "up");
  open = false;
  entered = 0;
  TrackedCall copied(64);
  TrackedCall lent(64 << 10);
  ASSERT_EQ(copied.start(echo.raw()), JN_OK);
  ASSERT_EQ(lent.start(echo.raw()), JN_OK);
  ASSERT_TRUE(eventually([&] { return entered.load() == 2; }));
  EXPECT_TRUE(eventually([&] { return copied.releases.load() == 1; }))
      << "a 64 B request was held until its answer";
  if (GetParam() == "inproc") {
    EXPECT_EQ(lent.releases.load(), 0) << "released while the listener reads it";
  } else {
    EXPECT_TRUE(eventually([&] { return lent.releases.load() == 1; }))
        << "a 64 KiB request was held until its answer";
  }
  open = true;
  copied.expect_echoed();
  lent.expect_echoed();
  EXPECT_TRUE(eventually([&] { return lent.releases.load() == 1; }));
  EXPECT_EQ(copied.releases.load(), 1);
  EXPECT_EQ(lent.releases.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Transports, AsyncRouteTest, testing::Values("tcp", "ipc", "inproc"),
                         [](const testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// A call that cannot be sent (nothing listens) fails UNAVAILABLE and its
// request, copied or to be lent, is released exactly once.
TEST(AsyncRouteRequestTest, ARequestOfACallNeverSentIsReleasedOnce) {
  TempDir dir;
  junction::Host client(junction::HostOptions{1});
  client.route("hold", dir.ipc_url("nobody"));
  const junction::Method echo = client.resolve("hold", "echo");
  for (const std::size_t size : {std::size_t{64}, std::size_t{64} << 10}) {
    TrackedCall call(size);
    ASSERT_EQ(call.start(echo.raw()), JN_OK);
    auto outcome = call.answer.get_future();
    ASSERT_EQ(outcome.wait_for(seconds(10)), std::future_status::ready);
    EXPECT_EQ(outcome.get().first, JN_UNAVAILABLE) << size << " bytes";
    EXPECT_TRUE(eventually([&] { return call.releases.load() == 1; })) << size << " bytes";
    std::this_thread::sleep_for(milliseconds(20));  // time for a second release to show
    EXPECT_EQ(call.releases.load(), 1) << size << " bytes";
  }
}

// A listener that closes with calls in flight (its drain deadline cutting
// them short) fails each of them UNAVAILABLE, well within its deadline.
TEST(AsyncRouteLossTest, ALostConnectionFailsItsCallsUnavailable) {
  TempDir dir;
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen(dir.ipc_url());
  junction::Host client(junction::HostOptions{1});
  client.route("test", listener.url());
  const junction::Method nap = client.resolve("test", "stubborn_nap");
  const std::int64_t start = jn_now_ns();
  constexpr int kCalls = 3;
  std::vector<std::future<junction::Result>> calls;
  calls.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(call_async(nap, "3000", junction::deadline_after(seconds(20))));
  }
  ASSERT_TRUE(eventually([&] { return listener.stats().in_flight == kCalls; }));
  EXPECT_FALSE(listener.close(junction::deadline_after(milliseconds(100))));
  for (auto& call : calls) {
    ASSERT_EQ(call.wait_for(seconds(10)), std::future_status::ready);
    const junction::Result result = call.get();
    EXPECT_EQ(result.code, Code::unavailable) << result.message;
  }
  EXPECT_LT(jn_now_ns() - start, millis(2500));
}

// Threads of this process named name.
int threads_named(const std::string& name) {
  int count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) {
      ++count;
    }
  }
  return count;
}

// The host that made a call is freed before the answer comes: the call is
// answered CANCELLED then, and the answer, when it comes, finishes the
// route's last call, which frees the route's connection on the route's own
// thread; that thread ends, and nothing stays behind. The other end is a
// raw ZeroMQ ROUTER speaking the wire protocol, so that it answers when the
// test says (a listener's handler in this process would hold up the host's
// free until it returned: abi/ABI.md, jn_host_free).
TEST(AsyncRouteLossTest, TheAnswerOfACallWhoseHostIsGoneIsDropped) {
  jn_live_counts before{};
  ASSERT_EQ(jn_live_objects(&before), JN_OK);
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::router);
  peer.set(zmq::sockopt::linger, 0);
  peer.set(zmq::sockopt::rcvtimeo, 10'000);
  peer.bind("tcp://127.0.0.1:*");
  const std::string url = "zmq+" + peer.get(zmq::sockopt::last_endpoint);
  std::future<junction::Result> call;
  std::vector<zmq::message_t> request;  // routing id, header, payload
  {
    junction::Host client;
    client.route("gate", url);
    const junction::Method wait = client.resolve("gate", "wait");
    call = call_async(wait, "", junction::no_deadline);
    do {
      request.emplace_back();
      ASSERT_TRUE(peer.recv(request.back(), zmq::recv_flags::none)) << "no request came";
    } while (request.back().more());
    // The route's thread names itself once it runs.
    EXPECT_TRUE(eventually([] { return threads_named("jn-route") == 1; }));
  }
  ASSERT_EQ(call.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(call.get().code, Code::cancelled);
  ASSERT_EQ(request.size(), 3U);
  const wire::Decoded decoded = wire::decode_header(
      std::span(request[1].data<std::uint8_t>(), request[1].size()), request[2].size(), {});
  ASSERT_TRUE(decoded.header.has_value());
  std::vector<std::uint8_t> header;
  ASSERT_TRUE(wire::encode_response(decoded.header->call_id, JN_OK, "", 6, header));
  peer.send(request[0], zmq::send_flags::sndmore);
  peer.send(zmq::buffer(header), zmq::send_flags::sndmore);
  peer.send(zmq::str_buffer("opened"), zmq::send_flags::none);
  const auto settled = [&] {
    jn_live_counts now{};
    return jn_live_objects(&now) == JN_OK && now.pending_calls == before.pending_calls &&
           now.services == before.services && now.hosts == before.hosts &&
           now.methods == before.methods && threads_named("jn-route") == 0;
  };
  EXPECT_TRUE(eventually(settled)) << "the call, its route or the route's thread stayed";
}

// Whether the connection of client's route to "far" fills: a call with a
// short deadline, "far"/"canary", eventually finds no room in its queue.
bool queue_fills(const junction::Host& client) {
  const junction::Method canary = client.resolve("far", "canary");
  return eventually([&] {
    std::string message;
    return code_of(
               [&] {
                 static_cast<void>(canary.call("", junction::deadline_after(milliseconds(200))));
               },
               &message) == Code::unavailable &&
           message.find("queue is full") != std::string::npos;
  });
}

// A request that waits for room in its connection's full queue carries the
// time its call has left when it leaves, not when it was first tried
// (docs/wire.md, timeout_ns): the far side would otherwise run its handler
// on past the caller's deadline. The far end is a raw ROUTER that reads
// nothing until the request has waited a second.
TEST(RouteQueueTest, ARequestThatWaitedForRoomCarriesTheTimeLeftWhenItLeaves) {
  zmq::context_t context;
  zmq::socket_t peer(context, zmq::socket_type::router);
  peer.set(zmq::sockopt::linger, 0);
  peer.set(zmq::sockopt::rcvhwm, 1);
  peer.set(zmq::sockopt::rcvtimeo, 10'000);
  peer.bind("tcp://127.0.0.1:*");
  const std::string url = "zmq+" + peer.get(zmq::sockopt::last_endpoint);
  const auto receive = [&peer] {
    std::vector<zmq::message_t> message;  // routing id, header, payload
    do {
      message.emplace_back();
      if (!peer.recv(message.back(), zmq::recv_flags::none)) {
        ADD_FAILURE() << "no request came";
        return std::vector<zmq::message_t>{};
      }
    } while (message.back().more());
    return message;
  };
  const auto header_of = [](const std::vector<zmq::message_t>& message) {
    return wire::decode_header(std::span(message[1].data<std::uint8_t>(), message[1].size()),
                               message.size() > 2 ? message[2].size() : 0, {});
  };

  junction::Host client;
  junction::RouteOptions options;
  options.connect_timeout = seconds(30);  // a full queue is waited on for that long
  client.route("far", url, options);
  const junction::Method fill = client.resolve("far", "fill");
  const junction::Method probe = client.resolve("far", "probe");
  fill.call_async(Buffer::copy_of("hello"), junction::no_deadline, [](const junction::Result&) {});
  ASSERT_EQ(receive().size(), 3U);  // the connection is up

  // More calls than the connection holds (1000 queued messages, and what
  // the kernel and the peer take in): those that find no room wait on the
  // host's workers, until the cancel.
  const junction::Cancel fillers;
  const std::string filler(4096, 'f');
  for (int i = 0; i < 3000; ++i) {
    fill.call_async(Buffer::copy_of(filler), junction::no_deadline, fillers,
                    [](const junction::Result&) {});
  }
  // Full once a call with a short deadline finds no room.
  EXPECT_TRUE(queue_fills(client)) << "the connection's queue never filled";

  const junction::Deadline deadline = junction::deadline_after(seconds(5));
  std::future<CallOutcome> probed = call_in_background(probe, "", deadline);
  std::this_thread::sleep_for(seconds(1));
  fillers.signal();
  std::optional<wire::Header> probe_header;
  std::vector<zmq::message_t> probe_request;
  while (!probe_header) {
    std::vector<zmq::message_t> message = receive();
    ASSERT_GE(message.size(), 2U) << "the probe's request never came";
    const wire::Decoded decoded = header_of(message);
    ASSERT_TRUE(decoded.header.has_value());
    if (decoded.header->method == "probe") {
      probe_header = decoded.header;
      probe_request = std::move(message);
    }
  }
  // It left at least a second after its deadline was set 5 s ahead.
  EXPECT_GT(probe_header->timeout_ns, 0);
  EXPECT_LE(probe_header->timeout_ns, 4'000'000'000) << "the time left when it was first tried";

  std::vector<std::uint8_t> answer;
  ASSERT_TRUE(wire::encode_response(probe_header->call_id, JN_OK, "", 0, answer));
  peer.send(probe_request[0], zmq::send_flags::sndmore);
  peer.send(zmq::buffer(answer), zmq::send_flags::sndmore);
  peer.send(zmq::message_t(), zmq::send_flags::none);
  ASSERT_EQ(probed.wait_for(seconds(10)), std::future_status::ready);
  EXPECT_EQ(probed.get().code, Code::ok);
}

// A route to a raw ROUTER that reads nothing (receive high-water mark 1)
// with a 60 s connect timeout, whose connection's queue 3000 asynchronous
// calls without a deadline fill: host workers wait for room.
struct FullQueue {
  std::unique_ptr<zmq::context_t> context = std::make_unique<zmq::context_t>();
  zmq::socket_t peer{*context, zmq::socket_type::router};
  std::optional<junction::Host> client{std::in_place};
  std::vector<std::future<junction::Result>> calls;

  void fill() {
    peer.set(zmq::sockopt::linger, 0);
    peer.set(zmq::sockopt::rcvhwm, 1);
    peer.bind("tcp://127.0.0.1:*");
    junction::RouteOptions options;
    options.connect_timeout = seconds(60);
    client->route("far", "zmq+" + peer.get(zmq::sockopt::last_endpoint), options);
    const junction::Method method = client->resolve("far", "fill");
    ASSERT_TRUE(eventually([&] { return client->route_stats("far").state == JN_ROUTE_READY; }));
    const std::string filler(4096, 'f');
    calls.reserve(3000);
    for (int i = 0; i < 3000; ++i) {
      calls.push_back(call_async(method, filler, junction::no_deadline));
    }
    ASSERT_TRUE(queue_fills(*client)) << "the connection's queue never filled";
  }

  // Every call ends within 20 s, with code.
  void expect_every_call_ends(Code code, std::string_view why_not) {
    const auto give_up = std::chrono::steady_clock::now() + seconds(20);
    for (auto& call : calls) {
      ASSERT_EQ(call.wait_until(give_up), std::future_status::ready) << why_not;
      const junction::Result result = call.get();
      EXPECT_EQ(result.code, code) << result.message;
    }
  }
};

// Calls waiting for room in their connection's full queue end when the
// connection is lost (UNAVAILABLE), not at the route's connect timeout
// (60 s here), which bounds that wait only while the connection stays up:
// before, host workers went on retrying until it, one call each, and the
// calls behind them waited for those workers.
TEST(RouteQueueTest, CallsWaitingForRoomEndWhenTheConnectionIsLost) {
  FullQueue full;
  ASSERT_NO_FATAL_FAILURE(full.fill());
  full.peer.close();
  full.context.reset();
  full.expect_every_call_ends(Code::unavailable, "calls still wait for room on a lost connection");
}

// Freeing the host ends its workers' waits for room (CANCELLED, as every
// call of a host freed), not at the route's connect timeout (60 s here):
// jn_host_free joins those workers.
TEST(RouteQueueTest, FreeingTheHostEndsTheCallsWaitingForRoom) {
  FullQueue full;
  ASSERT_NO_FATAL_FAILURE(full.fill());
  std::future<void> freed = std::async(std::launch::async, [&] { full.client.reset(); });
  ASSERT_EQ(freed.wait_for(seconds(20)), std::future_status::ready)
      << "the host's free waits for calls waiting for room";
  full.expect_every_call_ends(Code::cancelled, "calls still wait after their host was freed");
}

// An inproc route, which reports no connection events, waits for room in
// a full queue as any route does: its calls are not taken for lost. The
// listener serves one call at a time behind a closed gate, so its queue,
// then the connection's, fills.
TEST(RouteQueueTest, AnInprocRouteWaitsForRoomInAFullQueue) {
  Gate gate;
  junction::Host server;
  server.register_service(gate.service());
  junction::ListenOptions listen_options;
  listen_options.max_in_flight = 1;
  listen_options.max_unread_answers = 8192;  // every answer may wait, once the gate opens
  junction::Listener listener = server.listen("zmq+inproc://full-queue-waits", listen_options);
  const OpenOnExit open_on_exit{gate.open};
  junction::Host client;
  junction::RouteOptions options;
  options.connect_timeout = seconds(30);
  client.route("gate", std::string(listener.url()), options);
  const junction::Method wait = client.resolve("gate", "wait");
  std::vector<std::future<junction::Result>> calls;
  calls.reserve(4000);
  for (int i = 0; i < 4000; ++i) {
    calls.push_back(call_async(wait, "", junction::deadline_after(seconds(30))));
  }
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
  std::this_thread::sleep_for(seconds(1));  // time for a wrong answer to come
  int ended = 0;
  for (auto& call : calls) {
    if (call.wait_for(seconds(0)) == std::future_status::ready) {
      ++ended;
      const junction::Result result = call.get();
      ADD_FAILURE() << "a call ended while its queue was full: " << result.message;
    }
  }
  EXPECT_EQ(ended, 0);
  gate.open = true;
  const auto give_up = std::chrono::steady_clock::now() + seconds(30);
  for (auto& call : calls) {
    if (!call.valid()) continue;
    ASSERT_EQ(call.wait_until(give_up), std::future_status::ready);
    const junction::Result result = call.get();
    EXPECT_EQ(result.code, Code::ok) << result.message;
  }
}

}  // namespace
}  // namespace jnzmq
