// Races that need libzmq's timing held: the executable stands in for
// zmq_msg_recv and zmq_connect (ENABLE_EXPORTS), passing each call on.
// - A listener closing as a call arrives: a call its receiver took from
//   libzmq is answered (served, or UNAVAILABLE as the listener closes),
//   never dropped while close reports every call answered. The requests
//   the listener's threads take are counted, which is how a round knows
//   whether its call was taken.
// - A route remaking a lost connection: a thread held up right after
//   zmq_connect, while the new connection's handshake completes, leaves
//   the route up, not connecting for good.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <frame.hh>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "test_support.hh"

namespace {

std::atomic<std::uint64_t> requests_taken{0};
// On this thread, each zmq_connect to tcp pauses this many milliseconds
// after it returns.
constinit thread_local int pause_after_connect_ms = 0;

bool on_a_listener_thread() {
  char name[16] = {};
  return pthread_getname_np(pthread_self(), name, sizeof name) == 0 &&
         std::strncmp(name, "jn-listen", 9) == 0;
}

}  // namespace

extern "C" int zmq_msg_recv(zmq_msg_t* message, void* socket, int flags) {
  using Receive = int (*)(zmq_msg_t*, void*, int);
  static const auto real = reinterpret_cast<Receive>(dlsym(RTLD_NEXT, "zmq_msg_recv"));
  const int received = real(message, socket, flags);
  if (received > 0 && on_a_listener_thread()) {
    const auto* bytes = static_cast<const std::uint8_t*>(zmq_msg_data(message));
    const junction::wire::Decoded decoded =
        junction::wire::decode_header({bytes, zmq_msg_size(message)}, 0, junction::wire::Limits{});
    if (decoded.header && decoded.header->kind == junction::wire::Kind::request) {
      requests_taken.fetch_add(1);
    }
  }
  return received;
}

extern "C" int zmq_connect(void* socket, const char* address) {
  using Connect = int (*)(void*, const char*);
  static const auto real = reinterpret_cast<Connect>(dlsym(RTLD_NEXT, "zmq_connect"));
  const int connected = real(socket, address);
  if (pause_after_connect_ms != 0 && std::strncmp(address, "tcp://", 6) == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_after_connect_ms));
  }
  return connected;
}

namespace jnzmq {
namespace {

namespace wire = junction::wire;

void send_request(zmq::socket_t& peer, std::uint64_t call_id) {
  std::vector<std::uint8_t> header;
  ASSERT_TRUE(wire::encode_request(call_id, wire::kNoTimeout, "test", "echo", 0, header));
  peer.send(zmq::buffer(header), zmq::send_flags::sndmore);
  peer.send(zmq::message_t(), zmq::send_flags::none);
}

// The code of the answer to call_id, or nothing within the timeout.
std::optional<std::int32_t> answer_code(zmq::socket_t& peer, std::uint64_t call_id,
                                        int timeout_ms) {
  peer.set(zmq::sockopt::rcvtimeo, timeout_ms);
  zmq::message_t header;
  zmq::message_t payload;
  if (!peer.recv(header) || !peer.recv(payload)) {
    return std::nullopt;
  }
  const wire::Decoded decoded = wire::decode_header(
      {static_cast<const std::uint8_t*>(header.data()), header.size()}, payload.size(), {});
  if (!decoded.header || decoded.header->call_id != call_id) {
    return std::nullopt;
  }
  return decoded.header->code;
}

TEST(CloseRaceTest, ACallTheListenerTookAsItClosedIsAnswered) {
  std::mt19937 random(20261207);
  std::uniform_int_distribution<int> spin_us(0, 200);
  int taken_rounds = 0;
  for (int round = 0; round < 200; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    junction::Host host;
    host.register_service(test_service());
    junction::Listener listener = host.listen("zmq+tcp://127.0.0.1:0");
    zmq::context_t context;
    zmq::socket_t peer(context, zmq::socket_type::dealer);
    peer.set(zmq::sockopt::linger, 0);
    peer.connect(std::string(listener.url()).substr(std::string_view("zmq+").size()));
    // Connected and served once: the listener now waits for the next call
    // inside libzmq.
    send_request(peer, 1);
    ASSERT_EQ(answer_code(peer, 1, 10000), JN_OK);

    const std::uint64_t taken_before = requests_taken.load();
    send_request(peer, 2);
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::microseconds(spin_us(random));
    while (std::chrono::steady_clock::now() < until) {
    }
    const bool drained = listener.close(junction::deadline_after(std::chrono::seconds(5)));
    const bool taken = requests_taken.load() != taken_before;
    if (!taken) {
      continue;  // never read: dropped with the socket, as any call arriving after close
    }
    ++taken_rounds;
    EXPECT_TRUE(drained);
    const std::optional<std::int32_t> code = answer_code(peer, 2, 5000);
    ASSERT_TRUE(code.has_value()) << "the listener took the call and never answered it";
    EXPECT_TRUE(*code == JN_OK || *code == JN_UNAVAILABLE) << *code;
  }
  EXPECT_GT(taken_rounds, 0) << "no round's call was taken";
}

// The calling thread, the receiver of its call's connection, remakes that
// connection once it is lost (the listener closed and opened again at the
// URL), and is held up for 300 ms after connecting: the new connection's
// handshake completes meanwhile, and the route is up once it has.
TEST(ReconnectRaceTest, ARouteRemakingItsConnectionIsUpOnceTheHandshakeIs) {
  junction::Host server;
  server.register_service(test_service());
  auto listener = std::make_optional(server.listen("zmq+tcp://127.0.0.1:0"));
  const std::string url(listener->url());
  junction::Host client;
  client.route("test", url);
  ASSERT_TRUE(eventually([&] { return client.route_stats("test").state == JN_ROUTE_READY; }));
  const junction::Method nap = client.resolve("test", "nap");
  std::thread caller([&] {
    pause_after_connect_ms = 300;
    try {
      static_cast<void>(nap.call("500", junction::deadline_after(std::chrono::seconds(5))));
    } catch (const junction::Error&) {
      // UNAVAILABLE: its connection was lost.
    }
  });
  ASSERT_TRUE(eventually([&] { return client.route_stats("test").in_flight == 1; }));
  listener.reset();  // the call's connection is lost
  listener.emplace(server.listen(url));
  caller.join();
  EXPECT_TRUE(eventually([&] { return client.route_stats("test").state == JN_ROUTE_READY; }))
      << "the route stays " << client.route_stats("test").state;
  const junction::Method echo = client.resolve("test", "echo");
  EXPECT_EQ(echo.call("again", junction::deadline_after(std::chrono::seconds(10))).text(), "again");
}

}  // namespace
}  // namespace jnzmq
