// Out of memory while a route takes in an answer: the answer reaches its
// caller with its code (its message needs the memory), and the route goes
// on receiving for the calls after it (failing_allocation.hh: built without
// sanitizers).
#include <gtest/gtest.h>

#include <string>

#include "failing_allocation.hh"
#include "test_support.hh"

namespace jnzmq {
namespace {

using std::chrono::seconds;

// The answer's status message, 3000 bytes, which the route copies for its
// caller in one allocation of 3001 (with its terminating NUL).
constexpr std::size_t kMessageBytes = 3000;

TEST(AllocationFailureTest, AnAnswerWithoutMemoryForItsMessageKeepsItsCodeAndTheRouteReceivesOn) {
  junction::Host server;
  junction::Service refusing("refusing");
  refusing.method("refuse", [](auto, Deadline) -> Buffer {
    throw junction::Error(Code::permission_denied, std::string(kMessageBytes, 'm'));
  });
  server.register_service(std::move(refusing));
  server.register_service(test_service());
  const junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  junction::Host client;
  client.route("refusing", std::string(listener.url()));
  client.route("test", std::string(listener.url()));
  const junction::Method refuse = client.resolve("refusing", "refuse");
  const junction::Method echo = client.resolve("test", "echo");
  ASSERT_EQ(echo.call("connected", junction::deadline_after(seconds(10))).text(), "connected");

  std::string message;
  jnfail::failing_from = kMessageBytes + 1;
  const Code refused = code_of(
      [&] { static_cast<void>(refuse.call("", junction::deadline_after(seconds(10)))); }, &message);
  jnfail::failing_from = 0;
  EXPECT_EQ(refused, Code::permission_denied) << message;
  EXPECT_EQ(message.find(std::string(kMessageBytes, 'm')), std::string::npos);

  // Without a receiver left, this call would wait for its deadline.
  EXPECT_EQ(echo.call("again", junction::deadline_after(seconds(10))).text(), "again");
}

}  // namespace
}  // namespace jnzmq
