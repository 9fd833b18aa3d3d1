// Cancels (abi/junction.h, ABI 1.10): what a caller signals to end a
// call's wait, and how the waits of libjunction hear it.
#pragma once

#include <junction.h>

#include <atomic>
#include <mutex>

namespace junction::detail {
class CancelWait;
}  // namespace junction::detail

// The opaque cancel of the C ABI. Each call waiting with it registers the
// wake that ends its wait (a CancelWait); jn_cancel_signal runs them all
// under mutex, so that a wait taken back (CancelWait's destructor) is no
// longer woken.
struct jn_cancel {
  std::atomic<bool> signalled{false};
  std::mutex mutex;
  junction::detail::CancelWait* waits = nullptr;  // under mutex: a list
};

namespace junction::detail {

// The cancel of the call running on this thread (jn_call_cancellable), or
// NULL: the waits of the calls it makes, nested ones included, read it.
extern constinit thread_local jn_cancel* tls_call_cancel __attribute__((tls_model("initial-exec")));

// One wait that a cancel ends: from construction to destruction, the first
// signal of cancel calls wake(wake_arg) once, on the signalling thread (or
// the constructor does, at once, if cancel was signalled before). Any
// number of calls may wait with one cancel. wake must not call into
// cancel; the waiting code must not hold a lock wake takes while it
// constructs or destroys this.
class CancelWait {
 public:
  CancelWait(jn_cancel* cancel, void (*wake)(void*), void* wake_arg) noexcept;
  ~CancelWait();
  CancelWait(const CancelWait&) = delete;
  CancelWait& operator=(const CancelWait&) = delete;

 private:
  friend void ::jn_cancel_signal(jn_cancel* cancel);
  jn_cancel* const cancel_;
  void (*const wake_)(void*);
  void* const wake_arg_;
  CancelWait* previous_ = nullptr;  // in cancel_'s list, under its mutex
  CancelWait* next_ = nullptr;
};

inline bool cancel_signalled(const jn_cancel* cancel) noexcept {
  return cancel != nullptr && cancel->signalled.load(std::memory_order_acquire);
}

}  // namespace junction::detail
