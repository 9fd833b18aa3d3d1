// Out of memory while a route takes in an answer: the answer reaches its
// caller with its code (its message needs the memory), and the route goes
// on receiving for the calls after it. This executable stands in for
// operator new, to fail the one allocation the test names on the thread
// that names it (the sanitizer builds replace operator new themselves, so
// it is built without them).
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <string>

#include "test_support.hh"

namespace {

// Allocations of this many bytes fail on this thread; 0: none fails.
thread_local std::size_t failing_size = 0;

}  // namespace

void* operator new(std::size_t size) {
  if (size != 0 && size == failing_size) {
    throw std::bad_alloc();
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) {
    return memory;
  }
  throw std::bad_alloc();
}

void operator delete(void* memory) noexcept { std::free(memory); }
void operator delete(void* memory, std::size_t /*size*/) noexcept { std::free(memory); }

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
  failing_size = kMessageBytes + 1;
  const Code refused = code_of(
      [&] { static_cast<void>(refuse.call("", junction::deadline_after(seconds(10)))); }, &message);
  failing_size = 0;
  EXPECT_EQ(refused, Code::permission_denied) << message;
  EXPECT_EQ(message.find(std::string(kMessageBytes, 'm')), std::string::npos);

  // Without a receiver left, this call would wait for its deadline.
  EXPECT_EQ(echo.call("again", junction::deadline_after(seconds(10))).text(), "again");
}

}  // namespace
}  // namespace jnzmq
