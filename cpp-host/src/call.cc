// Synchronous calls: the hot path.
#include <condition_variable>
#include <ctime>
#include <mutex>

#include "cancel.hh"
#include "host.hh"
#include "internal.hh"
#include "reader_domain.hh"

namespace junction::detail {
namespace {

std::int64_t coarse_resolution_ns() noexcept {
  timespec resolution{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &resolution);
  return static_cast<std::int64_t>(resolution.tv_sec) * 1'000'000'000 + resolution.tv_nsec;
}

// The coarse clock trails the precise one by less than its resolution, so a
// deadline further away than that from the coarse reading has not passed;
// only calls near their deadline pay for a precise clock read.
// Initialised at load, so the call path reads it without a guard.
const std::int64_t coarse_slack_ns = 2 * coarse_resolution_ns();

bool deadline_passed(std::int64_t deadline_ns) noexcept {
  timespec coarse{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
  const std::int64_t coarse_ns =
      static_cast<std::int64_t>(coarse.tv_sec) * 1'000'000'000 + coarse.tv_nsec;
  if (deadline_ns > coarse_ns + coarse_slack_ns) {
    return false;
  }
  return jn_now_ns() >= deadline_ns;
}

// A synchronous caller waiting for an asynchronous handler.
struct SyncWaiter {
  std::mutex mutex;
  std::condition_variable ready_signal;
  bool ready = false;
  bool cancelled = false;  // its caller's cancel was signalled
  jn_result result{};
};

void sync_waiter_cancel(void* user_data) {
  auto* waiter = static_cast<SyncWaiter*>(user_data);
  std::lock_guard lock(waiter->mutex);
  waiter->cancelled = true;
  waiter->ready_signal.notify_one();
}

void sync_waiter_done(void* user_data, jn_result* result) {
  auto* waiter = static_cast<SyncWaiter*>(user_data);
  std::lock_guard lock(waiter->mutex);
  waiter->result = *result;
  *result = jn_result{};
  waiter->ready = true;
  waiter->ready_signal.notify_one();
}

// The paths off the hot one live out of line, so jn_call's own frame stays
// small and its prologue cheap.
[[gnu::cold, gnu::noinline]] std::int32_t call_refused(jn_result* result, MethodEntry* entry,
                                                       std::int32_t code,
                                                       std::string_view message) noexcept {
  status_assign(&result->status, code, message);
  if (entry != nullptr) {
    entry->stats.record(tls_state.shard, true);
  }
  return code;
}

// A synchronous call on an asynchronous handler: the request is copied (the
// handler may keep it past this call's deadline), the handler starts on this
// thread, and this thread waits for jn_complete or the deadline.
std::int32_t call_async_handler(const jn_method* method, jn_bytes request, std::int64_t deadline_ns,
                                jn_result* result) noexcept {
  ServiceEntry* service = method->service;
  Host* host = service->host;
  SyncWaiter waiter;
  std::shared_ptr<PendingCall> call;
  try {
    // The handler sees its caller's cancel, which the call holds: it may
    // outlive this wait.
    call = std::make_shared<PendingCall>(host, service, method->method, deadline_ns,
                                         sync_waiter_done, &waiter, tls_call_cancel);
  } catch (...) {
    return call_refused(result, method->method, JN_RESOURCE_EXHAUSTED, "cannot start call");
  }
  if (const std::int32_t code = jn_buffer_copy(request.data, request.len, &call->request);
      code != JN_OK) {
    return call_refused(result, method->method, code, "cannot copy request");
  }
  bool accepted = false;
  try {
    accepted = host->accept(call);
  } catch (...) {
    return call_refused(result, method->method, JN_RESOURCE_EXHAUSTED, "cannot start call");
  }
  if (!accepted) {
    return call_refused(result, method->method, JN_CANCELLED, "host is shutting down");
  }
  pending_run(call);
  {
    const CancelWait cancel_wait(tls_call_cancel, sync_waiter_cancel, &waiter);
    std::unique_lock lock(waiter.mutex);
    const auto ready_or_cancelled = [&] { return waiter.ready || waiter.cancelled; };
    bool ended = true;
    if (deadline_ns == JN_NO_DEADLINE) {
      waiter.ready_signal.wait(lock, ready_or_cancelled);
    } else {
      const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds(deadline_ns)};
      ended = waiter.ready_signal.wait_until(lock, deadline, ready_or_cancelled);
    }
    if (!waiter.ready) {
      // The first answer wins: one the handler gives meanwhile is released.
      lock.unlock();
      if (ended) {
        pending_answer_code(call, JN_CANCELLED, "call cancelled by its caller");
      } else {
        pending_answer_code(call, JN_DEADLINE_EXCEEDED, "deadline exceeded");
      }
      lock.lock();
      waiter.ready_signal.wait(lock, [&] { return waiter.ready; });
    }
  }
  *result = waiter.result;
  return result->status.code;
}

[[gnu::cold, gnu::noinline]] std::int32_t call_closed(const jn_method* method,
                                                      jn_result* result) noexcept {
  status_assign_parts(&result->status, JN_NOT_FOUND,
                      {"service '", method->service->name, "' is no longer registered"});
  method->method->stats.record(tls_state.shard, true);
  return JN_NOT_FOUND;
}

// A call whose latency is sampled: two precise clock reads around it.
[[gnu::noinline]] std::int32_t call_sampled(const jn_method* method, jn_bytes request,
                                            std::int64_t deadline_ns, jn_result* result) noexcept {
  const std::int64_t start_ns = jn_now_ns();
  const std::int32_t code =
      invoke_handler(method->handler, method->ctx, request, deadline_ns, result);
  method->method->stats.record_latency(static_cast<std::uint64_t>(jn_now_ns() - start_ns));
  if (code != JN_OK) {
    method->method->stats.count_error(tls_state.shard);
  }
  return code;
}

}  // namespace
}  // namespace junction::detail

namespace junction::detail {

constinit thread_local LentSpace tls_lent_space __attribute__((tls_model("initial-exec"))) = {};

namespace {

// The end of call_sync, in its section on an open service with a
// synchronous handler: counts the call in the thread's statistics shard
// (before the handler runs, so that a nested call on the same method counts
// too) and runs the handler.
[[gnu::always_inline]] inline std::int32_t count_and_invoke(const jn_method* method,
                                                            jn_bytes request,
                                                            std::int64_t deadline_ns,
                                                            jn_result* result,
                                                            std::uint32_t shard) noexcept {
  MethodStats& stats = method->method->stats;
  if (stats.count_call(shard)) [[unlikely]] {
    return call_sampled(method, request, deadline_ns, result);
  }
  const std::int32_t code =
      invoke_handler(method->handler, method->ctx, request, deadline_ns, result);
  if (code != JN_OK) [[unlikely]] {
    stats.count_error(shard);
  }
  return code;
}

// count_and_invoke for a thread whose shard is past the inline ones
// (stats.hh): out of line, so that call_sync's code for the others is what
// it would be without it.
[[gnu::noinline]] std::int32_t count_past_inline_and_invoke(const jn_method* method,
                                                            jn_bytes request,
                                                            std::int64_t deadline_ns,
                                                            jn_result* result,
                                                            std::uint32_t shard) noexcept {
  return count_and_invoke(method, request, deadline_ns, result, shard);
}

// The body of jn_call and jn_call_into.
[[gnu::always_inline]] inline std::int32_t call_sync(const jn_method* method, jn_bytes request,
                                                     std::int64_t deadline_ns,
                                                     jn_result* result) noexcept {
  *result = jn_result{};
  if (method == nullptr) [[unlikely]] {
    return call_refused(result, nullptr, JN_INVALID_ARGUMENT, "method is NULL");
  }
  if (request.data == nullptr && request.len != 0) [[unlikely]] {
    return call_refused(result, nullptr, JN_INVALID_ARGUMENT,
                        "request data is NULL but len is not 0");
  }
  if (deadline_ns != JN_NO_DEADLINE && deadline_passed(deadline_ns)) [[unlikely]] {
    return call_refused(result, method->method, JN_DEADLINE_EXCEEDED,
                        "deadline exceeded before the call");
  }
  const ReadSection section(*method->service);
  if (!method->service->open.load(std::memory_order_relaxed)) [[unlikely]] {
    return call_closed(method, result);
  }
  if (method->handler == nullptr) [[unlikely]] {
    return call_async_handler(method, request, deadline_ns, result);
  }
  const std::uint32_t shard = tls_state.shard;
  if (!MethodStats::inline_shard(shard)) [[unlikely]] {
    return count_past_inline_and_invoke(method, request, deadline_ns, result, shard);
  }
  return count_and_invoke(method, request, deadline_ns, result, shard);
}

}  // namespace
}  // namespace junction::detail

extern "C" JN_API std::int32_t jn_call(const jn_method* method, jn_bytes request,
                                       std::int64_t deadline_ns, jn_result* result) {
  if (result == nullptr) [[unlikely]] {
    return JN_INVALID_ARGUMENT;
  }
  return junction::detail::call_sync(method, request, deadline_ns, result);
}

extern "C" JN_API std::int32_t jn_call_cancellable(const jn_method* method, jn_bytes request,
                                                   std::int64_t deadline_ns, jn_cancel* cancel,
                                                   std::uint8_t* dst, std::uint64_t dst_cap,
                                                   jn_result* result) {
  if (cancel == nullptr) {
    return jn_call_into(method, request, deadline_ns, dst, dst_cap, result);
  }
  if (method != nullptr && result != nullptr && (dst != nullptr || dst_cap == 0) &&
      junction::detail::cancel_signalled(cancel)) {
    *result = jn_result{};
    return junction::detail::call_refused(result, method->method, JN_CANCELLED,
                                          "call cancelled by its caller before it started");
  }
  const junction::detail::CallCancelScope scope(cancel);
  return jn_call_into(method, request, deadline_ns, dst, dst_cap, result);
}

extern "C" JN_API std::int32_t jn_method_waits(const jn_method* method) {
  return method != nullptr &&
                 (method->handler == nullptr || method->handler == junction::detail::routed_call)
             ? 1
             : 0;
}

extern "C" JN_API std::int32_t jn_call_into(const jn_method* method, jn_bytes request,
                                            std::int64_t deadline_ns, std::uint8_t* dst,
                                            std::uint64_t dst_cap, jn_result* result) {
  using junction::detail::tls_lent_space;
  if (result == nullptr) [[unlikely]] {
    return JN_INVALID_ARGUMENT;
  }
  if (dst == nullptr && dst_cap != 0) [[unlikely]] {
    *result = jn_result{};
    junction::detail::status_assign(&result->status, JN_INVALID_ARGUMENT,
                                    "dst is NULL but dst_cap is not 0");
    return JN_INVALID_ARGUMENT;
  }
  const junction::detail::LentSpace outer = tls_lent_space;
  tls_lent_space = {result, dst, dst_cap};
  const std::int32_t code = junction::detail::call_sync(method, request, deadline_ns, result);
  tls_lent_space = outer;
  return code;
}
