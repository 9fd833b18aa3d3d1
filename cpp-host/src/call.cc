// Synchronous calls: the hot path.
#include <condition_variable>
#include <ctime>
#include <mutex>

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
bool deadline_passed(std::int64_t deadline_ns) noexcept {
  static const std::int64_t slack_ns = 2 * coarse_resolution_ns();
  timespec coarse{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &coarse);
  const std::int64_t coarse_ns =
      static_cast<std::int64_t>(coarse.tv_sec) * 1'000'000'000 + coarse.tv_nsec;
  if (deadline_ns > coarse_ns + slack_ns) {
    return false;
  }
  return jn_now_ns() >= deadline_ns;
}

// A synchronous caller waiting for an asynchronous handler.
struct SyncWaiter {
  std::mutex mutex;
  std::condition_variable ready_signal;
  bool ready = false;
  jn_result result{};
};

void sync_waiter_done(void* user_data, jn_result* result) {
  auto* waiter = static_cast<SyncWaiter*>(user_data);
  std::lock_guard lock(waiter->mutex);
  waiter->result = *result;
  *result = jn_result{};
  waiter->ready = true;
  waiter->ready_signal.notify_one();
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
    call = std::make_shared<PendingCall>(host, service, method->method, deadline_ns,
                                         sync_waiter_done, &waiter);
  } catch (...) {
    status_assign(&result->status, JN_RESOURCE_EXHAUSTED, "cannot start call");
    return JN_RESOURCE_EXHAUSTED;
  }
  if (const std::int32_t code = jn_buffer_copy(request.data, request.len, &call->request);
      code != JN_OK) {
    status_assign(&result->status, code, "cannot copy request");
    return code;
  }
  bool accepted = false;
  {
    std::lock_guard lock(host->pending_mutex);
    if (!host->closing) {
      accepted = host->pending.insert(call).second;
    }
  }
  if (!accepted) {
    status_assign(&result->status, JN_CANCELLED, "host is shutting down");
    return JN_CANCELLED;
  }
  pending_run(call);
  {
    std::unique_lock lock(waiter.mutex);
    const auto ready = [&] { return waiter.ready; };
    if (deadline_ns == JN_NO_DEADLINE) {
      waiter.ready_signal.wait(lock, ready);
    } else {
      const std::chrono::steady_clock::time_point deadline{std::chrono::nanoseconds(deadline_ns)};
      if (!waiter.ready_signal.wait_until(lock, deadline, ready)) {
        lock.unlock();
        pending_answer_code(call, JN_DEADLINE_EXCEEDED, "deadline exceeded");
        lock.lock();
        waiter.ready_signal.wait(lock, ready);
      }
    }
  }
  *result = waiter.result;
  return result->status.code;
}

}  // namespace
}  // namespace junction::detail

extern "C" JN_API std::int32_t jn_call(const jn_method* method, jn_bytes request,
                                       std::int64_t deadline_ns, jn_result* result) {
  using namespace junction::detail;
  if (result == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  *result = jn_result{};
  if (method == nullptr) {
    status_assign(&result->status, JN_INVALID_ARGUMENT, "method is NULL");
    return JN_INVALID_ARGUMENT;
  }
  if (request.data == nullptr && request.len != 0) [[unlikely]] {
    status_assign(&result->status, JN_INVALID_ARGUMENT, "request data is NULL but len is not 0");
    return JN_INVALID_ARGUMENT;
  }
  MethodEntry* const entry = method->method;
  ThreadState& thread = tls_state;
  if (deadline_ns != JN_NO_DEADLINE && deadline_passed(deadline_ns)) [[unlikely]] {
    status_assign(&result->status, JN_DEADLINE_EXCEEDED, "deadline exceeded before the call");
    entry->stats.record(thread.shard, true);
    return JN_DEADLINE_EXCEEDED;
  }
  ReadSection section;
  if (!method->service->open.load(std::memory_order_relaxed)) [[unlikely]] {
    status_assign_parts(&result->status, JN_NOT_FOUND,
                        {"service '", method->service->name, "' is no longer registered"});
    entry->stats.record(thread.shard, true);
    return JN_NOT_FOUND;
  }
  if (method->handler == nullptr) [[unlikely]] {
    const std::int32_t code = call_async_handler(method, request, deadline_ns, result);
    return code;
  }
  const bool sample = thread.sample_countdown-- == 0;
  std::int64_t start_ns = 0;
  if (sample) [[unlikely]] {
    thread.sample_countdown = kLatencySampleEvery - 1;
    start_ns = jn_now_ns();
  }
  try {
    method->handler(method->ctx, request, deadline_ns, result);
  } catch (...) {
    jn_buffer_release(&result->response);
    result->response = jn_buffer{};
    status_assign(&result->status, JN_INTERNAL, current_exception_message());
  }
  result_normalize(result);
  const std::int32_t code = result->status.code;
  entry->stats.record(thread.shard, code != JN_OK);
  if (sample) [[unlikely]] {
    entry->stats.record_latency(static_cast<std::uint64_t>(jn_now_ns() - start_ns));
  }
  return code;
}
