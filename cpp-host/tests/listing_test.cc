// Listing a host's services (jn_host_list_services, ABI 1.7): registered
// services with their methods and routed ones with their URLs, in byte order
// of the names, as the registry stands when the listing is made; the visit
// runs without the registry's lock, so it may use the host.
#include <cstdint>
#include <junction/junction.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

class ListingTest : public LeakCheckedTest {};

// One visit, copied out of the borrowed info.
struct Visited {
  uint32_t struct_size = 0;
  std::string name;
  std::vector<std::string> methods;
  std::optional<std::string> route_url;
};

void Collect(void* user_data, const jn_service_info* info) {
  Visited visited{info->struct_size, info->name, {}, std::nullopt};
  for (uint32_t i = 0; i < info->method_count; ++i) visited.methods.emplace_back(info->methods[i]);
  if (info->route_url != nullptr) visited.route_url = info->route_url;
  static_cast<std::vector<Visited>*>(user_data)->push_back(std::move(visited));
}

std::vector<Visited> List(jn_host* host) {
  std::vector<Visited> listing;
  EXPECT_EQ(jn_host_list_services(host, Collect, &listing), JN_OK);
  return listing;
}

std::vector<std::string> Names(const std::vector<Visited>& listing) {
  std::vector<std::string> names;
  names.reserve(listing.size());
  for (const Visited& visited : listing) names.push_back(visited.name);
  return names;
}

// Services come in byte order of their names, each registered one with its
// methods in byte order (upper case before lower) and no URL, each routed
// one with no methods and the URL it was routed to.
TEST_F(ListingTest, ListsServicesAndMethodsInByteOrderAndRoutesWithTheirUrl) {
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "b.svc",
                     {{"zeta", &EchoHandler, nullptr, nullptr},
                      {"Alpha", &EchoHandler, nullptr, nullptr},
                      {"mid", &EchoHandler, nullptr, nullptr}}),
            JN_OK);
  ASSERT_EQ(Register(host.get(), "B.svc", {{"only", &EchoHandler, nullptr, nullptr}}), JN_OK);
  ScopedStatus status;
  ASSERT_EQ(
      jn_host_route(host.get(), "a.route", "zmq+inproc://listing-route", nullptr, status.get()),
      JN_OK)
      << status.message();

  const std::vector<Visited> listing = List(host.get());
  ASSERT_EQ(Names(listing), (std::vector<std::string>{"B.svc", "a.route", "b.svc"}));
  for (const Visited& visited : listing) EXPECT_EQ(visited.struct_size, sizeof(jn_service_info));
  EXPECT_EQ(listing[0].methods, std::vector<std::string>{"only"});
  EXPECT_EQ(listing[0].route_url, std::nullopt);
  EXPECT_TRUE(listing[1].methods.empty()) << "a route lists no methods";
  EXPECT_EQ(listing[1].route_url, "zmq+inproc://listing-route");
  EXPECT_EQ(listing[2].methods, (std::vector<std::string>{"Alpha", "mid", "zeta"}));
  EXPECT_EQ(listing[2].route_url, std::nullopt);

  // A method resolved through the route is still not listed: the far host
  // decides which names exist.
  MethodPtr routed = Resolve(host.get(), "a.route", "anything");
  ASSERT_NE(routed, nullptr);
  EXPECT_TRUE(List(host.get())[1].methods.empty());
}

// An empty host visits nothing; an unregistered service leaves the listing
// at once, though a handle on it is still held.
TEST_F(ListingTest, EmptyHostVisitsNothingAndUnregisteredServicesLeave) {
  HostPtr host = NewHost();
  EXPECT_TRUE(List(host.get()).empty());
  ASSERT_EQ(Register(host.get(), "gone", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  ASSERT_EQ(Register(host.get(), "kept", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  MethodPtr held = Resolve(host.get(), "gone", "echo");
  ASSERT_EQ(jn_host_unregister(host.get(), "gone", nullptr), JN_OK);
  EXPECT_EQ(Names(List(host.get())), std::vector<std::string>{"kept"});
}

// What a visit that uses the host needs.
struct Reentrant {
  jn_host* host = nullptr;
  std::vector<std::string> visited;
  std::vector<int32_t> codes;
};

// Registers "added", unregisters the service being visited and resolves
// the other one, from inside the visit.
void UseHostWhileVisiting(void* user_data, const jn_service_info* info) {
  auto& state = *static_cast<Reentrant*>(user_data);
  state.visited.emplace_back(info->name);
  if (state.visited.size() == 1) {
    state.codes.push_back(
        Register(state.host, "added", {{"echo", &EchoHandler, nullptr, nullptr}}));
    state.codes.push_back(jn_host_unregister(state.host, info->name, nullptr));
    jn_method* method = nullptr;
    state.codes.push_back(jn_host_resolve(state.host, "second", "echo", &method, nullptr));
    jn_method_free(method);
  }
}

// The visit runs after the registry is let go of: a visit that registers,
// unregisters and resolves neither deadlocks nor changes the listing under
// way, and the next listing shows what it did.
TEST_F(ListingTest, VisitMayUseTheHostWithoutChangingTheListingUnderWay) {
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "first", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  ASSERT_EQ(Register(host.get(), "second", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  Reentrant state{.host = host.get(), .visited = {}, .codes = {}};
  ASSERT_EQ(jn_host_list_services(host.get(), UseHostWhileVisiting, &state), JN_OK);
  EXPECT_EQ(state.visited, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(state.codes, (std::vector<int32_t>{JN_OK, JN_OK, JN_OK}));
  EXPECT_EQ(Names(List(host.get())), (std::vector<std::string>{"added", "second"}));
}

// The C++ API's listing carries the same as the C one.
TEST_F(ListingTest, CxxHostServicesListsTheSame) {
  junction::Host host;
  const auto empty = [](std::span<const std::uint8_t>, junction::Deadline) {
    return junction::Buffer();
  };
  host.register_service(junction::Service("cxx.svc").method("b", empty).method("a", empty));
  host.route("cxx.route", "zmq+inproc://listing-cxx-route");
  const std::vector<junction::ServiceInfo> services = host.services();
  ASSERT_EQ(services.size(), 2U);
  EXPECT_EQ(services[0].name, "cxx.route");
  EXPECT_TRUE(services[0].methods.empty());
  EXPECT_EQ(services[0].route_url, "zmq+inproc://listing-cxx-route");
  EXPECT_EQ(services[1].name, "cxx.svc");
  EXPECT_EQ(services[1].methods, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(services[1].route_url, std::nullopt);

  junction::Host moved_from;
  junction::Host taker(std::move(moved_from));
  try {
    static_cast<void>(moved_from.services());  // NOLINT(bugprone-use-after-move): the point
    ADD_FAILURE() << "a moved-from host listed services";
  } catch (const junction::Error& error) {
    EXPECT_EQ(error.code(), junction::Code::invalid_argument);
  }
}

}  // namespace
}  // namespace jntest
