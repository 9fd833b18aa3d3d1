// A client that sends calls and reads their answers late, or never: the
// listener loses no answer to a client that reads late, refuses a
// connection's calls while its unread answers are too many or too large
// (RESOURCE_EXHAUSTED), drops the calls of one that reads nothing at all,
// and keeps serving its other clients throughout (docs/wire.md, "Unread
// answers").
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <frame.hh>
#include <map>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "test_support.hh"

namespace jnzmq {
namespace {

namespace wire = junction::wire;

// The listener's default bounds, per connection.
constexpr std::size_t kMaxUnreadAnswers = 1024;
constexpr std::size_t kDropCallsAtUnreadAnswers = 4 * kMaxUnreadAnswers;

// A listener serving "unread"/"answer", whose answer is the request's bytes
// padded with zeros to answer_bytes, and a raw DEALER that sends calls and
// reads nothing until the test says so. The DEALER keeps almost nothing of
// its own queued (a receive queue of one message, a small socket buffer), so
// unread answers pile up at the listener.
class UnreadAnswersTest : public testing::Test {
 protected:
  void serve(std::size_t answer_bytes, const junction::ListenOptions& options) {
    junction::Service service("unread");
    service.method("answer", [this, answer_bytes](auto request, Deadline) {
      handled_.fetch_add(1);
      std::vector<std::uint8_t> out(answer_bytes, 0);
      std::copy(request.begin(), request.end(), out.begin());
      return Buffer::from_vector(std::move(out));
    });
    service.method("other", [](auto request, Deadline) { return Buffer::copy_of(request); });
    host_.register_service(std::move(service));
    listener_ = host_.listen("zmq+tcp://127.0.0.1:0", options);
    const std::string url(listener_.url());
    peer_.set(zmq::sockopt::linger, 0);
    peer_.set(zmq::sockopt::rcvhwm, 1);
    peer_.set(zmq::sockopt::rcvbuf, 4096);
    peer_.connect(url.substr(std::string_view("zmq+").size()));
  }

  void send_calls(std::uint64_t first_id, std::uint64_t count) {
    std::vector<std::uint8_t> header;
    for (std::uint64_t id = first_id; id < first_id + count; ++id) {
      const std::string payload = std::to_string(id);
      ASSERT_TRUE(
          wire::encode_request(id, wire::kNoTimeout, "unread", "answer", payload.size(), header));
      peer_.send(zmq::buffer(header), zmq::send_flags::sndmore);
      peer_.send(zmq::buffer(payload), zmq::send_flags::none);
    }
  }

  // Waits until the listener has taken count requests and answered or
  // dropped each, and returns its stats then.
  jn_listener_stats wait_until_taken(std::uint64_t count) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      const jn_listener_stats stats = listener_.stats();
      if (stats.requests >= count && stats.answers + stats.dropped_unread >= count) {
        return stats;
      }
      if (std::chrono::steady_clock::now() > give_up) {
        ADD_FAILURE() << "taken " << stats.requests << " of " << count << ", answered "
                      << stats.answers << ", dropped " << stats.dropped_unread;
        return stats;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  struct Answer {
    std::int32_t code;
    std::string message;
    std::size_t payload_size;
    std::string payload_start;  // its first bytes: the answers are large
  };
  // The answers that arrive, by call id, until there are expected or none
  // has come for timeout_ms; fails on an answer that comes twice.
  std::map<std::uint64_t, Answer> read_answers(std::size_t expected, int timeout_ms) {
    peer_.set(zmq::sockopt::rcvtimeo, timeout_ms);
    std::map<std::uint64_t, Answer> answers;
    zmq::message_t header;
    while (answers.size() < expected && peer_.recv(header)) {
      zmq::message_t payload;
      EXPECT_TRUE(header.more());
      EXPECT_TRUE(peer_.recv(payload));
      const wire::Decoded decoded = wire::decode_header(
          {static_cast<const std::uint8_t*>(header.data()), header.size()}, payload.size(), {});
      if (!decoded.header) {
        ADD_FAILURE() << decoded.error.message;
        break;
      }
      const bool fresh =
          answers
              .emplace(
                  decoded.header->call_id,
                  Answer{decoded.header->code, std::string(decoded.header->message), payload.size(),
                         std::string(static_cast<const char*>(payload.data()),
                                     std::min<std::size_t>(payload.size(), 32))})
              .second;
      EXPECT_TRUE(fresh) << "call " << decoded.header->call_id << " answered twice";
    }
    return answers;
  }

  // Checks each answer is its call's own (answer_bytes, starting with the
  // call id) or a refusal for the backlog; counts each kind.
  struct Tally {
    std::size_t answers = 0;
    std::size_t answered = 0;
    std::size_t refused = 0;
    std::string refusal;        // a refusal's message
    std::uint64_t dropped = 0;  // calls the listener dropped unanswered
  };
  static Tally check(const std::map<std::uint64_t, Answer>& answers, std::size_t answer_bytes) {
    Tally tally;
    tally.answers = answers.size();
    for (const auto& [id, answer] : answers) {
      if (answer.code == JN_OK) {
        ++tally.answered;
        const std::string number = std::to_string(id);
        EXPECT_EQ(answer.payload_size, answer_bytes) << id;
        EXPECT_EQ(answer.payload_start.substr(0, number.size()), number) << id;
      } else {
        ++tally.refused;
        EXPECT_EQ(answer.code, JN_RESOURCE_EXHAUSTED) << id << ": " << answer.message;
        EXPECT_NE(answer.message.find("on this connection are waiting to be read"),
                  std::string::npos)
            << answer.message;
        EXPECT_EQ(answer.payload_size, 0U) << id;
        tally.refusal = answer.message;
      }
    }
    return tally;
  }

  // Serves answers of answer_bytes; the peer sends calls and reads nothing
  // until the listener has taken them all, while another client is served;
  // then it reads every answer the listener sent it. Every call that ran is
  // answered, and the listener's stats count what it did.
  Tally send_then_read(std::size_t answer_bytes, std::uint64_t calls,
                       const junction::ListenOptions& options = {}) {
    serve(answer_bytes, options);
    send_calls(0, calls);
    const jn_listener_stats taken = wait_until_taken(calls);
    EXPECT_EQ(taken.requests, calls);
    expect_others_served();
    Tally tally = check(read_answers(taken.answers, 10'000), answer_bytes);
    tally.dropped = taken.dropped_unread;
    EXPECT_EQ(tally.answers, taken.answers) << "answers lost";
    EXPECT_EQ(tally.answered, handled_.load());
    EXPECT_EQ(tally.refused, taken.refused_unread);
    EXPECT_EQ(tally.answers + taken.dropped_unread, calls);
    const jn_listener_stats after = listener_.stats();
    EXPECT_EQ(after.requests, calls + 1);  // the other client's call
    EXPECT_EQ(after.answers, taken.answers + 1);
    return tally;
  }

  // Its answers read, the peer's calls run again.
  void expect_served_again(std::uint64_t call_id) {
    send_calls(call_id, 1);
    const std::map<std::uint64_t, Answer> after = read_answers(1, 10'000);
    ASSERT_EQ(after.size(), 1U);
    EXPECT_EQ(after.begin()->second.code, JN_OK) << after.begin()->second.message;
  }

  // Another client, with a connection of its own, is served meanwhile.
  void expect_others_served() {
    junction::Host client;
    client.route("unread", listener_.url());
    const Buffer answer = client.resolve("unread", "other")
                              .call("other", junction::deadline_after(std::chrono::seconds(10)));
    EXPECT_EQ(answer.text(), "other");
  }

  std::atomic<std::uint64_t> handled_{0};
  junction::Host host_;
  junction::Listener listener_;
  zmq::context_t context_;
  zmq::socket_t peer_{context_, zmq::socket_type::dealer};
};

TEST_F(UnreadAnswersTest, ALateReaderGetsAnAnswerToEveryCallSomeRefusedOnceItsBacklogIsFull) {
  constexpr std::uint64_t kCalls = 2500;
  const Tally tally = send_then_read(16 * std::size_t{1024}, kCalls);
  EXPECT_EQ(tally.answers, kCalls) << "answers lost";
  // Until the backlog was full every call ran; after it the listener
  // refused the rest (more than the socket buffers could take).
  EXPECT_GE(tally.answered, kMaxUnreadAnswers);
  EXPECT_GE(tally.refused, 1U);
  expect_served_again(kCalls);
}

TEST_F(UnreadAnswersTest, LargeUnreadAnswersFillTheBacklogByTheirBytes) {
  // 256 MiB of unread answers fill it: 256 answers of 1 MiB, far fewer than
  // the count that would.
  constexpr std::uint64_t kCalls = 320;
  const Tally tally = send_then_read(std::size_t{1024} * 1024, kCalls);
  EXPECT_EQ(tally.answers, kCalls) << "answers lost";
  EXPECT_GE(tally.answered, 256U);
  EXPECT_GE(tally.refused, 1U);
  expect_served_again(kCalls);
}

TEST_F(UnreadAnswersTest, AClientThatReadsNothingHasItsCallsDroppedPastItsRefusals) {
  constexpr std::uint64_t kCalls = 8000;
  const Tally tally = send_then_read(16 * std::size_t{1024}, kCalls);
  // The listener held up to kDropCallsAtUnreadAnswers answers (and the
  // socket buffers some more), and dropped the calls after.
  EXPECT_GE(tally.answers, kDropCallsAtUnreadAnswers);
  EXPECT_LT(tally.answers, kCalls);
  EXPECT_GE(tally.refused, 1U);
  expect_served_again(kCalls);
}

// A listener given smaller bounds (ABI 1.6) holds that much for a
// connection, and no more: with 64 KiB answers, the listener's defaults
// would run at least 1024 of these calls and drop none.
TEST_F(UnreadAnswersTest, ABoundOnUnreadAnswersRefusesAndDropsAtTheCountGiven) {
  constexpr std::uint64_t kCalls = 1200;
  junction::ListenOptions options;
  options.max_unread_answers = 8;
  const Tally tally = send_then_read(64 * std::size_t{1024}, kCalls, options);
  EXPECT_GE(tally.answered, 8U);
  EXPECT_LT(tally.answered, kMaxUnreadAnswers);
  EXPECT_GE(tally.refused, 1U);
  EXPECT_NE(tally.refusal.find("; up to 8 answers and 268435456 bytes may wait"), std::string::npos)
      << tally.refusal;
  // Dropped past 4 x 8 answers unread (and what the socket buffers hold).
  EXPECT_GE(tally.dropped, 1U);
  expect_served_again(kCalls);
}

TEST_F(UnreadAnswersTest, ABoundOnUnreadBytesRefusesAtTheBytesGiven) {
  constexpr std::uint64_t kCalls = 1200;
  junction::ListenOptions options;
  options.max_unread_answer_bytes = std::uint64_t{1} << 20;
  const Tally tally = send_then_read(64 * std::size_t{1024}, kCalls, options);
  EXPECT_GE(tally.answered, 16U);  // 16 answers of 64 KiB fill 1 MiB
  EXPECT_LT(tally.answered, kMaxUnreadAnswers);
  EXPECT_GE(tally.refused, 1U);
  EXPECT_NE(tally.refusal.find("; up to 1024 answers and 1048576 bytes may wait"),
            std::string::npos)
      << tally.refusal;
  EXPECT_EQ(tally.dropped, 0U);  // refusals count toward the 4096 that drop
  expect_served_again(kCalls);
}

}  // namespace
}  // namespace jnzmq
