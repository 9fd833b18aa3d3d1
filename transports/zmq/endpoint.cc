#include "endpoint.hh"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>

namespace junction::zmq_transport {
namespace {

constexpr std::string_view kTcp = "zmq+tcp://";
constexpr std::string_view kIpc = "zmq+ipc://";
constexpr std::string_view kInproc = "zmq+inproc://";
// sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
constexpr std::size_t kMaxIpcPath = 107;

std::string supported(std::string_view url) {
  return "cannot read URL '" + std::string(url) +
         "': junction serves and routes zmq+tcp://HOST:PORT, zmq+ipc:///PATH and "
         "zmq+inproc://NAME";
}

std::optional<Endpoint> parse_tcp(std::string_view url, std::string_view rest, bool for_bind,
                                  std::string& error) {
  const std::size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) {
    error = "cannot read URL '" + std::string(url) + "': zmq+tcp needs HOST:PORT";
    return std::nullopt;
  }
  const std::string_view host = rest.substr(0, colon);
  const std::string_view port_text = rest.substr(colon + 1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.begin(), port_text.end(), port);
  if (ec != std::errc{} || end != port_text.end() || port > 65535) {
    error = "cannot read URL '" + std::string(url) + "': port must be 0 to 65535";
    return std::nullopt;
  }
  if (port == 0 && !for_bind) {
    error = "cannot route to URL '" + std::string(url) + "': port 0 names no listener";
    return std::nullopt;
  }
  Endpoint endpoint;
  endpoint.ipv6 = host.front() == '[';
  const std::string address(endpoint.ipv6 ? host.substr(1, host.size() - 2) : host);
  if (endpoint.ipv6 && host.back() != ']') {
    error = "cannot read URL '" + std::string(url) + "': unclosed '[' around an IPv6 address";
    return std::nullopt;
  }
  // A listener binds exactly the address it is given: an IP address, never
  // a name, an interface or a wildcard. A route may name its host.
  std::uint8_t parsed[sizeof(in6_addr)];
  const bool is_ip = inet_pton(endpoint.ipv6 ? AF_INET6 : AF_INET, address.c_str(), parsed) == 1;
  if ((for_bind || endpoint.ipv6) && !is_ip) {
    error = "cannot read URL '" + std::string(url) +
            "': a listener needs an IPv4 address or a bracketed IPv6 address to bind";
    if (!for_bind) {
      error = "cannot read URL '" + std::string(url) + "': not an IPv6 address";
    }
    return std::nullopt;
  }
  if (!for_bind && address.find_first_of("*;") != std::string::npos) {
    error = "cannot read URL '" + std::string(url) + "': not a host name or address";
    return std::nullopt;
  }
  endpoint.zmq_address =
      "tcp://" + std::string(host) + ":" + (port == 0 ? std::string("*") : std::string(port_text));
  return endpoint;
}

}  // namespace

std::optional<Endpoint> parse_url(std::string_view url, bool for_bind, std::string& error) {
  if (url.find('\0') != std::string_view::npos) {
    error = "cannot read URL: it holds a NUL byte";
    return std::nullopt;
  }
  if (url.starts_with(kTcp)) {
    return parse_tcp(url, url.substr(kTcp.size()), for_bind, error);
  }
  if (url.starts_with(kIpc)) {
    const std::string_view path = url.substr(kIpc.size());
    if (!path.starts_with('/') || path.size() > kMaxIpcPath) {
      error = "cannot read URL '" + std::string(url) +
              "': zmq+ipc needs an absolute path of at most 107 bytes";
      return std::nullopt;
    }
    return Endpoint{"ipc://" + std::string(path), false, std::string(path), false};
  }
  if (url.starts_with(kInproc)) {
    const std::string_view name = url.substr(kInproc.size());
    if (name.empty()) {
      error = "cannot read URL '" + std::string(url) + "': zmq+inproc needs a name";
      return std::nullopt;
    }
    return Endpoint{"inproc://" + std::string(name), false, {}, true};
  }
  error = supported(url);
  return std::nullopt;
}

std::string url_of(std::string_view zmq_address) { return "zmq+" + std::string(zmq_address); }

}  // namespace junction::zmq_transport
