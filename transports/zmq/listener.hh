// The serving side of the ZeroMQ transport: a ROUTER bound to one URL,
// serving a host's services to any number of connected callers
// (docs/wire.md).
//
// Threads: one pool thread at a time holds the receiving role. It runs the
// handler of the call it receives itself, keeping the role, so a call's
// path crosses no thread of junction's; when calls are queueing and worth
// a thread's wake-up (calls that have been taking 50 us or more on average)
// it hands the role to a waiting thread first, so they are served side by
// side. With no call in flight it waits for the next one inside libzmq
// (tcp and ipc: close wakes it with a message); otherwise on the socket's
// descriptor, leaving the socket to the threads answering. A standby
// thread sleeps on a one-shot timer kept due one to two ticks (half a
// millisecond each) after the current handler started: a handler still
// running then lets the standby take the role, so a slow call never holds
// up the calls behind it. The receiver pushes the timer on at most once a
// tick, so while short calls keep coming it never fires. When no thread is
// left to wait, the receiver starts one (up to max_in_flight); threads
// beyond the pool's size end once others are free. Pool threads are named
// jn-listener and ask the kernel for the host's slice, short by default, so
// that one woken with a call runs at once (cpp-host/src/thread_slice.hh).
//
// At max_in_flight every pool thread is in a call and none receives. One
// more thread, the queue reader (jn-listen-queue, started at the first
// time the listener is full), then reads on: cancels signal the calls they
// name, and up to max_in_flight requests are read, resolved and queued
// with their deadlines started. A pool thread whose call ends runs the
// queued calls, oldest first, before it gives up its slot; a queued call
// cancelled or past its deadline is answered without its handler running.
// With the queue full the listener stops reading until a call ends.
//
// Messages are read side by side, but a cancel finding no call waits for
// the requests taken before it to be read (ReadOrder), so a cancel sent
// right behind its request is not lost.
#pragma once

#include <junction.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "curve.hh"
#include "shared_socket.hh"
#include "thread_slice.hh"

namespace junction::zmq_transport {

struct ListenOptions {
  std::uint32_t threads = 4;
  std::vector<std::string> services;  // empty: every service of the host
  std::uint32_t max_in_flight = 1024;
  std::uint64_t max_payload_bytes = 64ull << 20;
  // A connection's backlog (AnswerBacklog) is full at this many answers or
  // bytes: its new calls are refused with RESOURCE_EXHAUSTED until its
  // client reads. Calls already taken still answer, so a backlog may pass
  // these by up to the calls in flight.
  std::uint64_t max_unread_answers = 1024;
  std::uint64_t max_unread_answer_bytes = 256ull << 20;
  // The slice the listener's threads ask for (thread_slice.hh): the host's.
  std::uint64_t thread_slice_ns = detail::kDefaultSliceNs;
  // CURVE (curve.hh): the listener's secret key (32 bytes; empty: none),
  // and the public keys of the clients it lets in (empty: any client).
  std::string curve_secret_key;
  std::vector<std::string> curve_client_keys;
};

// A connection's answers that libzmq has not yet written out, because its
// client has not read the answers before them: counted from their send to
// libzmq's release of their header frame (once written out, or with the
// connection). The listener keeps no limit of ZeroMQ's (its send
// high-water mark would drop answers unannounced); it refuses a
// connection's new calls while this backlog is full instead.
//
// It also holds the connection's calls being handled, by call id, with the
// cancel each runs with: the client's cancel message for a call signals it
// (docs/wire.md, "Cancels").
// The messages a listener has taken from its socket and not yet read
// (their call listed among its connection's running calls, or dealt with),
// numbered in the order taken. Threads read side by side, so a cancel may
// be read while another thread still reads the request it names, which
// the client sent first: a cancel that finds no running call waits for
// the messages taken before it, then looks again.
class ReadOrder {
 public:
  // Numbers a message taken, under the mutex that orders the takes. Out of
  // memory, the message is not waited for: a cancel close behind it may
  // find no call, as a cancel of a call already answered does.
  std::uint64_t taken() noexcept;
  // The message numbered so has been read.
  void read(std::uint64_t number) noexcept;
  // Returns once every message taken before the one numbered so is read.
  void wait_for_earlier(std::uint64_t number);

 private:
  std::mutex mutex_;
  std::condition_variable read_;
  std::uint64_t next_ = 0;
  std::vector<std::uint64_t> reading_;  // the numbers taken and not read
  std::uint32_t waiting_ = 0;           // threads in wait_for_earlier
};

struct AnswerBacklog {
  std::atomic<std::uint64_t> answers{0};
  std::atomic<std::uint64_t> bytes{0};
  std::mutex running_mutex;
  std::unordered_map<std::uint64_t, jn_cancel*> running;  // under running_mutex
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds url and starts serving host's services. Throws
  // std::invalid_argument for a URL it cannot read, and zmq::error_t or
  // std::system_error when the address cannot be bound.
  static std::shared_ptr<Listener> start(jn_host* host, std::string_view url,
                                         const ListenOptions& options);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener();

  // The bound URL (the system's port for a port 0 request).
  [[nodiscard]] const std::string& url() const noexcept { return url_; }

  // The fields of jn_listener_stats a caller's struct holds: those of ABI
  // 1.4's struct, of 1.7's, of 1.9's, or of 1.12's (in order: each holds
  // the fields of those before it).
  enum class StatsFields { abi_1_4, abi_1_7, abi_1_9, abi_1_12 };
  // Fills fields of stats (jn_listener_stats_get) with what the listener
  // has done since it opened.
  void fill_stats(jn_listener_stats& stats, StatsFields fields) const;

  // Whether the listener uses CURVE, and so takes client keys.
  [[nodiscard]] bool uses_curve() const noexcept { return client_gate_ != nullptr; }
  // Lets in the clients of client_keys (32 bytes each, at least one) and
  // no other, from now on: in new handshakes, and at each call of the
  // connections already let in. uses_curve() must hold.
  void set_curve_client_keys(const std::vector<std::string>& client_keys) {
    client_gate_->replace(client_keys);
  }

  // Answers new calls UNAVAILABLE from now on and waits for the calls in
  // flight until drain_deadline_ns; the listener keeps its socket and
  // threads (for those answers) until close. Returns whether no call is in
  // flight. Not concurrently with close. From one of the listener's
  // handlers, it waits for the other calls: that handler's call is left
  // running, to be answered when it returns, and calls queued behind it make
  // the result false.
  bool drain(std::int64_t drain_deadline_ns);

  // Drains (as drain), then stops the threads and closes the socket.
  // Returns whether every call in flight was answered. From one of the
  // listener's handlers, whether every other call was: that handler's
  // answer finds the socket closed, and its thread ends on its own.
  bool close(std::int64_t drain_deadline_ns);

 private:
  Listener(jn_host* host, const ListenOptions& options);

  // Sets draining_ and waits, under lock, until no call is in flight, or
  // drain_deadline_ns passes; whether none is. From one of the listener's
  // handlers: until only the calls of the handlers waiting so are; whether
  // no other call is left, queued ones included.
  bool wait_for_calls(std::unique_lock<std::mutex>& lock, std::int64_t drain_deadline_ns);
  // Whether this thread is running one of this listener's handlers.
  [[nodiscard]] bool running_own_handler() const noexcept;

  // A request read and resolved, ready to run: its connection's routing
  // id, its payload, its method (held), its deadline, and the cancel its
  // client's cancel message signals, listed under its call id in backlog
  // while it waits and runs. Going, it frees what it still holds.
  class ReadyCall {
   public:
    ReadyCall(zmq::message_t routing_id, zmq::message_t payload,
              std::shared_ptr<AnswerBacklog> backlog, std::uint64_t call_id, jn_method* method,
              std::int64_t deadline_ns) noexcept;
    ReadyCall(ReadyCall&& other) noexcept;
    ReadyCall(const ReadyCall&) = delete;
    ReadyCall& operator=(const ReadyCall&) = delete;
    ReadyCall& operator=(ReadyCall&&) = delete;
    ~ReadyCall() { let_go(); }

    // Whether its caller cancelled it or its deadline has passed: running
    // it now answers it so without its handler running (jn_call_cancellable
    // checks both, and neither can become false again).
    [[nodiscard]] bool given_up() const noexcept {
      return jn_cancel_signalled(cancel_) != 0 ||
             (deadline_ns_ != JN_NO_DEADLINE && jn_now_ns() >= deadline_ns_);
    }

   private:
    friend class Listener;
    // Frees the method, takes the call off its backlog's list and frees
    // the cancel (no signal reaches it once off the list); idempotent.
    void let_go() noexcept;

    zmq::message_t routing_id_;
    zmq::message_t payload_;
    std::shared_ptr<AnswerBacklog> backlog_;
    std::uint64_t call_id_;
    jn_method* method_;
    std::int64_t deadline_ns_;
    jn_cancel* cancel_ = nullptr;
    bool listed_ = false;
  };

  // What a pool thread does next.
  enum class Role { receive, stand_by, stop };

  // Under mutex_. Throws std::system_error when no thread can be started.
  void start_thread();
  Role next_role(std::unique_lock<std::mutex>& lock);
  void serve_loop();
  // Receives and serves calls while this thread holds the receiving role.
  void receive_loop(std::unique_lock<std::mutex>& lock, std::vector<zmq::message_t>& frames);
  // Sleeps on the takeover timer; takes the role from a receiver stuck in a
  // handler. Returns whether this thread now receives.
  bool stand_by(std::unique_lock<std::mutex>& lock);
  // Under mutex_. Arms the takeover timer to fire once at at_ns (jn_now_ns's
  // clock; a time passed fires at once) and records it in takeover_due_ns_.
  void arm_takeover_timer(std::int64_t at_ns) noexcept;
  // Under mutex_. Whether the receiver hands a queued call's successors to
  // a waiting thread: calls have been slow enough to pay for its wake-up.
  [[nodiscard]] bool may_hand_over() const noexcept;
  // Whether the receiver may wait inside libzmq: a tcp or ipc listener has
  // a context of its own, where its ROUTER binds the wake address too (an
  // inproc listener shares the process's context, where a fixed name could
  // clash with a user's).
  [[nodiscard]] bool can_block_in_libzmq() const noexcept { return context_ != nullptr; }
  // Sends the message that ends a receive blocked in libzmq; returns the
  // socket it sent with, to be closed after the listener's socket.
  std::optional<zmq::socket_t> wake_blocked_receiver() noexcept;
  // Reads and runs the message frames hold (read_call, then run).
  void handle(std::vector<zmq::message_t>& frames, std::size_t frame_count,
              std::uint64_t taken_number);
  // Reads a message received (its frames are taken; read_order_ numbered
  // it taken_number): a request to serve becomes a ReadyCall, listed as
  // running; anything else (a cancel, a message it cannot read, a call it
  // refuses) it deals with here, answering where an answer is due.
  std::optional<ReadyCall> read_call(std::vector<zmq::message_t>& frames, std::size_t frame_count,
                                     std::uint64_t taken_number);
  // Runs call, lets it go, and answers it.
  void run(ReadyCall& call);
  // Under mutex_, holding a slot whose call has ended: runs the queued
  // calls until none is left (waiting while the queue reader holds a
  // message it may queue), then returns with the lock held.
  void run_queued(std::unique_lock<std::mutex>& lock);
  // Under mutex_: whether the queue reader reads now (every slot is taken
  // and the queue has room).
  [[nodiscard]] bool queue_reader_reads() const noexcept;
  // Under mutex_: starts the queue reader if it has not been; without a
  // thread to give, the listener stops reading until a call ends.
  void start_queue_reader() noexcept;
  void queue_reader_loop();
  void stop_using_host() noexcept;
  // The backlog of the connection routing_id names, made at its first call
  // (header: that call's header frame), when an ipc listener also raises
  // the connection's send buffer, which carries its answers.
  std::shared_ptr<AnswerBacklog> backlog_of(const zmq::message_t& routing_id,
                                            const zmq::message_t& header);
  // Sends an answer, counted in backlog until libzmq has written it out.
  // outcome (may be NULL) is what the host gave back: its response is the
  // payload, and it is released before the answer is sent, so a caller
  // holding its answer finds nothing of its call left here but the header
  // frame and a payload over kCopyMax, which libzmq releases once sent.
  void answer(zmq::message_t& routing_id, const std::shared_ptr<AnswerBacklog>& backlog,
              std::uint64_t call_id, std::int32_t code, std::string_view message,
              jn_result* outcome);

  jn_host* const host_;
  const ListenOptions options_;
  const std::unordered_set<std::string> allowed_;
  std::string url_;
  // A tcp or ipc listener's own context: terminating it on close waits for
  // the last answers to leave, before the process may exit. (inproc
  // listeners share the process's context with their callers.)
  std::unique_ptr<zmq::context_t> context_;
  // A CURVE listener's, in context_: stopped before the context closes,
  // kept while the listener is, for the calls that ask it.
  std::unique_ptr<CurveClientGate> client_gate_;
  std::string inproc_name_;  // the zmq+inproc name bound, if any
  std::string ipc_path_;     // the socket file of a zmq+ipc listener
  std::unique_ptr<SharedSocket> socket_;

  std::atomic<bool> draining_{false};
  // Calls between the draining check and holding their own method handle:
  // the only time a call reads host_, so close waits for them (briefly: no
  // handler runs there) even when the drain deadline has passed, and the
  // host may be freed once close returns.
  std::atomic<std::uint32_t> using_host_{0};
  std::atomic<bool> stopping_{false};
  int takeover_timer_ = -1;  // timerfd the standby sleeps on

  // fill_stats' counts.
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> answers_{0};
  std::atomic<std::uint64_t> refused_unread_{0};
  std::atomic<std::uint64_t> dropped_unread_{0};
  std::atomic<std::uint64_t> unreadable_{0};
  std::atomic<std::uint64_t> refused_too_large_{0};
  std::atomic<std::uint64_t> refused_client_key_{0};
  std::atomic<std::uint64_t> answered_unrun_{0};

  ReadOrder read_order_;  // numbered under mutex_

  std::mutex backlogs_mutex_;  // guards backlogs_ and backlogs_kept_
  // By routing id. Entries nothing else holds and with nothing unwritten
  // are dropped once the map has doubled since the last such sweep.
  std::unordered_map<std::string, std::shared_ptr<AnswerBacklog>> backlogs_;
  std::size_t backlogs_kept_ = 0;  // entries left by the last sweep

  mutable std::mutex mutex_;           // guards what follows
  std::condition_variable role_free_;  // for threads waiting for a role
  std::condition_variable changed_;    // calls or threads ended, for close
  bool receiver_present_ = false;
  bool receiver_in_handler_ = false;
  // When the receiver's handler started, while receiver_in_handler_.
  std::int64_t handler_started_ns_ = 0;
  // When the takeover timer is due; 0: it may be disarmed (the next handler
  // started arms it).
  std::int64_t takeover_due_ns_ = 0;
  std::uint64_t receiver_epoch_ = 0;  // bumped when the role is taken over
  bool standby_present_ = false;
  std::uint32_t waiting_threads_ = 0;  // waiting for a role
  std::uint32_t threads_ = 0;          // running pool threads
  std::uint32_t in_flight_ = 0;        // calls being handled
  // Handlers of this listener waiting in its drain or close for the other
  // calls: their own are not waited for.
  std::uint32_t handler_waiters_ = 0;
  // The receiver waits inside libzmq: close waits for it to answer what it
  // takes there.
  bool receiving_in_libzmq_ = false;
  // How long handling a call (handler and answer) has taken: a moving
  // average in which each call weighs 1/8.
  std::int64_t call_ns_average_ = 0;
  // Calls the queue reader read while every slot was taken, oldest first:
  // at most max_in_flight, and only while in_flight_ == max_in_flight (a
  // slot is given up only with the queue empty and no message in hand).
  std::deque<ReadyCall> queued_;
  // What close swaps queued_ with: made with the listener, as a deque
  // allocates even empty, so that close allocates nothing there.
  std::deque<ReadyCall> dropped_at_close_;
  bool queue_reader_started_ = false;
  bool queue_reader_running_ = false;
  // The queue reader has taken a message it may queue: a pool thread
  // whose call ends waits for it before it gives its slot up.
  bool queue_reader_in_hand_ = false;
  // Queue changes, in-hand messages and full slots, for the queue reader
  // and the pool threads waiting on it.
  std::condition_variable queue_changed_;
};

}  // namespace junction::zmq_transport
