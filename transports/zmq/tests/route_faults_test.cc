// A route facing a server that does not follow the protocol (a raw ZeroMQ
// ROUTER): each answer it cannot read ends its call with the documented
// code (docs/wire.md, "What a receiver does with a message it cannot
// read"), one it cannot identify is dropped, and the route keeps serving.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <frame.hh>
#include <future>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "raw_peer.hh"
#include "test_support.hh"

namespace jnzmq {
namespace {

using Frame = std::vector<std::uint8_t>;

// Writes value, little-endian, at offset of header.
template <class T>
void put(Frame& header, std::size_t offset, T value) {
  ASSERT_LE(offset + sizeof(T), header.size());
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    header[offset + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(value) >> (8 * i));
  }
}

Frame response_header(std::uint64_t call_id, std::int32_t code = JN_OK,
                      std::uint64_t payload_len = 2) {
  Frame header;
  EXPECT_TRUE(junction::wire::encode_response(call_id, code, "", payload_len, header));
  return header;
}

// The payload of the answers: two bytes.
Frame payload() { return {'o', 'k'}; }

// A well-formed answer to call_id, two bytes of payload, with the field at
// offset of its header set to value.
template <class T>
std::vector<Frame> patched_answer(std::uint64_t call_id, std::size_t offset, T value) {
  Frame header = response_header(call_id);
  put<T>(header, offset, value);
  return {header, payload()};
}

// One broken answer: the frames the server sends for the call with id
// call_id, and what the caller is answered.
struct BrokenAnswer {
  const char* what;
  std::vector<Frame> (*frames)(std::uint64_t call_id);
  Code code;
};

constexpr BrokenAnswer kBrokenAnswers[] = {
    {"a code outside 0..16",
     [](std::uint64_t id) { return patched_answer<std::int32_t>(id, 24, 17); }, Code::internal},
    {"a negative code",
     [](std::uint64_t id) {
       Frame header = response_header(id, JN_OK, 0);
       put<std::int32_t>(header, 24, -1);
       return std::vector<Frame>{header, {}};
     },
     Code::internal},
    {"version 2", [](std::uint64_t id) { return patched_answer<std::uint8_t>(id, 4, 2); },
     Code::internal},
    {"a request where a response belongs",
     [](std::uint64_t id) {
       Frame header;
       EXPECT_TRUE(junction::wire::encode_request(id, -1, "s", "m", 2, header));
       return std::vector<Frame>{header, payload()};
     },
     Code::internal},
    {"a cancel where a response belongs",
     [](std::uint64_t id) {
       Frame header;
       junction::wire::encode_cancel(id, header);
       return std::vector<Frame>{header, {}};
     },
     Code::internal},
    {"kind 9", [](std::uint64_t id) { return patched_answer<std::uint8_t>(id, 5, 9); },
     Code::internal},
    {"three frames",
     [](std::uint64_t id) {
       return std::vector<Frame>{response_header(id), payload(), payload()};
     },
     Code::internal},
    {"the header alone",
     [](std::uint64_t id) { return std::vector<Frame>{response_header(id, JN_OK, 0)}; },
     Code::internal},
    {"an error code with a payload",
     [](std::uint64_t id) { return patched_answer<std::int32_t>(id, 24, JN_NOT_FOUND); },
     Code::internal},
    {"a non-zero timeout",
     [](std::uint64_t id) { return patched_answer<std::int64_t>(id, 16, 1000); }, Code::internal},
    {"a message length the frame does not have",
     [](std::uint64_t id) { return patched_answer<std::uint32_t>(id, 28, 5); }, Code::internal},
    {"a payload length the payload frame does not have",
     [](std::uint64_t id) { return patched_answer<std::uint64_t>(id, 32, 3); }, Code::internal},
    {"a payload over the route's limit",
     [](std::uint64_t id) {
       return std::vector<Frame>{response_header(id, JN_OK, 2000), Frame(2000, 'x')};
     },
     Code::resource_exhausted},
};

class RouteFaultsTest : public testing::Test {
 protected:
  RawPeer peer_;
  junction::Host client_ = [this] {
    junction::Host host;
    junction::RouteOptions options;
    options.max_payload_bytes = 1000;
    host.route("test", peer_.url(), options);
    return host;
  }();
  junction::Method echo_ = client_.resolve("test", "echo");
};

TEST_F(RouteFaultsTest, AnAnswerItCannotReadEndsItsCallWithTheDocumentedCode) {
  for (const BrokenAnswer& broken : kBrokenAnswers) {
    SCOPED_TRACE(broken.what);
    auto call = call_in_background(echo_, "x", junction::deadline_after(std::chrono::seconds(20)));
    std::vector<zmq::message_t> request = peer_.receive();
    ASSERT_EQ(request.size(), 3U) << "no request came";
    peer_.send_to(request, broken.frames(RawPeer::call_id_of(request)));
    ASSERT_EQ(call.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    const CallOutcome outcome = call.get();
    EXPECT_EQ(outcome.code, broken.code) << outcome.message;
    EXPECT_NE(outcome.message.find(peer_.endpoint()), std::string::npos) << outcome.message;

    // The route serves on, on the same connection.
    auto next = call_in_background(echo_, "y", junction::deadline_after(std::chrono::seconds(20)));
    std::vector<zmq::message_t> next_request = peer_.receive();
    ASSERT_EQ(next_request.size(), 3U) << "no request came after the broken answer";
    peer_.answer(next_request, "served");
    const CallOutcome served = next.get();
    EXPECT_EQ(served.code, Code::ok) << served.message;
    EXPECT_EQ(served.text, "served");
  }
}

// What the route cannot tie to a call of its own is dropped: the call it
// waits for takes the answer that follows.
TEST_F(RouteFaultsTest, AnAnswerItCannotIdentifyIsDroppedAndTheRealOneArrives) {
  const std::vector<std::vector<Frame>> unidentifiable = {
      {Frame{'J', 'N', 'W'}, payload()},                   // shorter than the magic
      {Frame{'X', 'N', 'W', 'F', 1, 2, 0, 0}, payload()},  // wrong magic
      {Frame{'J', 'N', 'W', 'F', 1, 2}, payload()},        // no call id
  };
  for (std::size_t i = 0; i <= unidentifiable.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    auto call = call_in_background(echo_, "x", junction::deadline_after(std::chrono::seconds(20)));
    std::vector<zmq::message_t> request = peer_.receive();
    ASSERT_EQ(request.size(), 3U) << "no request came";
    const std::uint64_t id = RawPeer::call_id_of(request);
    if (i < unidentifiable.size()) {
      peer_.send_to(request, unidentifiable[i]);
    } else {  // last: a well-formed answer to a call it never made
      peer_.send_to(request, {response_header(id + 1000), payload()});
    }
    peer_.answer(request, "real");
    const CallOutcome outcome = call.get();
    EXPECT_EQ(outcome.code, Code::ok) << outcome.message;
    EXPECT_EQ(outcome.text, "real");
  }
}

}  // namespace
}  // namespace jnzmq
