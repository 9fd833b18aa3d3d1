// CURVE, ZeroMQ's encryption and authentication (ZMTP's CURVE mechanism),
// for listeners and routes over tcp and ipc: the keys as junction takes them
// (Z85 text, jn_curve_keypair) and the allow-list of a listener's clients.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <thread>
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

// Answers the ZAP requests (ZeroMQ's authentication protocol, on
// inproc://zeromq.zap.01) of one context: a CURVE connection is let in when
// its client's public key is one of allowed_keys (32 bytes each) and
// refused in its handshake otherwise. It serves from construction to
// destruction, on a thread of its own, and must be destroyed before the
// context.
class CurveAllowList {
 public:
  CurveAllowList(zmq::context_t& context, std::vector<std::string> allowed_keys);
  CurveAllowList(const CurveAllowList&) = delete;
  CurveAllowList& operator=(const CurveAllowList&) = delete;
  ~CurveAllowList();

 private:
  void serve(zmq::socket_t handler, zmq::socket_t stop) const;

  const std::vector<std::string> allowed_keys_;
  zmq::socket_t stop_;  // a message on it ends serve
  std::thread thread_;
};

}  // namespace junction::zmq_transport
