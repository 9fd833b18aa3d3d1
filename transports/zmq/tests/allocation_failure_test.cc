// Out of memory while a route takes in an answer: the answer reaches its
// caller with its code (its message needs the memory), and the route goes
// on receiving for the calls after it; and as a call ends at its deadline
// or its cancel, it still ends with its code (failing_allocation.hh: built
// without sanitizers).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <thread>

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

// A call that ends at its deadline, or at its cancel, on a route whose URL
// is over 200 bytes long while allocations of 200 bytes or more fail on
// the caller's thread: the messages naming the URL cannot be made, and the
// call ends with its code and no message (before, making the message
// threw where nothing may, and the process was terminated).
TEST(AllocationFailureTest, ACallEndingWithoutMemoryForItsMessageKeepsItsCode) {
  constexpr std::size_t kFailingFrom = 200;
  const std::string url = "zmq+inproc://" + std::string(kFailingFrom, 'n');
  Gate gate(/*heeds_deadline=*/false);
  junction::Host server;
  server.register_service(gate.service());
  const junction::Listener listener = server.listen(url);
  const OpenOnExit open_on_exit{gate.open};
  junction::Host client;
  client.route("gate", url);
  const junction::Method wait = client.resolve("gate", "wait");

  std::string message = "unset";
  jnfail::failing_from = kFailingFrom;
  const Code deadline_code = code_of(
      [&] {
        static_cast<void>(wait.call("", junction::deadline_after(std::chrono::milliseconds(50))));
      },
      &message);
  jnfail::failing_from = 0;
  EXPECT_EQ(deadline_code, Code::deadline_exceeded) << message;
  EXPECT_EQ(message.find(url), std::string::npos);

  const junction::Cancel cancel;
  std::thread signaller([&] {
    EXPECT_TRUE(eventually([&] { return gate.entered.load() == 2; }));
    cancel.signal();
  });
  message = "unset";
  jnfail::failing_from = kFailingFrom;
  const Code cancel_code = code_of(
      [&] {
        static_cast<void>(wait.call(std::span<const std::uint8_t>(),
                                    junction::deadline_after(seconds(10)), cancel));
      },
      &message);
  jnfail::failing_from = 0;
  signaller.join();
  EXPECT_EQ(cancel_code, Code::cancelled) << message;
  EXPECT_EQ(message.find(url), std::string::npos);
}

// The C library allocates when a thread first uses a C++ thread_local
// with a destructor, to register it, and crashes when that allocation
// fails. A routed call, and the listener's answer to it, each on a thread
// that has not routed or answered before, with calloc failing on it, need
// no such registration: the call is answered.
TEST(AllocationFailureTest, AFirstRoutedCallAndItsAnswerRegisterNoThreadExitWork) {
  junction::Host server;
  junction::Service answering("answering");
  // Runs on the listener's thread, which then answers with calloc failing
  // (left failing there: the listener's threads end with the test).
  answering.method("echo", [](std::span<const std::uint8_t> request, Deadline) {
    jnfail::failing_calloc = true;
    return Buffer::copy_of(request);
  });
  server.register_service(std::move(answering));
  const junction::Listener listener = server.listen("zmq+inproc://first-calls");
  junction::Host client;
  client.route("answering", "zmq+inproc://first-calls");
  const junction::Method echo = client.resolve("answering", "echo");

  std::string answer;
  unsigned calloc_failed = 0;
  std::thread caller([&] {
    jnfail::failing_calloc = true;
    try {
      answer = echo.call("first", junction::deadline_after(seconds(10))).text();
    } catch (const junction::Error& error) {
      answer = error.what();
    }
    jnfail::failing_calloc = false;
    calloc_failed = jnfail::calloc_failed;
  });
  caller.join();
  EXPECT_EQ(answer, "first");
  EXPECT_EQ(calloc_failed, 0U) << "the caller's thread asked for calloc";
}

}  // namespace
}  // namespace jnzmq
