// The transport functions of the C ABI (abi/junction.h, "Transports"):
// listeners serving a host's services, and routes sending a service's calls
// to another host. The ZeroMQ transport lives in transports/zmq/.
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>
#include <zmq/client.hh>
#include <zmq/curve.hh>
#include <zmq/listener.hh>

#include "host.hh"
#include "internal.hh"

using junction::detail::Host;
using junction::detail::report;
using junction::detail::report_exception;

// The opaque listener handle: the running listener and the host it counts
// against.
struct jn_listener {
  std::shared_ptr<junction::zmq_transport::Listener> listener;
  Host* host;
};

namespace junction::detail {
namespace {

// A routed method's context: the connection and the names it calls.
struct RoutedMethod {
  std::shared_ptr<zmq_transport::Client> client;
  std::string service;
  std::string method;
};

}  // namespace

void routed_call(void* ctx, jn_bytes request, std::int64_t deadline_ns, jn_result* result) {
  const auto* routed = static_cast<const RoutedMethod*>(ctx);
  routed->client->call(routed->service, routed->method, request, deadline_ns, result);
}

bool routed_start(void* ctx, jn_buffer& request, std::int64_t deadline_ns, jn_completion completion,
                  bool may_wait) {
  const auto* routed = static_cast<const RoutedMethod*>(ctx);
  return routed->client->start_call(routed->service, routed->method, request, deadline_ns,
                                    completion, may_wait);
}

namespace {

// The connection to url with these options, shared with the host's other
// routes there that have the same options.
std::shared_ptr<zmq_transport::Client> connection_to(Host& host, const std::string& url,
                                                     const zmq_transport::ClientOptions& options) {
  // The keys are empty or 32 bytes each, so their concatenation tells them
  // apart. The client's public key stands for its pair (read_curve_options
  // checked that it is the secret key's), which keeps the secret key out of
  // the host's map.
  const std::string key = url + '\n' + std::to_string(options.connect_timeout_ns) + '\n' +
                          std::to_string(options.max_payload_bytes) + '\n' +
                          options.curve_server_key + options.curve_public_key;
  std::lock_guard lock(host.connections_mutex);
  std::erase_if(host.connections, [](const auto& entry) { return entry.second.expired(); });
  std::weak_ptr<void>& slot = host.connections[key];
  if (auto existing = std::static_pointer_cast<zmq_transport::Client>(slot.lock())) {
    return existing;
  }
  auto client = std::make_shared<zmq_transport::Client>(url, options);
  slot = client;
  return client;
}

}  // namespace

void abandon_route_sends(Host& host) noexcept {
  std::lock_guard lock(host.connections_mutex);
  for (auto& [key, slot] : host.connections) {
    if (auto client = std::static_pointer_cast<zmq_transport::Client>(slot.lock())) {
      client->abandon_sends();
    }
  }
}

namespace {

// Reads ABI 1.8's CURVE fields of listen options into settings; a status
// other than JN_OK refuses them. Throws std::invalid_argument for a key that
// is not Z85.
std::int32_t read_curve_options(const jn_listen_options& options,
                                zmq_transport::ListenOptions& settings, jn_status* status) {
  if (options.reserved != 0) {
    return report(status, JN_INVALID_ARGUMENT, "jn_listen_options.reserved must be 0");
  }
  if (options.curve_client_keys == nullptr && options.curve_client_key_count != 0) {
    return report(status, JN_INVALID_ARGUMENT, "jn_listen_options.curve_client_keys is NULL");
  }
  if (options.curve_client_keys != nullptr && options.curve_client_key_count == 0) {
    return report(status, JN_INVALID_ARGUMENT,
                  "jn_listen_options.curve_client_keys holds no key, which would let no client "
                  "in: NULL lets in any client that knows the listener's public key");
  }
  if (options.curve_secret_key == nullptr) {
    return options.curve_client_keys == nullptr
               ? JN_OK
               : report(status, JN_INVALID_ARGUMENT,
                        "jn_listen_options.curve_client_keys needs curve_secret_key");
  }
  if (!zmq_transport::curve_available()) {
    return report(status, JN_UNIMPLEMENTED, "this libzmq was built without CURVE");
  }
  settings.curve_secret_key = zmq_transport::decode_curve_key(options.curve_secret_key,
                                                              "jn_listen_options.curve_secret_key");
  for (std::uint32_t i = 0; i < options.curve_client_key_count; ++i) {
    settings.curve_client_keys.push_back(zmq_transport::decode_curve_key(
        options.curve_client_keys[i],
        "jn_listen_options.curve_client_keys[" + std::to_string(i) + "]"));
  }
  return JN_OK;
}

// Reads ABI 1.8's CURVE fields of route options into settings, as
// read_curve_options.
std::int32_t read_curve_options(const jn_route_options& options,
                                zmq_transport::ClientOptions& settings, jn_status* status) {
  if (options.curve_server_key == nullptr) {
    return options.curve_public_key == nullptr && options.curve_secret_key == nullptr
               ? JN_OK
               : report(status, JN_INVALID_ARGUMENT,
                        "jn_route_options' key pair needs curve_server_key");
  }
  if ((options.curve_public_key == nullptr) != (options.curve_secret_key == nullptr)) {
    return report(status, JN_INVALID_ARGUMENT,
                  "jn_route_options.curve_public_key and curve_secret_key go together");
  }
  if (!zmq_transport::curve_available()) {
    return report(status, JN_UNIMPLEMENTED, "this libzmq was built without CURVE");
  }
  settings.curve_server_key = zmq_transport::decode_curve_key(options.curve_server_key,
                                                              "jn_route_options.curve_server_key");
  if (options.curve_secret_key != nullptr) {
    settings.curve_public_key = zmq_transport::decode_curve_key(
        options.curve_public_key, "jn_route_options.curve_public_key");
    settings.curve_secret_key = zmq_transport::decode_curve_key(
        options.curve_secret_key, "jn_route_options.curve_secret_key");
    if (zmq_transport::curve_public_key_of(options.curve_secret_key) != settings.curve_public_key) {
      return report(status, JN_INVALID_ARGUMENT,
                    "jn_route_options.curve_public_key is not the public key of curve_secret_key");
    }
  }
  return JN_OK;
}

std::int32_t listen_failed(jn_status* status, const char* url) noexcept {
  try {
    throw;
  } catch (const std::invalid_argument& error) {
    return report(status, JN_INVALID_ARGUMENT, error.what());
  } catch (const zmq::error_t&) {
    return report_exception(status, JN_UNAVAILABLE, {"cannot listen on ", url});
  } catch (const std::system_error&) {
    return report_exception(status, JN_UNAVAILABLE, {"cannot listen on ", url});
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot listen on ", url});
  }
}

}  // namespace
}  // namespace junction::detail

extern "C" {

JN_API std::int32_t jn_host_listen(jn_host* handle, const char* url,
                                   const jn_listen_options* options, jn_listener** listener_out,
                                   jn_status* status) {
  using namespace junction;
  if (listener_out != nullptr) {
    *listener_out = nullptr;
  }
  if (handle == nullptr || url == nullptr || listener_out == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host, url and listener must not be NULL");
  }
  zmq_transport::ListenOptions settings;
  // ABI 1.5's struct ends with max_payload_bytes; the unread-answer bounds
  // of a struct that size are the defaults.
  constexpr std::uint32_t kListenOptionsSize15 = offsetof(jn_listen_options, max_unread_answers);
  // ABI 1.6's and 1.7's ends with max_unread_answer_bytes; its CURVE is
  // none.
  constexpr std::uint32_t kListenOptionsSize16 = offsetof(jn_listen_options, curve_secret_key);
  const bool has_unread_bounds = options != nullptr && options->struct_size >= kListenOptionsSize16;
  const bool has_curve = options != nullptr && options->struct_size >= sizeof(jn_listen_options);
  if (options != nullptr) {
    if (options->struct_size < kListenOptionsSize15) {
      return report(status, JN_INVALID_ARGUMENT,
                    "jn_listen_options.struct_size must be sizeof(jn_listen_options)");
    }
    if (options->services == nullptr && options->service_count != 0) {
      return report(status, JN_INVALID_ARGUMENT, "jn_listen_options.services is NULL");
    }
    if (options->threads > 1024) {
      return report(status, JN_INVALID_ARGUMENT, "jn_listen_options.threads must be at most 1024");
    }
  }
  try {
    if (options != nullptr) {
      if (has_unread_bounds && options->max_unread_answers > JN_MAX_UNREAD_ANSWERS) {
        return report(status, JN_INVALID_ARGUMENT,
                      "jn_listen_options.max_unread_answers must be at most " +
                          std::to_string(JN_MAX_UNREAD_ANSWERS) + ", got " +
                          std::to_string(options->max_unread_answers));
      }
      for (std::uint32_t i = 0; i < options->service_count; ++i) {
        if (options->services[i] == nullptr) {
          return report(status, JN_INVALID_ARGUMENT,
                        "jn_listen_options.services[" + std::to_string(i) + "] is NULL");
        }
        settings.services.emplace_back(options->services[i]);
      }
      settings.threads = options->threads != 0 ? options->threads : settings.threads;
      settings.max_in_flight =
          options->max_in_flight != 0 ? options->max_in_flight : settings.max_in_flight;
      settings.max_payload_bytes =
          options->max_payload_bytes != 0 ? options->max_payload_bytes : settings.max_payload_bytes;
      if (has_unread_bounds && options->max_unread_answers != 0) {
        settings.max_unread_answers = options->max_unread_answers;
      }
      if (has_unread_bounds && options->max_unread_answer_bytes != 0) {
        settings.max_unread_answer_bytes = options->max_unread_answer_bytes;
      }
      if (has_curve) {
        if (const std::int32_t code = detail::read_curve_options(*options, settings, status);
            code != JN_OK) {
          return code;
        }
      }
    }
    auto* host = reinterpret_cast<Host*>(handle);
    settings.thread_slice_ns = host->thread_slice_ns;
    {
      // Counted before it starts, so that a free beginning meanwhile
      // refuses; none is opened on a host being freed.
      const std::lock_guard lock(host->registry_mutex);
      if (host->freeing) {
        return report(status, JN_FAILED_PRECONDITION,
                      std::string("cannot listen on ") + url + ": the host is being freed");
      }
      host->open_listeners.fetch_add(1);
    }
    try {
      auto listener = std::make_unique<jn_listener>(
          jn_listener{zmq_transport::Listener::start(handle, url, settings), host});
      *listener_out = listener.release();
    } catch (...) {
      host->open_listeners.fetch_sub(1);
      throw;
    }
  } catch (...) {
    return detail::listen_failed(status, url);
  }
  return report(status, JN_OK, "");
}

JN_API const char* jn_listener_url(const jn_listener* listener) {
  return listener == nullptr ? nullptr : listener->listener->url().c_str();
}

JN_API std::int32_t jn_listener_stats_get(const jn_listener* listener, jn_listener_stats* stats) {
  // The fields of ABI 1.4's struct; 1.7, 1.9 and 1.12 added more after
  // them, filled for a caller whose struct holds them.
  using Fields = junction::zmq_transport::Listener::StatsFields;
  constexpr std::uint32_t kStatsSize14 = offsetof(jn_listener_stats, unreadable);
  constexpr std::uint32_t kStatsSize17 = offsetof(jn_listener_stats, refused_handshakes);
  constexpr std::uint32_t kStatsSize19 = offsetof(jn_listener_stats, queued);
  if (listener == nullptr || stats == nullptr || stats->struct_size < kStatsSize14) {
    return JN_INVALID_ARGUMENT;
  }
  const Fields fields = stats->struct_size >= sizeof(jn_listener_stats) ? Fields::abi_1_12
                        : stats->struct_size >= kStatsSize19            ? Fields::abi_1_9
                        : stats->struct_size >= kStatsSize17            ? Fields::abi_1_7
                                                                        : Fields::abi_1_4;
  listener->listener->fill_stats(*stats, fields);
  return JN_OK;
}

JN_API std::int32_t jn_listener_set_curve_client_keys(jn_listener* listener,
                                                      const char* const* client_keys,
                                                      std::uint32_t key_count, jn_status* status) {
  using namespace junction;
  if (listener == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "listener must not be NULL");
  }
  if (client_keys == nullptr || key_count == 0) {
    return report(status, JN_INVALID_ARGUMENT,
                  "client_keys holds no key, which would let no client in");
  }
  if (!listener->listener->uses_curve()) {
    return junction::detail::report_parts(
        status, JN_FAILED_PRECONDITION,
        {"the listener at ", listener->listener->url(), " does not use CURVE"});
  }
  try {
    std::vector<std::string> keys;
    keys.reserve(key_count);
    for (std::uint32_t i = 0; i < key_count; ++i) {
      keys.push_back(zmq_transport::decode_curve_key(client_keys[i],
                                                     "client_keys[" + std::to_string(i) + "]"));
    }
    listener->listener->set_curve_client_keys(keys);
  } catch (const std::invalid_argument& error) {
    return report(status, JN_INVALID_ARGUMENT, error.what());
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot replace the client keys"});
  }
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_listener_drain(jn_listener* listener, std::int64_t drain_deadline_ns) {
  if (listener == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  return listener->listener->drain(drain_deadline_ns) ? JN_OK : JN_DEADLINE_EXCEEDED;
}

JN_API std::int32_t jn_listener_close(jn_listener* listener, std::int64_t drain_deadline_ns) {
  if (listener == nullptr) {
    return JN_OK;
  }
  const bool drained = listener->listener->close(drain_deadline_ns);
  listener->host->open_listeners.fetch_sub(1);
  delete listener;
  return drained ? JN_OK : JN_DEADLINE_EXCEEDED;
}

JN_API std::int32_t jn_host_route(jn_host* handle, const char* service, const char* url,
                                  const jn_route_options* options, jn_status* status) {
  using namespace junction;
  if (handle == nullptr || service == nullptr || url == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host, service and url must not be NULL");
  }
  if (detail::name_length(service) == 0) {
    return report(status, JN_INVALID_ARGUMENT, "service name must be 1 to 255 bytes");
  }
  zmq_transport::ClientOptions settings;
  // ABI 1.7's struct ends with max_payload_bytes; its CURVE is none.
  constexpr std::uint32_t kRouteOptionsSize17 = offsetof(jn_route_options, curve_server_key);
  if (options != nullptr) {
    if (options->struct_size < kRouteOptionsSize17 || options->reserved != 0) {
      return report(status, JN_INVALID_ARGUMENT,
                    "jn_route_options.struct_size must be sizeof(jn_route_options) and "
                    "reserved 0");
    }
    if (options->connect_timeout_ns < 0) {
      return report(status, JN_INVALID_ARGUMENT,
                    "jn_route_options.connect_timeout_ns must not be negative");
    }
    if (options->connect_timeout_ns != 0) {
      settings.connect_timeout_ns = options->connect_timeout_ns;
    }
    if (options->max_payload_bytes != 0) {
      settings.max_payload_bytes = options->max_payload_bytes;
    }
  }
  auto* host = reinterpret_cast<Host*>(handle);
  settings.thread_slice_ns = host->thread_slice_ns;
  try {
    if (options != nullptr && options->struct_size >= sizeof(jn_route_options)) {
      if (const std::int32_t code = detail::read_curve_options(*options, settings, status);
          code != JN_OK) {
        return code;
      }
    }
    std::shared_ptr<zmq_transport::Client> client = detail::connection_to(*host, url, settings);
    auto entry = std::make_unique<detail::ServiceEntry>();
    entry->name = service;
    entry->host = host;
    entry->route_url = url;
    entry->route_stats = [client](jn_route_stats& stats) { client->fill_stats(stats); };
    entry->make_method = [client, name = entry->name](std::string_view method) {
      auto routed = std::make_shared<detail::RoutedMethod>(
          detail::RoutedMethod{client, name, std::string(method)});
      auto made = std::make_unique<detail::MethodEntry>();
      made->handler = detail::routed_call;
      made->start_routed = detail::routed_start;
      made->ctx = routed.get();
      made->keep_alive = std::move(routed);
      return made;
    };
    return host->add_service(std::move(entry), status);
  } catch (const std::invalid_argument& error) {
    return report(status, JN_INVALID_ARGUMENT, error.what());
  } catch (...) {
    return report_exception(status, JN_UNAVAILABLE, {"cannot route to ", url});
  }
}

JN_API std::int32_t jn_curve_keypair(char* public_key, char* secret_key, jn_status* status) {
  if (public_key == nullptr || secret_key == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "public_key and secret_key must not be NULL");
  }
  if (!junction::zmq_transport::curve_available()) {
    return report(status, JN_UNIMPLEMENTED, "this libzmq was built without CURVE");
  }
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return report(status, JN_INTERNAL,
                  std::string("cannot make a CURVE key pair: ") + zmq_strerror(zmq_errno()));
  }
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_curve_public_key(const char* secret_key, char* public_key,
                                        jn_status* status) {
  if (secret_key == nullptr || public_key == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "secret_key and public_key must not be NULL");
  }
  if (!junction::zmq_transport::curve_available()) {
    return report(status, JN_UNIMPLEMENTED, "this libzmq was built without CURVE");
  }
  try {
    (void)junction::zmq_transport::decode_curve_key(secret_key, "secret_key");
  } catch (const std::invalid_argument& error) {
    return report(status, JN_INVALID_ARGUMENT, error.what());
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot read secret_key"});
  }
  if (zmq_curve_public(public_key, secret_key) != 0) {
    return report(status, JN_INTERNAL,
                  std::string("cannot derive a CURVE public key: ") + zmq_strerror(zmq_errno()));
  }
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_host_route_stats(jn_host* handle, const char* service,
                                        jn_route_stats* stats) {
  if (handle == nullptr || service == nullptr || stats == nullptr ||
      stats->struct_size < sizeof(jn_route_stats)) {
    return JN_INVALID_ARGUMENT;
  }
  auto* host = reinterpret_cast<Host*>(handle);
  std::function<void(jn_route_stats&)> fill;
  try {
    std::lock_guard lock(host->registry_mutex);
    const auto found = host->services.find(std::string_view(service));
    if (found == host->services.end() || !found->second->route_stats) {
      return JN_NOT_FOUND;
    }
    fill = found->second->route_stats;  // holds the connection past the lock
  } catch (...) {
    return JN_RESOURCE_EXHAUSTED;
  }
  fill(*stats);
  return JN_OK;
}

}  // extern "C"
