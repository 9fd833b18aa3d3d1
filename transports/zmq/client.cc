#include "client.hh"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>
#include <wire/frame.hh>

#include "cancel.hh"
#include "curve.hh"
#include "inproc.hh"
#include "internal.hh"

namespace junction::zmq_transport {
namespace {

// Responses up to this size are answered through jn_respond (into the
// caller's lent room, or one host buffer); larger ones hand the received
// frame to the caller without a copy.
constexpr std::size_t kRespondCopyMax = 4096;

// What the client's ROUTER receives: the routing id of the connection it
// came on, then a response's header and payload frames.
constexpr std::size_t kMaxFrames = 3;

// The routing id, chosen at connect, of the connection from the client's
// waker, and the prefix of those of its connections to the listener.
constexpr std::string_view kWakerId = "junction-waker";
constexpr std::string_view kListenerIdPrefix = "listener-";

// A liveness connection lost while the connection carrying calls stays up
// is given this long for the latter to go too, or for itself to come back,
// before the listener is judged silent. A listener that closes (or exits)
// closes both, and the answers it sent before that must be taken from the
// connection carrying calls before its calls fail: its own loss, which
// libzmq reports after them, fails them instead.
constexpr std::int64_t kSilenceGraceNs = 500'000'000;

constexpr int kMonitoredEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_CONNECT_RETRIED |
                                 ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_MONITOR_STOPPED;

// How long a connection libzmq gave up after a failed handshake (which it
// does not make again by itself) stays down before the client makes it
// again: libzmq's longest wait between attempts, as set below.
constexpr std::int64_t kRemakeRefusedNs = 1'000'000'000;

// options, with a key pair made for the client when it uses CURVE without
// one of its own.
ClientOptions with_curve_pair(ClientOptions options) {
  if (options.curve_server_key.empty() || !options.curve_secret_key.empty()) {
    return options;
  }
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_text{};
  std::array<char, JN_CURVE_KEY_LENGTH + 1> secret_text{};
  if (zmq_curve_keypair(public_text.data(), secret_text.data()) != 0) {
    throw zmq::error_t();
  }
  options.curve_public_key = decode_curve_key(public_text.data(), "a new public key");
  options.curve_secret_key = decode_curve_key(secret_text.data(), "a new secret key");
  return options;
}

// What both of a client's connections to the listener set: closed without
// lingering, remade every 100 ms, backing off to a second.
void set_connection_options(zmq::socket_t& socket, const Endpoint& endpoint,
                            std::uint64_t max_payload_bytes) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
  set_common_options(socket, endpoint, max_payload_bytes);
}

// Reports socket's connection events (kMonitoredEvents and extra_events)
// to the returned PAIR (in context, the socket's), through monitor_address.
// Before socket connects, so that no event is missed.
zmq::socket_t monitor_connections(zmq::socket_t& socket, zmq::context_t& context,
                                  const std::string& monitor_address, int extra_events) {
  retry_interrupted_or_throw([&] {
    return zmq_socket_monitor(socket.handle(), monitor_address.c_str(),
                              kMonitoredEvents | extra_events);
  });
  zmq::socket_t events(context, zmq::socket_type::pair);
  retry_interrupted_or_throw([&] { return zmq_connect(events.handle(), monitor_address.c_str()); });
  return events;
}

// Ends the reports of monitor_connections with ZMQ_EVENT_MONITOR_STOPPED.
void stop_monitoring(zmq::socket_t& socket) {
  retry_interrupted([&] { return zmq_socket_monitor(socket.handle(), nullptr, 0); });
}

bool is_from_waker(const zmq::message_t& routing_id) {
  return routing_id.size() == kWakerId.size() &&
         std::memcmp(routing_id.data(), kWakerId.data(), kWakerId.size()) == 0;
}

std::chrono::steady_clock::time_point time_point_of(std::int64_t ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

void release_frame(jn_buffer* buffer) {
  delete static_cast<zmq::message_t*>(buffer->private_data);
  *buffer = jn_buffer{};
}

// A response handing payload, the received frame itself, to its caller.
jn_buffer frame_response(zmq::message_t&& payload) {
  auto* frame = new zmq::message_t(std::move(payload));
  return jn_buffer{static_cast<std::uint8_t*>(frame->data()), frame->size(), release_frame, frame};
}

// Requests of asynchronous calls (which own them) this long or longer are
// lent to their payload frame rather than copied: below it a copy costs
// less than the allocation and the release on libzmq's I/O thread that
// lending takes.
constexpr std::uint64_t kLendRequestMinBytes = 4096;

// Releases a request lent to a payload frame once libzmq is done with it
// (on its I/O thread, or the receiver's for zmq+inproc).
void release_lent_request(void* /*data*/, void* lent) {
  tsan_take_over(lent);
  auto* request = static_cast<jn_buffer*>(lent);
  jn_buffer_release(request);
  delete request;
}

// Makes the payload frame of a call being sent into frame. An asynchronous
// call's request (owned: the call's buffer) is taken from the call for the
// send, so that an answer finishing the call on another thread never
// releases it under the sender: once sent it is released (copied) or the
// frame's (lent); not sent, it is given back, before the frame (made
// first, so closed after this) is closed. A synchronous call's request is
// borrowed and copied.
class RequestFrame {
 public:
  RequestFrame(jn_bytes request, jn_buffer* owned, zmq::message_t& frame) : owned_(owned) {
    if (owned_ == nullptr || request.len < kLendRequestMinBytes) {
      frame = zmq::message_t(request.data, request.len);
      if (owned_ != nullptr) {
        taken_ = detail::buffer_take(*owned_);
      }
      return;
    }
    lent_ = new jn_buffer(*owned_);
    try {
      // libzmq only reads a frame's data (a zmq+inproc receiver, junction's
      // listener, as well).
      frame = zmq::message_t(const_cast<std::uint8_t*>(lent_->data), lent_->len,
                             release_lent_request, lent_);
    } catch (...) {
      delete lent_;
      lent_ = nullptr;
      throw;
    }
    *owned_ = jn_buffer{};  // the frame's while it is sent
    tsan_hand_over(lent_);
  }
  RequestFrame(const RequestFrame&) = delete;
  RequestFrame& operator=(const RequestFrame&) = delete;
  ~RequestFrame() {
    if (sent_) {
      jn_buffer_release(&taken_);
    } else if (owned_ != nullptr) {
      // The frame's release then finds nothing left to release.
      *owned_ = lent_ != nullptr ? detail::buffer_take(*lent_) : taken_;
    }
  }

  void sent() noexcept { sent_ = true; }

 private:
  jn_buffer* const owned_;
  jn_buffer* lent_ = nullptr;  // the frame's release frees it
  jn_buffer taken_{};          // a copied request, taken from the call
  bool sent_ = false;
};

}  // namespace

struct Client::Waiter {
  explicit Waiter(Client& owner, bool is_async = false) : client(owner), async(is_async) {}
  Client& client;
  const bool async;  // an AsyncCall
  std::uint64_t id = 0;
  std::string listener_id;               // the connection it was sent to
  std::uint64_t disconnects_before = 0;  // connections lost before it saw its own up
  std::condition_variable answered;      // or asked to receive, or cancelled
  bool receiving = false;                // its caller is the receiver
  bool cancelled = false;                // its caller's cancel was signalled
  bool done = false;
  std::int32_t code = JN_OK;
  std::string message;
  zmq::message_t payload;
};

struct Client::AsyncCall : Waiter {
  AsyncCall(Client& owner, jn_completion completion_in)
      : Waiter(owner, /*is_async=*/true), completion(completion_in) {}
  const jn_completion completion;
  // Made before the call is sent, so that listing it allocates nothing.
  std::multimap<std::int64_t, AsyncCall*>::node_type deadline_node;
  std::multimap<std::int64_t, AsyncCall*>::iterator deadline_entry;  // once sent
  // Under mutex_: sent, and so the client's (in async_deadlines_); then
  // queued in async_finished_ once it has an outcome, or taken out to be
  // finished.
  bool sent = false;
  bool queued = false;
  AsyncCall* next_finished = nullptr;
  std::optional<detail::CancelWait> cancellation;  // until it is finished
};

Client::Client(std::string_view url, const ClientOptions& options)
    : url_(url), options_(with_curve_pair(options)) {
  frames_.reserve(kMaxFrames);
  std::string error;
  const std::optional<Endpoint> endpoint = parse_url(url, /*for_bind=*/false, error);
  if (!endpoint) {
    throw std::invalid_argument(error);
  }
  if (endpoint->inproc && !options_.curve_server_key.empty()) {
    throw std::invalid_argument("CURVE secures tcp and ipc; a route to " + url_ +
                                " stays in its process");
  }
  // A ROUTER, not a DEALER, so that a connection of the client's own (the
  // waker's) never carries a call: every call is addressed to the
  // listener's connection by its routing id. The listener cannot tell.
  zmq::socket_t router(shared_context(), zmq::socket_type::router);
  set_connection_options(router, *endpoint, options.max_payload_bytes);
  set_curve_options(router);
  // A call sent to a connection that is gone fails (EHOSTUNREACH) instead
  // of vanishing.
  router.set(zmq::sockopt::router_mandatory, 1);
  // ZMQ_IMMEDIATE stays off: with it libzmq discards answers received but
  // not yet read when their connection closes (a listener's last answers
  // before it exits). Calls are sent only while the connection is up
  // (link_, from the monitor) instead. No heartbeats on this connection:
  // the liveness connection has them.

  static std::atomic<std::uint64_t> client_count{0};
  const std::string client_number = std::to_string(client_count.fetch_add(1));
  const std::string waker_address = "inproc://junction-client-waker-" + client_number;
  // ZMQ_EVENT_CONNECTED names each new connection's descriptor, whose send
  // buffer an ipc route raises (monitor_loop).
  zmq::socket_t events = monitor_connections(router, shared_context(),
                                             "inproc://junction-client-monitor-" + client_number,
                                             endpoint->ipc_path.empty() ? 0 : ZMQ_EVENT_CONNECTED);
  zmq::socket_t liveness_events;
  if (endpoint->inproc) {
    liveness_ = Link::up;  // the listener is in this process: there is none
  } else {
    liveness_socket_ = zmq::socket_t(liveness_context(), zmq::socket_type::dealer);
    set_connection_options(liveness_socket_, *endpoint, options.max_payload_bytes);
    // ZMTP heartbeats every second, a connection silent for five dropped.
    // The listener's libzmq answers them whatever its own options.
    liveness_socket_.set(zmq::sockopt::heartbeat_ivl, 1000);
    liveness_socket_.set(zmq::sockopt::heartbeat_timeout, 5000);
    set_curve_options(liveness_socket_);
    liveness_events =
        monitor_connections(liveness_socket_, liveness_context(),
                            "inproc://junction-client-liveness-monitor-" + client_number, 0);
    retry_interrupted_or_throw(
        [&] { return zmq_connect(liveness_socket_.handle(), endpoint->zmq_address.c_str()); });
  }
  waker_ = zmq::socket_t(shared_context(), zmq::socket_type::dealer);
  waker_.set(zmq::sockopt::linger, 0);
  retry_interrupted_or_throw([&] { return zmq_bind(waker_.handle(), waker_address.c_str()); });
  router.set(zmq::sockopt::connect_routing_id, kWakerId);
  retry_interrupted_or_throw([&] { return zmq_connect(router.handle(), waker_address.c_str()); });
  address_ = endpoint->zmq_address;
  ipc_path_ = endpoint->ipc_path;
  inproc_ = endpoint->inproc;
  listener_id_ = connect_to_listener(router);
  socket_ = std::make_unique<SharedSocket>(std::move(router));
  monitor_ =
      std::thread(&Client::monitor_loop, this, std::move(events), std::move(liveness_events));
  if (inproc_) {
    inproc_watch_ = inproc_watch(address_, [this] { inproc_peer_gone(); });
  }
}

void Client::set_curve_options(zmq::socket_t& socket) const {
  if (options_.curve_server_key.empty()) {
    return;
  }
  socket.set(zmq::sockopt::curve_serverkey, zmq::buffer(options_.curve_server_key));
  socket.set(zmq::sockopt::curve_publickey, zmq::buffer(options_.curve_public_key));
  socket.set(zmq::sockopt::curve_secretkey, zmq::buffer(options_.curve_secret_key));
}

std::string Client::connect_to_listener(zmq::socket_t& socket) {
  std::string id = std::string(kListenerIdPrefix) + std::to_string(++listener_connects_);
  socket.set(zmq::sockopt::connect_routing_id, id);
  retry_interrupted_or_throw([&] { return zmq_connect(socket.handle(), address_.c_str()); });
  return id;
}

void Client::inproc_peer_gone() {
  std::lock_guard lock(mutex_);
  link_ = Link::down;
  ++disconnects_;
  ++connections_lost_;
  reconnect_inproc_ = true;
  wake_receiver();
}

void Client::wake_receiver() {
  socket_->wake();
  wake_receiver_in_libzmq();
}

void Client::wake_receiver_in_libzmq() {
  if (!receiving_in_libzmq_ || waker_sent_) {
    return;
  }
  // Should libzmq fail to send it, the receiver still lets go of the
  // socket when its own answer comes or its deadline passes.
  waker_sent_ = send_wake_message(waker_) >= 0;
}

bool Client::begin_receiving_in_libzmq(const Waiter* waiter) {
  std::lock_guard lock(mutex_);
  // Only the receiver's own call is in flight: no other caller needs the
  // socket until it makes a call, and that caller wakes the receiver. And
  // no wake-up came since the receiver last looked (a lost connection
  // awaiting its calls' failing, the receiver's call cancelled or, for the
  // asynchronous thread, a call finished): it may have come before the
  // receiver marked itself as waiting in libzmq, so that no wake message
  // was sent, and only the descriptor's wait sees it (a wait in libzmq
  // would last until the deadline).
  if (waiters_.size() != 1 || socket_wanted_ != 0 || disconnects_ != disconnects_failed_ ||
      receiver_done(waiter)) {
    return false;
  }
  receiving_in_libzmq_ = true;
  return true;
}

Client::SocketWanted::SocketWanted(Client& wanting) : client(wanting) {
  std::lock_guard lock(client.mutex_);
  ++client.socket_wanted_;
  client.wake_receiver_in_libzmq();
}

Client::SocketWanted::~SocketWanted() {
  std::lock_guard lock(client.mutex_);
  --client.socket_wanted_;
}

void Client::end_receiving_in_libzmq() {
  std::lock_guard lock(mutex_);
  receiving_in_libzmq_ = false;
  waker_sent_ = false;
}

Client::~Client() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;  // no asynchronous call is left: each holds the client
  }
  async_changed_.notify_all();
  if (async_thread_.joinable()) {
    if (async_thread_.get_id() == std::this_thread::get_id()) {
      // Finishing the client's last call freed it: the thread ends, touching
      // nothing of the client's.
      async_thread_gone_->store(true);
      async_thread_.detach();
    } else {
      async_thread_.join();
    }
  }
  if (inproc_) {
    inproc_unwatch(address_, inproc_watch_);
  }
  // Stopping the monitor sends MONITOR_STOPPED, which ends monitor_loop
  // (so an interrupted stop is run again: the join below waits for it).
  socket_->locked([](zmq::socket_t& socket) { stop_monitoring(socket); });
  {
    std::lock_guard lock(liveness_mutex_);
    if (liveness_socket_) {
      stop_monitoring(liveness_socket_);
    }
  }
  monitor_.join();
}

void Client::monitor_loop(zmq::socket_t events, zmq::socket_t liveness_events) {
  // When the listener is judged silent unless an event comes first; 0: not
  // due.
  std::int64_t silence_due_ns = 0;
  // When the connections libzmq gave up are to be made again (0: not due).
  std::int64_t remake_due_ns = 0;
  bool remake_calls = false;
  bool remake_liveness = false;
  // Until each monitor reports MONITOR_STOPPED (an inproc route has none
  // for liveness).
  bool calls_monitored = true;
  bool liveness_monitored = static_cast<bool>(liveness_events);
  while (calls_monitored || liveness_monitored) {
    zmq_pollitem_t items[2] = {{events.handle(), 0, ZMQ_POLLIN, 0},
                               {liveness_events.handle(), 0, ZMQ_POLLIN, 0}};
    const std::int64_t due_ns = std::min(silence_due_ns == 0 ? JN_NO_DEADLINE : silence_due_ns,
                                         remake_due_ns == 0 ? JN_NO_DEADLINE : remake_due_ns);
    const int timeout_ms = libzmq_timeout_ms(due_ns);
    // An interrupted poll is polled again; the contexts are never
    // terminated, so no other failure comes.
    if (zmq_poll(items, liveness_events ? 2 : 1, timeout_ms) < 0) {
      continue;
    }
    for (int i = 0; i < 2; ++i) {
      if ((items[i].revents & ZMQ_POLLIN) == 0) {
        continue;
      }
      const Event event = receive_event(i == 0 ? events : liveness_events);
      if (event.id == ZMQ_EVENT_MONITOR_STOPPED) {
        (i == 0 ? calls_monitored : liveness_monitored) = false;
        continue;
      }
      if (event.id == ZMQ_EVENT_CONNECTED) {
        // Only the connection carrying calls asks for it: its requests go
        // out through this buffer. Not up until its handshake.
        raise_ipc_send_buffer(static_cast<int>(event.value), ipc_path_, IpcEnd::connected);
        continue;
      }
      std::lock_guard lock(mutex_);
      if (on_handshake_failed(event)) {
        (i == 0 ? remake_calls : remake_liveness) = true;
        remake_due_ns = remake_due_ns != 0 ? remake_due_ns : jn_now_ns() + kRemakeRefusedNs;
      }
      if (i == 0) {
        on_calls_connection_event(event.id, silence_due_ns);
      } else {
        on_liveness_event(event.id, silence_due_ns);
      }
      link_changed_.notify_all();
    }
    if (remake_due_ns != 0 && jn_now_ns() >= remake_due_ns) {
      remake_refused(std::exchange(remake_calls, false), std::exchange(remake_liveness, false));
      remake_due_ns = 0;
    }
    if (silence_due_ns != 0 && jn_now_ns() >= silence_due_ns) {
      silence_due_ns = 0;
      judge_silent();
    }
    settle_unreceived_loss();
  }
}

void Client::judge_silent() {
  std::lock_guard lock(mutex_);
  if (link_ != Link::up || liveness_ == Link::up) {
    return;
  }
  // The calls in flight fail as on a lost connection; new calls fail at
  // once until the liveness connection is made again. The listener that
  // answers again may be another process, or another host, that never knew
  // the connection carrying calls: it would reset that connection at the
  // next call, failing it. That connection is dropped and made again
  // instead, and new calls wait for it.
  ++disconnects_;
  ++connections_lost_;
  drop_connection_ = true;
  silent_ = true;
  link_ = Link::connecting;
  wake_receiver();  // to fail the calls in flight
}

void Client::reconnect_to_listener() {
  {
    // Before the new connection is made, so that its handshake, which may
    // be reported before this thread takes the lock again, is what puts
    // the link up (libzmq may have made the dropped one again).
    std::lock_guard lock(mutex_);
    if (link_ == Link::up) {
      link_ = Link::connecting;
    }
  }
  const SocketWanted wanted(*this);
  std::string id = socket_->locked([this](zmq::socket_t& socket) {
    // Failing only when no longer connected: connecting is what matters.
    retry_interrupted([&] { return zmq_disconnect(socket.handle(), address_.c_str()); });
    return connect_to_listener(socket);
  });
  std::lock_guard lock(mutex_);
  const std::string dropped = std::exchange(listener_id_, std::move(id));
  for (auto& [call_id, waiter] : waiters_) {
    if (!waiter->done && waiter->listener_id == dropped) {
      fail_lost(*waiter);
    }
  }
}

void Client::drop_lost_connection() noexcept {
  try {
    reconnect_to_listener();
  } catch (...) {
    // libzmq refused to connect again (out of memory): the route has no
    // connection, and its calls find none.
  }
}

void Client::settle_unreceived_loss() noexcept {
  {
    std::lock_guard lock(mutex_);
    if (disconnects_ == disconnects_failed_ || receiving_) {
      return;  // none, or the receiver settles it before it stops
    }
    receiving_ = true;
  }
  for (;;) {
    const std::size_t frame_count = socket_->try_receive(frames_, kMaxFrames);
    if (frame_count != 0) {
      if (!is_from_waker(frames_[0])) {
        deliver(frames_, frame_count);
      }
      continue;
    }
    bool drop = false;
    {
      std::lock_guard lock(mutex_);
      if (disconnects_ == disconnects_failed_) {
        receiving_ = false;
        hand_off_receiving();
        return;
      }
      drop = settle_loss();
    }
    if (drop) {
      drop_lost_connection();
    }
  }
}

bool Client::on_handshake_failed(const Event& event) {
  const bool curve = !options_.curve_server_key.empty();
  switch (event.id) {
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
      handshake_failure_ = "the listener at " + url_ +
                           " refused this route's CURVE key (ZAP status " +
                           std::to_string(event.value) + ")";
      return true;
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      if (event.value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
        handshake_failure_ =
            curve ? "the listener at " + url_ + " does not use CURVE, and this route does"
                  : "the listener at " + url_ +
                        " uses CURVE: the route needs its public key (curve_server_key)";
      } else {
        handshake_failure_ = "the handshake with the listener at " + url_ +
                             " failed (ZMTP protocol error " + std::to_string(event.value) + ")";
      }
      return true;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
      handshake_failure_ =
          "the handshake with the listener at " + url_ + " failed" +
          (curve ? ": is the route's curve_server_key the listener's public key?" : "");
      return false;  // libzmq tries again by itself
    default:
      return false;
  }
}

void Client::remake_refused(bool calls, bool liveness) {
  if (calls) {
    reconnect_to_listener();
  }
  if (liveness) {
    std::lock_guard lock(liveness_mutex_);
    // Failing only when no longer connected: connecting is what matters.
    retry_interrupted([&] { return zmq_disconnect(liveness_socket_.handle(), address_.c_str()); });
    retry_interrupted([&] { return zmq_connect(liveness_socket_.handle(), address_.c_str()); });
  }
}

Client::Event Client::receive_event(zmq::socket_t& events) {
  zmq::message_t event;
  zmq::message_t address;
  // Each frame on its own: an event whose second frame was interrupted
  // would otherwise be lost (a missed DISCONNECTED leaves calls waiting).
  const auto receive = [&events](zmq::message_t& frame) {
    return retry_interrupted([&] { return zmq_msg_recv(frame.handle(), events.handle(), 0); });
  };
  // The first frame: the id (2 bytes), then the value (4 bytes).
  Event result;
  if (receive(event) >= 0 && event.more() && receive(address) >= 0 &&
      event.size() >= sizeof(result.id) + sizeof(result.value)) {
    std::memcpy(&result.id, event.data(), sizeof(result.id));
    std::memcpy(&result.value, event.data<char>() + sizeof(result.id), sizeof(result.value));
  }
  return result;
}

void Client::on_calls_connection_event(std::uint16_t id, std::int64_t& silence_due_ns) {
  if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
    link_ = Link::up;
    handshake_failure_.clear();
  } else if (id == ZMQ_EVENT_DISCONNECTED) {
    if (link_ == Link::up) {
      handshake_failure_.clear();  // the loss, not an old handshake, is why calls fail now
      ++connections_lost_;
      // Its queue may hold requests of calls answered at the loss, or
      // earlier at their deadline or cancel.
      drop_connection_ = true;
    }
    // The receiver fails the calls still waiting once it has taken the
    // answers that arrived before the connection went.
    link_ = Link::down;
    ++disconnects_;
    wake_receiver();
    silence_due_ns = 0;  // this loss fails the calls
    silent_ = false;     // calls fail for want of a connection now
  } else if (id != 0 && link_ != Link::up) {
    link_ = Link::down;  // a connection attempt failed
  }
}

void Client::on_liveness_event(std::uint16_t id, std::int64_t& silence_due_ns) {
  if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
    liveness_ = Link::up;
    silence_due_ns = 0;
    silent_ = false;
  } else if (id == ZMQ_EVENT_DISCONNECTED) {
    // Heartbeats unanswered for their timeout, or the listener closed.
    liveness_ = Link::down;
    if (link_ == Link::up) {
      silence_due_ns = jn_now_ns() + kSilenceGraceNs;
    }
  } else if (id != 0 && liveness_ != Link::up) {
    liveness_ = Link::down;
  }
}

bool Client::inproc_ready() {
  if (!inproc_bound(address_)) {
    return false;
  }
  {
    std::unique_lock lock(mutex_);
    // Sent before another call's reconnection ends, a call would go to the
    // listener that is gone.
    inproc_reconnected_.wait(lock, [this] { return !inproc_reconnecting_; });
    if (!std::exchange(reconnect_inproc_, false)) {
      return true;
    }
    inproc_reconnecting_ = true;
  }
  // A listener bound the name again: libzmq does not reconnect inproc.
  try {
    reconnect_to_listener();
  } catch (...) {
    end_inproc_reconnection(false);  // this call fails; the next tries again
    throw;
  }
  end_inproc_reconnection(true);
  return true;
}

void Client::end_inproc_reconnection(bool reconnected) {
  {
    std::lock_guard lock(mutex_);
    inproc_reconnecting_ = false;
    // Reconnected, it stays as it is: set, the new connection was lost
    // meanwhile.
    if (!reconnected) {
      reconnect_inproc_ = true;
    }
  }
  inproc_reconnected_.notify_all();
}

void Client::cancel_async(void* call_ptr) {
  AsyncCall& call = *static_cast<AsyncCall*>(call_ptr);
  Client& client = call.client;
  std::lock_guard lock(client.mutex_);
  call.cancelled = true;
  client.settle(call);
  client.link_changed_.notify_all();  // should it wait for the connection
  if (client.async_receiving_) {
    client.wake_receiver();
  }
}

void Client::cancel_wait(void* waiter_ptr) {
  Waiter& waiter = *static_cast<Waiter*>(waiter_ptr);
  Client& client = waiter.client;
  std::lock_guard lock(client.mutex_);
  waiter.cancelled = true;
  waiter.answered.notify_one();
  client.link_changed_.notify_all();
  if (waiter.receiving) {
    client.wake_receiver();
  }
}

void Client::abandon_sends() noexcept {
  {
    std::lock_guard lock(mutex_);
    sends_abandoned_ = true;
  }
  link_changed_.notify_all();
}

bool Client::sends_are_abandoned(jn_status& status) {
  std::lock_guard lock(mutex_);
  if (sends_abandoned_) {
    detail::status_assign(&status, JN_CANCELLED, "host is shutting down");
  }
  return sends_abandoned_;
}

bool Client::await_link(std::int64_t limit_ns, const Waiter& waiter, std::uint64_t& disconnects) {
  std::unique_lock lock(mutex_);
  const auto up = [this] { return link_ == Link::up && liveness_ == Link::up; };
  const auto settled = [&] {
    return up() || link_ == Link::down || liveness_ == Link::down || waiter.cancelled ||
           sends_abandoned_;
  };
  if (!settled()) {
    link_changed_.wait_until(lock, time_point_of(limit_ns), settled);
  }
  disconnects = disconnects_;
  return up();
}

void Client::fill_stats(jn_route_stats& stats) {
  // inproc connections report no events: a bound name is a listener there,
  // to which the next call connects again if it must.
  const bool inproc_up = inproc_ && inproc_bound(address_);
  std::lock_guard lock(mutex_);
  if (inproc_) {
    stats.state = inproc_up ? JN_ROUTE_READY : JN_ROUTE_DOWN;
  } else if (link_ == Link::up && liveness_ == Link::up && !silent_) {
    stats.state = JN_ROUTE_READY;
  } else if (link_ == Link::down || liveness_ == Link::down || silent_) {
    stats.state = JN_ROUTE_DOWN;
  } else {
    stats.state = JN_ROUTE_CONNECTING;
  }
  stats.connections_lost = connections_lost_;
  stats.in_flight = waiters_.size();
}

std::string Client::no_link_message() {
  std::lock_guard lock(mutex_);
  if (silent_) {
    return "the listener at " + url_ + " stopped answering: its heartbeats went unanswered";
  }
  return handshake_failure_.empty() ? "no connection to " + url_ : handshake_failure_;
}

bool Client::send_call(Waiter& waiter, std::string_view service, std::string_view method,
                       jn_bytes request, jn_buffer* owned, std::int64_t deadline_ns,
                       jn_result* result, bool may_wait) {
  using detail::status_assign;
  if (request.len > options_.max_payload_bytes) {
    status_assign(&result->status, JN_RESOURCE_EXHAUSTED,
                  "request of " + std::to_string(request.len) + " bytes is over the limit of " +
                      std::to_string(options_.max_payload_bytes) + " bytes for " + url_);
    return false;
  }
  // The connections lost before this call saw its connection up: any later
  // loss fails the call.
  std::uint64_t disconnects_before = 0;
  if (inproc_) {
    {
      std::lock_guard lock(mutex_);
      disconnects_before = disconnects_;
    }
    if (!inproc_ready()) {
      status_assign(&result->status, JN_UNAVAILABLE, "nothing listens on " + url_);
      return false;
    }
  }
  const std::int64_t start_ns = jn_now_ns();
  // Saturating: the connect timeout may be as large as the type allows. A
  // call that may not wait finds its limit passed: it neither waits for the
  // connection nor retries a full queue.
  const std::int64_t connect_limit_ns = !may_wait ? 0
                                        : options_.connect_timeout_ns >= deadline_ns - start_ns
                                            ? deadline_ns
                                            : start_ns + options_.connect_timeout_ns;
  if (!inproc_ && !await_link(connect_limit_ns, waiter, disconnects_before)) {
    if (sends_are_abandoned(result->status)) {
      return false;
    }
    if (detail::cancel_signalled(detail::tls_call_cancel)) {
      assign_cancelled(result->status);
      return false;
    }
    const bool deadline_passed = jn_now_ns() >= deadline_ns;
    status_assign(&result->status, deadline_passed ? JN_DEADLINE_EXCEEDED : JN_UNAVAILABLE,
                  no_link_message());
    return false;
  }

  bool cancelled = false;
  bool lost_already = false;
  {
    std::lock_guard lock(mutex_);
    // Cancelled while it waited for the connection: it sends nothing.
    cancelled = waiter.cancelled;
    // The connection it saw up was lost, and the receiver has failed that
    // connection's calls already: listed now, this one would never be.
    lost_already = disconnects_before < disconnects_failed_;
    if (!cancelled && !lost_already) {
      waiter.id = next_call_id_++;
      waiter.disconnects_before = disconnects_before;
      waiter.listener_id = listener_id_;
      waiters_.emplace(waiter.id, &waiter);
      wake_receiver_in_libzmq();  // which holds the socket this call is sent on
    }
  }
  if (cancelled) {
    assign_cancelled(result->status);
    return false;
  }
  if (lost_already) {
    status_assign(&result->status, JN_UNAVAILABLE,
                  "connection to " + url_ + " lost before the call was sent");
    return false;
  }
  Listed listed{*this, waiter};  // kept once sent

  // The time the call has left as its request leaves (docs/wire.md).
  const auto timeout_left = [deadline_ns] {
    return deadline_ns == JN_NO_DEADLINE ? wire::kNoTimeout
                                         : std::max<std::int64_t>(0, deadline_ns - jn_now_ns());
  };
  std::vector<std::uint8_t> header;
  if (!wire::encode_request(waiter.id, timeout_left(), service, method, request.len, header)) {
    status_assign(&result->status, JN_INVALID_ARGUMENT,
                  "service and method names must be 1 to 255 bytes to be routed");
    return false;
  }
  zmq::message_t frames[3] = {zmq::message_t(waiter.listener_id.data(), waiter.listener_id.size()),
                              zmq::message_t(header.data(), header.size()), zmq::message_t()};
  RequestFrame payload(request, owned, frames[2]);
  for (;;) {
    const int error = socket_->send(frames);
    if (error == 0) {
      payload.sent();
      listed.kept = true;
      return true;
    }
    bool lost = error == EHOSTUNREACH;
    if (error == EAGAIN) {
      // The connection's queue is full: room is waited for while the call
      // has no outcome (a cancel, its connection's loss, which answered it)
      // and the connection stays up.
      std::lock_guard lock(mutex_);
      if (waiter.cancelled) {
        assign_cancelled(result->status);
        return false;
      }
      if (sends_abandoned_) {
        detail::status_assign(&result->status, JN_CANCELLED, "host is shutting down");
        return false;
      }
      if (waiter.done) {
        status_assign(&result->status, waiter.code, waiter.message);
        return false;
      }
      // inproc reports no connection events: its link is never up, and a
      // listener gone fails the calls (waiter.done, above).
      lost = !inproc_ && link_ != Link::up;
    }
    if (lost) {
      status_assign(&result->status, JN_UNAVAILABLE,
                    "connection to " + url_ + " lost before the call was sent");
      return false;
    }
    if (error != EAGAIN || jn_now_ns() >= connect_limit_ns) {
      status_assign(&result->status, JN_UNAVAILABLE,
                    "cannot send to " + url_ + ": " +
                        (error == EAGAIN ? "its queue is full" : zmq_strerror(error)));
      return false;
    }
    // Give it a moment, and the request the time left after it.
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    if (deadline_ns != JN_NO_DEADLINE) {
      wire::store_request_timeout(std::span(frames[1].data<std::uint8_t>(), frames[1].size()),
                                  timeout_left());
    }
  }
}

void Client::unlist(const Waiter& waiter) {
  waiters_.erase(waiter.id);
  if (!receiving_) {
    hand_off_receiving();
  }
}

Client::Listed::~Listed() {
  if (!kept) {
    std::lock_guard lock(client.mutex_);
    client.unlist(waiter);
  }
}

void Client::assign_cancelled(jn_status& status) const noexcept {
  detail::status_assign_parts(&status, JN_CANCELLED,
                              {"call to ", url_, " cancelled by its caller"});
}

void Client::assign_no_answer_in_time(jn_status& status) const noexcept {
  detail::status_assign_parts(&status, JN_DEADLINE_EXCEEDED,
                              {"no answer from ", url_, " within the deadline"});
}

void Client::call(std::string_view service, std::string_view method, jn_bytes request,
                  std::int64_t deadline_ns, jn_result* result) noexcept {
  using detail::status_assign;
  try {
    Waiter waiter(*this);
    // Until the call returns, its caller's cancel ends its waits.
    const detail::CancelWait cancellation(detail::tls_call_cancel, cancel_wait, &waiter);
    if (!send_call(waiter, service, method, request, nullptr, deadline_ns, result,
                   /*may_wait=*/true)) {
      return;
    }
    const Listed listed{*this, waiter};  // whatever happens from here, unlisted

    std::unique_lock lock(mutex_);
    while (!waiter.done && !waiter.cancelled) {
      if (!receiving_) {
        receiving_ = true;
        waiter.receiving = true;
        lock.unlock();
        receive_until(&waiter, deadline_ns);
        lock.lock();
        waiter.receiving = false;
        receiving_ = false;
      } else if (deadline_ns == JN_NO_DEADLINE) {
        waiter.answered.wait(lock);
      } else {
        waiter.answered.wait_until(lock, time_point_of(deadline_ns));
      }
      if (!waiter.done && !waiter.cancelled && jn_now_ns() >= deadline_ns) {
        lock.unlock();
        assign_no_answer_in_time(result->status);
        return;
      }
    }
    // Read under the lock: until the call is unlisted, a receiver may
    // deliver its answer into waiter, so an unanswered (cancelled) waiter
    // is not read again.
    const bool answered = waiter.done;
    lock.unlock();
    if (!answered) {
      assign_cancelled(result->status);
      send_cancel(waiter.listener_id, waiter.id);  // its answer, should it come, is dropped
      return;
    }
    if (waiter.code != JN_OK) {
      status_assign(&result->status, waiter.code, waiter.message);
      return;
    }
    if (!waiter.message.empty()) {
      status_assign(&result->status, JN_OK, waiter.message);  // an OK's message goes on too
    }
    const std::size_t size = waiter.payload.size();
    if (size <= kRespondCopyMax) {
      if (jn_respond(result, static_cast<const std::uint8_t*>(waiter.payload.data()), size) !=
          JN_OK) {
        status_assign(&result->status, JN_RESOURCE_EXHAUSTED, "cannot allocate the response");
      }
      return;
    }
    result->response = frame_response(std::move(waiter.payload));
  } catch (...) {
    detail::report_exception(&result->status, JN_INTERNAL, {"call to ", url_, " failed"});
  }
}

bool Client::start_call(std::string_view service, std::string_view method, jn_buffer& request,
                        std::int64_t deadline_ns, jn_completion completion,
                        bool may_wait) noexcept {
  jn_result result{};
  try {
    {
      std::lock_guard lock(mutex_);
      if (!async_thread_.joinable()) {
        async_thread_gone_ = std::make_shared<std::atomic<bool>>(false);
        async_thread_ = std::thread([this, gone = async_thread_gone_] {
          detail::name_and_ask_slice("jn-route", options_.thread_slice_ns);
          async_loop(*gone);
        });
      }
    }
    auto call = std::make_unique<AsyncCall>(*this, completion);
    std::multimap<std::int64_t, AsyncCall*> staging;
    call->deadline_node = staging.extract(staging.emplace(deadline_ns, call.get()));
    // Until it is finished, the cancel of the call it serves ends it.
    call->cancellation.emplace(detail::tls_call_cancel, cancel_async, call.get());
    if (send_call(*call, service, method, jn_bytes{request.data, request.len}, &request,
                  deadline_ns, &result, may_wait)) {
      {
        std::lock_guard lock(mutex_);
        AsyncCall& sent = *call.release();  // the client's from here
        sent.sent = true;
        sent.deadline_entry = async_deadlines_.insert(std::move(sent.deadline_node));
        if (sent.done || sent.cancelled) {
          settle(sent);  // answered or cancelled while it was being sent
        }
        if (async_receiving_ && deadline_ns < async_receive_deadline_) {
          wake_receiver();  // to expire it in time
        }
      }
      // Someone is to receive its answer; notified unlocked, the thread
      // woken does not wait for the lock.
      async_changed_.notify_one();
      return true;
    }
  } catch (...) {
    detail::report_exception(&result.status, JN_INTERNAL, {"call to ", url_, " failed"});
  }
  if (!may_wait) {
    jn_result_release(&result);  // the call that may wait says why
    return false;
  }
  jn_complete(completion, &result);
  return true;
}

void Client::send_cancel(const std::string& listener_id, std::uint64_t call_id) noexcept {
  try {
    std::vector<std::uint8_t> header;
    wire::encode_cancel(call_id, header);
    zmq::message_t frames[3] = {zmq::message_t(listener_id.data(), listener_id.size()),
                                zmq::message_t(header.data(), header.size()), zmq::message_t()};
    const SocketWanted wanted(*this);
    // Best effort: a cancel that cannot be sent leaves the call to run to
    // its end there, as it would without one.
    static_cast<void>(socket_->send(frames));
  } catch (...) {
    // As above: no memory for the message.
  }
}

bool Client::settle_loss() noexcept {
  disconnects_failed_ = disconnects_;
  for (auto& [call_id, waiter] : waiters_) {
    if (!waiter->done && waiter->disconnects_before < disconnects_) {
      fail_lost(*waiter);
    }
  }
  return std::exchange(drop_connection_, false);
}

void Client::fail_lost(Waiter& waiter) noexcept {
  waiter.done = true;
  waiter.code = JN_UNAVAILABLE;
  try {
    waiter.message = "connection to " + url_ + " lost before the call was answered";
  } catch (const std::bad_alloc&) {
    waiter.message.clear();  // without memory for it, the code alone
  }
  settle(waiter);
}

void Client::hand_off_receiving() {
  for (auto& [call_id, waiter] : waiters_) {
    if (!waiter->done && !waiter->async) {
      waiter->answered.notify_one();  // it finds no receiver and becomes one
      return;
    }
  }
  if (!async_deadlines_.empty()) {
    async_changed_.notify_one();
  }
}

void Client::settle(Waiter& waiter) {
  if (!waiter.async) {
    waiter.answered.notify_one();
    return;
  }
  auto& call = static_cast<AsyncCall&>(waiter);
  if (!call.sent || call.queued) {
    return;  // its sender queues it once sent
  }
  call.queued = true;
  call.next_finished = async_finished_;
  async_finished_ = &call;
  async_changed_.notify_one();
}

bool Client::receiver_done(const Waiter* waiter) const {
  return waiter == nullptr ? async_receiver_done() : waiter->done || waiter->cancelled;
}

bool Client::async_receiver_done() const {
  // A call sent since it began receiving may have an earlier deadline: it
  // begins again, until that one.
  return stopping_ || async_finished_ != nullptr || async_deadlines_.empty() ||
         next_async_deadline() < async_receive_deadline_;
}

std::int64_t Client::next_async_deadline() const {
  return async_deadlines_.empty() ? JN_NO_DEADLINE : async_deadlines_.begin()->first;
}

void Client::async_loop(const std::atomic<bool>& gone) {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (AsyncCall* finished = take_finished_async(jn_now_ns())) {
      lock.unlock();
      while (finished != nullptr) {
        AsyncCall* next = finished->next_finished;
        finish_async(finished);
        if (gone.load()) {
          return;  // that was the client's last call, and the client is gone
        }
        finished = next;
      }
      lock.lock();
      continue;
    }
    if (!async_deadlines_.empty() && !receiving_) {
      receiving_ = true;
      async_receiving_ = true;
      async_receive_deadline_ = next_async_deadline();
      const std::int64_t deadline_ns = async_receive_deadline_;
      lock.unlock();
      receive_until(nullptr, deadline_ns);
      lock.lock();
      async_receiving_ = false;
      receiving_ = false;
      hand_off_receiving();  // a caller waiting for its answer receives next
      continue;
    }
    // Nothing to finish, and nothing to receive for or a caller receiving.
    const std::int64_t wake_ns = next_async_deadline();
    if (wake_ns == JN_NO_DEADLINE) {
      async_changed_.wait(lock);
    } else {
      async_changed_.wait_until(lock, time_point_of(wake_ns));
    }
  }
}

Client::AsyncCall* Client::take_finished_async(std::int64_t now_ns) {
  for (auto it = async_deadlines_.begin(); it != async_deadlines_.end() && it->first <= now_ns;
       ++it) {
    AsyncCall& expired = *it->second;
    if (!expired.queued) {
      expired.queued = true;
      expired.next_finished = async_finished_;
      async_finished_ = &expired;
    }
  }
  AsyncCall* const finished = std::exchange(async_finished_, nullptr);
  for (AsyncCall* call = finished; call != nullptr; call = call->next_finished) {
    waiters_.erase(call->id);
    async_deadlines_.erase(call->deadline_entry);
  }
  return finished;
}

void Client::finish_async(AsyncCall* call) {
  using detail::status_assign;
  std::unique_ptr<AsyncCall> owned(call);
  owned->cancellation.reset();  // the cancel may go with the call
  jn_result result{};
  try {
    if (!owned->done && owned->cancelled) {
      assign_cancelled(result.status);
      send_cancel(owned->listener_id, owned->id);  // its answer, should it come, is dropped
    } else if (!owned->done) {
      assign_no_answer_in_time(result.status);
    } else if (owned->code != JN_OK) {
      status_assign(&result.status, owned->code, owned->message);
    } else {
      if (!owned->message.empty()) {
        status_assign(&result.status, JN_OK, owned->message);
      }
      if (!owned->payload.empty()) {
        result.response = frame_response(std::move(owned->payload));
      }
    }
  } catch (...) {
    status_assign(&result.status, JN_RESOURCE_EXHAUSTED, "cannot hold the answer");
  }
  const jn_completion completion = owned->completion;
  owned.reset();
  // May free the client (its last call's end).
  jn_complete(completion, &result);
}

void Client::receive_until(const Waiter* waiter, std::int64_t deadline_ns) noexcept {
  // Look for input before waiting while answers are found queued without
  // waiting (each look that finds none costs libzmq system calls, and a
  // wait looks first anyway), and after a wait in libzmq that ended
  // without an answer (woken, interrupted, timed out): answers may be
  // queued all the same.
  bool look_first = false;
  for (;;) {
    std::size_t frame_count = 0;
    bool queued = true;  // found without blocking
    // Alone, the receiver waits inside libzmq holding the socket, at half
    // the system calls of waiting on its descriptor; with other calls in
    // flight it waits on the descriptor, leaving the socket to their
    // senders.
    const bool in_libzmq = !look_first && begin_receiving_in_libzmq(waiter);
    if (in_libzmq) {
      frame_count = socket_->receive_blocking(frames_, kMaxFrames, deadline_ns);
      end_receiving_in_libzmq();
      queued = false;
    } else {
      if (!look_first) {
        queued = socket_->wait(deadline_ns);
      }
      frame_count = socket_->try_receive(frames_, kMaxFrames);
    }
    const bool woken = frame_count != 0 && is_from_waker(frames_[0]);
    if (frame_count != 0 && !woken) {
      deliver(frames_, frame_count);
    }
    look_first = woken || (in_libzmq ? frame_count == 0 : frame_count != 0 && queued);
    bool drop = false;
    bool settling = false;
    {
      std::lock_guard lock(mutex_);
      // Only a look that found nothing tells that every answer that came
      // before the connection was lost has been taken.
      if (frame_count == 0 && !in_libzmq && disconnects_ != disconnects_failed_) {
        drop = settle_loss();
      }
      // A loss still to settle: its wake-up may have been consumed with the
      // message just taken (SharedSocket::wait), so the receiver looks
      // again instead of waiting, and does not stop before settling it
      // (the monitor thread settles only a loss no one receives for).
      settling = disconnects_ != disconnects_failed_;
      if (!settling && !drop && receiver_done(waiter)) {
        return;
      }
    }
    if (drop) {
      drop_lost_connection();
    }
    if (settling || drop) {
      look_first = true;
      continue;
    }
    // Checked after every pass, not only idle ones: answers for other
    // callers arriving without pause must not keep this one past its own
    // deadline.
    if (jn_now_ns() >= deadline_ns) {
      return;
    }
  }
}

void Client::deliver(std::vector<zmq::message_t>& frames, std::size_t frame_count) noexcept {
  // frames[0] is the routing id of the connection the message came on; a
  // message has at least one frame after it.
  const std::size_t message_frames = frame_count - 1;
  const std::span<const std::uint8_t> header(static_cast<const std::uint8_t*>(frames[1].data()),
                                             frames[1].size());
  const std::uint64_t payload_len = message_frames == 2 ? frames[2].size() : 0;
  const wire::Decoded decoded =
      wire::decode_header(header, payload_len, wire::Limits{options_.max_payload_bytes});
  // A response the peer had no fault in sending (its payload is over this
  // route's limit) keeps the decoder's code; any other unreadable one is a
  // fault of the peer's, INTERNAL (docs/wire.md).
  std::optional<std::uint64_t> call_id;
  bool faulty = true;  // not a readable response of two frames
  std::int32_t code = JN_INTERNAL;
  if (!decoded.header) {
    call_id = decoded.error.call_id;
    if (decoded.error.code == JN_RESOURCE_EXHAUSTED) {
      code = JN_RESOURCE_EXHAUSTED;
    }
  } else {
    call_id = decoded.header->call_id;
    faulty = decoded.header->kind != wire::Kind::response || message_frames != 2;
    if (!faulty) {
      code = decoded.header->code;
    }
  }
  if (!call_id) {
    return;  // unidentifiable: dropped (docs/wire.md)
  }
  // Made before the call is touched: without memory for it, the code alone
  // reaches the caller, and the route receives on.
  std::string message;
  try {
    if (!faulty) {
      message = decoded.header->message;
    } else {
      const std::string problem =
          !decoded.header                               ? decoded.error.message
          : decoded.header->kind == wire::Kind::request ? "a request where a response belongs"
          : decoded.header->kind == wire::Kind::cancel
              ? "a cancel where a response belongs"
              : "a response of " + std::to_string(message_frames) + " frames instead of 2";
      message = (code == JN_RESOURCE_EXHAUSTED ? "response from " + url_ + " refused: "
                                               : "unreadable response from " + url_ + ": ") +
                problem;
    }
  } catch (const std::bad_alloc&) {
    message.clear();
  }
  std::lock_guard lock(mutex_);
  const auto it = waiters_.find(*call_id);
  if (it == waiters_.end() || it->second->done) {
    return;  // answered already (deadline, lost connection): dropped
  }
  Waiter& waiter = *it->second;
  waiter.done = true;
  waiter.code = code;
  waiter.message = std::move(message);
  if (!faulty) {
    waiter.payload = std::move(frames[2]);
  }
  settle(waiter);
}

}  // namespace junction::zmq_transport
