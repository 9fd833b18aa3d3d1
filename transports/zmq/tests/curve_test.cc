// CURVE on listeners and routes (ABI 1.8): encrypted calls over tcp and
// ipc; a listener's allow-list, and a new one put in force while it serves
// (ABI 1.9); each way a handshake can fail answered
// UNAVAILABLE with a message that says why, within the call's deadline; a
// connection libzmq gave up made again once the listener lets it in; and
// the keys and options refused INVALID_ARGUMENT.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hh"

namespace jnzmq {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The tcp and ipc URLs a test's listeners bind (a fresh port each time).
std::vector<std::string> bindable_urls(const TempDir& dir) {
  return {"zmq+tcp://127.0.0.1:0", dir.ipc_url()};
}

junction::ListenOptions curve_listen(const std::string& secret_key,
                                     std::vector<std::string> client_keys = {}) {
  junction::ListenOptions options;
  options.curve_secret_key = secret_key;
  options.curve_client_keys = std::move(client_keys);
  return options;
}

junction::Listener listen_with(junction::Host& server, const std::string& url,
                               const std::string& secret_key,
                               std::vector<std::string> client_keys = {}) {
  return server.listen(url, curve_listen(secret_key, std::move(client_keys)));
}

// Route options with CURVE: the listener's public key, and the route's own
// pair if given.
junction::RouteOptions curve_route(const std::string& server_key,
                                   const junction::CurveKeyPair& pair = {}) {
  junction::RouteOptions options;
  options.curve_server_key = server_key;
  options.curve_public_key = pair.public_key;
  options.curve_secret_key = pair.secret_key;
  return options;
}

// The code and message of one echo call through service on client, with a
// deadline two seconds away.
Code echo_code(const junction::Host& client, const std::string& service, std::string* message) {
  return code_of(
      [&] {
        static_cast<void>(
            client.resolve(service, "echo").call("x", junction::deadline_after(seconds(2))));
      },
      message);
}

TEST(CurveTest, CallsAreEncryptedOverTcpAndIpc) {
  TempDir dir;
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair client_keys = junction::curve_keypair();
  for (const std::string& url : bindable_urls(dir)) {
    SCOPED_TRACE(url);
    junction::Host server;
    server.register_service(test_service());
    junction::Listener listener = listen_with(server, url, server_keys.secret_key);
    // A route with a pair made for it, and one with a pair of its own.
    const junction::Host client = routed_to(listener, curve_route(server_keys.public_key));
    const junction::Host own_pair_client =
        routed_to(listener, curve_route(server_keys.public_key, client_keys));
    const std::vector<std::uint8_t> large = pattern_bytes(std::size_t{256} << 10, 7);
    for (const junction::Host* host : {&client, &own_pair_client}) {
      const junction::Buffer echoed = host->resolve("test", "echo").call(large);
      EXPECT_TRUE(
          std::equal(echoed.bytes().begin(), echoed.bytes().end(), large.begin(), large.end()));
      EXPECT_EQ(host->resolve("test", "echo").call("").text(), "");
      EXPECT_EQ(host->route_stats("test").state, JN_ROUTE_READY);
    }
    EXPECT_EQ(listener.stats().requests, 4U);
  }
}

TEST(CurveTest, AllowListLetsInItsKeysOnly) {
  TempDir dir;
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair allowed = junction::curve_keypair();
  const junction::CurveKeyPair stranger = junction::curve_keypair();
  for (const std::string& url : bindable_urls(dir)) {
    SCOPED_TRACE(url);
    junction::Host server;
    server.register_service(test_service());
    junction::Listener listener =
        listen_with(server, url, server_keys.secret_key, {allowed.public_key});
    const junction::Host client = routed_to(listener, curve_route(server_keys.public_key, allowed));
    EXPECT_EQ(client.resolve("test", "echo").call("let in").text(), "let in");

    const junction::Host refused_client =
        routed_to(listener, curve_route(server_keys.public_key, stranger));
    std::string message;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(echo_code(refused_client, "test", &message), Code::unavailable);
    EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
    EXPECT_EQ(message, "the listener at " + std::string(listener.url()) +
                           " refused this route's CURVE key (ZAP status 400)");
    EXPECT_EQ(refused_client.route_stats("test").state, JN_ROUTE_DOWN);
    // A route with no pair of its own gets a new one, which is not allowed.
    const junction::Host keyless_client = routed_to(listener, curve_route(server_keys.public_key));
    EXPECT_EQ(echo_code(keyless_client, "test", &message), Code::unavailable);
    EXPECT_EQ(listener.stats().requests, 1U);  // only the allowed call reached it
  }
}

// libzmq gives a refused connection up for good; the route makes it again,
// so a listener that lets the key in later (restarted with a new list)
// serves it.
TEST(CurveTest, RefusedRouteConnectsOnceTheListenerLetsItIn) {
  TempDir dir;
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair client_keys = junction::curve_keypair();
  for (const std::string& url : unbound_urls(dir)) {
    if (url.starts_with("zmq+inproc")) {
      continue;
    }
    SCOPED_TRACE(url);
    junction::Host client;
    client.route("test", url, curve_route(server_keys.public_key, client_keys));
    {
      junction::Host server;
      server.register_service(test_service());
      junction::Listener listener =
          listen_with(server, url, server_keys.secret_key, {junction::curve_keypair().public_key});
      std::string message;
      EXPECT_TRUE(eventually([&] {
        return echo_code(client, "test", &message) == Code::unavailable &&
               message.find("refused") != std::string::npos;
      })) << message;
    }
    junction::Host server;
    server.register_service(test_service());
    junction::Listener listener =
        listen_with(server, url, server_keys.secret_key, {client_keys.public_key});
    std::string message;
    EXPECT_TRUE(eventually([&] { return echo_code(client, "test", &message) == Code::ok; }))
        << message;
    EXPECT_EQ(client.route_stats("test").state, JN_ROUTE_READY);
  }
}

// A new list is in force at once: a key taken off stops calling on the
// connection it has (PERMISSION_DENIED, no handler runs), a key put on
// connects at its route's next attempt, and new handshakes follow the list.
TEST(CurveTest, ReplacedClientKeysHoldForNewAndExistingConnections) {
  TempDir dir;
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair first = junction::curve_keypair();
  const junction::CurveKeyPair second = junction::curve_keypair();
  for (const std::string& url : bindable_urls(dir)) {
    SCOPED_TRACE(url);
    junction::Host server;
    server.register_service(test_service());
    junction::Listener listener =
        listen_with(server, url, server_keys.secret_key, {first.public_key});
    const junction::Host first_client =
        routed_to(listener, curve_route(server_keys.public_key, first));
    const junction::Host second_client =
        routed_to(listener, curve_route(server_keys.public_key, second));
    std::string message;
    EXPECT_EQ(echo_code(first_client, "test", &message), Code::ok) << message;
    EXPECT_EQ(echo_code(second_client, "test", &message), Code::unavailable);
    EXPECT_GE(listener.stats().refused_handshakes, 1U);

    listener.set_curve_client_keys({second.public_key});
    EXPECT_EQ(echo_code(first_client, "test", &message), Code::permission_denied);
    EXPECT_EQ(message,
              "this client's CURVE key is no longer let in at " + std::string(listener.url()));
    EXPECT_EQ(first_client.route_stats("test").state, JN_ROUTE_READY);  // still connected
    EXPECT_TRUE(eventually([&] { return echo_code(second_client, "test", &message) == Code::ok; }))
        << message;
    // Its refused attempts made no connection to lose.
    EXPECT_EQ(second_client.route_stats("test").connections_lost, 0U);
    const junction::Host new_first_client =
        routed_to(listener, curve_route(server_keys.public_key, first));
    EXPECT_EQ(echo_code(new_first_client, "test", &message), Code::unavailable);
    EXPECT_NE(message.find("refused this route's CURVE key"), std::string::npos) << message;

    const jn_listener_stats stats = listener.stats();
    EXPECT_EQ(stats.refused_client_key, 1U);
    EXPECT_GE(stats.refused_handshakes, 2U);
    EXPECT_EQ(stats.requests, stats.answers);
    EXPECT_EQ(echo_code(first_client, "test", &message), Code::permission_denied);
    EXPECT_EQ(listener.stats().refused_client_key, 2U);
  }
}

// A listener started to let any client in takes a list later; a list is
// needed to go back to fewer clients, never more than the list names.
TEST(CurveTest, ListenerForAnyClientTakesAList) {
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair kept = junction::curve_keypair();
  const junction::CurveKeyPair dropped = junction::curve_keypair();
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener =
      listen_with(server, "zmq+tcp://127.0.0.1:0", server_keys.secret_key);
  const junction::Host kept_client = routed_to(listener, curve_route(server_keys.public_key, kept));
  const junction::Host dropped_client =
      routed_to(listener, curve_route(server_keys.public_key, dropped));
  std::string message;
  EXPECT_EQ(echo_code(kept_client, "test", &message), Code::ok) << message;
  EXPECT_EQ(echo_code(dropped_client, "test", &message), Code::ok) << message;
  EXPECT_EQ(listener.stats().refused_handshakes, 0U);

  listener.set_curve_client_keys({kept.public_key});
  EXPECT_EQ(echo_code(kept_client, "test", &message), Code::ok) << message;
  EXPECT_EQ(echo_code(dropped_client, "test", &message), Code::permission_denied);
  const junction::Host keyless_client = routed_to(listener, curve_route(server_keys.public_key));
  EXPECT_EQ(echo_code(keyless_client, "test", &message), Code::unavailable);
  EXPECT_EQ(listener.stats().refused_client_key, 1U);
}

// Lists replaced while calls run (for the sanitizer builds): a key on
// every list is never refused, however the replacements and the calls
// interleave.
TEST(CurveTest, ReplacingTheListWhileCallsRunRefusesNoListedKey) {
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair kept = junction::curve_keypair();
  const junction::CurveKeyPair other = junction::curve_keypair();
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener =
      listen_with(server, "zmq+tcp://127.0.0.1:0", server_keys.secret_key, {kept.public_key});
  const junction::Host client = routed_to(listener, curve_route(server_keys.public_key, kept));
  const junction::Method echo = client.resolve("test", "echo");
  ASSERT_EQ(echo.call("warm").text(), "warm");

  constexpr int kCallers = 4;
  constexpr int kCallsEach = 200;
  std::atomic<int> refused{0};
  std::atomic<int> finished{0};
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int caller = 0; caller < kCallers; ++caller) {
    callers.emplace_back([&] {
      for (int call = 0; call < kCallsEach; ++call) {
        if (code_of([&] {
              static_cast<void>(echo.call("x", junction::deadline_after(seconds(5))));
            }) != Code::ok) {
          refused.fetch_add(1);
        }
      }
      finished.fetch_add(1);
    });
  }
  // Until every caller is done, so that replacements and calls interleave.
  int replacements = 0;
  for (; finished.load() < kCallers; ++replacements) {
    listener.set_curve_client_keys(replacements % 2 == 0
                                       ? std::vector<std::string>{other.public_key, kept.public_key}
                                       : std::vector<std::string>{kept.public_key});
  }
  for (std::thread& caller : callers) {
    caller.join();
  }
  EXPECT_GT(replacements, 0);
  EXPECT_EQ(refused.load(), 0);
  const jn_listener_stats stats = listener.stats();
  EXPECT_EQ(stats.refused_client_key, 0U);
  EXPECT_EQ(stats.requests, std::uint64_t{kCallers * kCallsEach + 1});
}

// A list that is refused changes nothing: the list in force stays.
TEST(CurveTest, BadClientKeyListsAreRefusedAndChangeNothing) {
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  const junction::CurveKeyPair client_keys = junction::curve_keypair();
  junction::Host server;
  server.register_service(test_service());
  junction::Listener listener = listen_with(server, "zmq+tcp://127.0.0.1:0", server_keys.secret_key,
                                            {client_keys.public_key});
  const junction::Host client =
      routed_to(listener, curve_route(server_keys.public_key, client_keys));
  std::string message;
  ASSERT_EQ(echo_code(client, "test", &message), Code::ok) << message;

  const std::string bad_key = client_keys.secret_key.substr(1) + "\"";
  EXPECT_EQ(code_of(
                [&] {
                  listener.set_curve_client_keys({server_keys.public_key, bad_key});
                },
                &message),
            Code::invalid_argument);
  EXPECT_EQ(message, "client_keys[1] must be 40 Z85 characters (jn_curve_keypair makes them)");
  EXPECT_EQ(code_of([&] { listener.set_curve_client_keys({}); }, &message), Code::invalid_argument);
  EXPECT_EQ(message, "client_keys holds no key, which would let no client in");
  jn_status status{};
  const char* const keys[1] = {server_keys.public_key.c_str()};
  EXPECT_EQ(jn_listener_set_curve_client_keys(nullptr, keys, 1, &status), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_listener_set_curve_client_keys(nullptr, keys, 1, nullptr), JN_INVALID_ARGUMENT);
  jn_status_release(&status);
  EXPECT_EQ(echo_code(client, "test", &message), Code::ok) << message;  // still let in

  junction::Host plain;
  plain.register_service(test_service());
  junction::Listener plain_listener = plain.listen("zmq+tcp://127.0.0.1:0");
  EXPECT_EQ(
      code_of([&] { plain_listener.set_curve_client_keys({client_keys.public_key}); }, &message),
      Code::failed_precondition);
  EXPECT_EQ(message,
            "the listener at " + std::string(plain_listener.url()) + " does not use CURVE");
  EXPECT_EQ(code_of([] { junction::Listener().set_curve_client_keys({"x"}); }, &message),
            Code::invalid_argument);
}

TEST(CurveTest, KeysThatDoNotMatchTheListenerAreUnavailableSayingWhy) {
  const junction::CurveKeyPair server_keys = junction::curve_keypair();
  junction::Host secured;
  secured.register_service(test_service());
  junction::Listener curve_listener =
      listen_with(secured, "zmq+tcp://127.0.0.1:0", server_keys.secret_key);
  junction::Host plain;
  plain.register_service(test_service());
  junction::Listener plain_listener = plain.listen("zmq+tcp://127.0.0.1:0");

  junction::Host client;
  client.route("wrong_key", std::string(curve_listener.url()),
               curve_route(junction::curve_keypair().public_key));
  client.route("no_curve", std::string(curve_listener.url()));
  client.route("curve_to_plain", std::string(plain_listener.url()),
               curve_route(server_keys.public_key));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"wrong_key", "the handshake with the listener at " + std::string(curve_listener.url()) +
                        " failed: is the route's curve_server_key the listener's public key?"},
      {"no_curve", "the listener at " + std::string(curve_listener.url()) +
                       " uses CURVE: the route needs its public key (curve_server_key)"},
      {"curve_to_plain", "the listener at " + std::string(plain_listener.url()) +
                             " does not use CURVE, and this route does"},
  };
  for (const auto& service_and_expected : cases) {
    const std::string& service = service_and_expected.first;
    const std::string& expected = service_and_expected.second;
    SCOPED_TRACE(service);
    std::string message;
    // The first attempts may fail before libzmq can tell why.
    EXPECT_TRUE(eventually([&] {
      return echo_code(client, service, &message) == Code::unavailable && message == expected;
    })) << message;
    EXPECT_EQ(client.route_stats(service).state, JN_ROUTE_DOWN);
  }
  // Attempts whose handshake failed lose no connection: none was made,
  // however often libzmq (or the route, a second later) tries again.
  std::this_thread::sleep_for(milliseconds(1200));
  for (const auto& service_and_expected : cases) {
    EXPECT_EQ(client.route_stats(service_and_expected.first).connections_lost, 0U)
        << service_and_expected.first;
  }
  EXPECT_EQ(curve_listener.stats().requests, 0U);
  EXPECT_EQ(plain_listener.stats().requests, 0U);
}

TEST(CurveTest, BadKeysAndOptionsAreInvalidArgument) {
  junction::Host host;
  const junction::CurveKeyPair keys = junction::curve_keypair();
  EXPECT_EQ(junction::curve_public_key(keys.secret_key), keys.public_key);
  std::string message;
  const auto listen_code = [&](const std::string& url, const junction::ListenOptions& options) {
    return code_of([&] { static_cast<void>(host.listen(url, options)); }, &message);
  };
  EXPECT_EQ(listen_code(inproc_url(), curve_listen(keys.secret_key)), Code::invalid_argument);
  EXPECT_NE(message.find("CURVE secures tcp and ipc"), std::string::npos) << message;
  EXPECT_EQ(listen_code("zmq+tcp://127.0.0.1:0", curve_listen(keys.secret_key.substr(1))),
            Code::invalid_argument);
  EXPECT_EQ(message,
            "jn_listen_options.curve_secret_key must be 40 Z85 characters (jn_curve_keypair makes "
            "them)");
  EXPECT_EQ(listen_code("zmq+tcp://127.0.0.1:0", curve_listen(keys.secret_key, {"not z85 \"~"})),
            Code::invalid_argument);
  EXPECT_NE(message.find("curve_client_keys[0]"), std::string::npos) << message;
  EXPECT_EQ(listen_code("zmq+tcp://127.0.0.1:0", curve_listen("", {keys.public_key})),
            Code::invalid_argument);
  EXPECT_EQ(message, "jn_listen_options.curve_client_keys needs curve_secret_key");

  // What the C++ API cannot pass: an empty allow-list, and a non-zero
  // reserved field.
  jn_listen_options raw{};
  raw.struct_size = sizeof(raw);
  const char* const no_keys[1] = {nullptr};
  raw.curve_secret_key = keys.secret_key.c_str();
  raw.curve_client_keys = no_keys;
  jn_listener* listener = nullptr;
  EXPECT_EQ(jn_host_listen(host.raw(), "zmq+tcp://127.0.0.1:0", &raw, &listener, nullptr),
            JN_INVALID_ARGUMENT);
  raw.curve_client_keys = nullptr;
  raw.reserved = 1;
  EXPECT_EQ(jn_host_listen(host.raw(), "zmq+tcp://127.0.0.1:0", &raw, &listener, nullptr),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(listener, nullptr);

  const auto route_code = [&](const std::string& url, const junction::RouteOptions& options) {
    return code_of([&] { host.route("svc", url, options); }, &message);
  };
  const junction::CurveKeyPair other = junction::curve_keypair();
  EXPECT_EQ(route_code(inproc_url(), curve_route(keys.public_key)), Code::invalid_argument);
  EXPECT_NE(message.find("CURVE secures tcp and ipc"), std::string::npos) << message;
  EXPECT_EQ(route_code("zmq+tcp://127.0.0.1:9", curve_route("", keys)), Code::invalid_argument);
  EXPECT_EQ(message, "jn_route_options' key pair needs curve_server_key");
  EXPECT_EQ(
      route_code("zmq+tcp://127.0.0.1:9", curve_route(keys.public_key, {"", keys.secret_key})),
      Code::invalid_argument);
  EXPECT_EQ(message, "jn_route_options.curve_public_key and curve_secret_key go together");
  EXPECT_EQ(route_code("zmq+tcp://127.0.0.1:9",
                       curve_route(keys.public_key, {other.public_key, keys.secret_key})),
            Code::invalid_argument);
  EXPECT_EQ(message, "jn_route_options.curve_public_key is not the public key of curve_secret_key");
  EXPECT_EQ(route_code("zmq+tcp://127.0.0.1:9", curve_route("short")), Code::invalid_argument);
  EXPECT_NE(message.find("jn_route_options.curve_server_key must be 40 Z85"), std::string::npos)
      << message;
  EXPECT_TRUE(host.services().empty());  // nothing was routed

  std::array<char, JN_CURVE_KEY_LENGTH + 1> out{};
  EXPECT_EQ(jn_curve_keypair(nullptr, out.data(), nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_curve_keypair(out.data(), nullptr, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_curve_public_key(nullptr, out.data(), nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_curve_public_key(keys.secret_key.c_str(), nullptr, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(code_of([] { static_cast<void>(junction::curve_public_key("0123456789")); }, &message),
            Code::invalid_argument);
  EXPECT_EQ(message, "secret_key must be 40 Z85 characters (jn_curve_keypair makes them)");
}

// Code built against ABI 1.7 passes structs that end before the CURVE
// fields: what follows them in memory is not read (here, keys that would be
// refused), and the listener and route use no CURVE.
TEST(CurveTest, OptionsOfAbi17GetNoCurve) {
  junction::Host server;
  server.register_service(test_service());
  jn_listen_options listen_options{};
  listen_options.struct_size = offsetof(jn_listen_options, curve_secret_key);
  listen_options.curve_secret_key = "not a key";
  listen_options.reserved = 1;
  jn_listener* raw_listener = nullptr;
  jn_status status{};
  ASSERT_EQ(jn_host_listen(server.raw(), "zmq+tcp://127.0.0.1:0", &listen_options, &raw_listener,
                           &status),
            JN_OK);
  junction::Listener listener(raw_listener);
  junction::Host client;
  jn_route_options route_options{};
  route_options.struct_size = offsetof(jn_route_options, curve_server_key);
  route_options.curve_server_key = "not a key";
  ASSERT_EQ(jn_host_route(client.raw(), "test", std::string(listener.url()).c_str(), &route_options,
                          &status),
            JN_OK);
  EXPECT_EQ(client.resolve("test", "echo").call("plain").text(), "plain");
  jn_status_release(&status);
}

}  // namespace
}  // namespace jnzmq
