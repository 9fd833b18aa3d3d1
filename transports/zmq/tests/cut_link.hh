// A TCP relay on 127.0.0.1 standing in for the network between routes and
// a listener, so that a test can cut it and heal it as a partition would.
// While cut, bytes on the connections made before the cut are dropped
// (read and thrown away, as lost packets are), and connections made during
// the cut are held, nothing relayed. Healed, it relays to the listener it
// is given (another, say, after the first one's host went away), the held
// connections included; a connection from before the cut is reset at its
// next byte, as the kernel of a host that has forgotten it would.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace jnzmq {

class CutLink {
 public:
  // Relays to 127.0.0.1:backend_port. Throws std::system_error if it
  // cannot listen.
  explicit CutLink(std::uint16_t backend_port);
  CutLink(const CutLink&) = delete;
  CutLink& operator=(const CutLink&) = delete;
  ~CutLink();

  // The port it listens on (127.0.0.1).
  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

  // Returns once the relay thread has applied the cut.
  void cut();
  void heal(std::uint16_t backend_port);

 private:
  struct Connection {
    int client = -1;
    int backend = -1;         // -1: held, not yet relayed
    bool before_cut = false;  // made before the last cut: reset at its next byte once healed
  };

  void run();
  void accept_one(bool cut, std::uint16_t backend_port);
  // Moves what fd has to the other side of connection (or drops it);
  // false when the connection is done.
  static bool relay(Connection& connection, int from, bool drop);
  void notify() const;

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  int wake_read_ = -1;
  int wake_write_ = -1;
  std::mutex mutex_;  // guards cut_, cut_pending_ and backend_port_
  bool cut_ = false;
  bool cut_pending_ = false;             // a cut the relay thread has not applied yet
  std::condition_variable cut_applied_;  // cut_pending_ cleared
  std::uint16_t backend_port_;
  std::atomic<bool> stop_{false};
  std::vector<Connection> connections_;  // the relay thread's own
  std::thread thread_;
};

}  // namespace jnzmq
