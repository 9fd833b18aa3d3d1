// A ZeroMQ socket shared by several threads: every use holds its mutex
// (libzmq allows a socket to move between threads across a full barrier),
// and the thread that waits for input blocks in ppoll on the socket's
// ZMQ_FD and a wake-up eventfd, holding nothing, so that others can send
// meanwhile (a thread that knows no other needs the socket may block in
// libzmq instead: receive_blocking). Whoever handles a message runs on its
// own thread: no hand-off to an I/O thread of junction's on either the
// send or the receive path.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "endpoint.hh"

namespace junction::zmq_transport {

// The context every junction socket of the process belongs to (zmq+inproc
// endpoints must share one). Created on first use and never terminated:
// terminating waits for every socket, and the process may exit with some
// open.
zmq::context_t& shared_context();

// The context of the routes' liveness connections (client.hh), created and
// kept as shared_context. Its own I/O thread runs their heartbeat timers:
// a timer makes every wait of its I/O thread a timed one, which the I/O
// thread carrying calls is spared.
zmq::context_t& liveness_context();

// libzmq, built without ThreadSanitizer, hands a message from the sending
// thread to the receiving one (or to its I/O thread, which runs a sent
// message's free function) through queues TSan cannot see; with inproc,
// the very bytes. These tell TSan that handing over `what` happens before
// taking it over, as libzmq guarantees. SharedSocket hands over one address
// for all of a process's traffic on every send and takes it over on every
// receive (coarser than libzmq's guarantee, which is per pipe); a sent
// response's free function takes over that response alone. No-ops in
// other builds.
void tsan_hand_over(const void* what) noexcept;
void tsan_take_over(const void* what) noexcept;

// Runs a libzmq call (returning < 0 with zmq_errno() on failure) again for
// as long as it fails with EINTR, and returns its last result. libzmq
// answers EINTR when a signal arrives while it reads its command mailbox,
// even in non-blocking calls, and by then it may have processed the very
// command that made ZMQ_FD readable: giving up would leave the message
// unsent (or unreceived) and the descriptor silent, a lost wake-up. The
// interrupted call did nothing else, so running it again is safe. Go
// runtimes signal their threads often (preemption), so junction sockets
// in Go processes meet this all the time.
template <class Operation>
int retry_interrupted(Operation&& operation) noexcept {
  int rc = 0;
  do {
    rc = operation();
  } while (rc < 0 && zmq_errno() == EINTR);
  return rc;
}

// retry_interrupted for calls cppzmq would make throwing (bind, connect,
// unbind, the socket monitor): these read the command mailbox first too.
// Throws zmq::error_t when the call fails otherwise.
template <class Operation>
void retry_interrupted_or_throw(Operation&& operation) {
  if (retry_interrupted(std::forward<Operation>(operation)) < 0) {
    throw zmq::error_t();
  }
}

// The wait until deadline_ns in libzmq's whole milliseconds, rounded up
// (woken before the deadline, a caller would only wait again): -1 for
// JN_NO_DEADLINE, 0 once it has passed.
[[nodiscard]] int libzmq_timeout_ms(std::int64_t deadline_ns) noexcept;

// Sends the empty message that ends a receive blocked in libzmq
// (SharedSocket::receive_blocking) on the socket connected to waker's
// peer, without blocking; returns as zmq_msg_send.
int send_wake_message(zmq::socket_t& waker) noexcept;

// Options every junction socket sets: frames over max(max_payload_bytes,
// the largest header frame) close their connection before libzmq allocates
// them; IPv6 when the endpoint names an IPv6 address.
void set_common_options(zmq::socket_t& socket, const Endpoint& endpoint,
                        std::uint64_t max_payload_bytes);

// The send buffer junction asks for on each ipc connection carrying calls
// (raise_ipc_send_buffer). libzmq sets SO_SNDBUF on tcp connections only,
// so an ipc connection starts with the kernel's net.core.wmem_default
// (208 KiB on a stock kernel): about three 64 KiB messages in flight each
// way, for all the callers sharing the connection. The kernel caps the
// request at net.core.wmem_max (also 208 KiB on a stock kernel) and
// doubles it.
inline constexpr int kIpcSendBufferBytes = 2 << 20;

// Which end of an ipc connection a descriptor is: one a listener accepted
// (its own address is the socket file) or one a client connected (its
// peer's is).
enum class IpcEnd { accepted, connected };

// Raises fd's SO_SNDBUF to kIpcSendBufferBytes as the kernel grants it
// (capped and doubled) when it is below that, never lowering what a
// deployment's wmem_default gave.
// fd is a connection of libzmq's, named by a monitor event or a message's
// ZMQ_SRCFD, which libzmq may have closed meanwhile and the process reused
// for another descriptor: only a Unix socket whose address (end) is
// ipc_path is changed, and any failure leaves it as it was.
void raise_ipc_send_buffer(int fd, const std::string& ipc_path, IpcEnd end) noexcept;

class SharedSocket {
 public:
  explicit SharedSocket(zmq::socket_t socket);
  SharedSocket(const SharedSocket&) = delete;
  SharedSocket& operator=(const SharedSocket&) = delete;
  ~SharedSocket();

  // Sends frames as one multipart message without blocking. Returns 0, or
  // the errno: EAGAIN when no peer can take it now (no connection, or its
  // queue is full).
  int send(std::span<zmq::message_t> frames) noexcept;

  // Takes the next whole message into frames if one is waiting; returns its
  // frame count (0: none), keeping at most max_frames frames. frames with
  // room for max_frames (reserved) make it allocate nothing; without, it
  // makes that room first, and returns 0 when it cannot.
  std::size_t try_receive(std::vector<zmq::message_t>& frames, std::size_t max_frames) noexcept;

  // try_receive that blocks in libzmq until a message comes or deadline_ns
  // (JN_NO_DEADLINE: no limit; rounded up to libzmq's whole milliseconds)
  // passes, holding the socket meanwhile: a wait costs half the system
  // calls of wait() and try_receive. Only for a thread that knows no other
  // will need the socket before a message comes (or that one who does will
  // send it a message), since every other use waits for it. Returns 0 when
  // the deadline passes, a signal interrupts the wait, the socket is
  // closed, or libzmq fails otherwise (its context shut down); 0 does not
  // mean nothing is queued.
  std::size_t receive_blocking(std::vector<zmq::message_t>& frames, std::size_t max_frames,
                               std::int64_t deadline_ns) noexcept;

  // Blocks until input may be waiting, wake() is called, or deadline_ns
  // (JN_NO_DEADLINE: no limit; rounded up to whole milliseconds) passes.
  // Spurious returns happen; callers try_receive again. Returns true when
  // input was waiting already (it did not block). A wake-up that comes
  // with input may be consumed by the return for the input: wake()'s
  // callers keep their own state, which the woken thread reads after each
  // pass.
  bool wait(std::int64_t deadline_ns) noexcept;
  void wake() const noexcept;

  // Closes the socket: later sends fail (ENOTSOCK), nothing more is
  // received, and every wait, now or later, returns. Messages already sent
  // are flushed for up to linger_ms.
  void close(int linger_ms) noexcept;

  // Runs f(socket) under the socket's mutex.
  template <class F>
  decltype(auto) locked(F&& f) {
    std::lock_guard lock(mutex_);
    return f(socket_);
  }

 private:
  // After any operation: if input is waiting, the edge that would have woken
  // the waiting thread may have been consumed here, so wake it.
  void wake_if_readable() noexcept;
  // Under mutex_: receives a whole message, its first frame with
  // first_flags (retried when interrupted only with ZMQ_DONTWAIT); as
  // try_receive.
  std::size_t receive_locked(std::vector<zmq::message_t>& frames, std::size_t max_frames,
                             int first_flags) noexcept;
  // Under mutex_: whether a message is waiting (ZMQ_EVENTS, which also
  // processes libzmq's pending commands).
  bool input_waiting() noexcept;

  std::mutex mutex_;
  std::atomic<std::uint32_t> waiting_{0};  // threads in wait()
  zmq::socket_t socket_;
  int socket_fd_ = -1;
  int wake_fd_ = -1;
  int receive_timeout_ms_ = -1;  // ZMQ_RCVTIMEO as last set
};

}  // namespace junction::zmq_transport
