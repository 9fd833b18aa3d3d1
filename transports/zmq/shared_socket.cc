#include "shared_socket.hh"

#include <junction.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <system_error>
#include <wire/frame.hh>

#if defined(__SANITIZE_THREAD__)
extern "C" void __tsan_acquire(void* addr);
extern "C" void __tsan_release(void* addr);
#endif

namespace junction::zmq_transport {

void tsan_hand_over([[maybe_unused]] const void* what) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(what));
#endif
}

void tsan_take_over([[maybe_unused]] const void* what) noexcept {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(what));
#endif
}

zmq::context_t& shared_context() {
  static auto* const context = new zmq::context_t(1);
  return *context;
}

zmq::context_t& liveness_context() {
  static auto* const context = new zmq::context_t(1);
  return *context;
}

int libzmq_timeout_ms(std::int64_t deadline_ns) noexcept {
  if (deadline_ns == JN_NO_DEADLINE) {
    return -1;
  }
  const std::int64_t left_ns = std::max<std::int64_t>(0, deadline_ns - jn_now_ns());
  return static_cast<int>(
      std::min<std::int64_t>((left_ns + 999'999) / 1'000'000, std::numeric_limits<int>::max()));
}

int send_wake_message(zmq::socket_t& waker) noexcept {
  zmq::message_t empty;
  return retry_interrupted(
      [&] { return zmq_msg_send(empty.handle(), waker.handle(), ZMQ_DONTWAIT); });
}

void set_common_options(zmq::socket_t& socket, const Endpoint& endpoint,
                        std::uint64_t max_payload_bytes) {
  socket.set(zmq::sockopt::maxmsgsize, static_cast<std::int64_t>(std::max<std::uint64_t>(
                                           max_payload_bytes, wire::kMaxHeaderBytes)));
  socket.set(zmq::sockopt::ipv6, endpoint.ipv6);
}

namespace {

// What the kernel grants a Unix socket that asks for kIpcSendBufferBytes
// (capped by net.core.wmem_max, doubled), found once on a socket pair of
// its own; 0 when none could be made.
int granted_ipc_send_buffer() noexcept {
  static const int granted = [] {
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return 0;
    }
    const int wanted = kIpcSendBufferBytes;
    int got = 0;
    socklen_t got_len = sizeof(got);
    if (setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &wanted, sizeof(wanted)) != 0 ||
        getsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &got, &got_len) != 0) {
      got = 0;
    }
    ::close(pair[0]);
    ::close(pair[1]);
    return got;
  }();
  return granted;
}

}  // namespace

void raise_ipc_send_buffer(int fd, const std::string& ipc_path, IpcEnd end) noexcept {
  if (fd < 0) {
    return;
  }
  sockaddr_un address{};
  socklen_t address_len = sizeof(address);
  auto* const name = reinterpret_cast<sockaddr*>(&address);
  const int named = end == IpcEnd::accepted ? getsockname(fd, name, &address_len)
                                            : getpeername(fd, name, &address_len);
  if (named != 0 || address.sun_family != AF_UNIX ||
      address_len <= offsetof(sockaddr_un, sun_path) ||
      strnlen(address.sun_path, address_len - offsetof(sockaddr_un, sun_path)) != ipc_path.size() ||
      std::memcmp(address.sun_path, ipc_path.data(), ipc_path.size()) != 0) {
    return;
  }
  int current = 0;
  socklen_t current_len = sizeof(current);
  // Below what the kernel grants, not below what was asked: a default
  // between the two would otherwise be lowered to the cap.
  if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &current, &current_len) != 0 ||
      current >= granted_ipc_send_buffer()) {
    return;
  }
  const int wanted = kIpcSendBufferBytes;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &wanted, sizeof(wanted));
}

SharedSocket::SharedSocket(zmq::socket_t socket) : socket_(std::move(socket)) {
  socket_fd_ = socket_.get(zmq::sockopt::fd);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
}

SharedSocket::~SharedSocket() { ::close(wake_fd_); }  // not the member close

int SharedSocket::send(std::span<zmq::message_t> frames) noexcept {
  std::lock_guard lock(mutex_);
  if (!socket_) {
    return ENOTSOCK;
  }
  tsan_hand_over(&shared_context());
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const int flags = ZMQ_DONTWAIT | (i + 1 < frames.size() ? ZMQ_SNDMORE : 0);
    // Once the first frame is accepted, libzmq accepts the rest of the
    // message: the high-water mark is checked on a message's first frame.
    if (retry_interrupted(
            [&] { return zmq_msg_send(frames[i].handle(), socket_.handle(), flags); }) < 0) {
      const int error = zmq_errno();
      wake_if_readable();
      return error;
    }
  }
  wake_if_readable();
  return 0;
}

std::size_t SharedSocket::try_receive(std::vector<zmq::message_t>& frames,
                                      std::size_t max_frames) noexcept {
  std::lock_guard lock(mutex_);
  return receive_locked(frames, max_frames, ZMQ_DONTWAIT);
}

std::size_t SharedSocket::receive_blocking(std::vector<zmq::message_t>& frames,
                                           std::size_t max_frames,
                                           std::int64_t deadline_ns) noexcept {
  const int timeout_ms = libzmq_timeout_ms(deadline_ns);
  if (timeout_ms == 0) {
    frames.clear();
    return 0;  // the deadline has passed
  }
  std::lock_guard lock(mutex_);
  if (socket_ && timeout_ms != receive_timeout_ms_ &&
      zmq_setsockopt(socket_.handle(), ZMQ_RCVTIMEO, &timeout_ms, sizeof(timeout_ms)) == 0) {
    receive_timeout_ms_ = timeout_ms;
  }
  return receive_locked(frames, max_frames, 0);
}

std::size_t SharedSocket::receive_locked(std::vector<zmq::message_t>& frames,
                                         std::size_t max_frames, int first_flags) noexcept {
  frames.clear();
  if (!socket_) {
    return 0;
  }
  // Room for the frames kept, made before a message is taken: out of
  // memory, none is taken (it stays queued), and nothing below allocates.
  if (frames.capacity() < max_frames) {
    try {
      frames.reserve(max_frames);
    } catch (const std::bad_alloc&) {
      return 0;
    }
  }
  std::size_t count = 0;
  for (;;) {
    zmq::message_t frame;
    // A message's frames arrive together: only its first may have to wait.
    const int flags = count == 0 ? first_flags : ZMQ_DONTWAIT;
    const auto receive = [&] { return zmq_msg_recv(frame.handle(), socket_.handle(), flags); };
    // An interrupted wait returns (retried, its timeout would start again);
    // an interrupted look is retried (retry_interrupted).
    const int received = (flags & ZMQ_DONTWAIT) != 0 ? retry_interrupted(receive) : receive();
    if (received < 0) {
      if (count == 0) {
        return 0;
      }
      break;  // cannot happen mid-message (above)
    }
    tsan_take_over(&shared_context());
    ++count;
    const bool more = frame.more();
    if (frames.size() < max_frames) {
      frames.push_back(std::move(frame));
    }
    if (!more) {
      break;
    }
  }
  return count;
}

void SharedSocket::close(int linger_ms) noexcept {
  std::lock_guard lock(mutex_);
  if (socket_) {
    zmq_setsockopt(socket_.handle(), ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    socket_.close();
  }
  wake();  // a thread about to wait on the closed socket's descriptor returns
}

bool SharedSocket::wait(std::int64_t deadline_ns) noexcept {
  waiting_.fetch_add(1);
  struct Done {
    std::atomic<std::uint32_t>& waiting;
    ~Done() { waiting.fetch_sub(1); }
  } done{waiting_};
  {
    std::lock_guard lock(mutex_);
    if (!socket_) {
      return false;
    }
    if (input_waiting()) {
      return true;
    }
  }
  const int timeout_ms = libzmq_timeout_ms(deadline_ns);
  if (timeout_ms == 0) {
    return false;
  }
  pollfd fds[2] = {{socket_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  // poll, not ppoll: stopped (SIGSTOP) and continued, poll resumes toward
  // its absolute end, while ppoll waits again the time it had left when
  // stopped, overshooting the deadline by the stop.
  if (poll(fds, 2, timeout_ms) > 0 && (fds[1].revents & POLLIN) != 0) {
    // Once the socket is closed the wake-up is left set, so that every
    // thread waiting, or about to, returns: not only the first to wake.
    std::lock_guard lock(mutex_);
    if (socket_) {
      std::uint64_t drained = 0;
      static_cast<void>(read(wake_fd_, &drained, sizeof(drained)));
    }
  }
  return false;
}

void SharedSocket::wake() const noexcept {
  const std::uint64_t one = 1;
  static_cast<void>(write(wake_fd_, &one, sizeof(one)));
}

void SharedSocket::wake_if_readable() noexcept {
  // A thread that starts waiting after this looks at ZMQ_EVENTS under the
  // mutex before it sleeps, so only one already waiting needs the wake-up.
  if (waiting_.load() == 0) {
    return;
  }
  if (input_waiting()) {
    wake();
  }
}

bool SharedSocket::input_waiting() noexcept {
  int events = 0;
  std::size_t size = sizeof(events);
  return retry_interrupted(
             [&] { return zmq_getsockopt(socket_.handle(), ZMQ_EVENTS, &events, &size); }) == 0 &&
         (events & ZMQ_POLLIN) != 0;
}

}  // namespace junction::zmq_transport
