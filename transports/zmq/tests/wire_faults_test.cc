// A listener facing a peer that does not follow the protocol: a raw ZeroMQ
// DEALER sends malformed, truncated, oversized and foreign messages. Each
// is answered with the documented error (docs/wire.md) or dropped, and the
// listener keeps serving.
#include <gtest/gtest.h>

#include <frame.hh>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "test_support.hh"

namespace jnzmq {
namespace {

namespace wire = junction::wire;

class WireFaultsTest : public testing::Test {
 protected:
  void SetUp() override {
    host_.register_service(test_service());
    junction::ListenOptions options;
    options.max_payload_bytes = 1024;
    listener_ = host_.listen("zmq+tcp://127.0.0.1:0", options);
    const std::string url(listener_.url());
    peer_.set(zmq::sockopt::linger, 0);
    peer_.set(zmq::sockopt::rcvtimeo, 5000);
    peer_.connect(url.substr(std::string_view("zmq+").size()));
  }

  void send(std::vector<std::vector<std::uint8_t>> frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      peer_.send(zmq::buffer(frames[i]),
                 i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  // The next response: its decoded header fields and payload, or nothing
  // within the timeout.
  struct Answer {
    std::uint64_t call_id;
    std::int32_t code;
    std::string message;
    std::string payload;
  };
  std::optional<Answer> receive(int timeout_ms = 5000) {
    peer_.set(zmq::sockopt::rcvtimeo, timeout_ms);
    zmq::message_t header;
    if (!peer_.recv(header)) {
      return std::nullopt;
    }
    EXPECT_TRUE(header.more());
    zmq::message_t payload;
    EXPECT_TRUE(peer_.recv(payload));
    const wire::Decoded decoded = wire::decode_header(
        {static_cast<const std::uint8_t*>(header.data()), header.size()}, payload.size(), {});
    EXPECT_TRUE(decoded.header.has_value()) << decoded.error.message;
    if (!decoded.header) {
      return std::nullopt;
    }
    return Answer{decoded.header->call_id, decoded.header->code,
                  std::string(decoded.header->message), payload.to_string()};
  }

  static std::vector<std::uint8_t> request(std::uint64_t call_id, std::string_view service,
                                           std::string_view method, std::uint64_t payload_len,
                                           std::int64_t timeout_ns = wire::kNoTimeout) {
    std::vector<std::uint8_t> header;
    EXPECT_TRUE(wire::encode_request(call_id, timeout_ns, service, method, payload_len, header));
    return header;
  }

  // The next answer is an error for call_id with code; returns its message.
  std::string expect_error(std::uint64_t call_id, std::int32_t code) {
    const std::optional<Answer> answer = receive();
    if (!answer) {
      ADD_FAILURE() << "no answer for call " << call_id;
      return {};
    }
    EXPECT_EQ(answer->call_id, call_id);
    EXPECT_EQ(answer->code, code) << answer->message;
    EXPECT_TRUE(answer->payload.empty());
    return answer->message;
  }

  // A well-formed echo call still works.
  void expect_still_serving(std::uint64_t call_id) {
    send({request(call_id, "test", "echo", 5), {'h', 'e', 'l', 'l', 'o'}});
    const std::optional<Answer> answer = receive();
    ASSERT_TRUE(answer.has_value());
    EXPECT_EQ(answer->call_id, call_id);
    EXPECT_EQ(answer->code, JN_OK) << answer->message;
    EXPECT_EQ(answer->payload, "hello");
  }

  // The listener counted unreadable messages and refused payloads so. A
  // message it answered nothing may be counted on a thread of its own after
  // a later call's answer, so the counts are awaited.
  void expect_counted(std::uint64_t unreadable, std::uint64_t too_large) {
    eventually([&] {
      const jn_listener_stats stats = listener_.stats();
      return stats.unreadable == unreadable && stats.refused_too_large == too_large;
    });
    const jn_listener_stats stats = listener_.stats();
    EXPECT_EQ(stats.unreadable, unreadable);
    EXPECT_EQ(stats.refused_too_large, too_large);
  }

  // The parked completions go while the listener and host are up, under the
  // lock the handlers parked them with, so that their writes are seen.
  void TearDown() override {
    const std::lock_guard lock(parked_mutex_);
    parked_.clear();
  }

  // Registers the service "parking": its method "park" keeps each call's
  // Completion in parked_, unanswered.
  void register_parking() {
    junction::Service parking("parking");
    parking.async_method("park", [this](auto, Deadline, junction::Completion completion) {
      const std::lock_guard lock(parked_mutex_);
      parked_.push_back(std::move(completion));
    });
    host_.register_service(std::move(parking));
  }

  junction::Host host_;
  junction::Listener listener_;
  std::mutex parked_mutex_;
  std::vector<junction::Completion> parked_;
  zmq::context_t context_;
  zmq::socket_t peer_{context_, zmq::socket_type::dealer};
};

TEST_F(WireFaultsTest, WellFormedCallIsAnswered) {
  expect_still_serving(1);
  expect_counted(0, 0);
}

TEST_F(WireFaultsTest, UnidentifiableMessagesAreDropped) {
  send({{'x', 'y'}, {}});                                   // no magic
  send({{'J', 'N', 'W', 'F', 1, 1, 0, 0}, {}});             // magic, but no call id
  send({std::vector<std::uint8_t>(100, 0xFF), {1, 2, 3}});  // garbage
  EXPECT_FALSE(receive(300).has_value());
  expect_still_serving(2);
  expect_counted(3, 0);
}

TEST_F(WireFaultsTest, UnknownVersionIsFailedPrecondition) {
  std::vector<std::uint8_t> header = request(7, "test", "echo", 0);
  header[4] = 9;
  send({header, {}});
  const std::string message = expect_error(7, JN_FAILED_PRECONDITION);
  EXPECT_NE(message.find("version 9"), std::string::npos) << message;
  expect_still_serving(8);
  expect_counted(1, 0);
}

TEST_F(WireFaultsTest, TruncatedHeaderIsInvalidArgument) {
  std::vector<std::uint8_t> header = request(11, "test", "echo", 0);
  header.resize(30);
  send({header, {}});
  expect_error(11, JN_INVALID_ARGUMENT);
  expect_still_serving(12);
  expect_counted(1, 0);
}

TEST_F(WireFaultsTest, MissingOrExtraFramesAreInvalidArgument) {
  send({request(21, "test", "echo", 0)});  // no payload frame
  expect_error(21, JN_INVALID_ARGUMENT);
  send({request(22, "test", "echo", 1), {'a'}, {'b'}});  // a third frame
  expect_error(22, JN_INVALID_ARGUMENT);
  expect_still_serving(23);
  expect_counted(2, 0);
}

TEST_F(WireFaultsTest, PayloadLengthMismatchIsInvalidArgument) {
  send({request(31, "test", "echo", 10), {'s', 'h', 'o', 'r', 't'}});
  expect_error(31, JN_INVALID_ARGUMENT);
  expect_still_serving(32);
  expect_counted(1, 0);
}

TEST_F(WireFaultsTest, DeclaredPayloadOverTheLimitIsResourceExhausted) {
  // The listener's limit is 1024 bytes: the header alone is refused.
  send({request(41, "test", "echo", 1u << 30), {}});
  expect_error(41, JN_RESOURCE_EXHAUSTED);
  expect_still_serving(42);
  expect_counted(0, 1);
}

TEST_F(WireFaultsTest, PayloadOverTheLimitWithinTheFrameLimitIsResourceExhausted) {
  send({request(43, "test", "echo", 2048), std::vector<std::uint8_t>(2048, 1)});
  expect_error(43, JN_RESOURCE_EXHAUSTED);
  expect_still_serving(44);
  expect_counted(0, 1);
}

TEST_F(WireFaultsTest, FrameOverTheFrameLimitClosesOnlyThatConnection) {
  // libzmq refuses a frame over the limit before allocating it and drops
  // the connection that sent it; other callers are served on.
  zmq::socket_t other(context_, zmq::socket_type::dealer);
  other.set(zmq::sockopt::linger, 0);
  other.set(zmq::sockopt::rcvtimeo, 5000);
  const std::string url(listener_.url());
  other.connect(url.substr(std::string_view("zmq+").size()));
  send({request(51, "test", "echo", 1u << 20), std::vector<std::uint8_t>(1u << 20, 2)});
  EXPECT_FALSE(receive(500).has_value());
  std::vector<std::uint8_t> header = request(52, "test", "echo", 2);
  other.send(zmq::buffer(header), zmq::send_flags::sndmore);
  other.send(zmq::str_buffer("ok"), zmq::send_flags::none);
  zmq::message_t reply_header;
  zmq::message_t reply_payload;
  ASSERT_TRUE(other.recv(reply_header));
  ASSERT_TRUE(other.recv(reply_payload));
  EXPECT_EQ(reply_payload.to_string(), "ok");
}

TEST_F(WireFaultsTest, ResponseSentToAListenerIsInvalidArgument) {
  std::vector<std::uint8_t> header;
  ASSERT_TRUE(wire::encode_response(61, JN_OK, "", 0, header));
  send({header, {}});
  expect_error(61, JN_INVALID_ARGUMENT);
  expect_still_serving(62);
  expect_counted(1, 0);
}

TEST_F(WireFaultsTest, UnknownServiceOrMethodIsNotFound) {
  send({request(71, "nope", "echo", 0), {}});
  expect_error(71, JN_NOT_FOUND);
  send({request(72, "test", "nope", 0), {}});
  const std::string message = expect_error(72, JN_NOT_FOUND);
  EXPECT_NE(message.find("nope"), std::string::npos) << message;
}

TEST_F(WireFaultsTest, SpentTimeoutIsDeadlineExceeded) {
  send({request(81, "test", "echo", 0, /*timeout_ns=*/0), {}});
  expect_error(81, JN_DEADLINE_EXCEEDED);
}

TEST_F(WireFaultsTest, ManyCallsInFlightAnswerInAnyOrder) {
  // Ten calls sent before any answer is read: each comes back with its id.
  for (std::uint64_t id = 100; id < 110; ++id) {
    const std::string text = "nap " + std::to_string(id);
    send({request(id, "test", id % 2 == 0 ? "nap" : "echo", id % 2 == 0 ? 2 : text.size()),
          id % 2 == 0 ? std::vector<std::uint8_t>{'5', '0'}
                      : std::vector<std::uint8_t>(text.begin(), text.end())});
  }
  std::vector<bool> seen(10, false);
  for (int i = 0; i < 10; ++i) {
    const std::optional<Answer> answer = receive();
    ASSERT_TRUE(answer.has_value());
    ASSERT_GE(answer->call_id, 100u);
    ASSERT_LT(answer->call_id, 110u);
    EXPECT_EQ(answer->code, JN_OK) << answer->message;
    EXPECT_EQ(answer->payload, answer->call_id % 2 == 0 ? std::string("rested")
                                                        : "nap " + std::to_string(answer->call_id));
    seen[answer->call_id - 100] = true;
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 10);
}

std::vector<std::uint8_t> cancel_header(std::uint64_t call_id) {
  std::vector<std::uint8_t> header;
  wire::encode_cancel(call_id, header);
  return header;
}

// A cancel is never answered, nor counted as a call: one for a call that is
// not running (never sent, or answered) changes nothing.
TEST_F(WireFaultsTest, ACancelIsNeverAnswered) {
  send({cancel_header(120), {}});
  expect_still_serving(121);  // the first answer is the call's
  expect_still_serving(122);
  send({cancel_header(121), {}});  // answered already
  expect_still_serving(123);
  expect_counted(0, 0);
  EXPECT_EQ(listener_.stats().requests, 3U);
}

// The listener's counts only grow while cancels stream in: a cancel is not
// counted as a request taken, not even for a moment.
TEST_F(WireFaultsTest, CancelsNeverTakeTheRequestCountDown) {
  std::atomic<bool> stop{false};
  std::atomic<int> decreases{0};
  std::thread watcher([&] {
    std::uint64_t last = 0;
    while (!stop.load()) {
      const std::uint64_t requests = listener_.stats().requests;
      if (requests < last) decreases.fetch_add(1);
      last = requests;
    }
  });
  for (std::uint64_t id = 0; id < 20000; ++id) {
    send({cancel_header(5000 + id), {}});
  }
  expect_still_serving(129);  // a call behind the cancels
  EXPECT_TRUE(eventually([&] { return listener_.stats().requests == 1; }));
  stop.store(true);
  watcher.join();
  EXPECT_EQ(decreases.load(), 0) << "times the count of requests taken went down";
  EXPECT_EQ(listener_.stats().requests, 1U) << "cancels counted as requests";
}

TEST_F(WireFaultsTest, AMalformedCancelIsInvalidArgument) {
  send({cancel_header(124)});
  EXPECT_EQ(expect_error(124, JN_INVALID_ARGUMENT),
            "a cancel is 2 frames (header, payload), got 1");
  std::vector<std::uint8_t> with_payload = cancel_header(125);
  with_payload[32] = 1;
  send({with_payload, {'x'}});
  EXPECT_NE(expect_error(125, JN_INVALID_ARGUMENT).find("cancel with"), std::string::npos);
  expect_counted(2, 0);
  expect_still_serving(126);
}

// A call whose handler waits (an asynchronous handler here, a routed call
// elsewhere) ends its wait at its client's cancel: it is answered
// CANCELLED, and the handler's late answer finds its caller gone.
TEST_F(WireFaultsTest, ACancelEndsTheWaitOfTheCallItNames) {
  register_parking();
  send({request(127, "parking", "park", 0), {}});
  ASSERT_TRUE(eventually([&] {
    const std::lock_guard lock(parked_mutex_);
    return parked_.size() == 1;
  }));
  send({cancel_header(127), {}});
  EXPECT_EQ(expect_error(127, JN_CANCELLED), "call cancelled by its caller");
  const std::lock_guard lock(parked_mutex_);
  EXPECT_EQ(parked_.front().succeed(Buffer::copy_of("late")), Code::cancelled);
}

// A synchronous handler is not stopped, but sees the cancel its client
// sent (junction::call_cancelled: the listener's cancel for the call) and
// may give up.
TEST_F(WireFaultsTest, AHandlerSeesTheCancelOfItsCall) {
  std::atomic<bool> entered{false};
  junction::Service watching("watching");
  watching.method("watch", [&](auto, Deadline) -> Buffer {
    entered = true;
    const bool seen = eventually([] { return junction::call_cancelled(); });
    throw junction::Error(seen ? Code::cancelled : Code::deadline_exceeded,
                          seen ? "gave up: its client went away" : "never cancelled");
  });
  host_.register_service(std::move(watching));
  send({request(128, "watching", "watch", 0), {}});
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  send({cancel_header(128), {}});
  EXPECT_EQ(expect_error(128, JN_CANCELLED), "gave up: its client went away");
}

// A cancel sent right behind its request reaches the call, whichever
// listener thread reads it: a thread may take the cancel while another is
// still reading the request it names. Each call parks until cancelled, so
// one whose cancel is lost is answered only at its deadline.
TEST_F(WireFaultsTest, ACancelRightBehindItsRequestReachesItsCall) {
  register_parking();
  constexpr std::uint64_t kCalls = 300;
  for (std::uint64_t id = 1000; id < 1000 + kCalls; ++id) {
    send({request(id, "parking", "park", 0, millis(3000)), {}});
    send({cancel_header(id), {}});
  }
  std::map<std::int32_t, int> codes;
  for (std::uint64_t answered = 0; answered < kCalls; ++answered) {
    const std::optional<Answer> answer = receive(10000);
    ASSERT_TRUE(answer.has_value()) << answered << " answered";
    ++codes[answer->code];
  }
  EXPECT_EQ(codes[JN_CANCELLED], static_cast<int>(kCalls))
      << codes[JN_DEADLINE_EXCEEDED] << " calls ran to their deadline";
}

// The calling peer goes away mid-call (its connection closed while the
// handler runs): the answer, once the handler ends, is dropped with nothing
// of the call left behind, and the listener serves its other callers all
// along.
TEST(CallerGoneTest, ACallerGoneMidCallLeavesTheListenerServingAndNothingBehind) {
  jn_live_counts before{};
  ASSERT_EQ(jn_live_objects(&before), JN_OK);
  {
    Gate gate{/*heeds_deadline=*/false};
    junction::Host server;
    server.register_service(gate.service());
    server.register_service(test_service());
    junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
    const OpenOnExit open_on_exit{gate.open};
    const std::string url(listener.url());
    {
      zmq::context_t context;
      zmq::socket_t doomed(context, zmq::socket_type::dealer);
      doomed.set(zmq::sockopt::linger, 0);
      doomed.connect(url.substr(std::string_view("zmq+").size()));
      std::vector<std::uint8_t> header;
      ASSERT_TRUE(wire::encode_request(1, wire::kNoTimeout, "gate", "wait", 0, header));
      doomed.send(zmq::buffer(header), zmq::send_flags::sndmore);
      doomed.send(zmq::message_t(), zmq::send_flags::none);
      ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; })) << "the call never ran";
    }  // the caller's socket and context are gone: its connection closes
    junction::Host client = routed_to(listener);
    const junction::Method echo = client.resolve("test", "echo");
    const auto deadline = [] { return junction::deadline_after(std::chrono::seconds(10)); };
    EXPECT_EQ(echo.call("while it runs", deadline()).text(), "while it runs");
    gate.open = true;
    EXPECT_TRUE(eventually([&] { return listener.stats().in_flight == 0; }))
        << "in flight: " << listener.stats().in_flight;
    EXPECT_EQ(echo.call("after it", deadline()).text(), "after it");
  }
  const auto settled = [&] {
    jn_live_counts now{};
    return jn_live_objects(&now) == JN_OK && now.pending_calls == before.pending_calls &&
           now.services == before.services && now.hosts == before.hosts &&
           now.methods == before.methods && now.buffers == before.buffers;
  };
  EXPECT_TRUE(eventually(settled)) << "something of the orphaned call stayed";
}

}  // namespace
}  // namespace jnzmq
