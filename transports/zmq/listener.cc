#include "listener.hh"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <utility>
#include <wire/frame.hh>

#include "cancel.hh"
#include "endpoint.hh"
#include "inproc.hh"
#include "internal.hh"
#include "thread_local_scope.hh"
#include "thread_slice.hh"

namespace junction::zmq_transport {
namespace {

// Responses up to this size are copied into their frame (cheaper than a
// second allocation for the frame's bookkeeping); larger ones are sent from
// the handler's buffer, released when libzmq is done with it.
constexpr std::size_t kCopyMax = 4096;
// How long a closing listener's socket keeps flushing answers already sent.
constexpr int kCloseLingerMs = 1000;
// The takeover tick: a handler still running a whole tick after it
// started lets the standby take over receiving.
constexpr std::int64_t kTakeoverTickNs = 500'000;
// When calls queue, the receiver hands its role to a waiting thread (a
// wake-up, a context switch on each side) only while calls have been taking
// this long on average. A quicker call costs less than the hand-over,
// whatever its size (echoing 64 KiB takes a few microseconds), so the
// receiver runs it and takes the next one itself.
constexpr std::int64_t kHandOverNs = 50'000;
// Where a tcp or ipc listener's ROUTER is bound besides its URL, in the
// listener's own context (so the name is its alone): close connects here to
// end a receive blocked in libzmq.
constexpr const char* kWakeAddress = "inproc://junction-listener-wake";

// Refusals are answers too. A client that leaves this many times
// max_unread_answers unread reads nothing: its further calls are dropped
// unanswered, so that it cannot make the listener hold more (each refusal
// is a few hundred bytes).
constexpr std::uint64_t kUnreadAnswersDropFactor = 4;

// An answer's header frame as libzmq holds it (its bytes follow the
// object, in the same allocation), counted in its connection's backlog
// from make to release_sent_header, libzmq's release of the frame.
class SentHeader {
 public:
  static SentHeader* make(std::span<const std::uint8_t> header, std::uint64_t payload_len,
                          std::shared_ptr<AnswerBacklog> backlog) {
    void* memory = ::operator new(sizeof(SentHeader) + header.size());
    auto* sent = new (memory) SentHeader(std::move(backlog), header.size() + payload_len);
    std::memcpy(sent->data(), header.data(), header.size());
    sent->backlog_->answers.fetch_add(1, std::memory_order_relaxed);
    sent->backlog_->bytes.fetch_add(sent->bytes_, std::memory_order_relaxed);
    return sent;
  }

  std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }

  static void release(SentHeader* sent) noexcept {
    sent->backlog_->answers.fetch_sub(1, std::memory_order_relaxed);
    sent->backlog_->bytes.fetch_sub(sent->bytes_, std::memory_order_relaxed);
    sent->~SentHeader();
    ::operator delete(sent);
  }

 private:
  SentHeader(std::shared_ptr<AnswerBacklog> backlog, std::uint64_t bytes)
      : backlog_(std::move(backlog)), bytes_(bytes) {}

  std::shared_ptr<AnswerBacklog> backlog_;
  std::uint64_t bytes_;
};

void release_sent_header(void* /*data*/, void* hint) {
  tsan_take_over(hint);  // on libzmq's I/O thread, after the send
  SentHeader::release(static_cast<SentHeader*>(hint));
}

// Why a connection with this backlog may not start another call, if it may
// not.
std::optional<std::string> backlog_full(const AnswerBacklog& backlog,
                                        const ListenOptions& options) {
  const std::uint64_t answers = backlog.answers.load(std::memory_order_relaxed);
  const std::uint64_t bytes = backlog.bytes.load(std::memory_order_relaxed);
  if (answers < options.max_unread_answers && bytes < options.max_unread_answer_bytes) {
    return std::nullopt;
  }
  return std::to_string(answers) + " answers (" + std::to_string(bytes) +
         " bytes) on this connection are waiting to be read; up to " +
         std::to_string(options.max_unread_answers) + " answers and " +
         std::to_string(options.max_unread_answer_bytes) + " bytes may wait";
}

std::span<const std::uint8_t> bytes_of(const zmq::message_t& frame) {
  return {static_cast<const std::uint8_t*>(frame.data()), frame.size()};
}

void release_sent_buffer(void* /*data*/, void* hint) {
  tsan_take_over(hint);  // on libzmq's I/O thread, after the send
  auto* buffer = static_cast<jn_buffer*>(hint);
  jn_buffer_release(buffer);
  delete buffer;
}

std::string_view message_of(const jn_status& status) {
  return {reinterpret_cast<const char*>(status.message.data), status.message.len};
}

// Whether a process accepts connections on the Unix socket at path. libzmq
// replaces the file of a socket it binds, which would silently take the
// path from a live listener; a file nobody accepts on is stale (its
// process died) and may be replaced.
bool ipc_path_in_use(const std::string& path) {
  const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) {
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  const bool accepted =
      connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(probe);
  return accepted;
}

// options with threads in 1..max_in_flight: every pool thread may be in a
// call at once, so a larger pool would serve more than max_in_flight. A
// backlog bound of 0 would refuse every call; 1 is the least.
ListenOptions normalised(ListenOptions options) {
  options.max_in_flight = std::max<std::uint32_t>(1, options.max_in_flight);
  options.threads = std::clamp<std::uint32_t>(options.threads, 1, options.max_in_flight);
  options.max_unread_answers =
      std::clamp<std::uint64_t>(options.max_unread_answers, 1, JN_MAX_UNREAD_ANSWERS);
  options.max_unread_answer_bytes = std::max<std::uint64_t>(1, options.max_unread_answer_bytes);
  return options;
}

}  // namespace

Listener::Listener(jn_host* host, const ListenOptions& options)
    : host_(host),
      options_(normalised(options)),
      allowed_(options.services.begin(), options.services.end()) {}

std::shared_ptr<Listener> Listener::start(jn_host* host, std::string_view url,
                                          const ListenOptions& options) {
  std::string error;
  const std::optional<Endpoint> endpoint = parse_url(url, /*for_bind=*/true, error);
  if (!endpoint) {
    throw std::invalid_argument(error);
  }
  if (!endpoint->ipc_path.empty()) {
    // libzmq unlinks whatever is at the path before it binds: only a socket
    // file (a stale one, below) may go, never a file or directory of the
    // user's.
    struct stat found {};
    if (lstat(endpoint->ipc_path.c_str(), &found) == 0 && !S_ISSOCK(found.st_mode)) {
      throw std::system_error(EEXIST, std::generic_category(),
                              endpoint->ipc_path + " is there and is not a socket");
    }
    if (ipc_path_in_use(endpoint->ipc_path)) {
      throw std::system_error(EADDRINUSE, std::generic_category(),
                              "a process is listening on " + endpoint->ipc_path);
    }
  }
  if (!options.curve_secret_key.empty() && endpoint->inproc) {
    throw std::invalid_argument("CURVE secures tcp and ipc; a zmq+inproc listener (" +
                                std::string(url) + ") stays in its process");
  }
  std::shared_ptr<Listener> listener(new Listener(host, options));
  listener->ipc_path_ = endpoint->ipc_path;
  if (!endpoint->inproc) {
    listener->context_ = std::make_unique<zmq::context_t>(1);
  }
  if (!options.curve_secret_key.empty()) {
    // Before the socket binds, so that no client is let in unasked.
    listener->client_gate_ =
        std::make_unique<CurveClientGate>(*listener->context_, options.curve_client_keys);
  }
  zmq::socket_t router(endpoint->inproc ? shared_context() : *listener->context_,
                       zmq::socket_type::router);
  router.set(zmq::sockopt::linger, kCloseLingerMs);
  // No send high-water mark: a ROUTER drops what a connection's queue has
  // no room for, unannounced. Each connection's backlog is bounded by
  // refusing its calls instead (AnswerBacklog).
  router.set(zmq::sockopt::sndhwm, 0);
  set_common_options(router, *endpoint, options.max_payload_bytes);
  // No heartbeats of its own (its clients send theirs, which libzmq
  // answers): their timer makes every wait of the I/O thread a timed one,
  // 1.6 to 2.4 us a call on the benchmark machine (bench/results/
  // zmq-history.md), and a listener waits for nothing from a silent client.
  // The connections of clients whose host vanished are reaped by TCP
  // keepalive instead (a minute of silence: probes after 30 s, six of them
  // 5 s apart); a client process that dies closes its connections itself.
  router.set(zmq::sockopt::tcp_keepalive, 1);
  router.set(zmq::sockopt::tcp_keepalive_idle, 30);
  router.set(zmq::sockopt::tcp_keepalive_intvl, 5);
  router.set(zmq::sockopt::tcp_keepalive_cnt, 6);
  if (!options.curve_secret_key.empty()) {
    router.set(zmq::sockopt::curve_server, 1);
    router.set(zmq::sockopt::curve_secretkey, options.curve_secret_key);
  }
  listener->socket_ = std::make_unique<SharedSocket>(std::move(router));
  listener->takeover_timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (listener->takeover_timer_ < 0) {
    throw std::system_error(errno, std::generic_category(), "timerfd_create");
  }
  listener->socket_->locked([&](zmq::socket_t& socket) {
    retry_interrupted_or_throw(
        [&] { return zmq_bind(socket.handle(), endpoint->zmq_address.c_str()); });
    listener->url_ = url_of(socket.get(zmq::sockopt::last_endpoint));
    if (listener->can_block_in_libzmq()) {
      retry_interrupted_or_throw([&] { return zmq_bind(socket.handle(), kWakeAddress); });
    }
  });
  // From here a failure closes the listener, which unbinds what was bound
  // and stops the threads already started.
  try {
    if (endpoint->inproc) {
      listener->inproc_name_ = endpoint->zmq_address;
      inproc_bind(listener->inproc_name_);
    }
    std::lock_guard lock(listener->mutex_);
    for (std::uint32_t i = 0; i < listener->options_.threads; ++i) {
      listener->start_thread();
    }
  } catch (...) {
    listener->close(JN_NO_DEADLINE);  // waits for any call taken meanwhile
    throw;
  }
  return listener;
}

Listener::~Listener() {
  if (takeover_timer_ >= 0) {
    ::close(takeover_timer_);
  }
}

void Listener::start_thread() {
  // Each thread holds the listener alive until it ends.
  std::thread([self = shared_from_this()] { self->serve_loop(); }).detach();
  ++threads_;
}

void Listener::arm_takeover_timer(std::int64_t at_ns) noexcept {
  takeover_due_ns_ = at_ns;
  const itimerspec spec{.it_interval = {},
                        .it_value = {static_cast<time_t>(at_ns / 1'000'000'000),
                                     static_cast<long>(at_ns % 1'000'000'000)}};
  timerfd_settime(takeover_timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

bool Listener::may_hand_over() const noexcept {
  return waiting_threads_ > 0 && call_ns_average_ >= kHandOverNs;
}

bool Listener::wait_for_calls(std::unique_lock<std::mutex>& lock, std::int64_t drain_deadline_ns) {
  draining_.store(true);
  const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds(drain_deadline_ns)};
  if (!running_own_handler()) {
    // With no call in flight none is queued either (a slot is given up only
    // with the queue empty).
    return changed_.wait_until(lock, deadline, [this] { return in_flight_ == 0; });
  }
  // From one of the listener's handlers: the calls of the handlers waiting
  // here, this one among them, end only after their waits, so the others
  // are waited for. Calls queued behind those handlers' slots cannot run
  // before the handlers return: they are not answered.
  ++handler_waiters_;
  changed_.notify_all();  // the other handlers waiting here wait for one call fewer
  const bool others_ended =
      changed_.wait_until(lock, deadline, [this] { return in_flight_ == handler_waiters_; });
  --handler_waiters_;
  return others_ended && queued_.empty() && !queue_reader_in_hand_;
}

bool Listener::drain(std::int64_t drain_deadline_ns) {
  std::unique_lock lock(mutex_);
  return wait_for_calls(lock, drain_deadline_ns);
}

bool Listener::close(std::int64_t drain_deadline_ns) {
  std::unique_lock lock(mutex_);
  // Stopping under the same lock, so no call is taken between the wait and
  // the stop.
  const bool drained = wait_for_calls(lock, drain_deadline_ns);
  stopping_.store(true);
  role_free_.notify_all();
  queue_changed_.notify_all();
  arm_takeover_timer(1);  // long past: wakes the standby, which stops
  // Calls queued behind handlers the drain did not wait for are dropped
  // unanswered, as are those still unread: their callers see the
  // connection close or their deadlines.
  dropped_at_close_.swap(queued_);  // made at the start: swapping allocates nothing
  lock.unlock();
  dropped_at_close_.clear();
  // Open until the listener's socket is closed, so its message is not
  // dropped before the receiver takes it.
  std::optional<zmq::socket_t> waker = wake_blocked_receiver();
  // A receiver that took a call inside libzmq as the listener stopped
  // answers it on the socket, still open until then.
  lock.lock();
  changed_.wait(lock, [this] { return !receiving_in_libzmq_; });
  lock.unlock();
  // draining_ is set, so no call starts using the host after these.
  for (std::uint32_t using_host = using_host_.load(); using_host != 0;
       using_host = using_host_.load()) {
    using_host_.wait(using_host);
  }
  if (!inproc_name_.empty()) {
    // libzmq frees an inproc name only when its reaper gets to the closed
    // socket; unbinding frees it now, so the name can be bound again at once.
    // A failure leaves it to closing the socket below, which frees the name
    // all the same.
    socket_->locked([this](zmq::socket_t& socket) {
      retry_interrupted([&] { return zmq_unbind(socket.handle(), inproc_name_.c_str()); });
    });
  }
  socket_->close(drained ? kCloseLingerMs : 0);
  waker.reset();  // before the context, whose closing waits for its sockets
  if (client_gate_) {
    client_gate_->stop();  // kept for the calls that may still ask it
  }
  if (context_) {
    context_->close();  // returns once the answers sent are out (or the linger ends)
  }
  if (!inproc_name_.empty()) {
    inproc_unbind(inproc_name_);  // its routes fail their waiting calls
  }
  // Threads still running a handler after a cut-short drain finish on their
  // own (answers to the closed socket are dropped), each holding the
  // listener alive; the others end now.
  // A close from one of the listener's handlers leaves its own thread
  // running, like those of a cut-short drain.
  lock.lock();
  if (drained && !running_own_handler()) {
    changed_.wait(lock, [this] { return threads_ == 0 && !queue_reader_running_; });
  }
  return drained;
}

std::optional<zmq::socket_t> Listener::wake_blocked_receiver() noexcept {
  if (!can_block_in_libzmq()) {
    return std::nullopt;
  }
  try {
    zmq::socket_t waker(*context_, zmq::socket_type::dealer);
    waker.set(zmq::sockopt::linger, 0);
    retry_interrupted_or_throw([&] { return zmq_connect(waker.handle(), kWakeAddress); });
    if (send_wake_message(waker) < 0) {
      throw zmq::error_t();
    }
    return waker;
  } catch (...) {
    // No socket to send with: shutting the context down ends the receive
    // (and every later use of the socket) instead.
    context_->shutdown();
    return std::nullopt;
  }
}

void Listener::serve_loop() {
  detail::name_and_ask_slice("jn-listener", options_.thread_slice_ns);
  std::vector<zmq::message_t> frames;
  std::unique_lock lock(mutex_);
  for (;;) {
    const Role role = next_role(lock);
    if (role == Role::stop) {
      break;
    }
    if (role == Role::stand_by && !stand_by(lock)) {
      continue;
    }
    receive_loop(lock, frames);
    if (threads_ > options_.threads && waiting_threads_ > 0) {
      break;  // enough others are free: this one was extra
    }
  }
  --threads_;
  changed_.notify_all();
}

Listener::Role Listener::next_role(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    if (stopping_.load()) {
      return Role::stop;
    }
    if (!receiver_present_) {
      receiver_present_ = true;
      receiver_in_handler_ = false;
      return Role::receive;
    }
    if (!standby_present_) {
      standby_present_ = true;
      return Role::stand_by;
    }
    ++waiting_threads_;
    role_free_.wait(lock);
    --waiting_threads_;
  }
}

bool Listener::stand_by(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    lock.unlock();
    pollfd timer{takeover_timer_, POLLIN, 0};
    if (ppoll(&timer, 1, nullptr, nullptr) > 0) {
      std::uint64_t expirations = 0;
      static_cast<void>(read(takeover_timer_, &expirations, sizeof(expirations)));
    }
    lock.lock();
    if (stopping_.load()) {
      standby_present_ = false;
      return false;
    }
    if (!receiver_present_ || !receiver_in_handler_) {
      // Nothing to take over: the next handler started arms the timer.
      takeover_due_ns_ = 0;
      continue;
    }
    const std::int64_t due_ns = handler_started_ns_ + kTakeoverTickNs;
    if (jn_now_ns() < due_ns) {
      // A handler started since the timer was armed: its own tick.
      arm_takeover_timer(due_ns);
      continue;
    }
    // The receiver has been in one handler for a whole tick: this thread
    // receives now, and the receiver finds the role gone when its handler
    // returns.
    ++receiver_epoch_;
    receiver_in_handler_ = false;
    takeover_due_ns_ = 0;
    standby_present_ = false;
    role_free_.notify_one();  // a waiting thread stands by instead
    return true;
  }
}

void Listener::receive_loop(std::unique_lock<std::mutex>& lock,
                            std::vector<zmq::message_t>& frames) {
  const std::uint64_t epoch = receiver_epoch_;
  // Whether to look for the next call before waiting: only while calls
  // are found queued without waiting (each look that finds none costs
  // libzmq system calls, and a wait looks first anyway).
  bool look_first = false;
  for (;;) {
    std::size_t frame_count = 0;
    bool queued = true;  // the call was waiting when this thread looked
    for (;;) {
      // With no call in flight no other thread needs the socket before this
      // one takes a call, so a tcp or ipc listener's receiver waits inside
      // libzmq holding it (close ends the wait with a message to
      // kWakeAddress): half the system calls of waiting on its descriptor,
      // which leaves it free for other threads' answers. A receiver that
      // may hand its next call over waits on the descriptor all the same,
      // which tells whether the call was queued.
      const bool block =
          !look_first && in_flight_ == 0 && can_block_in_libzmq() && !may_hand_over();
      if (!look_first) {
        receiving_in_libzmq_ = block;
        lock.unlock();
        if (block) {
          frame_count = socket_->receive_blocking(frames, 4, JN_NO_DEADLINE);
          queued = false;
        } else {
          queued = socket_->wait(JN_NO_DEADLINE);
        }
        lock.lock();
      }
      if (stopping_.load()) {
        receiver_present_ = false;
        if (block && frame_count != 0) {
          // Taken inside libzmq as the listener stopped (close's wake, or a
          // call): a call is answered UNAVAILABLE, the listener being
          // closed, before close closes the socket; close waits for it.
          const std::uint64_t taken_number = read_order_.taken();
          lock.unlock();
          try {
            handle(frames, frame_count, taken_number);
          } catch (...) {
            // Out of memory: as any call dropped at the stop.
          }
          frames.clear();
          lock.lock();
        }
        receiving_in_libzmq_ = false;
        changed_.notify_all();
        return;
      }
      receiving_in_libzmq_ = false;
      // Counted under the lock (and, waiting on the descriptor, taken under
      // it), so a closing listener's drain either sees the call in flight or
      // stops before it is counted. A call taken but not counted is dropped
      // at the stop, as are those still queued.
      if (!block) {
        frame_count = socket_->try_receive(frames, 4);
      }
      look_first = frame_count != 0 && queued;
      if (frame_count != 0) {
        break;
      }
    }
    const std::uint64_t taken_number = read_order_.taken();
    if (++in_flight_ == options_.max_in_flight) {
      start_queue_reader();
      queue_changed_.notify_all();
    }
    const std::int64_t start_ns = jn_now_ns();
    // Calls are queueing and worth serving side by side (recent calls have
    // been slow): a waiting thread receives the next ones while this one
    // runs the handler. Otherwise this thread keeps the role.
    const bool hand_over = queued && may_hand_over();
    if (hand_over) {
      receiver_present_ = false;
      role_free_.notify_one();
    } else {
      receiver_in_handler_ = true;
      handler_started_ns_ = start_ns;
      // The timer is kept due between one and two ticks after this start,
      // armed again only when due sooner: while short calls keep coming it
      // is pushed on at most once a tick and never fires, so the standby
      // sleeps (woken every tick, it made about one call in ten some 20 us
      // slower with one caller, pinned to one CPU).
      if (takeover_due_ns_ == 0 || takeover_due_ns_ - start_ns < kTakeoverTickNs) {
        arm_takeover_timer(start_ns + 2 * kTakeoverTickNs);
      }
      if (!standby_present_ && waiting_threads_ == 0 && threads_ < options_.max_in_flight) {
        try {
          start_thread();  // it stands by
        } catch (...) {
          // The system has no thread to give: the calls behind this one wait
          // for a pool thread to be free, as they would at max_in_flight.
        }
      }
    }
    lock.unlock();
    try {
      handle(frames, frame_count, taken_number);
    } catch (...) {
      // Out of memory while reading or answering: the call is dropped and
      // its caller sees its deadline or the connection.
    }
    // Closed now, not at the next receive: a zmq+inproc request is the
    // caller's own buffer, lent, which it releases once closed here.
    frames.clear();
    const std::int64_t call_ns = jn_now_ns() - start_ns;
    lock.lock();
    call_ns_average_ += (call_ns - call_ns_average_) / 8;
    run_queued(lock);
    if (--in_flight_ <= handler_waiters_) {
      changed_.notify_all();
    }
    if (hand_over || receiver_epoch_ != epoch) {
      return;  // no longer the receiver
    }
    receiver_in_handler_ = false;
  }
}

void Listener::handle(std::vector<zmq::message_t>& frames, std::size_t frame_count,
                      std::uint64_t taken_number) {
  if (std::optional<ReadyCall> call = read_call(frames, frame_count, taken_number)) {
    run(*call);
  }
}

std::optional<Listener::ReadyCall> Listener::read_call(std::vector<zmq::message_t>& frames,
                                                       std::size_t frame_count,
                                                       std::uint64_t taken_number) {
  struct ReadOnReturn {
    ReadOrder& order;
    std::uint64_t number;
    ~ReadOnReturn() { order.read(number); }
  } const read_on_return{read_order_, taken_number};
  // Every message but a cancel counts as a request taken, counted once it
  // is known not to be a cancel, so that the count only grows.
  if (frames.size() < 2) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    unreadable_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;  // no header frame: nothing to answer
  }
  zmq::message_t& routing_id = frames[0];
  const std::shared_ptr<AnswerBacklog> backlog = backlog_of(routing_id, frames[1]);
  const std::uint64_t payload_len = frames.size() > 2 ? frames[2].size() : 0;
  const wire::Decoded decoded = wire::decode_header(bytes_of(frames[1]), payload_len,
                                                    wire::Limits{options_.max_payload_bytes});
  const bool cancel =
      decoded.header && decoded.header->kind == wire::Kind::cancel && frame_count == 3;
  if (!cancel) {
    requests_.fetch_add(1, std::memory_order_relaxed);
  }
  // A cancel is no call and is never answered: it is read whatever the
  // client leaves unread.
  if (!cancel && backlog->answers.load(std::memory_order_relaxed) >=
                     kUnreadAnswersDropFactor * options_.max_unread_answers) {
    dropped_unread_.fetch_add(1, std::memory_order_relaxed);
    return std::nullopt;  // its client reads nothing
  }
  if (!decoded.header) {
    const bool too_large = decoded.error.code == JN_RESOURCE_EXHAUSTED && decoded.error.call_id;
    (too_large ? refused_too_large_ : unreadable_).fetch_add(1, std::memory_order_relaxed);
    if (decoded.error.call_id) {
      answer(routing_id, backlog, *decoded.error.call_id, decoded.error.code, decoded.error.message,
             nullptr);
    }
    return std::nullopt;
  }
  const wire::Header& header = *decoded.header;
  if (cancel) {
    // Not a call: neither counted as one nor answered. A call no longer
    // running (answered, or never taken) is not found.
    const auto signal_running = [&] {
      const std::lock_guard lock(backlog->running_mutex);
      const auto running = backlog->running.find(header.call_id);
      if (running == backlog->running.end()) {
        return false;
      }
      jn_cancel_signal(running->second);
      return true;
    };
    if (!signal_running()) {
      read_order_.wait_for_earlier(taken_number);
      signal_running();
    }
    return std::nullopt;
  }
  if (header.kind == wire::Kind::response) {
    unreadable_.fetch_add(1, std::memory_order_relaxed);
    answer(routing_id, backlog, header.call_id, JN_INVALID_ARGUMENT,
           "expected a request, got a response", nullptr);
    return std::nullopt;
  }
  if (frame_count != 3) {
    unreadable_.fetch_add(1, std::memory_order_relaxed);
    answer(routing_id, backlog, header.call_id, JN_INVALID_ARGUMENT,
           std::string(header.kind == wire::Kind::cancel ? "a cancel" : "a request") +
               " is 2 frames (header, payload), got " + std::to_string(frame_count - 1),
           nullptr);
    return std::nullopt;
  }
  if (client_gate_ && !client_gate_->allows(zmq_msg_gets(frames[1].handle(), "User-Id")))
      [[unlikely]] {
    refused_client_key_.fetch_add(1, std::memory_order_relaxed);
    answer(routing_id, backlog, header.call_id, JN_PERMISSION_DENIED,
           "this client's CURVE key is no longer let in at " + url_, nullptr);
    return std::nullopt;
  }
  if (std::optional<std::string> full = backlog_full(*backlog, options_)) {
    refused_unread_.fetch_add(1, std::memory_order_relaxed);
    answer(routing_id, backlog, header.call_id, JN_RESOURCE_EXHAUSTED, *full, nullptr);
    return std::nullopt;
  }
  const std::string service(header.service);
  if (!allowed_.empty() && !allowed_.contains(service)) {
    answer(routing_id, backlog, header.call_id, JN_NOT_FOUND,
           "service '" + service + "' is not served at " + url_, nullptr);
    return std::nullopt;
  }
  const std::string method_name(header.method);
  jn_method* method = nullptr;
  jn_status status{};
  // Counted before the draining check, both sequentially consistent like
  // close's store and load: either close sees this call counted or the call
  // sees draining_.
  using_host_.fetch_add(1);
  if (draining_.load()) {
    stop_using_host();
    answer(routing_id, backlog, header.call_id, JN_UNAVAILABLE,
           "the listener at " + url_ + " is closing", nullptr);
    return std::nullopt;
  }
  const std::int32_t resolved =
      jn_host_resolve(host_, service.c_str(), method_name.c_str(), &method, &status);
  stop_using_host();
  if (resolved != JN_OK) {
    jn_result refused{};
    refused.status = status;
    answer(routing_id, backlog, header.call_id, status.code, message_of(status), &refused);
    return std::nullopt;
  }
  std::int64_t deadline_ns = JN_NO_DEADLINE;
  if (header.timeout_ns != wire::kNoTimeout) {
    const std::int64_t now = jn_now_ns();
    deadline_ns = header.timeout_ns > std::numeric_limits<std::int64_t>::max() - now
                      ? JN_NO_DEADLINE - 1
                      : now + header.timeout_ns;
  }
  ReadyCall call(std::move(routing_id), std::move(frames[2]), backlog, header.call_id, method,
                 deadline_ns);
  // A cancel of its own, made as any other (not on this stack): the handler
  // may hand it to an asynchronous call, which holds it past this one.
  // Without memory for it, or for its entry, the call is served all the
  // same, not cancellable.
  if (jn_cancel_new(&call.cancel_) == JN_OK) {
    try {
      const std::lock_guard lock(backlog->running_mutex);
      // A second call under an id in flight (the client's mistake) runs
      // without one: a cancel names the first.
      call.listed_ = backlog->running.emplace(header.call_id, call.cancel_).second;
    } catch (const std::bad_alloc&) {
      // Not cancellable, but served.
    }
  }
  return call;
}

Listener::ReadyCall::ReadyCall(zmq::message_t routing_id, zmq::message_t payload,
                               std::shared_ptr<AnswerBacklog> backlog, std::uint64_t call_id,
                               jn_method* method, std::int64_t deadline_ns) noexcept
    : routing_id_(std::move(routing_id)),
      payload_(std::move(payload)),
      backlog_(std::move(backlog)),
      call_id_(call_id),
      method_(method),
      deadline_ns_(deadline_ns) {}

Listener::ReadyCall::ReadyCall(ReadyCall&& other) noexcept
    : routing_id_(std::move(other.routing_id_)),
      payload_(std::move(other.payload_)),
      backlog_(std::move(other.backlog_)),
      call_id_(other.call_id_),
      method_(std::exchange(other.method_, nullptr)),
      deadline_ns_(other.deadline_ns_),
      cancel_(std::exchange(other.cancel_, nullptr)),
      listed_(std::exchange(other.listed_, false)) {}

void Listener::ReadyCall::let_go() noexcept {
  jn_method_free(std::exchange(method_, nullptr));
  if (std::exchange(listed_, false)) {
    const std::lock_guard lock(backlog_->running_mutex);
    backlog_->running.erase(call_id_);
  }
  jn_cancel_free(std::exchange(cancel_, nullptr));
}

namespace {
// The listener whose handler this thread is running, if any.
constinit thread_local const Listener* tls_running_listener = nullptr;
}  // namespace

bool Listener::running_own_handler() const noexcept { return tls_running_listener == this; }

void Listener::run(ReadyCall& call) {
  jn_result result{};
  const detail::ThreadLocalScope<const Listener*> running(tls_running_listener, this);
  jn_call_cancellable(
      call.method_,
      jn_bytes{static_cast<const std::uint8_t*>(call.payload_.data()), call.payload_.size()},
      call.deadline_ns_, call.cancel_, nullptr, 0, &result);
  // Let go before the answer leaves, so that a caller holding its answer
  // finds nothing of its call left here.
  call.let_go();
  answer(call.routing_id_, call.backlog_, call.call_id_, result.status.code,
         message_of(result.status), &result);
}

void Listener::run_queued(std::unique_lock<std::mutex>& lock) {
  for (;;) {
    queue_changed_.wait(
        lock, [this] { return !queue_reader_in_hand_ || !queued_.empty() || stopping_.load(); });
    if (queued_.empty() || stopping_.load()) {
      return;
    }
    std::optional<ReadyCall> call(std::move(queued_.front()));
    queued_.pop_front();
    queue_changed_.notify_all();  // room in the queue
    lock.unlock();
    if (call->given_up()) {
      answered_unrun_.fetch_add(1, std::memory_order_relaxed);
    }
    try {
      run(*call);
    } catch (...) {
      // As in receive_loop: the call is dropped.
    }
    call.reset();  // its payload closed, as the frames of a call received
    lock.lock();
  }
}

bool Listener::queue_reader_reads() const noexcept {
  return in_flight_ == options_.max_in_flight && queued_.size() < options_.max_in_flight;
}

void Listener::start_queue_reader() noexcept {
  if (queue_reader_started_) {
    return;
  }
  try {
    std::thread([self = shared_from_this()] { self->queue_reader_loop(); }).detach();
    queue_reader_started_ = true;
    queue_reader_running_ = true;
  } catch (...) {
    // No thread to give: the listener reads again once a call ends; a later
    // time it is full tries again.
  }
}

void Listener::queue_reader_loop() {
  detail::name_and_ask_slice("jn-listen-queue", options_.thread_slice_ns);
  std::vector<zmq::message_t> frames;
  std::unique_lock lock(mutex_);
  for (;;) {
    queue_changed_.wait(lock, [this] { return stopping_.load() || queue_reader_reads(); });
    if (stopping_.load()) {
      break;
    }
    lock.unlock();
    socket_->wait(JN_NO_DEADLINE);
    lock.lock();
    if (stopping_.load()) {
      break;
    }
    if (!queue_reader_reads()) {
      // A slot came free meanwhile, so a pool thread receives: the wake-up
      // this thread may have taken from the socket is passed on to it.
      socket_->wake();
      continue;
    }
    // Taken under the lock, as a pool thread's, so a closing listener's
    // drain either sees the slots taken or stops before the message is read.
    const std::size_t frame_count = socket_->try_receive(frames, 4);
    if (frame_count == 0) {
      continue;
    }
    const std::uint64_t taken_number = read_order_.taken();
    queue_reader_in_hand_ = true;
    lock.unlock();
    std::optional<ReadyCall> call = [&]() -> std::optional<ReadyCall> {
      try {
        return read_call(frames, frame_count, taken_number);
      } catch (...) {
        return std::nullopt;  // out of memory while reading: the call is dropped
      }
    }();
    frames.clear();
    lock.lock();
    if (call) {
      try {
        queued_.push_back(std::move(*call));
      } catch (...) {
        // No room to queue it: the call is dropped.
      }
    }
    queue_reader_in_hand_ = false;
    queue_changed_.notify_all();
  }
  queue_reader_running_ = false;
  changed_.notify_all();
}

std::uint64_t ReadOrder::taken() noexcept {
  const std::lock_guard lock(mutex_);
  const std::uint64_t number = next_++;
  try {
    reading_.push_back(number);
  } catch (const std::bad_alloc&) {
    // Not waited for (see the declaration).
  }
  return number;
}

void ReadOrder::read(std::uint64_t number) noexcept {
  const std::lock_guard lock(mutex_);
  if (const auto found = std::find(reading_.begin(), reading_.end(), number);
      found != reading_.end()) {
    *found = reading_.back();
    reading_.pop_back();
    if (waiting_ != 0) {
      read_.notify_all();
    }
  }
}

void ReadOrder::wait_for_earlier(std::uint64_t number) {
  std::unique_lock lock(mutex_);
  ++waiting_;
  read_.wait(lock, [&] {
    return std::none_of(reading_.begin(), reading_.end(),
                        [number](std::uint64_t other) { return other < number; });
  });
  --waiting_;
}

void Listener::stop_using_host() noexcept {
  if (using_host_.fetch_sub(1) == 1) {
    using_host_.notify_all();
  }
}

std::shared_ptr<AnswerBacklog> Listener::backlog_of(const zmq::message_t& routing_id,
                                                    const zmq::message_t& header) {
  std::string id(static_cast<const char*>(routing_id.data()), routing_id.size());
  std::shared_ptr<AnswerBacklog> made;
  {
    std::lock_guard lock(backlogs_mutex_);
    const auto found = backlogs_.find(id);
    if (found != backlogs_.end()) {
      return found->second;
    }
    if (backlogs_.size() >= std::max<std::size_t>(64, 2 * backlogs_kept_)) {
      // A backlog only the map holds (no call or unwritten answer does, and
      // only under the lock does anything else take it) with nothing in it
      // is remade at its connection's next call.
      std::erase_if(backlogs_, [](const auto& entry) {
        return entry.second.use_count() == 1 &&
               entry.second->answers.load(std::memory_order_relaxed) == 0;
      });
      backlogs_kept_ = backlogs_.size();
    }
    made = backlogs_.emplace(std::move(id), std::make_shared<AnswerBacklog>()).first->second;
  }
  if (!ipc_path_.empty()) {
    // ZMQ_SRCFD, which libzmq's header lists as deprecated but 4.x keeps,
    // names the descriptor a message came on without a monitor thread.
    raise_ipc_send_buffer(zmq_msg_get(header.handle(), ZMQ_SRCFD), ipc_path_, IpcEnd::accepted);
  }
  return made;
}

void Listener::answer(zmq::message_t& routing_id, const std::shared_ptr<AnswerBacklog>& backlog,
                      std::uint64_t call_id, std::int32_t code, std::string_view message,
                      jn_result* outcome) {
  // Releases outcome on every way out: before the send, or on failure.
  std::unique_ptr<jn_result, void (*)(jn_result*)> spent(outcome, jn_result_release);
  jn_buffer* response = outcome != nullptr ? &outcome->response : nullptr;
  std::vector<std::uint8_t> header;
  const bool has_payload = code == JN_OK && response != nullptr && response->len != 0;
  const std::uint64_t payload_len = has_payload ? response->len : 0;
  if (!wire::encode_response(call_id, code, message, payload_len, header)) {
    return;  // a code outside the table cannot come from the host
  }
  zmq::message_t frames[3];
  frames[0].move(routing_id);
  SentHeader* const sent_header = SentHeader::make(header, payload_len, backlog);
  try {
    frames[1].rebuild(sent_header->data(), header.size(), release_sent_header, sent_header);
  } catch (...) {
    SentHeader::release(sent_header);
    throw;
  }
  tsan_hand_over(sent_header);  // frames[1] releases it, sent or not
  if (has_payload && payload_len <= kCopyMax) {
    frames[2].rebuild(response->data, payload_len);
  } else if (has_payload) {
    auto* sent = new jn_buffer(detail::buffer_take(*response));
    frames[2].rebuild(const_cast<std::uint8_t*>(sent->data), payload_len, release_sent_buffer,
                      sent);
    tsan_hand_over(sent);  // this thread is done with it
  }
  spent.reset();  // message was encoded into the header, the payload copied or taken
  // Counted before the send, so that a caller holding its answer finds it
  // counted.
  answers_.fetch_add(1, std::memory_order_relaxed);
  // A caller gone meanwhile makes the ROUTER drop the answer: nobody waits.
  // No other failure drops it: the ROUTER has no send high-water mark.
  if (socket_->send(frames) != 0) {
    answers_.fetch_sub(1, std::memory_order_relaxed);
  }
}

void Listener::fill_stats(jn_listener_stats& stats, StatsFields fields) const {
  stats.requests = requests_.load(std::memory_order_relaxed);
  stats.answers = answers_.load(std::memory_order_relaxed);
  stats.refused_unread = refused_unread_.load(std::memory_order_relaxed);
  stats.dropped_unread = dropped_unread_.load(std::memory_order_relaxed);
  if (fields < StatsFields::abi_1_7) {
    return;
  }
  stats.unreadable = unreadable_.load(std::memory_order_relaxed);
  stats.refused_too_large = refused_too_large_.load(std::memory_order_relaxed);
  std::size_t queued = 0;
  {
    std::lock_guard lock(mutex_);
    stats.in_flight = in_flight_;
    stats.threads = threads_;
    queued = queued_.size();
  }
  if (fields < StatsFields::abi_1_9) {
    return;
  }
  stats.refused_handshakes = client_gate_ ? client_gate_->refused_handshakes() : 0;
  stats.refused_client_key = refused_client_key_.load(std::memory_order_relaxed);
  if (fields < StatsFields::abi_1_12) {
    return;
  }
  stats.queued = queued;
  stats.answered_unrun = answered_unrun_.load(std::memory_order_relaxed);
}

}  // namespace junction::zmq_transport
