// A route's connection as jn_host_route_stats tells it (ABI 1.7): ready
// once a listener answers, down while nobody listens or once the listener
// is gone, ready again when another listener binds the URL; the losses and
// the calls in flight counted; refusals for what is not a route.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "test_support.hh"

namespace jnzmq {
namespace {

std::uint32_t state_of(const junction::Host& host, const std::string& service) {
  return host.route_stats(service).state;
}

// Over tcp, ipc and inproc alike: ready with a listener, down without one,
// and ready again with the next one, each loss counted.
TEST(RouteStatsTest, StateFollowsTheListenerAndLossesAreCounted) {
  TempDir dir;
  for (const std::string& url : unbound_urls(dir)) {
    SCOPED_TRACE(url);
    junction::Host client;
    client.route("svc", url);
    EXPECT_TRUE(eventually([&] { return state_of(client, "svc") == JN_ROUTE_DOWN; }))
        << "nobody listens: " << state_of(client, "svc");
    for (std::uint64_t generation = 0; generation < 2; ++generation) {
      junction::Host server;
      server.register_service(test_service("svc"));
      junction::Listener listener = server.listen(url);
      EXPECT_TRUE(eventually([&] { return state_of(client, "svc") == JN_ROUTE_READY; }))
          << "generation " << generation << ": " << state_of(client, "svc");
      EXPECT_EQ(client.resolve("svc", "echo").call("x").text(), "x");
      EXPECT_EQ(client.route_stats("svc").in_flight, 0U);
      EXPECT_TRUE(listener.close(junction::deadline_after(std::chrono::seconds(1))));
      EXPECT_TRUE(eventually([&] { return state_of(client, "svc") == JN_ROUTE_DOWN; }))
          << "generation " << generation << ": " << state_of(client, "svc");
      // The listener's two connections close one after the other: the route
      // may be down for the first before it counts the loss of the second.
      EXPECT_TRUE(eventually([&] {
        return client.route_stats("svc").connections_lost >= generation + 1;
      })) << "generation "
          << generation << ": " << client.route_stats("svc").connections_lost;
    }
  }
}

TEST(RouteStatsTest, CallsInFlightAreCounted) {
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  junction::Host client;
  client.route("test", listener.url());
  const junction::Method nap = client.resolve("test", "stubborn_nap");
  auto slow = std::async(std::launch::async, [&] { return std::string(nap.call("300").text()); });
  EXPECT_TRUE(eventually([&] { return client.route_stats("test").in_flight == 1; }));
  EXPECT_EQ(client.route_stats("test").state, JN_ROUTE_READY);
  EXPECT_EQ(slow.get(), "rested");
  EXPECT_EQ(client.route_stats("test").in_flight, 0U);
  EXPECT_EQ(client.route_stats("test").connections_lost, 0U);
}

// Routes to one URL with equal options share a connection, and its stats.
TEST(RouteStatsTest, RoutesSharingAConnectionReportTheSame) {
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
  junction::Host client;
  client.route("test", listener.url());
  client.route("alias", listener.url());
  EXPECT_EQ(client.resolve("test", "echo").call("x").text(), "x");
  EXPECT_EQ(state_of(client, "alias"), JN_ROUTE_READY);
}

TEST(RouteStatsTest, WhatIsNotARouteIsRefused) {
  junction::Host host;
  host.register_service(test_service("local"));
  host.route("routed", inproc_url());
  EXPECT_EQ(code_of([&] { static_cast<void>(host.route_stats("local")); }), Code::not_found);
  EXPECT_EQ(code_of([&] { static_cast<void>(host.route_stats("nothing")); }), Code::not_found);

  jn_route_stats stats{};
  stats.struct_size = sizeof(stats);
  EXPECT_EQ(jn_host_route_stats(nullptr, "routed", &stats), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_route_stats(host.raw(), nullptr, &stats), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_route_stats(host.raw(), "routed", nullptr), JN_INVALID_ARGUMENT);
  stats.struct_size = sizeof(stats) - 8;
  EXPECT_EQ(jn_host_route_stats(host.raw(), "routed", &stats), JN_INVALID_ARGUMENT);
  stats.struct_size = sizeof(stats);
  EXPECT_EQ(jn_host_route_stats(host.raw(), "routed", &stats), JN_OK);
  EXPECT_EQ(stats.state, JN_ROUTE_DOWN) << "nothing is bound at the inproc name";

  // Unregistered, the route is no longer one.
  host.unregister_service("routed");
  EXPECT_EQ(jn_host_route_stats(host.raw(), "routed", &stats), JN_NOT_FOUND);
}

}  // namespace
}  // namespace jnzmq
