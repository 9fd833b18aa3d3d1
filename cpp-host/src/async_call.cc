// Asynchronous calls: acceptance, deadlines, completion exactly once.
#include <boost/asio/post.hpp>
#include <chrono>

#include "host.hh"
#include "internal.hh"
#include "reader_domain.hh"

namespace junction::detail {
namespace {

std::atomic<std::uint64_t> next_call_id{1};

std::mutex completions_mutex;
// Never destroyed: a route's thread may still finish a call (jn_complete)
// while the process exits.
std::unordered_map<std::uint64_t, std::shared_ptr<PendingCall>>& completions() {
  static auto* const table = new std::unordered_map<std::uint64_t, std::shared_ptr<PendingCall>>;
  return *table;
}

// Finishes an asynchronous handler invocation: normalises and delivers its
// result. Returns the jn_complete code.
std::int32_t complete_invocation(const std::shared_ptr<PendingCall>& call,
                                 jn_result* result) noexcept {
  result_normalize(result);
  std::int32_t code = JN_OK;
  if (!pending_answer(call, result)) {
    std::lock_guard lock(call->mutex);
    code = call->answered_code == JN_DEADLINE_EXCEEDED ? JN_DEADLINE_EXCEEDED : JN_CANCELLED;
  }
  jn_buffer_release(&call->request);
  call->service->finish_async_handler();
  return code;
}

// The wake of an asynchronous call's cancel: answers the call CANCELLED on
// the host's timer thread, as its deadline would. Not on the signalling
// thread: it holds the cancel's lock, which the answer takes to end the
// call's wait, and which done, the caller's code, may take too.
void pending_cancel_wake(void* call_ptr) {
  auto* call = static_cast<PendingCall*>(call_ptr);
  try {
    boost::asio::post(call->host->timers.context(), [weak = call->weak_from_this()] {
      if (auto cancelled = weak.lock()) {
        pending_answer_code(cancelled, JN_CANCELLED, "call cancelled by its caller");
      }
    });
  } catch (...) {
    // No memory to post the answer: the call ends as it would have without
    // a cancel (its handler's answer, its deadline).
  }
}

}  // namespace

PendingCall::PendingCall(Host* host_in, ServiceEntry* service_in, MethodEntry* method_in,
                         std::int64_t deadline, jn_done_fn done_in, void* user_data_in,
                         jn_cancel* cancel_in) noexcept
    : id(next_call_id.fetch_add(1, std::memory_order_relaxed)),
      host(host_in),
      service(service_in),
      method(method_in),
      deadline_ns(deadline),
      start_ns(jn_now_ns()),
      done(done_in),
      user_data(user_data_in),
      cancel(cancel_in == nullptr ? nullptr : cancel_hold(cancel_in)) {
  // Made through a handle, which holds the method now.
  method->holders.fetch_add(1, std::memory_order_relaxed);
  service_ref(service);
  live_counters().pending_calls.fetch_add(1, std::memory_order_relaxed);
}

PendingCall::~PendingCall() {
  cancel_wait.reset();  // before the cancel it waits on may go
  jn_cancel_free(cancel);
  jn_buffer_release(&request);
  method->holders.fetch_sub(1, std::memory_order_release);
  service_unref(service);
  live_counters().pending_calls.fetch_sub(1, std::memory_order_relaxed);
}

bool pending_answer(const std::shared_ptr<PendingCall>& call, jn_result* result) noexcept {
  {
    std::lock_guard lock(call->mutex);
    if (call->answered) {
      jn_result_release(result);
      return false;
    }
    call->answered = true;
    call->answered_code = result->status.code;
    call->timer.reset();  // cancels a pending deadline wait
    call->cancel_wait.reset();
  }
  {
    std::lock_guard lock(call->host->pending_mutex);
    call->host->pending.erase(call);
  }
  const std::int32_t code = result->status.code;
  ThreadState& thread = tls_state;
  call->method->stats.record(thread.shard, code != JN_OK);
  call->method->stats.record_latency(static_cast<std::uint64_t>(jn_now_ns() - call->start_ns));
  jn_result delivered = *result;
  *result = jn_result{};
  call->done(call->user_data, &delivered);
  return true;
}

bool pending_answer_code(const std::shared_ptr<PendingCall>& call, std::int32_t code,
                         std::string_view message) noexcept {
  jn_result result{};
  status_assign(&result.status, code, message);
  return pending_answer(call, &result);
}

namespace {

// Takes back an accepted call before anything started it (jn_call_async
// failing after the acceptance): nothing answers it from here on. False
// when it was answered meanwhile (its deadline, its cancel): done has it.
bool pending_withdraw(const std::shared_ptr<PendingCall>& call) noexcept {
  {
    std::lock_guard lock(call->mutex);
    if (call->answered) {
      return false;
    }
    call->answered = true;
    call->timer.reset();
    call->cancel_wait.reset();
  }
  std::lock_guard lock(call->host->pending_mutex);
  call->host->pending.erase(call);
  return true;
}

// Lists call as awaiting jn_complete, counted against its service's
// asynchronous handlers; false when it cannot be listed.
bool await_completion(const std::shared_ptr<PendingCall>& call) noexcept {
  call->service->async_outstanding.fetch_add(1, std::memory_order_seq_cst);
  try {
    completions_insert(call);
  } catch (...) {
    call->service->finish_async_handler();
    return false;
  }
  return true;
}

// Starts an accepted call: its cancel's wait and its deadline's timer, then
// the call itself, here (a routed call with room to send) or on a worker.
// Throws (out of memory) only before the call has started.
void start_accepted(const std::shared_ptr<PendingCall>& call, jn_cancel* cancel) {
  if (cancel != nullptr) {
    // The wake only posts, so it may run here, under the call's mutex.
    std::lock_guard lock(call->mutex);
    if (!call->answered) {
      call->cancel_wait.emplace(cancel, pending_cancel_wake, call.get());
    }
  }
  if (call->deadline_ns != JN_NO_DEADLINE) {
    std::lock_guard lock(call->mutex);
    if (!call->answered) {
      call->timer.emplace(
          call->host->timers.context(),
          std::chrono::steady_clock::time_point(std::chrono::nanoseconds(call->deadline_ns)));
      call->timer->async_wait(
          [weak = std::weak_ptr<PendingCall>(call)](boost::system::error_code error) {
            if (error) {
              return;  // cancelled: the call was answered first
            }
            if (auto expired = weak.lock()) {
              pending_answer_code(expired, JN_DEADLINE_EXCEEDED, "deadline exceeded");
            }
          });
    }
  }
  // A routed method's call starts here when it can be sent at once, saving
  // the hand-off to a worker; otherwise, and for every other method, on a
  // worker.
  if (call->method->start_routed == nullptr || !pending_start_now(call)) {
    boost::asio::post(call->host->workers.context(), [call] { pending_run(call); });
  }
}

}  // namespace

void pending_run(const std::shared_ptr<PendingCall>& call) noexcept {
  const ReadSection section(*call->service);
  {
    std::lock_guard lock(call->mutex);
    if (call->answered) {
      return;
    }
  }
  if (!call->service->open.load(std::memory_order_relaxed)) {
    pending_answer_code(call, JN_NOT_FOUND, "service is no longer registered");
    return;
  }
  if (call->deadline_ns != JN_NO_DEADLINE && jn_now_ns() >= call->deadline_ns) {
    pending_answer_code(call, JN_DEADLINE_EXCEEDED, "deadline exceeded before the call");
    return;
  }
  if (cancel_signalled(call->cancel)) {
    pending_answer_code(call, JN_CANCELLED, "call cancelled by its caller");
    return;
  }
  const CallCancelScope cancel_scope(call->cancel);
  const MethodEntry& method = *call->method;
  const jn_bytes request{call->request.data, call->request.len};
  if (method.async_handler == nullptr && method.start_routed == nullptr) {
    jn_result result{};
    invoke_handler(method.handler, method.ctx, request, call->deadline_ns, &result);
    pending_answer(call, &result);
    jn_buffer_release(&call->request);
    return;
  }
  if (!await_completion(call)) {
    pending_answer_code(call, JN_RESOURCE_EXHAUSTED, "cannot track the call");
    return;
  }
  if (method.start_routed != nullptr) {
    // Sent, or finished here: either way the route completes it.
    static_cast<void>(method.start_routed(method.ctx, call->request, call->deadline_ns,
                                          jn_completion{call->id, 0}, /*may_wait=*/true));
    return;
  }
  try {
    method.async_handler(method.ctx, request, call->deadline_ns, jn_completion{call->id, 0});
  } catch (...) {
    // The handler threw instead of completing; complete for it unless it
    // already did.
    if (auto taken = completions_take(call->id)) {
      jn_result result{};
      handler_threw(&result);
      complete_invocation(taken, &result);
    }
  }
}

bool pending_start_now(const std::shared_ptr<PendingCall>& call) noexcept {
  // A call past its deadline or cancelled is answered by pending_run.
  if ((call->deadline_ns != JN_NO_DEADLINE && jn_now_ns() >= call->deadline_ns) ||
      cancel_signalled(call->cancel) || !await_completion(call)) {
    return false;
  }
  const CallCancelScope cancel_scope(call->cancel);
  const MethodEntry& method = *call->method;
  if (method.start_routed(method.ctx, call->request, call->deadline_ns, jn_completion{call->id, 0},
                          /*may_wait=*/false)) {
    return true;
  }
  // Not sent, so no one else can complete it: back to as accepted.
  static_cast<void>(completions_take(call->id));
  call->service->finish_async_handler();
  return false;
}

void completions_insert(const std::shared_ptr<PendingCall>& call) {
  std::lock_guard lock(completions_mutex);
  completions().emplace(call->id, call);
}

std::shared_ptr<PendingCall> completions_take(std::uint64_t id) noexcept {
  std::lock_guard lock(completions_mutex);
  auto& table = completions();
  auto it = table.find(id);
  if (it == table.end()) {
    return nullptr;
  }
  auto call = std::move(it->second);
  table.erase(it);
  return call;
}

}  // namespace junction::detail

extern "C" {

JN_API std::int32_t jn_call_async(const jn_method* method, jn_buffer* request,
                                  std::int64_t deadline_ns, jn_done_fn done, void* user_data,
                                  jn_status* status) {
  return jn_call_async_cancellable(method, request, deadline_ns, nullptr, done, user_data, status);
}

JN_API std::int32_t jn_call_async_cancellable(const jn_method* method, jn_buffer* request,
                                              std::int64_t deadline_ns, jn_cancel* cancel,
                                              jn_done_fn done, void* user_data, jn_status* status) {
  using namespace junction::detail;
  if (method == nullptr || done == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "method and done must not be NULL");
  }
  if (request != nullptr && request->release != nullptr && request->data == nullptr &&
      request->len != 0) {
    return report(status, JN_INVALID_ARGUMENT, "request data is NULL but len is not 0");
  }
  ServiceEntry* service = method->service;
  const ReadSection section(*service);
  if (!service->open.load(std::memory_order_relaxed)) {
    return report_parts(status, JN_NOT_FOUND,
                        {"service '", service->name, "' is no longer registered"});
  }
  Host* host = service->host;
  std::shared_ptr<PendingCall> call;
  try {
    call = std::make_shared<PendingCall>(host, service, method->method, deadline_ns, done,
                                         user_data, cancel);
    if (!host->accept(call)) {
      return report(status, JN_CANCELLED, "host is shutting down");
    }
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot start call"});
  }
  // Accepted: from here on the request is the host's and done will run,
  // unless what follows runs out of memory before the call starts and takes
  // it back.
  const bool request_taken = request != nullptr && request->release != nullptr;
  if (request_taken) {
    call->request = buffer_take(*request);
  }
  try {
    start_accepted(call, cancel);
  } catch (...) {
    if (pending_withdraw(call)) {
      if (request_taken) {
        *request = buffer_take(call->request);
      }
      return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot start call"});
    }
    // Answered meanwhile (its deadline or cancel): done has run or runs.
  }
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_complete(jn_completion completion, jn_result* result) {
  using namespace junction::detail;
  if (result == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  // The section keeps the call's host alive while the result is delivered
  // (jn_host_free waits for sections after forgetting its calls). Opened
  // before the call is found, it covers anything until it knows the call's
  // service; one already unregistered, whose retirement may have passed,
  // is not among those jn_host_free waits for, so the section then covers
  // every service of the call's host.
  ReadSection section(UnknownService{});
  auto call = completions_take(completion.call_id);
  if (call == nullptr) {
    jn_result_release(result);
    *result = jn_result{};
    return JN_FAILED_PRECONDITION;
  }
  if (call->service->open.load(std::memory_order_relaxed)) {
    section.narrow(*call->service);
  } else {
    section.narrow_to_host(call->host);
  }
  return complete_invocation(call, result);
}

}  // extern "C"
