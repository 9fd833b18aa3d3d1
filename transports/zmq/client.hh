// The calling side of the ZeroMQ transport: one connection to a remote
// junction host, carrying every call routed to its URL (docs/wire.md).
// Calls are multiplexed by call id; each caller sends on its own thread and
// waits on its own thread. One waiting caller at a time receives for
// everyone (handing each response to its caller), so a single caller's
// round trip involves no thread of junction's but its own. A receiver
// whose call is the only one in flight waits inside libzmq, holding the
// socket; a caller who needs the socket meanwhile wakes it with a message
// from the client's waker, a DEALER its socket is connected to as well.
// That socket is a ROUTER, so that no call goes to the waker: each is
// addressed to the listener's connection by routing id.
//
// An asynchronous call (a routed method's jn_call_async) is sent on the
// thread that starts it, which then returns: jn_call_async's caller when
// the connection is up and has room (start_call that may not wait), a host
// worker otherwise. The client's asynchronous thread, started with the
// first such call, receives for everyone while asynchronous calls are in
// flight and no caller receives, and finishes each of them (jn_complete)
// when its answer comes, its deadline passes, its cancel is signalled or
// its connection is lost. So a host worker is held at most to connect and
// send, however long the answers take.
//
// A second connection to the listener (tcp and ipc), the liveness
// connection, carries nothing but ZMTP heartbeats, in a context of its own
// (liveness_context): a heartbeat timer makes every wait of an I/O thread a
// timed one, which the I/O thread carrying calls is thus spared. Lost, and
// not made again while the connection carrying calls stays up, it tells
// that the listener stopped answering without closing its connections
// (stopped, hung, its host gone): the calls in flight fail UNAVAILABLE,
// deadline or not, and new ones until it is made again.
#pragma once

#include <junction.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "endpoint.hh"
#include "shared_socket.hh"
#include "thread_slice.hh"

namespace junction::zmq_transport {

struct ClientOptions {
  std::int64_t connect_timeout_ns = 1'000'000'000;
  std::uint64_t max_payload_bytes = 64ull << 20;
  // CURVE (curve.hh), 32 bytes each: the listener's public key (empty:
  // none), and the client's own pair (empty: a pair made for the client).
  std::string curve_server_key;
  std::string curve_public_key;
  std::string curve_secret_key;
  // The slice the asynchronous thread asks for (cpp-host/src/thread_slice.hh).
  std::uint64_t thread_slice_ns = detail::kDefaultSliceNs;
};

class Client {
 public:
  // Connects (in the background) to url. Throws std::invalid_argument for a
  // URL it cannot read and zmq::error_t when libzmq refuses.
  Client(std::string_view url, const ClientOptions& options);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  [[nodiscard]] const std::string& url() const noexcept { return url_; }

  // Fills jn_route_stats' state, connections_lost and in_flight.
  void fill_stats(jn_route_stats& stats);

  // One call, made and awaited on the calling thread; the cancel of the
  // caller's jn_call_cancellable, if any, ends its waits (JN_CANCELLED).
  // result: the
  // zero-initialised result of a synchronous handler; receives the status
  // and the response (answered with jn_respond when small, so a caller's
  // lent room is used; otherwise the received frame itself, not copied).
  void call(std::string_view service, std::string_view method, jn_bytes request,
            std::int64_t deadline_ns, jn_result* result) noexcept;

  // One asynchronous call, finished with jn_complete(completion): at once
  // on this thread when it cannot be sent, otherwise on the client's
  // asynchronous thread. The cancel of the call running on this thread
  // (jn_call_cancel) cancels it until then. request: the call's own; once
  // the call is sent it is released (a copy was sent) or lent to the frame
  // sent, released when libzmq is done with it (4 KiB or more), so that a
  // call whose answer is slow to come holds no request; not sent, it is
  // left as it was. Returns true once the call is sent or finished. With
  // !may_wait, a call that would have to wait (the connection is not up,
  // or its queue is full) returns false with nothing done (request and
  // completion untouched), for a caller that may wait.
  bool start_call(std::string_view service, std::string_view method, jn_buffer& request,
                  std::int64_t deadline_ns, jn_completion completion, bool may_wait) noexcept;

  // Ends every wait to send (for the connection, for room in its queue),
  // now and from now on, with CANCELLED ("host is shutting down"): the host
  // that made the route is being freed, and the workers waiting here must
  // end before it can be.
  void abandon_sends() noexcept;

 private:
  enum class Link { connecting, up, down };
  struct Waiter;
  struct AsyncCall;

  // Whether abandon_sends was called; if so, status says so.
  bool sends_are_abandoned(jn_status& status);

  // Checks waiter's request, waits for the connection (unless !may_wait),
  // lists waiter and sends the call, waiting for room in a full queue
  // (unless !may_wait) while the connection stays up. A call cancelled, or
  // answered (its connection lost), before it leaves is not sent. Returns
  // whether it was sent; if not, result holds why and waiter is not
  // listed. owned: the buffer request views when the call owns it
  // (start_call), else NULL (copied).
  bool send_call(Waiter& waiter, std::string_view service, std::string_view method,
                 jn_bytes request, jn_buffer* owned, std::int64_t deadline_ns, jn_result* result,
                 bool may_wait);
  // Under mutex_: takes waiter out of the table, handing the receiving role
  // on if no one holds it.
  void unlist(const Waiter& waiter);
  // Unlists a listed waiter when it goes, unless kept listed.
  struct Listed {
    Client& client;
    const Waiter& waiter;
    bool kept = false;
    ~Listed();
  };
  // The statuses of a call its caller cancelled, and of one whose deadline
  // passed before its answer came.
  void assign_cancelled(jn_status& status) const noexcept;
  void assign_no_answer_in_time(jn_status& status) const noexcept;
  // Receives for every caller until deadline_ns or, for a caller, until its
  // waiter is answered or cancelled; for the asynchronous thread (waiter
  // NULL), until an asynchronous call is to be finished or none is left.
  // Whenever it stops, it has settled every lost connection it may have
  // been woken for (settle_loss). Out of memory, an answer reaches its
  // caller without its message: the receiving role, taken under mutex_,
  // is never left held.
  void receive_until(const Waiter* waiter, std::int64_t deadline_ns) noexcept;
  void deliver(std::vector<zmq::message_t>& frames, std::size_t frame_count) noexcept;
  // Under mutex_: waiter has its outcome (done or cancelled): wakes its
  // caller, or queues an asynchronous call to be finished.
  void settle(Waiter& waiter);
  // Under mutex_: whether the asynchronous thread, receiving, is to stop:
  // a call to finish, none left, or one due before it stops receiving.
  [[nodiscard]] bool async_receiver_done() const;
  // Under mutex_: whether a receiver is to stop: waiter's call answered or
  // cancelled, or, for nullptr, async_receiver_done().
  [[nodiscard]] bool receiver_done(const Waiter* waiter) const;
  // The asynchronous thread: runs until the client is destroyed. gone is
  // set when that happens on this very thread (finishing the client's last
  // call may free it), which then touches nothing of the client's.
  void async_loop(const std::atomic<bool>& gone);
  // Under mutex_: takes the asynchronous calls to be finished (with an
  // outcome, or past their deadline at now_ns) out of the tables, as a
  // list.
  AsyncCall* take_finished_async(std::int64_t now_ns);
  // Finishes call through jn_complete and frees it.
  void finish_async(AsyncCall* call);
  // An asynchronous call's CancelWait wake (takes mutex_).
  static void cancel_async(void* call);
  // Under mutex_: the deadline the asynchronous thread next wakes at.
  [[nodiscard]] std::int64_t next_async_deadline() const;
  // Under mutex_: makes a waiting caller the receiver, or, with only
  // asynchronous calls waiting, tells the asynchronous thread.
  void hand_off_receiving();
  // Whether the receiver (waiter, or the asynchronous thread for nullptr)
  // may wait inside libzmq (its call is the only one in flight, and it has
  // not been woken since it last looked), marking it as doing so until
  // end_receiving_in_libzmq.
  bool begin_receiving_in_libzmq(const Waiter* waiter);
  void end_receiving_in_libzmq();
  // Under mutex_: ends a wait inside libzmq (once per wait), so that the
  // socket is free again.
  void wake_receiver_in_libzmq();
  // While it lives, a thread that is to use the socket outside a listed
  // call (a cancel, a reconnection) has it free: the receiver waiting in
  // libzmq is woken, and none begins to (its wait would last until its
  // answer came).
  struct SocketWanted {
    explicit SocketWanted(Client& wanting);
    ~SocketWanted();
    SocketWanted(const SocketWanted&) = delete;
    SocketWanted& operator=(const SocketWanted&) = delete;
    Client& client;
  };
  // Under mutex_: ends the receiver's wait, on the descriptor or in libzmq.
  void wake_receiver();
  // Connects socket to the listener under a routing id not used before,
  // which it returns. Under the socket's mutex, or before it is shared.
  std::string connect_to_listener(zmq::socket_t& socket);
  // Drops the connection carrying calls, with the requests queued for it,
  // and makes a new one under a new routing id (the old one's may not be
  // released yet), not up until its handshake. The calls sent on the
  // dropped one, which nothing can answer now, are answered UNAVAILABLE.
  void reconnect_to_listener();
  // Ends the reconnection inproc_ready began, marking it to be tried again
  // unless it reconnected.
  void end_inproc_reconnection(bool reconnected);
  // Tells the listener that the call sent as call_id was cancelled
  // (docs/wire.md, "Cancels"), so that its waits end there too.
  void send_cancel(const std::string& listener_id, std::uint64_t call_id) noexcept;
  // Ends waiter's waits: its caller's cancel was signalled (a CancelWait's
  // wake, taking mutex_).
  static void cancel_wait(void* waiter);
  // Whether the connection is up, waiting until limit_ns while it is being
  // made, or until waiter is cancelled; disconnects: the connections lost
  // until then.
  bool await_link(std::int64_t limit_ns, const Waiter& waiter, std::uint64_t& disconnects);
  // Why a call finds no connection up.
  std::string no_link_message();
  // CURVE's options, set on both connections before they connect.
  void set_curve_options(zmq::socket_t& socket) const;
  // Follows the connection events of both connections until both monitors
  // stop (liveness_events is empty for inproc).
  void monitor_loop(zmq::socket_t events, zmq::socket_t liveness_events);
  // A connection event: its id (0 when none could be read) and value.
  struct Event {
    std::uint16_t id = 0;
    std::uint32_t value = 0;
  };
  static Event receive_event(zmq::socket_t& events);
  // Under mutex_: one event of each connection. silence_due_ns: when the
  // listener is to be judged silent (0: not due), which they set and clear.
  void on_calls_connection_event(std::uint16_t id, std::int64_t& silence_due_ns);
  void on_liveness_event(std::uint16_t id, std::int64_t& silence_due_ns);
  // Under mutex_: notes a failed handshake of either connection, for the
  // calls that find no connection; true when libzmq gave the connection up
  // (a refused key, a peer that does or does not use CURVE), which must
  // then be made again (remake_refused).
  bool on_handshake_failed(const Event& event);
  // Makes the connections libzmq gave up again: the one carrying calls if
  // calls, the liveness connection if liveness.
  void remake_refused(bool calls, bool liveness);
  // Judges the listener silent (a lost connection) if the liveness
  // connection is still down and the connection carrying calls still up.
  void judge_silent();
  // Under mutex_, once the answers that came before the latest lost
  // connection are taken: answers UNAVAILABLE every waiting call sent
  // before it (calls sent since went on a new one), and returns whether a
  // connection that carried calls is to be dropped, by settle_loss's
  // caller once it has released mutex_ (drop_lost_connection).
  [[nodiscard]] bool settle_loss() noexcept;
  // reconnect_to_listener for a lost connection: libzmq would otherwise
  // send what it queued for the lost connection on the one it makes again,
  // to whichever listener is there then, though those calls are answered.
  void drop_lost_connection() noexcept;
  // Under mutex_: answers waiter UNAVAILABLE, its connection lost.
  void fail_lost(Waiter& waiter) noexcept;
  // For the monitor thread: settles a lost connection when no one receives
  // (no receiver would come to do it), taking the receiving role meanwhile.
  void settle_unreceived_loss() noexcept;

  // libzmq tells nothing of inproc connections: the registry of bound
  // names (inproc.hh) does.
  void inproc_peer_gone();
  // Whether a listener is bound at an inproc URL, connecting to it again
  // when it is a new one.
  bool inproc_ready();

  const std::string url_;
  const ClientOptions options_;
  std::string address_;   // the libzmq endpoint
  std::string ipc_path_;  // the socket file of a zmq+ipc route
  bool inproc_ = false;
  std::uint64_t inproc_watch_ = 0;
  std::unique_ptr<SharedSocket> socket_;
  std::uint64_t listener_connects_ = 0;  // under the socket's mutex
  // The receiver's (whoever holds the receiving role), with room for a
  // whole response made at construction, so that receiving allocates none.
  std::vector<zmq::message_t> frames_;

  std::mutex mutex_;         // guards what follows
  std::string listener_id_;  // the routing id calls are sent to
  zmq::socket_t waker_;      // sends the messages that end a wait in libzmq
  bool receiving_in_libzmq_ = false;
  bool waker_sent_ = false;          // during this wait in libzmq
  std::uint32_t socket_wanted_ = 0;  // SocketWanted living
  std::unordered_map<std::uint64_t, Waiter*> waiters_;
  std::uint64_t next_call_id_ = 1;
  // Someone receives for everyone: a caller, the asynchronous thread, or
  // the monitor thread settling a lost connection.
  bool receiving_ = false;
  Link link_ = Link::connecting;      // of the connection carrying calls
  Link liveness_ = Link::connecting;  // of the liveness connection
  // The listener judged silent, until the liveness connection is made again
  // or the connection carrying calls is lost.
  bool silent_ = false;
  std::uint64_t disconnects_ = 0;  // connections lost, or the listener judged silent
  // Of those, the connections that were up (jn_route_stats' connections_lost):
  // not the attempts whose handshake failed, which libzmq also reports as
  // disconnected.
  std::uint64_t connections_lost_ = 0;
  std::uint64_t disconnects_failed_ = 0;  // of those, how many failed their calls
  // A lost connection carried calls: it is dropped once they are failed.
  bool drop_connection_ = false;
  bool reconnect_inproc_ = false;  // connect again before the next call
  bool sends_abandoned_ = false;   // abandon_sends was called
  // A call is connecting again: the others wait for the listener's new
  // routing id (inproc_reconnected_).
  bool inproc_reconnecting_ = false;
  std::condition_variable inproc_reconnected_;
  // Why the last handshake failed, until one succeeds (empty: none did).
  std::string handshake_failure_;
  std::condition_variable link_changed_;

  // Asynchronous calls sent and not yet finished (each also in waiters_),
  // by deadline: the client owns them.
  std::multimap<std::int64_t, AsyncCall*> async_deadlines_;
  AsyncCall* async_finished_ = nullptr;      // those with an outcome: a list
  bool async_receiving_ = false;             // the asynchronous thread is the receiver
  std::int64_t async_receive_deadline_ = 0;  // until which it receives
  bool stopping_ = false;                    // the client is being destroyed
  std::condition_variable async_changed_;    // wakes the asynchronous thread
  std::thread async_thread_;
  std::shared_ptr<std::atomic<bool>> async_thread_gone_;

  // Guards liveness_socket_ after construction: the monitor thread makes
  // its connection again, the destructor stops its monitor.
  std::mutex liveness_mutex_;
  zmq::socket_t liveness_socket_;  // the liveness connection's DEALER; empty for inproc
  std::thread monitor_;            // follows libzmq's connection events
};

}  // namespace junction::zmq_transport
