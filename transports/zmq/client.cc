#include "client.hh"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>
#include <wire/frame.hh>

#include "inproc.hh"
#include "internal.hh"

namespace junction::zmq_transport {
namespace {

// Responses up to this size are answered through jn_respond (into the
// caller's lent room, or one host buffer); larger ones hand the received
// frame to the caller without a copy.
constexpr std::size_t kRespondCopyMax = 4096;

std::chrono::steady_clock::time_point time_point_of(std::int64_t ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

void release_frame(jn_buffer* buffer) {
  delete static_cast<zmq::message_t*>(buffer->private_data);
  *buffer = jn_buffer{};
}

}  // namespace

struct Client::Waiter {
  std::uint64_t id = 0;
  std::uint64_t disconnects_before = 0;  // connections lost before it saw its own up
  std::condition_variable answered;      // or asked to receive
  bool done = false;
  std::int32_t code = JN_OK;
  std::string message;
  zmq::message_t payload;
};

Client::Client(std::string_view url, const ClientOptions& options) : url_(url), options_(options) {
  std::string error;
  const std::optional<Endpoint> endpoint = parse_url(url, /*for_bind=*/false, error);
  if (!endpoint) {
    throw std::invalid_argument(error);
  }
  zmq::socket_t dealer(shared_context(), zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  // ZMQ_IMMEDIATE stays off: with it libzmq discards answers received but
  // not yet read when their connection closes (a listener's last answers
  // before it exits). Calls are sent only while the connection is up
  // (link_, from the monitor) instead.
  dealer.set(zmq::sockopt::reconnect_ivl, 100);
  dealer.set(zmq::sockopt::reconnect_ivl_max, 1000);
  // ZMTP heartbeats every second, a connection silent for five dropped:
  // what fails the calls waiting on a peer that stopped answering without
  // closing its connection (stopped, hung, its host gone), deadline or
  // not. The peer's libzmq answers them whatever its own options.
  dealer.set(zmq::sockopt::heartbeat_ivl, 1000);
  dealer.set(zmq::sockopt::heartbeat_timeout, 5000);
  set_common_options(dealer, *endpoint, options.max_payload_bytes);

  static std::atomic<std::uint64_t> monitor_count{0};
  const std::string monitor_address =
      "inproc://junction-client-monitor-" + std::to_string(monitor_count.fetch_add(1));
  constexpr int kMonitoredEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_CONNECT_RETRIED |
                                   ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_MONITOR_STOPPED;
  retry_interrupted_or_throw([&] {
    return zmq_socket_monitor(dealer.handle(), monitor_address.c_str(), kMonitoredEvents);
  });
  // Connected before the DEALER connects, so no event is missed.
  zmq::socket_t events(shared_context(), zmq::socket_type::pair);
  retry_interrupted_or_throw([&] { return zmq_connect(events.handle(), monitor_address.c_str()); });
  retry_interrupted_or_throw(
      [&] { return zmq_connect(dealer.handle(), endpoint->zmq_address.c_str()); });
  address_ = endpoint->zmq_address;
  inproc_ = endpoint->inproc;
  socket_ = std::make_unique<SharedSocket>(std::move(dealer));
  monitor_ = std::thread(&Client::monitor_loop, this, std::move(events));
  if (inproc_) {
    inproc_watch_ = inproc_watch(address_, [this] { inproc_peer_gone(); });
  }
}

void Client::inproc_peer_gone() {
  {
    std::lock_guard lock(mutex_);
    link_ = Link::down;
    ++disconnects_;
    reconnect_inproc_ = true;
  }
  socket_->wake();
}

Client::~Client() {
  if (inproc_) {
    inproc_unwatch(address_, inproc_watch_);
  }
  // Stopping the monitor sends MONITOR_STOPPED, which ends monitor_loop
  // (so an interrupted stop is run again: the join below waits for it).
  socket_->locked([](zmq::socket_t& socket) {
    retry_interrupted([&] { return zmq_socket_monitor(socket.handle(), nullptr, 0); });
  });
  monitor_.join();
}

void Client::monitor_loop(zmq::socket_t events) {
  for (;;) {
    zmq::message_t event;
    zmq::message_t address;
    // Each frame on its own: an event whose second frame was interrupted
    // would otherwise be lost (a missed DISCONNECTED leaves calls waiting).
    const auto receive = [&events](zmq::message_t& frame) {
      return retry_interrupted([&] { return zmq_msg_recv(frame.handle(), events.handle(), 0); });
    };
    if (receive(event) < 0 || !event.more() || receive(address) < 0) {
      continue;
    }
    std::uint16_t id = 0;
    if (event.size() >= sizeof(id)) {
      std::memcpy(&id, event.data(), sizeof(id));
    }
    if (id == ZMQ_EVENT_MONITOR_STOPPED) {
      return;
    }
    std::lock_guard lock(mutex_);
    if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      link_ = Link::up;
    } else if (id == ZMQ_EVENT_DISCONNECTED) {
      // The receiver fails the calls still waiting once it has taken the
      // answers that arrived before the connection went.
      link_ = Link::down;
      ++disconnects_;
      socket_->wake();
    } else if (link_ != Link::up) {
      link_ = Link::down;  // a connection attempt failed
    }
    link_changed_.notify_all();
  }
}

bool Client::inproc_ready() {
  if (!inproc_bound(address_)) {
    return false;
  }
  bool reconnect = false;
  {
    std::lock_guard lock(mutex_);
    reconnect = std::exchange(reconnect_inproc_, false);
  }
  if (reconnect) {
    // A listener bound the name again: libzmq does not reconnect inproc.
    socket_->locked([this](zmq::socket_t& socket) {
      // Failing only when no longer connected: connecting is what matters.
      retry_interrupted([&] { return zmq_disconnect(socket.handle(), address_.c_str()); });
      retry_interrupted_or_throw([&] { return zmq_connect(socket.handle(), address_.c_str()); });
    });
  }
  return true;
}

bool Client::await_link(std::int64_t limit_ns, std::uint64_t& disconnects) {
  std::unique_lock lock(mutex_);
  if (link_ == Link::connecting) {
    link_changed_.wait_until(lock, time_point_of(limit_ns),
                             [this] { return link_ != Link::connecting; });
  }
  disconnects = disconnects_;
  return link_ == Link::up;
}

void Client::call(std::string_view service, std::string_view method, jn_bytes request,
                  std::int64_t deadline_ns, jn_result* result) noexcept {
  using detail::status_assign;
  try {
    if (request.len > options_.max_payload_bytes) {
      status_assign(&result->status, JN_RESOURCE_EXHAUSTED,
                    "request of " + std::to_string(request.len) + " bytes is over the limit of " +
                        std::to_string(options_.max_payload_bytes) + " bytes for " + url_);
      return;
    }
    // The connections lost before this call saw its connection up: any
    // later loss fails the call.
    std::uint64_t disconnects_before = 0;
    if (inproc_) {
      {
        std::lock_guard lock(mutex_);
        disconnects_before = disconnects_;
      }
      if (!inproc_ready()) {
        status_assign(&result->status, JN_UNAVAILABLE, "nothing listens on " + url_);
        return;
      }
    }
    const std::int64_t start_ns = jn_now_ns();
    // Saturating: the connect timeout may be as large as the type allows.
    const std::int64_t connect_limit_ns = options_.connect_timeout_ns >= deadline_ns - start_ns
                                              ? deadline_ns
                                              : start_ns + options_.connect_timeout_ns;
    if (!inproc_ && !await_link(connect_limit_ns, disconnects_before)) {
      const bool deadline_passed = jn_now_ns() >= deadline_ns;
      status_assign(&result->status, deadline_passed ? JN_DEADLINE_EXCEEDED : JN_UNAVAILABLE,
                    "no connection to " + url_);
      return;
    }

    Waiter waiter;
    bool lost_already = false;
    {
      std::lock_guard lock(mutex_);
      // The connection it saw up was lost, and the receiver has failed that
      // connection's calls already: listed now, this one would never be.
      lost_already = disconnects_before < disconnects_failed_;
      if (!lost_already) {
        waiter.id = next_call_id_++;
        waiter.disconnects_before = disconnects_before;
        waiters_.emplace(waiter.id, &waiter);
      }
    }
    if (lost_already) {
      status_assign(&result->status, JN_UNAVAILABLE,
                    "connection to " + url_ + " lost before the call was sent");
      return;
    }
    // Whatever happens from here, the waiter leaves the table.
    struct Unlist {
      Client& client;
      Waiter& waiter;
      ~Unlist() {
        std::lock_guard lock(client.mutex_);
        client.waiters_.erase(waiter.id);
        if (!client.receiving_) {
          client.hand_off_receiving();
        }
      }
    } unlist{*this, waiter};

    const std::int64_t send_ns = jn_now_ns();
    const std::int64_t timeout_ns = deadline_ns == JN_NO_DEADLINE
                                        ? wire::kNoTimeout
                                        : std::max<std::int64_t>(0, deadline_ns - send_ns);
    thread_local std::vector<std::uint8_t> header;
    if (!wire::encode_request(waiter.id, timeout_ns, service, method, request.len, header)) {
      status_assign(&result->status, JN_INVALID_ARGUMENT,
                    "service and method names must be 1 to 255 bytes to be routed");
      return;
    }
    zmq::message_t frames[2] = {zmq::message_t(header.data(), header.size()),
                                zmq::message_t(request.data, request.len)};
    for (;;) {
      const int error = socket_->send(frames);
      if (error == 0) {
        break;
      }
      if (error != EAGAIN || jn_now_ns() >= connect_limit_ns) {
        status_assign(&result->status, JN_UNAVAILABLE,
                      "cannot send to " + url_ + ": " +
                          (error == EAGAIN ? "its queue is full" : zmq_strerror(error)));
        return;
      }
      // The connection's queue is full: give it a moment.
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }

    std::unique_lock lock(mutex_);
    while (!waiter.done) {
      if (!receiving_) {
        receiving_ = true;
        lock.unlock();
        receive_until(waiter, deadline_ns);
        lock.lock();
        receiving_ = false;
      } else if (deadline_ns == JN_NO_DEADLINE) {
        waiter.answered.wait(lock);
      } else {
        waiter.answered.wait_until(lock, time_point_of(deadline_ns));
      }
      if (!waiter.done && jn_now_ns() >= deadline_ns) {
        lock.unlock();
        status_assign(&result->status, JN_DEADLINE_EXCEEDED,
                      "no answer from " + url_ + " within the deadline");
        return;
      }
    }
    lock.unlock();
    if (waiter.code != JN_OK) {
      status_assign(&result->status, waiter.code, waiter.message);
      return;
    }
    const std::size_t size = waiter.payload.size();
    if (size <= kRespondCopyMax) {
      if (jn_respond(result, static_cast<const std::uint8_t*>(waiter.payload.data()), size) !=
          JN_OK) {
        status_assign(&result->status, JN_RESOURCE_EXHAUSTED, "cannot allocate the response");
      }
      return;
    }
    auto* frame = new zmq::message_t(std::move(waiter.payload));
    result->response =
        jn_buffer{static_cast<std::uint8_t*>(frame->data()), size, release_frame, frame};
  } catch (...) {
    status_assign(&result->status, JN_INTERNAL,
                  "call to " + url_ + " failed: " + detail::current_exception_message());
  }
}

void Client::fail_calls_of_lost_connections() {
  for (auto& [call_id, waiter] : waiters_) {
    if (!waiter->done && waiter->disconnects_before < disconnects_) {
      waiter->done = true;
      waiter->code = JN_UNAVAILABLE;
      waiter->message = "connection to " + url_ + " lost before the call was answered";
      waiter->answered.notify_one();
    }
  }
}

void Client::hand_off_receiving() {
  for (auto& [call_id, waiter] : waiters_) {
    if (!waiter->done) {
      waiter->answered.notify_one();  // it finds no receiver and becomes one
      return;
    }
  }
}

void Client::receive_until(Waiter& waiter, std::int64_t deadline_ns) {
  thread_local std::vector<zmq::message_t> frames;
  // Look for input before waiting only while answers are found queued
  // without waiting: each look that finds none costs libzmq system calls,
  // and a wait looks first anyway.
  bool look_first = false;
  for (;;) {
    bool queued = true;  // found without blocking
    if (!look_first) {
      queued = socket_->wait(deadline_ns);
    }
    const std::size_t frame_count = socket_->try_receive(frames, 2);
    look_first = frame_count != 0 && queued;
    if (frame_count != 0) {
      deliver(frames, frame_count);
    }
    {
      std::lock_guard lock(mutex_);
      if (frame_count == 0 && disconnects_ != disconnects_failed_) {
        disconnects_failed_ = disconnects_;
        fail_calls_of_lost_connections();
      }
      if (waiter.done) {
        return;
      }
    }
    // Checked after every pass, not only idle ones: answers for other
    // callers arriving without pause must not keep this one past its own
    // deadline.
    if (jn_now_ns() >= deadline_ns) {
      return;
    }
  }
}

void Client::deliver(std::vector<zmq::message_t>& frames, std::size_t frame_count) {
  const std::span<const std::uint8_t> header(static_cast<const std::uint8_t*>(frames[0].data()),
                                             frames[0].size());
  const std::uint64_t payload_len = frame_count == 2 ? frames[1].size() : 0;
  const wire::Decoded decoded =
      wire::decode_header(header, payload_len, wire::Limits{options_.max_payload_bytes});
  std::optional<std::uint64_t> call_id;
  std::string problem;
  // A response the peer had no fault in sending (its payload is over this
  // route's limit) keeps the decoder's code; any other unreadable one is a
  // fault of the peer's, INTERNAL (docs/wire.md).
  std::int32_t problem_code = JN_INTERNAL;
  if (!decoded.header) {
    call_id = decoded.error.call_id;
    problem = decoded.error.message;
    if (decoded.error.code == JN_RESOURCE_EXHAUSTED) {
      problem_code = JN_RESOURCE_EXHAUSTED;
    }
  } else {
    call_id = decoded.header->call_id;
    if (decoded.header->kind != wire::Kind::response) {
      problem = "a request where a response belongs";
    } else if (frame_count != 2) {
      problem = "a response of " + std::to_string(frame_count) + " frames instead of 2";
    }
  }
  if (!call_id) {
    return;  // unidentifiable: dropped (docs/wire.md)
  }
  std::lock_guard lock(mutex_);
  const auto it = waiters_.find(*call_id);
  if (it == waiters_.end() || it->second->done) {
    return;  // answered already (deadline, lost connection): dropped
  }
  Waiter& waiter = *it->second;
  waiter.done = true;
  if (!problem.empty()) {
    waiter.code = problem_code;
    waiter.message =
        (problem_code == JN_RESOURCE_EXHAUSTED ? "response from " + url_ + " refused: "
                                               : "unreadable response from " + url_ + ": ") +
        problem;
  } else {
    waiter.code = decoded.header->code;
    waiter.message = decoded.header->message;
    waiter.payload = std::move(frames[1]);
  }
  waiter.answered.notify_one();
}

}  // namespace junction::zmq_transport
