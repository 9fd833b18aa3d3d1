// junction.hpp - the C++ RAII API over the junction C ABI (abi/junction.h).
//
// Owning types (Host, Method, Buffer) are move-only and release what they
// own exactly once. Failures are reported by throwing junction::Error, which
// carries the status code; no exception ever crosses into C: handlers
// registered through Service are wrapped so that a junction::Error becomes
// its code and any other exception becomes JN_INTERNAL with its what().
#pragma once

#include <junction.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace junction {

enum class Code : std::int32_t {
  ok = JN_OK,
  cancelled = JN_CANCELLED,
  unknown = JN_UNKNOWN,
  invalid_argument = JN_INVALID_ARGUMENT,
  deadline_exceeded = JN_DEADLINE_EXCEEDED,
  not_found = JN_NOT_FOUND,
  already_exists = JN_ALREADY_EXISTS,
  permission_denied = JN_PERMISSION_DENIED,
  resource_exhausted = JN_RESOURCE_EXHAUSTED,
  failed_precondition = JN_FAILED_PRECONDITION,
  aborted = JN_ABORTED,
  out_of_range = JN_OUT_OF_RANGE,
  unimplemented = JN_UNIMPLEMENTED,
  internal = JN_INTERNAL,
  unavailable = JN_UNAVAILABLE,
  data_loss = JN_DATA_LOSS,
  unauthenticated = JN_UNAUTHENTICATED,
};

// The canonical name of a code, e.g. "NOT_FOUND".
[[nodiscard]] std::string_view code_name(Code code) noexcept;

// A failed junction operation: the code and the message.
class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message);
  [[nodiscard]] Code code() const noexcept { return code_; }

 private:
  Code code_;
};

// Deadlines are absolute jn_now_ns() nanoseconds.
using Deadline = std::int64_t;
inline constexpr Deadline no_deadline = JN_NO_DEADLINE;
// The deadline that is `timeout` from now.
[[nodiscard]] Deadline deadline_after(std::chrono::nanoseconds timeout) noexcept;

// An owned jn_buffer: released through its producer's callback on
// destruction. Moved-from and default-constructed buffers are empty.
class Buffer {
 public:
  Buffer() noexcept = default;
  // Takes ownership of raw's contents and marks raw released. The moves
  // and the destructor are inline: a handler's Buffer is built in place,
  // and an empty one is dropped without a call into the library.
  explicit Buffer(jn_buffer&& raw) noexcept : raw_(raw) { raw = jn_buffer{}; }
  Buffer(Buffer&& other) noexcept : raw_(other.raw_) { other.raw_ = jn_buffer{}; }
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
    if (raw_.release != nullptr) {
      jn_buffer_release(&raw_);
    }
  }

  // A host-allocated copy of bytes.
  [[nodiscard]] static Buffer copy_of(std::span<const std::uint8_t> bytes);
  [[nodiscard]] static Buffer copy_of(std::string_view text);
  // Owns a std::vector's storage without copying it.
  [[nodiscard]] static Buffer from_vector(std::vector<std::uint8_t>&& bytes);

  [[nodiscard]] const std::uint8_t* data() const noexcept { return raw_.data; }
  [[nodiscard]] std::size_t size() const noexcept { return static_cast<std::size_t>(raw_.len); }
  [[nodiscard]] bool empty() const noexcept { return raw_.len == 0; }
  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {data(), size()}; }
  [[nodiscard]] std::string_view text() const noexcept {
    return {reinterpret_cast<const char*>(raw_.data), size()};
  }

  // Hands the buffer to C: the caller now owns the returned jn_buffer.
  [[nodiscard]] jn_buffer into_raw() noexcept {
    const jn_buffer out = raw_;
    raw_ = jn_buffer{};
    return out;
  }

 private:
  jn_buffer raw_{};
};

// The outcome of an asynchronous call.
struct Result {
  Code code = Code::ok;
  std::string message;
  Buffer response;
};

// Handlers: return the response, or throw junction::Error for a status (an
// error code; Error with Code::ok answers INTERNAL). A handler runs on many
// threads at once, one per call in flight: what it captures is shared by
// those calls, so a mutable lambda's state needs its own synchronisation.
using Handler = std::function<Buffer(std::span<const std::uint8_t> request, Deadline deadline)>;

// Finishes an asynchronous handler's call exactly once. Destroying an
// unfinished Completion answers the call with JN_INTERNAL, so a call can
// never be left hanging by a lost completion. A handler that throws after
// handing its Completion on (moved to another thread, say) leaves the call
// to that Completion; one whose Completion goes with the exception is
// answered with the exception's status.
class Completion {
 public:
  explicit Completion(jn_completion raw) noexcept : raw_(raw), live_(true) {}
  Completion(Completion&& other) noexcept;
  Completion& operator=(Completion&& other) noexcept;
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;
  ~Completion();

  // Answers with a response; returns the jn_complete code (JN_OK when the
  // caller received it).
  Code succeed(Buffer response) noexcept;
  // Answers with an error status (Code::ok answers INTERNAL).
  Code fail(Code code, std::string_view message) noexcept;

 private:
  jn_completion raw_{};
  bool live_ = false;
};

using AsyncHandler = std::function<void(std::span<const std::uint8_t> request, Deadline deadline,
                                        Completion completion)>;

// A service under construction: a name and its methods.
class Service {
 public:
  explicit Service(std::string name) : name_(std::move(name)) {}
  Service& method(std::string name, Handler handler);
  Service& async_method(std::string name, AsyncHandler handler);
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  friend void register_service(jn_host* host, Service service);
  struct Entry {
    std::string name;
    Handler handler;
    AsyncHandler async_handler;
  };
  std::string name_;
  std::vector<Entry> methods_;
};

// Per-method statistics (see jn_method_stats).
using MethodStats = jn_method_stats;

// Whether the caller of the call this synchronous handler serves has given
// up: its cancel was signalled (jn_call_cancel), by a caller in this
// process that passed one, or by one in another process whose cancel
// reached the listener. A handler is never interrupted; a long one may look
// now and then. False outside a handler and for a call without a cancel.
[[nodiscard]] inline bool call_cancelled() noexcept {
  return jn_cancel_signalled(jn_call_cancel()) == 1;
}

// A cancel (jn_cancel): signalled from any thread, it ends the waits of the
// calls made with it (Method::call taking one) with Code::cancelled, and
// refuses the calls made with it afterwards.
class Cancel {
 public:
  // Throws Error when it cannot be made.
  Cancel();
  Cancel(Cancel&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Cancel& operator=(Cancel&& other) noexcept;
  Cancel(const Cancel&) = delete;
  Cancel& operator=(const Cancel&) = delete;
  // No call made with it (but call_async's, which hold it), and no signal
  // of it, may still be running.
  ~Cancel() { jn_cancel_free(raw_); }

  void signal() const noexcept { jn_cancel_signal(raw_); }
  [[nodiscard]] jn_cancel* raw() const noexcept { return raw_; }

 private:
  jn_cancel* raw_ = nullptr;
};

// A resolved method handle.
class Method {
 public:
  Method() noexcept = default;
  explicit Method(jn_method* raw) noexcept : raw_(raw) {}
  Method(Method&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Method& operator=(Method&& other) noexcept;
  Method(const Method&) = delete;
  Method& operator=(const Method&) = delete;
  ~Method() { jn_method_free(raw_); }

  // Calls synchronously; throws Error on any status but OK.
  [[nodiscard]] Buffer call(std::span<const std::uint8_t> request,
                            Deadline deadline = no_deadline) const;
  [[nodiscard]] Buffer call(std::string_view request, Deadline deadline = no_deadline) const;
  // Calls synchronously lending room for the response (jn_call_into): a
  // handler that answers with jn_respond writes there when the response
  // fits, and the returned Buffer then views room (use it while room
  // lives); any other response is an owned buffer as with call.
  [[nodiscard]] Buffer call_into(std::span<const std::uint8_t> request,
                                 std::span<std::uint8_t> room,
                                 Deadline deadline = no_deadline) const;
  // call, which cancel ends while it waits (jn_call_cancellable): a routed
  // method's call, or an asynchronous handler's.
  [[nodiscard]] Buffer call(std::span<const std::uint8_t> request, Deadline deadline,
                            const Cancel& cancel) const;
  // Whether its calls can wait, and so be cancelled (jn_method_waits).
  [[nodiscard]] bool waits() const noexcept { return jn_method_waits(raw_) != 0; }

  // Calls asynchronously; done runs exactly once on some thread. Throws
  // Error (and does not call done) if the call could not be started.
  void call_async(Buffer request, Deadline deadline, std::function<void(Result)> done) const;
  // call_async that cancel answers early (jn_call_async_cancellable): its
  // signal answers the call Code::cancelled at once through done, and the
  // handler sees it. The call holds cancel: it may go before done runs.
  void call_async(Buffer request, Deadline deadline, const Cancel& cancel,
                  std::function<void(Result)> done) const;

  [[nodiscard]] MethodStats stats() const;
  [[nodiscard]] const jn_method* raw() const noexcept { return raw_; }

 private:
  jn_method* raw_ = nullptr;
};

// See jn_host_options; zeros mean the defaults.
struct HostOptions {
  std::uint32_t worker_threads = 0;
  // The slice the host's and its listeners' threads ask for:
  // JN_THREAD_SLICE_MIN_NS to JN_THREAD_SLICE_MAX_NS, or
  // JN_THREAD_SLICE_INHERITED for none (0: 0.5 ms).
  std::uint64_t thread_slice_ns = 0;
};

// See jn_listen_options; zeros and an empty list mean the defaults.
struct ListenOptions {
  std::vector<std::string> services;  // empty: every service of the host
  std::uint32_t threads = 0;
  std::uint32_t max_in_flight = 0;
  std::uint64_t max_payload_bytes = 0;
  // What one connection may leave unread before its calls are refused
  // (0: 1024 answers, at most JN_MAX_UNREAD_ANSWERS; 0: 256 MiB).
  std::uint64_t max_unread_answers = 0;
  std::uint64_t max_unread_answer_bytes = 0;
  // CURVE (tcp and ipc), Z85 keys: the listener's secret key (empty: no
  // CURVE), and the public keys of the clients it lets in (empty: any
  // client that knows the listener's public key).
  std::string curve_secret_key;
  std::vector<std::string> curve_client_keys;
};

// See jn_route_options; zeros mean the defaults.
struct RouteOptions {
  std::chrono::nanoseconds connect_timeout{0};
  std::uint64_t max_payload_bytes = 0;
  // CURVE (tcp and ipc), Z85 keys: the listener's public key (empty: no
  // CURVE), and the route's own pair (both empty: a pair made for it).
  std::string curve_server_key;
  std::string curve_public_key;
  std::string curve_secret_key;
};

// A CURVE key pair in Z85 (jn_curve_keypair).
struct CurveKeyPair {
  std::string public_key;
  std::string secret_key;
};

// A new CURVE key pair (jn_curve_keypair).
[[nodiscard]] CurveKeyPair curve_keypair();

// The public key of a Z85 secret key (jn_curve_public_key).
[[nodiscard]] std::string curve_public_key(std::string_view secret_key);

// One of a host's services (jn_host_list_services): a registered service
// with its methods in byte order, or a routed one with its URL.
struct ServiceInfo {
  std::string name;
  std::vector<std::string> methods;  // empty for a routed service
  std::optional<std::string> route_url;
};

// A listener serving a host's services on a URL (jn_host_listen). Close it
// (or let it go) before its Host: destruction closes without waiting for
// calls in flight.
class Listener {
 public:
  Listener() noexcept = default;
  explicit Listener(jn_listener* raw) noexcept : raw_(raw) {}
  Listener(Listener&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Listener& operator=(Listener&& other) noexcept;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;
  ~Listener() { jn_listener_close(raw_, 0); }

  // The bound URL (with the chosen port when port 0 was asked for).
  [[nodiscard]] std::string_view url() const noexcept;
  // What it has done since it opened (jn_listener_stats_get); all zero for
  // an empty listener.
  [[nodiscard]] jn_listener_stats stats() const noexcept;
  // Lets in the CURVE clients of client_keys (Z85 public keys) and no
  // other, from now on, connections already made included
  // (jn_listener_set_curve_client_keys). Throws Error: FAILED_PRECONDITION
  // without CURVE, INVALID_ARGUMENT for no key or a bad one (the list in
  // force stays).
  void set_curve_client_keys(const std::vector<std::string>& client_keys);
  // Answers new calls UNAVAILABLE and waits for the calls in flight until
  // drain_deadline (jn_listener_drain), keeping the listener: url and
  // stats stay readable until close. Returns whether no call is in flight;
  // false for an empty listener.
  bool drain(Deadline drain_deadline);
  // Stops serving, answering calls in flight until drain_deadline; returns
  // whether all of them were answered. The listener is empty afterwards.
  bool close(Deadline drain_deadline);

 private:
  jn_listener* raw_ = nullptr;
};

// Registers service on a host this code does not own (a module's
// jn_module_init receives one). Throws Error if the host refuses it.
void register_service(jn_host* host, Service service);

// A junction host. Destruction frees it (see jn_host_free).
class Host {
 public:
  explicit Host(HostOptions options = {});
  Host(Host&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
  Host& operator=(Host&& other) noexcept;
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;
  // Frees the host (jn_host_free). Where that is refused, while one of
  // its Listeners is open or on one of its own threads or in a handler, the
  // host is left running (its threads and services leak) and a line on
  // standard error says so: close() says why instead.
  ~Host();

  // Frees the host now (jn_host_free), leaving this empty; throws Error
  // failed_precondition, and keeps the host, where the free is refused: a
  // Listener of it open, or called on one of its threads or in a handler.
  void close();

  void register_service(Service service);
  void unregister_service(std::string_view name);
  [[nodiscard]] Method resolve(std::string_view service, std::string_view method) const;
  // The services this host has now, registered and routed, by name.
  [[nodiscard]] std::vector<ServiceInfo> services() const;
  // Serves this host's services on url (jn_host_listen).
  [[nodiscard]] Listener listen(std::string_view url, const ListenOptions& options = {});
  // Sends calls to service to the host serving it at url (jn_host_route).
  void route(std::string_view service, std::string_view url, const RouteOptions& options = {});
  // What the connection of the route service is doing (jn_host_route_stats);
  // Error not_found when service is not a route.
  [[nodiscard]] jn_route_stats route_stats(std::string_view service) const;
  [[nodiscard]] jn_host* raw() const noexcept { return raw_; }

 private:
  jn_host* raw_ = nullptr;
};

}  // namespace junction
