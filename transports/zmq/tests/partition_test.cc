// A route across a partition: the network between it and its listener is
// cut (a relay standing in for it, cut_link.hh), the listener's host goes
// away meanwhile, and another comes up at the same address before the
// network heals. The route judges the silent listener by its heartbeats
// and remakes its connections, so that once the listener answers again no
// call is sent on a connection the new host has never known.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <junction/junction.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "cut_link.hh"
#include "test_support.hh"

namespace jnzmq {
namespace {

using namespace std::chrono_literals;

std::uint16_t port_of(std::string_view url) {
  return static_cast<std::uint16_t>(std::stoi(std::string(url.substr(url.rfind(':') + 1))));
}

// One call to echo with a deadline 1 s away: its code and message.
struct Attempt {
  Code code = Code::ok;
  std::string message;
  [[nodiscard]] bool refused_as_silent() const {
    return code == Code::unavailable && message.find("stopped answering") != std::string::npos;
  }
  [[nodiscard]] bool refused_for_no_connection() const {
    return code == Code::unavailable && message.find("no connection to") != std::string::npos;
  }
  // Sent, and then failed for want of an answer.
  [[nodiscard]] bool lost() const {
    return message.find("lost before the call was answered") != std::string::npos ||
           message.find("no answer from") != std::string::npos;
  }
};

Attempt call_once(const junction::Method& echo) {
  Attempt attempt;
  attempt.code = code_of(
      [&] { EXPECT_EQ(echo.call("across", junction::deadline_after(1s)).text(), "across"); },
      &attempt.message);
  return attempt;
}

TEST(PartitionTest, AfterAPartitionNoCallIsSentOnAConnectionTheNewHostNeverKnew) {
  auto first_host = std::make_unique<junction::Host>();
  first_host->register_service(test_service());
  auto first_listener =
      std::make_unique<junction::Listener>(first_host->listen("zmq+tcp://127.0.0.1:0"));
  CutLink link(port_of(first_listener->url()));
  junction::Host client;
  client.route("test", "zmq+tcp://127.0.0.1:" + std::to_string(link.port()));
  const junction::Method echo = client.resolve("test", "echo");
  ASSERT_EQ(call_once(echo).code, Code::ok);

  link.cut();
  // The listener's host goes away behind the cut: its route does not see
  // the connections close. Another takes its place.
  first_listener->close(junction::deadline_after(1s));
  first_listener.reset();
  first_host.reset();
  junction::Host second_host;
  second_host.register_service(test_service());
  const junction::Listener second_listener = second_host.listen("zmq+tcp://127.0.0.1:0");

  // Within its heartbeats' timeout (5 s) and grace (0.5 s), the route
  // judges the listener silent and refuses calls at once. The calls sent
  // before that reach the cut, which drops them: each ends at its
  // deadline; in the grace, calls are refused for want of the liveness
  // connection.
  Attempt attempt = call_once(echo);
  const auto silent_by = std::chrono::steady_clock::now() + 15s;
  while (!attempt.refused_as_silent() && std::chrono::steady_clock::now() < silent_by) {
    EXPECT_TRUE(attempt.code == Code::deadline_exceeded || attempt.refused_for_no_connection())
        << attempt.message;
    attempt = call_once(echo);
  }
  ASSERT_TRUE(attempt.refused_as_silent()) << attempt.message;

  // Healed, the route's calls are refused at once until its connections
  // are made again; then calls are answered. None is lost on the call
  // connection from before the cut, which the second host resets.
  link.heal(port_of(second_listener.url()));
  const auto served_by = std::chrono::steady_clock::now() + 10s;
  attempt = call_once(echo);
  while (attempt.code != Code::ok && std::chrono::steady_clock::now() < served_by) {
    EXPECT_FALSE(attempt.lost()) << attempt.message;
    std::this_thread::sleep_for(10ms);
    attempt = call_once(echo);
  }
  EXPECT_EQ(attempt.code, Code::ok) << attempt.message;
  for (int call = 0; call < 10; ++call) {
    EXPECT_EQ(call_once(echo).code, Code::ok);
  }
}

}  // namespace
}  // namespace jnzmq
