#include "curve.hh"

#include <junction.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string_view>

#include "shared_socket.hh"

namespace junction::zmq_transport {

namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr const char* kZapAddress = "inproc://zeromq.zap.01";

// A ZAP request's frames (ZeroMQ RFC 27) after the REP envelope: version,
// request id, domain, address, routing id, mechanism, then the mechanism's
// credentials (CURVE: the client's public key).
constexpr std::size_t kRequestIdFrame = 1;
constexpr std::size_t kMechanismFrame = 5;
constexpr std::size_t kCredentialsFrame = 6;

bool frame_is(const zmq::message_t& frame, std::string_view text) {
  return frame.size() == text.size() && std::memcmp(frame.data(), text.data(), text.size()) == 0;
}

}  // namespace

bool curve_available() noexcept { return zmq_has("curve") != 0; }

std::string decode_curve_key(const char* z85, std::string_view what) {
  const std::string invalid = std::string(what) + " must be " +
                              std::to_string(JN_CURVE_KEY_LENGTH) +
                              " Z85 characters (jn_curve_keypair makes them)";
  if (z85 == nullptr || std::strlen(z85) != JN_CURVE_KEY_LENGTH) {
    throw std::invalid_argument(invalid);
  }
  std::string key(kKeyBytes, '\0');
  if (zmq_z85_decode(reinterpret_cast<std::uint8_t*>(key.data()), z85) == nullptr) {
    throw std::invalid_argument(invalid);
  }
  return key;
}

std::string curve_public_key_of(const char* secret_key_z85) {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_text{};
  if (zmq_curve_public(public_text.data(), secret_key_z85) != 0) {
    throw zmq::error_t();
  }
  return decode_curve_key(public_text.data(), "a derived public key");
}

namespace {

std::string z85_of(const void* key) {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> text{};
  zmq_z85_encode(text.data(), static_cast<const std::uint8_t*>(key), kKeyBytes);
  return text.data();
}

}  // namespace

CurveClientGate::CurveClientGate(zmq::context_t& context,
                                 const std::vector<std::string>& client_keys) {
  if (client_keys.empty()) {
    any_client_ = true;
  } else {
    replace(client_keys);
  }
  static std::atomic<std::uint64_t> count{0};
  const std::string stop_address = "inproc://junction-curve-stop-" + std::to_string(count++);
  zmq::socket_t handler(context, zmq::socket_type::rep);
  handler.set(zmq::sockopt::linger, 0);
  retry_interrupted_or_throw([&] { return zmq_bind(handler.handle(), kZapAddress); });
  zmq::socket_t stop_receiver(context, zmq::socket_type::pair);
  retry_interrupted_or_throw(
      [&] { return zmq_bind(stop_receiver.handle(), stop_address.c_str()); });
  stop_ = zmq::socket_t(context, zmq::socket_type::pair);
  stop_.set(zmq::sockopt::linger, 0);
  retry_interrupted_or_throw([&] { return zmq_connect(stop_.handle(), stop_address.c_str()); });
  thread_ =
      std::thread(&CurveClientGate::serve, this, std::move(handler), std::move(stop_receiver));
}

CurveClientGate::~CurveClientGate() { stop(); }

void CurveClientGate::stop() noexcept {
  if (!thread_.joinable()) {
    return;
  }
  retry_interrupted([&] { return zmq_send(stop_.handle(), "", 0, 0); });
  thread_.join();
  stop_.close();
}

void CurveClientGate::replace(const std::vector<std::string>& client_keys) {
  std::unordered_set<std::string> keys;
  for (const std::string& key : client_keys) {
    keys.insert(z85_of(key.data()));
  }
  std::lock_guard lock(mutex_);
  keys_ = std::move(keys);
  any_client_ = false;
}

bool CurveClientGate::allows(const char* user_id) const {
  std::lock_guard lock(mutex_);
  return any_client_ || (user_id != nullptr && keys_.contains(user_id));
}

std::optional<std::string> CurveClientGate::admitted(const zmq::message_t& key) const {
  if (key.size() != kKeyBytes) {
    return std::nullopt;
  }
  std::string text = z85_of(key.data());
  if (!allows(text.c_str())) {
    return std::nullopt;
  }
  return text;
}

void CurveClientGate::serve(zmq::socket_t handler, zmq::socket_t stop) {
  // Out of memory the gate refuses the handshake it reads (the REP socket
  // must answer each request), and never lets an exception end the thread
  // (and the process): the request's frames have room made once, for those
  // libzmq writes (any beyond are not kept), and the key is looked at
  // behind a catch.
  std::vector<zmq::message_t> request;
  try {
    request.reserve(kCredentialsFrame + 1);
  } catch (const std::bad_alloc&) {
    // No frame is kept: every handshake is refused.
  }
  for (;;) {
    zmq_pollitem_t items[2] = {{handler.handle(), 0, ZMQ_POLLIN, 0},
                               {stop.handle(), 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, -1) < 0) {
      if (zmq_errno() == ETERM) {
        return;  // the context was shut down
      }
      continue;  // interrupted
    }
    if ((items[1].revents & ZMQ_POLLIN) != 0) {
      return;
    }
    request.clear();
    bool more = true;
    while (more) {
      zmq::message_t frame;
      if (retry_interrupted([&] { return zmq_msg_recv(frame.handle(), handler.handle(), 0); }) <
          0) {
        break;
      }
      more = frame.more();
      if (request.size() < request.capacity()) {
        request.push_back(std::move(frame));
      }
    }
    // libzmq writes every request itself; a shorter one cannot come, but
    // the REP socket must answer whatever it took.
    std::optional<std::string> user_id;
    try {
      if (request.size() > kCredentialsFrame && frame_is(request[kMechanismFrame], "CURVE")) {
        user_id = admitted(request[kCredentialsFrame]);
      }
    } catch (const std::bad_alloc&) {
      user_id.reset();  // refused, as any key the gate cannot look at
    }
    if (!user_id) {
      refused_handshakes_.fetch_add(1, std::memory_order_relaxed);
    }
    const std::string_view request_id =
        request.size() > kRequestIdFrame
            ? std::string_view(static_cast<const char*>(request[kRequestIdFrame].data()),
                               request[kRequestIdFrame].size())
            : std::string_view();
    const std::string_view reply[] = {"1.0",
                                      request_id,
                                      user_id ? "200" : "400",
                                      user_id ? "OK" : "client key not allowed",
                                      user_id ? *user_id : std::string_view(),
                                      ""};
    for (std::size_t i = 0; i < std::size(reply); ++i) {
      const int flags = i + 1 < std::size(reply) ? ZMQ_SNDMORE : 0;
      retry_interrupted(
          [&] { return zmq_send(handler.handle(), reply[i].data(), reply[i].size(), flags); });
    }
  }
}

}  // namespace junction::zmq_transport
