// An ipc connection carrying calls asks for a send buffer larger than the
// kernel's default at both of its ends (the route's, which sends the
// requests, and the listener's, which sends the answers), so that the
// callers sharing it are not held to a few large messages in flight. The
// route's liveness connection carries no calls and the listening socket
// sends nothing: neither is changed.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hh"

namespace jnzmq {
namespace {

// The send buffer junction asks for on an ipc connection (shared_socket.hh).
constexpr int kAskedBytes = 2 << 20;

// A new Unix socket's send buffer (net.core.wmem_default), and what the
// kernel grants one asking for kAskedBytes (capped by net.core.wmem_max,
// doubled), read off a socket pair of the test's own.
struct KernelBuffers {
  long fresh = 0;
  long granted = 0;
};
KernelBuffers kernel_buffers() {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
    ADD_FAILURE() << "socketpair failed";
    return {};
  }
  int fresh = 0;
  int granted = 0;
  socklen_t len = sizeof(int);
  getsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &fresh, &len);
  setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &kAskedBytes, sizeof(kAskedBytes));
  len = sizeof(int);
  getsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &granted, &len);
  close(pair[0]);
  close(pair[1]);
  return {fresh, granted};
}

// The send buffers of this process's Unix sockets whose own address
// (accepted: a listener's ends) or whose peer's (connected: a route's) is
// path.
std::vector<long> send_buffers_at(const std::string& path, bool accepted) {
  std::vector<long> buffers;
  // The directory's own descriptor is listed too; it is no socket.
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    const int fd = std::stoi(entry.path().filename().string());
    sockaddr_un address{};
    socklen_t address_len = sizeof(address);
    auto* const name = reinterpret_cast<sockaddr*>(&address);
    const int named =
        accepted ? getsockname(fd, name, &address_len) : getpeername(fd, name, &address_len);
    if (named != 0 || address.sun_family != AF_UNIX || address_len <= sizeof(sa_family_t) ||
        std::string(address.sun_path) != path) {
      continue;
    }
    int buffer = 0;
    socklen_t buffer_len = sizeof(buffer);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, &buffer_len) == 0) {
      buffers.push_back(buffer);
    }
  }
  std::sort(buffers.begin(), buffers.end());
  return buffers;
}

TEST(IpcSendBufferTest, BothEndsOfTheConnectionCarryingCallsAskForALargerBuffer) {
  const KernelBuffers kernel = kernel_buffers();
  // Where the default is already as large as what would be granted, no
  // buffer changes: junction never lowers one.
  const long raised = std::max(kernel.fresh, kernel.granted);
  TempDir dir;
  junction::Host server;
  server.register_service(test_service());
  const junction::Listener listener = server.listen(dir.ipc_url());
  junction::Host client = routed_to(listener);
  const junction::Method echo = client.resolve("test", "echo");
  const std::vector<std::uint8_t> request = pattern_bytes(64 << 10, 7);
  const Buffer answer = echo.call(request, junction::deadline_after(std::chrono::seconds(10)));
  ASSERT_EQ(answer.size(), request.size());

  const std::string path = dir.ipc_url().substr(std::string("zmq+ipc://").size());
  // The route's end: the calls connection raised, the liveness connection
  // not. The listener's: the listening socket and the liveness
  // connection's end not, the calls connection's end raised.
  const std::vector<long> route_ends{kernel.fresh, raised};
  const std::vector<long> listener_ends{kernel.fresh, kernel.fresh, raised};
  // The route raises its end on its monitor thread once libzmq reports the
  // connection, and the liveness connection may still be being made.
  std::vector<long> connected;
  std::vector<long> accepted;
  eventually([&] {
    connected = send_buffers_at(path, /*accepted=*/false);
    accepted = send_buffers_at(path, /*accepted=*/true);
    return connected == route_ends && accepted == listener_ends;
  });
  EXPECT_EQ(connected, route_ends);
  EXPECT_EQ(accepted, listener_ends);
}

}  // namespace
}  // namespace jnzmq
