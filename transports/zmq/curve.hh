// CURVE, ZeroMQ's encryption and authentication (ZMTP's CURVE mechanism),
// for listeners and routes over tcp and ipc: the keys as junction takes them
// (Z85 text, jn_curve_keypair) and the gate that lets a listener's clients
// in.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <vector>
#include <zmq.hpp>

namespace junction::zmq_transport {

// Whether the libzmq junction runs on was built with CURVE.
[[nodiscard]] bool curve_available() noexcept;

// The 32 bytes of a Z85 key (JN_CURVE_KEY_LENGTH characters). Throws
// std::invalid_argument naming what (the option it came from) otherwise.
[[nodiscard]] std::string decode_curve_key(const char* z85, std::string_view what);

// The public key (32 bytes) of a Z85 secret key, which must be one
// (decode_curve_key accepted it).
[[nodiscard]] std::string curve_public_key_of(const char* secret_key_z85);

// The gate of a CURVE listener's clients. It answers the ZAP requests
// (ZeroMQ's authentication protocol, on inproc://zeromq.zap.01) of the
// listener's own context, from construction to stop(), on a thread of its
// own: a CURVE connection is let in when any client may connect, or when
// its client's public key is on the list in force, and refused in its
// handshake otherwise. A connection let in carries its client's key (Z85)
// as its messages' User-Id, so that the listener asks allows() again at
// each call: a key taken off the list stops calling on the connections it
// already has too.
class CurveClientGate {
 public:
  // client_keys: 32 bytes each; empty: any client.
  CurveClientGate(zmq::context_t& context, const std::vector<std::string>& client_keys);
  CurveClientGate(const CurveClientGate&) = delete;
  CurveClientGate& operator=(const CurveClientGate&) = delete;
  ~CurveClientGate();

  // Puts client_keys (32 bytes each, at least one) in force.
  void replace(const std::vector<std::string>& client_keys);
  // Whether a connection whose messages carry user_id (NULL: none) may call.
  [[nodiscard]] bool allows(const char* user_id) const;
  // Handshakes refused so far.
  [[nodiscard]] std::uint64_t refused_handshakes() const noexcept {
    return refused_handshakes_.load(std::memory_order_relaxed);
  }
  // Stops answering; before the context closes. Idempotent.
  void stop() noexcept;

 private:
  void serve(zmq::socket_t handler, zmq::socket_t stop);
  // The Z85 text of a key taken in a ZAP request, if it may connect.
  [[nodiscard]] std::optional<std::string> admitted(const zmq::message_t& key) const;

  mutable std::mutex mutex_;  // guards any_client_ and keys_
  bool any_client_ = false;
  std::unordered_set<std::string> keys_;  // Z85
  std::atomic<std::uint64_t> refused_handshakes_{0};
  zmq::socket_t stop_;  // a message on it ends serve
  std::thread thread_;
};

}  // namespace junction::zmq_transport
