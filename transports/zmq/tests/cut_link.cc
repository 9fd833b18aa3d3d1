#include "cut_link.hh"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>
#include <utility>

namespace jnzmq {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  return address;
}

// A connection to 127.0.0.1:port, or -1.
int connect_to(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in address = loopback(port);
  if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Closes fd with a reset rather than an orderly close.
void reset(int fd) {
  const linger abort{.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
  close(fd);
}

bool write_all(int fd, const std::uint8_t* data, std::size_t size) {
  while (size > 0) {
    const ssize_t written = send(fd, data, size, MSG_NOSIGNAL);
    if (written < 0 && errno == EINTR) {
      continue;
    }
    if (written <= 0) {
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return true;
}

}  // namespace

CutLink::CutLink(std::uint16_t backend_port) : backend_port_(backend_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof(address);
  std::array<int, 2> wake{-1, -1};
  if (listen_fd_ < 0 || bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      listen(listen_fd_, 16) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
      pipe2(wake.data(), O_CLOEXEC) != 0) {
    const int error = errno;
    if (listen_fd_ >= 0) {
      close(listen_fd_);
    }
    throw std::system_error(error, std::generic_category(), "cut link");
  }
  port_ = ntohs(address.sin_port);
  wake_read_ = wake[0];
  wake_write_ = wake[1];
  thread_ = std::thread([this] { run(); });
}

CutLink::~CutLink() {
  stop_.store(true);
  notify();
  thread_.join();
  for (const Connection& connection : connections_) {
    close(connection.client);
    if (connection.backend >= 0) {
      close(connection.backend);
    }
  }
  close(listen_fd_);
  close(wake_read_);
  close(wake_write_);
}

void CutLink::cut() {
  std::unique_lock lock(mutex_);
  cut_ = true;
  cut_pending_ = true;
  notify();
  // Until the relay thread applies it: what a listener does after the cut
  // (closing its end, say) must not reach the route through a relay that
  // has not yet seen it.
  cut_applied_.wait(lock, [this] { return !cut_pending_; });
}

void CutLink::heal(std::uint16_t backend_port) {
  {
    const std::lock_guard lock(mutex_);
    cut_ = false;
    backend_port_ = backend_port;
  }
  notify();
}

void CutLink::notify() const {
  const std::uint8_t byte = 0;
  static_cast<void>(write(wake_write_, &byte, 1));
}

void CutLink::run() {
  while (!stop_.load()) {
    bool cut = false;
    std::uint16_t backend_port = 0;
    {
      const std::lock_guard lock(mutex_);
      cut = cut_;
      backend_port = backend_port_;
      if (std::exchange(cut_pending_, false)) {
        for (Connection& connection : connections_) {
          connection.before_cut = true;
        }
        cut_applied_.notify_all();
      }
    }
    if (!cut) {
      for (Connection& connection : connections_) {
        if (connection.before_cut && connection.backend >= 0) {
          // The host behind it is gone: only its client's end is left.
          close(connection.backend);
          connection.backend = -1;
        } else if (!connection.before_cut && connection.backend < 0) {
          connection.backend = connect_to(backend_port);
          if (connection.backend < 0) {
            reset(connection.client);
            connection.client = -1;
          }
        }
      }
      std::erase_if(connections_, [](const Connection& c) { return c.client < 0; });
    }

    // Held connections are not read; the others are, both ends.
    std::vector<pollfd> fds = {{wake_read_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    std::vector<std::pair<std::size_t, int>> polled;  // connection index, fd
    for (std::size_t i = 0; i < connections_.size(); ++i) {
      const Connection& connection = connections_[i];
      if (!connection.before_cut && connection.backend < 0) {
        continue;
      }
      for (const int fd : {connection.client, connection.backend}) {
        if (fd >= 0) {
          fds.push_back({fd, POLLIN, 0});
          polled.emplace_back(i, fd);
        }
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      continue;  // interrupted
    }
    if ((fds[0].revents & POLLIN) != 0) {
      std::array<std::uint8_t, 64> drain{};
      static_cast<void>(read(wake_read_, drain.data(), drain.size()));
    }
    if ((fds[1].revents & POLLIN) != 0) {
      accept_one(cut, backend_port);
    }
    for (std::size_t k = 0; k < polled.size(); ++k) {
      if (fds[k + 2].revents == 0) {
        continue;
      }
      Connection& connection = connections_[polled[k].first];
      const int fd = polled[k].second;
      if (connection.client < 0 || (fd != connection.client && fd != connection.backend)) {
        continue;  // closed earlier in this pass
      }
      if (connection.before_cut && !cut && fd == connection.client) {
        reset(connection.client);  // its next byte reaches a host that forgot it
        connection.client = -1;
      } else if (!relay(connection, fd, connection.before_cut)) {
        if (fd == connection.backend && connection.before_cut) {
          close(connection.backend);  // the old host closed its end unseen
          connection.backend = -1;
        } else {
          close(connection.client);
          connection.client = -1;
        }
      }
    }
    for (Connection& connection : connections_) {
      if (connection.client < 0 && connection.backend >= 0) {
        close(connection.backend);
        connection.backend = -1;
      }
    }
    std::erase_if(connections_, [](const Connection& c) { return c.client < 0; });
  }
}

void CutLink::accept_one(bool cut, std::uint16_t backend_port) {
  const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (client < 0) {
    return;
  }
  Connection connection{.client = client};
  if (!cut) {
    connection.backend = connect_to(backend_port);
    if (connection.backend < 0) {
      reset(client);
      return;
    }
  }
  connections_.push_back(connection);
}

bool CutLink::relay(Connection& connection, int from, bool drop) {
  std::array<std::uint8_t, 65536> buffer{};
  const ssize_t got = recv(from, buffer.data(), buffer.size(), 0);
  if (got < 0 && errno == EINTR) {
    return true;
  }
  if (got <= 0) {
    return false;
  }
  if (drop) {
    return true;  // lost in the cut
  }
  const int to = from == connection.client ? connection.backend : connection.client;
  return write_all(to, buffer.data(), static_cast<std::size_t>(got));
}

}  // namespace jnzmq
