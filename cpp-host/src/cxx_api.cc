// The C++ RAII API: thin owners over the C ABI, and the exception wall for
// handlers written in C++.
#include <array>
#include <cstdio>
#include <cstring>
#include <exception>
#include <junction/junction.hpp>
#include <type_traits>

#include "buffer_store.hh"

namespace junction {
namespace {

// The C strings of strings, which they borrow.
std::vector<const char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<const char*> pointers;
  pointers.reserve(strings.size());
  for (const std::string& text : strings) {
    pointers.push_back(text.c_str());
  }
  return pointers;
}

// status's message, and status released, also when the copy cannot be made.
std::string take_message(jn_status& status) {
  struct Released {
    jn_status& status;
    ~Released() { jn_status_release(&status); }
  } released{status};
  return {reinterpret_cast<const char*>(status.message.data),
          static_cast<std::size_t>(status.message.len)};
}

[[noreturn]] void throw_status(jn_status& status) {
  const auto code = static_cast<Code>(status.code);
  throw Error(code, take_message(status));
}

// Buffer holds its jn_buffer alone, so the two share an address.
static_assert(std::is_standard_layout_v<Buffer> && sizeof(Buffer) == sizeof(jn_buffer));

// A synchronous call's response, or its status thrown as an Error. The
// response is read a field at a time, the way a C handler may have stored
// it, and stored whole into the Buffer returned, which its caller may move
// at once: a whole copy of a buffer stored a field at a time waits for the
// stores to reach the cache (buffer_store.hh).
Buffer take_response(std::int32_t code, jn_result& result) {
  if (code != JN_OK) {
    jn_buffer_release(&result.response);
    throw_status(result.status);
  }
  if (result.status.message.release != nullptr) {
    jn_status_release(&result.status);
  }
  const jn_buffer& answered = result.response;
  Buffer response;
  detail::buffer_store_whole(
      reinterpret_cast<jn_buffer*>(&response),
      jn_buffer{answered.data, answered.len, answered.release, answered.private_data});
  return response;
}

void check(std::int32_t code, jn_status& status) {
  if (code != JN_OK) {
    throw_status(status);
  }
  jn_status_release(&status);
}

// Sets status to the code and message a handler failed with. A failure's
// code is an error code: OK, or a code outside the ABI's range, becomes
// JN_INTERNAL, as the host makes of a C handler's code outside the range.
void status_from_handler(jn_status* status, Code code, std::string_view message) noexcept {
  try {
    const auto number = static_cast<std::int32_t>(code);
    if (number <= JN_OK || number > JN_STATUS_CODE_MAX) {
      const std::string reason =
          "handler failed with " +
          (number == JN_OK ? std::string("code OK") : "invalid code " + std::to_string(number)) +
          ": " + std::string(message);
      jn_status_set(status, JN_INTERNAL, reason.c_str());
    } else {
      jn_status_set(status, number, std::string(message).c_str());
    }
  } catch (...) {
    jn_status_set(status, JN_INTERNAL, nullptr);
  }
}

// Sets result's status from the exception being handled.
void result_from_exception(jn_result* result) noexcept {
  jn_buffer_release(&result->response);
  try {
    throw;
  } catch (const Error& e) {
    status_from_handler(&result->status, e.code(), e.what());
  } catch (const std::exception& e) {
    try {
      jn_status_set(&result->status, JN_INTERNAL,
                    (std::string("handler threw: ") + e.what()).c_str());
    } catch (...) {
      jn_status_set(&result->status, JN_INTERNAL, e.what());  // no memory for more
    }
  } catch (...) {
    jn_status_set(&result->status, JN_INTERNAL, "handler threw a non-standard exception");
  }
}

struct ServiceContext {
  std::vector<Handler> handlers;
  std::vector<AsyncHandler> async_handlers;
};

void handler_trampoline(void* ctx, jn_bytes request, std::int64_t deadline, jn_result* result) {
  try {
    const auto& handler = *static_cast<const Handler*>(ctx);
    Buffer response = handler({request.data, static_cast<std::size_t>(request.len)}, deadline);
    // Stored whole, for a caller that copies the response whole.
    detail::buffer_store_whole(&result->response, response.into_raw());
  } catch (...) {
    result_from_exception(result);
  }
}

// The call whose asynchronous handler is running on this thread. A
// Completion of that call destroyed while an exception unwinds leaves the
// answer to the trampoline, which knows the exception if it leaves the
// handler, and answers INTERNAL if the handler caught it.
struct RunningAsyncCall {
  std::uint64_t call_id = 0;
  bool completion_dropped = false;  // while an exception unwound
};
thread_local RunningAsyncCall running_async_call;

void async_handler_trampoline(void* ctx, jn_bytes request, std::int64_t deadline,
                              jn_completion completion) {
  const RunningAsyncCall outer_call =
      std::exchange(running_async_call, RunningAsyncCall{completion.call_id, false});
  try {
    const auto& handler = *static_cast<const AsyncHandler*>(ctx);
    handler({request.data, static_cast<std::size_t>(request.len)}, deadline,
            Completion(completion));
    if (running_async_call.completion_dropped) {
      jn_result result{};
      jn_status_set(&result.status, JN_INTERNAL,
                    "handler dropped its completion while an exception it caught unwound");
      jn_complete(completion, &result);
    }
  } catch (...) {
    // Answered here only if the handler's Completion went with the
    // exception: one it completed, or handed on (to another thread, say)
    // before throwing, is no longer the trampoline's to answer.
    if (running_async_call.completion_dropped) {
      jn_result result{};
      result_from_exception(&result);
      jn_complete(completion, &result);
    }
  }
  running_async_call = outer_call;
}

void service_destroy(void* ctx) { delete static_cast<ServiceContext*>(ctx); }

// Method::call_async's body, with or without a cancel.
void call_async_with(const jn_method* method, Buffer request, Deadline deadline, jn_cancel* cancel,
                     std::function<void(Result)> done) {
  auto callback = std::make_unique<std::function<void(Result)>>(std::move(done));
  jn_buffer raw = request.into_raw();
  jn_status status{};
  const auto on_done = [](void* user_data, jn_result* result) noexcept {
    std::unique_ptr<std::function<void(Result)>> owned(
        static_cast<std::function<void(Result)>*>(user_data));
    Result outcome;
    outcome.code = static_cast<Code>(result->status.code);
    outcome.response = Buffer(std::move(result->response));
    try {
      outcome.message = take_message(result->status);
    } catch (...) {
      // Without memory for the message, done still learns the code.
    }
    try {
      (*owned)(std::move(outcome));
    } catch (...) {
      // done is the caller's code; an exception from it has nowhere to go.
    }
  };
  const std::int32_t code =
      jn_call_async_cancellable(method, &raw, deadline, cancel, on_done, callback.get(), &status);
  if (code != JN_OK) {
    jn_buffer_release(&raw);
    throw_status(status);
  }
  static_cast<void>(callback.release());  // now owned by on_done
  jn_status_release(&status);
}

void vector_release(jn_buffer* buffer) {
  delete static_cast<std::vector<std::uint8_t>*>(buffer->private_data);
  *buffer = jn_buffer{};
}

}  // namespace

std::string_view code_name(Code code) noexcept {
  return jn_status_name(static_cast<std::int32_t>(code));
}

Error::Error(Code code, const std::string& message)
    : std::runtime_error(message.empty() ? std::string(code_name(code)) : message), code_(code) {}

Deadline deadline_after(std::chrono::nanoseconds timeout) noexcept {
  const std::int64_t now = jn_now_ns();
  const std::int64_t count = timeout.count();
  if (count >= JN_NO_DEADLINE - now) {
    return no_deadline;
  }
  return now + count;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    jn_buffer_release(&raw_);
    raw_ = other.raw_;
    other.raw_ = jn_buffer{};
  }
  return *this;
}

Buffer Buffer::copy_of(std::span<const std::uint8_t> bytes) {
  jn_buffer raw{};
  if (jn_buffer_copy(bytes.data(), bytes.size(), &raw) != JN_OK) {
    throw Error(Code::resource_exhausted, "cannot allocate a buffer");
  }
  return Buffer(std::move(raw));
}

Buffer Buffer::copy_of(std::string_view text) {
  return copy_of({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Buffer Buffer::from_vector(std::vector<std::uint8_t>&& bytes) {
  auto owned = std::make_unique<std::vector<std::uint8_t>>(std::move(bytes));
  jn_buffer raw{owned->data(), owned->size(), vector_release, owned.get()};
  static_cast<void>(owned.release());  // now owned by raw, freed by vector_release
  return Buffer(std::move(raw));
}

Completion::Completion(Completion&& other) noexcept
    : raw_(other.raw_), live_(std::exchange(other.live_, false)) {}

Completion& Completion::operator=(Completion&& other) noexcept {
  if (this != &other) {
    if (live_) {
      fail(Code::internal, "handler dropped its completion");
    }
    raw_ = other.raw_;
    live_ = std::exchange(other.live_, false);
  }
  return *this;
}

Completion::~Completion() {
  if (!live_) {
    return;
  }
  if (std::uncaught_exceptions() > 0 && raw_.call_id == running_async_call.call_id) {
    running_async_call.completion_dropped = true;  // the trampoline answers
    return;
  }
  fail(Code::internal, "handler dropped its completion without answering");
}

Code Completion::succeed(Buffer response) noexcept {
  if (!live_) {
    return Code::failed_precondition;
  }
  live_ = false;
  jn_result result{};
  result.response = response.into_raw();
  return static_cast<Code>(jn_complete(raw_, &result));
}

Code Completion::fail(Code code, std::string_view message) noexcept {
  if (!live_) {
    return Code::failed_precondition;
  }
  live_ = false;
  jn_result result{};
  status_from_handler(&result.status, code, message);
  return static_cast<Code>(jn_complete(raw_, &result));
}

Service& Service::method(std::string name, Handler handler) {
  methods_.push_back({std::move(name), std::move(handler), {}});
  return *this;
}

Service& Service::async_method(std::string name, AsyncHandler handler) {
  methods_.push_back({std::move(name), {}, std::move(handler)});
  return *this;
}

Method& Method::operator=(Method&& other) noexcept {
  if (this != &other) {
    jn_method_free(raw_);
    raw_ = std::exchange(other.raw_, nullptr);
  }
  return *this;
}

Buffer Method::call(std::span<const std::uint8_t> request, Deadline deadline) const {
  jn_result result;  // always written by the call
  const std::int32_t code = jn_call(raw_, {request.data(), request.size()}, deadline, &result);
  return take_response(code, result);
}

Buffer Method::call_into(std::span<const std::uint8_t> request, std::span<std::uint8_t> room,
                         Deadline deadline) const {
  jn_result result;  // always written by the call
  const std::int32_t code = jn_call_into(raw_, {request.data(), request.size()}, deadline,
                                         room.data(), room.size(), &result);
  return take_response(code, result);
}

Buffer Method::call(std::span<const std::uint8_t> request, Deadline deadline,
                    const Cancel& cancel) const {
  jn_result result;  // always written by the call
  const std::int32_t code = jn_call_cancellable(raw_, {request.data(), request.size()}, deadline,
                                                cancel.raw(), nullptr, 0, &result);
  return take_response(code, result);
}

Cancel::Cancel() {
  if (jn_cancel_new(&raw_) != JN_OK) {
    throw Error(Code::resource_exhausted, "cannot allocate a cancel");
  }
}

Cancel& Cancel::operator=(Cancel&& other) noexcept {
  if (this != &other) {
    jn_cancel_free(raw_);
    raw_ = std::exchange(other.raw_, nullptr);
  }
  return *this;
}

Buffer Method::call(std::string_view request, Deadline deadline) const {
  return call({reinterpret_cast<const std::uint8_t*>(request.data()), request.size()}, deadline);
}

void Method::call_async(Buffer request, Deadline deadline, std::function<void(Result)> done) const {
  call_async_with(raw_, std::move(request), deadline, nullptr, std::move(done));
}

void Method::call_async(Buffer request, Deadline deadline, const Cancel& cancel,
                        std::function<void(Result)> done) const {
  call_async_with(raw_, std::move(request), deadline, cancel.raw(), std::move(done));
}

MethodStats Method::stats() const {
  MethodStats stats{};
  if (jn_method_stats_get(raw_, &stats) != JN_OK) {
    throw Error(Code::invalid_argument, "method handle is empty");
  }
  return stats;
}

Host::Host(HostOptions options) {
  const jn_host_options raw_options{sizeof(jn_host_options), options.worker_threads,
                                    options.thread_slice_ns};
  jn_status status{};
  check(jn_host_new(&raw_options, &raw_, &status), status);
}

namespace {

// Why jn_host_free refused host, for a message.
const char* free_refusal(const jn_host* host) {
  return jn_host_free_check(host) != JN_OK
             ? "it is called on one of the host's own threads or in a handler"
             : "a Listener of the host is still open (close it first)";
}

// A destructor's jn_host_free, which cannot throw: a refusal is told on
// standard error, since the host then stays, with its threads.
void free_or_report(jn_host* host) noexcept {
  if (jn_host_free(host) != JN_OK) {
    std::fprintf(stderr, "junction: a Host could not be freed, and stays running: %s\n",
                 free_refusal(host));
  }
}

}  // namespace

Host& Host::operator=(Host&& other) noexcept {
  if (this != &other) {
    free_or_report(raw_);
    raw_ = std::exchange(other.raw_, nullptr);
  }
  return *this;
}

Host::~Host() { free_or_report(raw_); }

void Host::close() {
  if (jn_host_free(raw_) != JN_OK) {
    throw Error(Code::failed_precondition,
                std::string("cannot free the host: ") + free_refusal(raw_));
  }
  raw_ = nullptr;
}

void Host::register_service(Service service) {
  junction::register_service(raw_, std::move(service));
}

void register_service(jn_host* host, Service service) {
  auto context = std::make_unique<ServiceContext>();
  context->handlers.reserve(service.methods_.size());
  context->async_handlers.reserve(service.methods_.size());
  std::vector<jn_method_desc> methods;
  methods.reserve(service.methods_.size());
  for (auto& entry : service.methods_) {
    jn_method_desc desc{entry.name.c_str(), nullptr, nullptr, nullptr};
    if (entry.async_handler) {
      context->async_handlers.push_back(std::move(entry.async_handler));
      desc.async_handler = async_handler_trampoline;
      desc.ctx = &context->async_handlers.back();
    } else {
      context->handlers.push_back(std::move(entry.handler));
      desc.handler = handler_trampoline;
      desc.ctx = &context->handlers.back();
    }
    methods.push_back(desc);
  }
  const jn_service_desc desc{JN_ABI_VERSION,        static_cast<std::uint32_t>(methods.size()),
                             service.name_.c_str(), methods.data(),
                             context.get(),         service_destroy};
  jn_status status{};
  check(jn_host_register(host, &desc, &status), status);
  static_cast<void>(context.release());  // now owned by the host, freed by service_destroy
}

void Host::unregister_service(std::string_view name) {
  jn_status status{};
  check(jn_host_unregister(raw_, std::string(name).c_str(), &status), status);
}

Method Host::resolve(std::string_view service, std::string_view method) const {
  jn_method* raw = nullptr;
  jn_status status{};
  check(jn_host_resolve(raw_, std::string(service).c_str(), std::string(method).c_str(), &raw,
                        &status),
        status);
  return Method(raw);
}

std::vector<ServiceInfo> Host::services() const {
  struct Listing {
    std::vector<ServiceInfo> services;
    bool complete = true;
  } listing;
  const auto visit = [](void* user_data, const jn_service_info* info) noexcept {
    auto& into = *static_cast<Listing*>(user_data);
    try {
      ServiceInfo& service = into.services.emplace_back();
      service.name = info->name;
      service.methods.assign(info->methods, info->methods + info->method_count);
      if (info->route_url != nullptr) {
        service.route_url = info->route_url;
      }
    } catch (...) {
      into.complete = false;
    }
  };
  const std::int32_t code = jn_host_list_services(raw_, visit, &listing);
  if (code != JN_OK) {
    throw Error(static_cast<Code>(code),
                std::string("cannot list the host's services: ") + jn_status_name(code));
  }
  if (!listing.complete) {
    throw Error(Code::resource_exhausted, "cannot hold the host's services");
  }
  return std::move(listing.services);
}

jn_route_stats Host::route_stats(std::string_view service) const {
  jn_route_stats stats{};
  stats.struct_size = sizeof(stats);
  const std::string name(service);
  if (const std::int32_t code = jn_host_route_stats(raw_, name.c_str(), &stats); code != JN_OK) {
    throw Error(static_cast<Code>(code), code == JN_NOT_FOUND
                                             ? "'" + name + "' is not a route"
                                             : std::string("cannot read the route of '") + name +
                                                   "': " + jn_status_name(code));
  }
  return stats;
}

Listener Host::listen(std::string_view url, const ListenOptions& options) {
  const std::vector<const char*> services = c_strings(options.services);
  const std::vector<const char*> client_keys = c_strings(options.curve_client_keys);
  const jn_listen_options raw_options{
      sizeof(jn_listen_options),
      options.threads,
      services.empty() ? nullptr : services.data(),
      static_cast<std::uint32_t>(services.size()),
      options.max_in_flight,
      options.max_payload_bytes,
      options.max_unread_answers,
      options.max_unread_answer_bytes,
      options.curve_secret_key.empty() ? nullptr : options.curve_secret_key.c_str(),
      client_keys.empty() ? nullptr : client_keys.data(),
      static_cast<std::uint32_t>(client_keys.size()),
      0};
  jn_listener* raw = nullptr;
  jn_status status{};
  check(jn_host_listen(raw_, std::string(url).c_str(), &raw_options, &raw, &status), status);
  return Listener(raw);
}

void Host::route(std::string_view service, std::string_view url, const RouteOptions& options) {
  const auto key_or_null = [](const std::string& key) {
    return key.empty() ? nullptr : key.c_str();
  };
  const jn_route_options raw_options{sizeof(jn_route_options),
                                     0,
                                     options.connect_timeout.count(),
                                     options.max_payload_bytes,
                                     key_or_null(options.curve_server_key),
                                     key_or_null(options.curve_public_key),
                                     key_or_null(options.curve_secret_key)};
  jn_status status{};
  check(jn_host_route(raw_, std::string(service).c_str(), std::string(url).c_str(), &raw_options,
                      &status),
        status);
}

CurveKeyPair curve_keypair() {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_key{};
  std::array<char, JN_CURVE_KEY_LENGTH + 1> secret_key{};
  jn_status status{};
  check(jn_curve_keypair(public_key.data(), secret_key.data(), &status), status);
  return CurveKeyPair{public_key.data(), secret_key.data()};
}

std::string curve_public_key(std::string_view secret_key) {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_key{};
  jn_status status{};
  check(jn_curve_public_key(std::string(secret_key).c_str(), public_key.data(), &status), status);
  return public_key.data();
}

Listener& Listener::operator=(Listener&& other) noexcept {
  if (this != &other) {
    jn_listener_close(raw_, 0);
    raw_ = std::exchange(other.raw_, nullptr);
  }
  return *this;
}

std::string_view Listener::url() const noexcept {
  const char* url = jn_listener_url(raw_);
  return url == nullptr ? std::string_view() : std::string_view(url);
}

jn_listener_stats Listener::stats() const noexcept {
  jn_listener_stats stats{};
  stats.struct_size = sizeof(stats);
  // Refused only for an empty listener, which leaves the counts zero.
  static_cast<void>(jn_listener_stats_get(raw_, &stats));
  return stats;
}

void Listener::set_curve_client_keys(const std::vector<std::string>& client_keys) {
  const std::vector<const char*> keys = c_strings(client_keys);
  jn_status status{};
  check(jn_listener_set_curve_client_keys(raw_, keys.data(),
                                          static_cast<std::uint32_t>(keys.size()), &status),
        status);
}

bool Listener::drain(Deadline drain_deadline) {
  return jn_listener_drain(raw_, drain_deadline) == JN_OK;
}

bool Listener::close(Deadline drain_deadline) {
  return jn_listener_close(std::exchange(raw_, nullptr), drain_deadline) == JN_OK;
}

}  // namespace junction
