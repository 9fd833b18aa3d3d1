// junction URLs of the ZeroMQ transport (abi/junction.h, "Transports"),
// read into the endpoints libzmq binds and connects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace junction::zmq_transport {

struct Endpoint {
  // What libzmq is given, e.g. "tcp://127.0.0.1:7000" ("tcp://127.0.0.1:*"
  // for port 0), "ipc:///run/svc.sock", "inproc://name".
  std::string zmq_address;
  bool ipv6 = false;     // a bracketed IPv6 address, which libzmq needs told
  std::string ipc_path;  // the socket file of a zmq+ipc URL
  bool inproc = false;   // zmq+inproc: reachable within this process only
};

// Reads url for binding (port 0 allowed) or connecting. On failure returns
// nothing and says why in error.
[[nodiscard]] std::optional<Endpoint> parse_url(std::string_view url, bool for_bind,
                                                std::string& error);

// The junction URL of a libzmq endpoint, e.g. "zmq+tcp://127.0.0.1:7000".
[[nodiscard]] std::string url_of(std::string_view zmq_address);

}  // namespace junction::zmq_transport
