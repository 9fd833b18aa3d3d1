// The cancel functions of the C ABI (jn_cancel_*, jn_call_cancel,
// jn_live_cancels) and CancelWait, which both the waits of libjunction and
// handlers' watches are.
#include "cancel.hh"

#include <new>

#include "internal.hh"

namespace junction::detail {

constinit thread_local jn_cancel* tls_call_cancel __attribute__((tls_model("initial-exec"))) =
    nullptr;

CancelWait::CancelWait(jn_cancel* cancel, void (*wake)(void*), void* wake_arg) noexcept
    : cancel_(cancel), wake_(wake), wake_arg_(wake_arg) {
  if (cancel_ == nullptr) {
    return;
  }
  {
    std::lock_guard lock(cancel_->mutex);
    if (!cancel_->signalled.load(std::memory_order_relaxed)) {
      next_ = cancel_->waits;
      if (next_ != nullptr) {
        next_->previous_ = this;
      }
      cancel_->waits = this;
      listed_ = true;
      return;
    }
  }
  wake_(wake_arg_);  // signalled before: woken here, unlocked as a signal wakes
}

CancelWait::~CancelWait() {
  if (cancel_ == nullptr) {
    return;
  }
  std::unique_lock lock(cancel_->mutex);
  if (listed_) {
    (previous_ != nullptr ? previous_->next_ : cancel_->waits) = next_;
    if (next_ != nullptr) {
      next_->previous_ = previous_;
    }
    return;
  }
  // Woken: a wake still running on another thread ends first; on this
  // thread, it is what destroys this.
  if (cancel_->waking == this && cancel_->signalling_thread != std::this_thread::get_id()) {
    cancel_->woken.wait(lock, [this] { return cancel_->waking != this; });
  }
}

}  // namespace junction::detail

extern "C" JN_API std::int32_t jn_cancel_new(jn_cancel** cancel) {
  if (cancel == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  *cancel = new (std::nothrow) jn_cancel;
  if (*cancel == nullptr) {
    return JN_RESOURCE_EXHAUSTED;
  }
  junction::detail::live_counters().cancels.fetch_add(1, std::memory_order_relaxed);
  return JN_OK;
}

extern "C" JN_API void jn_cancel_signal(jn_cancel* cancel) {
  if (cancel == nullptr) {
    return;
  }
  std::unique_lock lock(cancel->mutex);
  if (cancel->signalled.exchange(true, std::memory_order_acq_rel)) {
    return;  // the waits were woken by the first signal
  }
  cancel->signalling_thread = std::this_thread::get_id();
  while (junction::detail::CancelWait* wait = cancel->waits) {
    cancel->waits = wait->next_;
    if (wait->next_ != nullptr) {
      wait->next_->previous_ = nullptr;
    }
    wait->listed_ = false;
    cancel->waking = wait;
    lock.unlock();
    wait->wake_(wait->wake_arg_);  // wait may be gone once it returns
    lock.lock();
    cancel->waking = nullptr;
    cancel->woken.notify_all();
  }
}

extern "C" JN_API void jn_cancel_free(jn_cancel* cancel) {
  // The last reference's drop sees every write the others' holders made.
  if (cancel != nullptr && cancel->references.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete cancel;
    junction::detail::live_counters().cancels.fetch_sub(1, std::memory_order_relaxed);
  }
}

extern "C" JN_API std::uint64_t jn_live_cancels(void) {
  return junction::detail::live_counters().cancels.load(std::memory_order_relaxed);
}

// A handler's watch: a CancelWait of its own.
struct jn_cancel_watch : junction::detail::CancelWait {
  using CancelWait::CancelWait;
};

extern "C" JN_API jn_cancel* jn_call_cancel(void) { return junction::detail::tls_call_cancel; }

extern "C" JN_API std::int32_t jn_cancel_signalled(const jn_cancel* cancel) {
  return junction::detail::cancel_signalled(cancel) ? 1 : 0;
}

extern "C" JN_API std::int32_t jn_cancel_watch_new(jn_cancel* cancel, void (*wake)(void*),
                                                   void* user_data, jn_cancel_watch** watch) {
  if (cancel == nullptr || wake == nullptr || watch == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  *watch = new (std::nothrow) jn_cancel_watch(cancel, wake, user_data);
  return *watch == nullptr ? JN_RESOURCE_EXHAUSTED : JN_OK;
}

extern "C" JN_API void jn_cancel_unwatch(jn_cancel_watch* watch) { delete watch; }
