// A raw ZeroMQ ROUTER standing in for a listener, speaking the wire
// protocol (docs/wire.md) as a test says, well or badly.
#pragma once

#include <gtest/gtest.h>
#include <junction.h>

#include <cstdint>
#include <frame.hh>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

namespace jnzmq {

class RawPeer {
 public:
  // configure sets options of its socket before it binds, so that its
  // connections have them.
  explicit RawPeer(const std::function<void(zmq::socket_t&)>& configure = {})
      : socket_(context_, zmq::socket_type::router) {
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::rcvtimeo, 10'000);
    if (configure) {
      configure(socket_);
    }
    socket_.bind("tcp://127.0.0.1:*");
  }
  [[nodiscard]] std::string endpoint() const { return socket_.get(zmq::sockopt::last_endpoint); }
  [[nodiscard]] std::string url() const { return "zmq+" + endpoint(); }

  // The next request's frames (routing id, header, payload); empty if none
  // came in 10 s.
  std::vector<zmq::message_t> receive() {
    std::vector<zmq::message_t> message;
    do {
      message.emplace_back();
      if (!socket_.recv(message.back(), zmq::recv_flags::none)) {
        return {};
      }
    } while (message.back().more());
    return message;
  }

  // The call id of a request receive() gave.
  static std::uint64_t call_id_of(std::vector<zmq::message_t>& request) {
    const junction::wire::Decoded decoded = junction::wire::decode_header(
        std::span(request[1].data<std::uint8_t>(), request[1].size()), request[2].size(), {});
    EXPECT_TRUE(decoded.header.has_value());
    return decoded.header ? decoded.header->call_id : 0;
  }

  // Sends frames, whatever they hold, to the connection request came from.
  void send_to(const std::vector<zmq::message_t>& request,
               const std::vector<std::vector<std::uint8_t>>& frames) {
    socket_.send(zmq::buffer(request[0].data(), request[0].size()), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  // Answers request OK with text.
  void answer(std::vector<zmq::message_t>& request, std::string_view text) {
    std::vector<std::uint8_t> header;
    ASSERT_TRUE(
        junction::wire::encode_response(call_id_of(request), JN_OK, "", text.size(), header));
    send_to(request, {header, std::vector<std::uint8_t>(text.begin(), text.end())});
  }

  // Closes its connections (after sending what it has, for up to linger_ms)
  // and its socket, as an exiting process would.
  void close(int linger_ms) {
    socket_.set(zmq::sockopt::linger, linger_ms);
    socket_.close();
    context_.close();
  }

 private:
  zmq::context_t context_;
  zmq::socket_t socket_;
};

}  // namespace jnzmq
