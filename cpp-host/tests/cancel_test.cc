// Cancels (ABI 1.10) on calls in this process: a call waiting for an
// asynchronous handler is answered CANCELLED when its cancel is signalled,
// also from a synchronous handler's nested call; a cancel signalled before
// a call refuses it; a synchronous handler is never interrupted, but sees
// and may watch its caller's cancel; one cancel ends the waits of many
// calls; watches wake once; asynchronous calls (ABI 1.11) are answered at
// once and hold their cancel, as a synchronous call holds its caller's for
// an asynchronous handler; and the NULL cases. Routed calls
// are cancelled in transports/zmq/tests/cancel_test.cc.
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

struct CancelDeleter {
  void operator()(jn_cancel* cancel) const { jn_cancel_free(cancel); }
};
using CancelPtr = std::unique_ptr<jn_cancel, CancelDeleter>;

CancelPtr NewCancel() {
  jn_cancel* cancel = nullptr;
  EXPECT_EQ(jn_cancel_new(&cancel), JN_OK);
  return CancelPtr(cancel);
}

// A cancellable call with a 10 s deadline: a cancel that fails to end its
// wait shows as DEADLINE_EXCEEDED instead of a hang.
int32_t CallCancellable(const jn_method* method, std::string_view request, jn_cancel* cancel,
                        ScopedResult& out) {
  out.reset();
  return jn_call_cancellable(method, View(request), jn_now_ns() + 10'000'000'000, cancel, nullptr,
                             0, out.get());
}

class CancelTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    host_ = NewHost();
    ASSERT_NE(host_, nullptr);
    ASSERT_EQ(Register(host_.get(), "svc",
                       {{"echo", &EchoHandler, nullptr, nullptr},
                        {"respond", &Respond, nullptr, nullptr},
                        {"park", nullptr, &Parking::Handler, &parking_},
                        {"signal_then_echo", &SignalThenEcho, nullptr, &signalled_in_handler_}}),
              JN_OK);
    echo_ = Resolve(host_.get(), "svc", "echo");
    respond_ = Resolve(host_.get(), "svc", "respond");
    park_ = Resolve(host_.get(), "svc", "park");
    signal_then_echo_ = Resolve(host_.get(), "svc", "signal_then_echo");
    ASSERT_EQ(Register(host_.get(), "outer", {{"calls_park", &CallsPark, nullptr, park_.get()}}),
              JN_OK);
    calls_park_ = Resolve(host_.get(), "outer", "calls_park");
    ASSERT_TRUE(echo_ && respond_ && park_ && signal_then_echo_ && calls_park_);
  }
  void TearDown() override {
    calls_park_.reset();
    echo_.reset();
    respond_.reset();
    park_.reset();
    signal_then_echo_.reset();
    host_.reset();
    parking_.CompleteAll();
    LeakCheckedTest::TearDown();
  }

  // Echoes through jn_respond: into the caller's lent room when it fits.
  static void Respond(void* /*ctx*/, jn_bytes request, int64_t /*deadline_ns*/, jn_result* result) {
    jn_respond(result, request.data, request.len);
  }

  // Signals the cancel in ctx (another thread's signal, landing while the
  // handler runs), then echoes.
  static void SignalThenEcho(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
    jn_cancel_signal(*static_cast<jn_cancel**>(ctx));
    EchoHandler(nullptr, request, deadline_ns, result);
  }

  // Calls the parking method in ctx with plain jn_call and answers with its
  // outcome.
  static void CallsPark(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
    jn_call(static_cast<const jn_method*>(ctx), request, deadline_ns, result);
  }

  // Takes the one parked call and completes it; returns jn_complete's code.
  int32_t CompleteParked() {
    jn_completion completion{};
    jn_bytes request{};
    EXPECT_TRUE(parking_.Take(&completion, &request));
    return CompleteWith(completion, "late");
  }

  Parking parking_;
  jn_cancel* signalled_in_handler_ = nullptr;
  HostPtr host_;
  MethodPtr echo_, respond_, park_, signal_then_echo_, calls_park_;
};

TEST_F(CancelTest, OnlyCallsThatWaitCanBeCancelled) {
  EXPECT_EQ(jn_method_waits(park_.get()), 1);
  EXPECT_EQ(jn_method_waits(echo_.get()), 0);
  EXPECT_EQ(jn_method_waits(nullptr), 0);
}

// The waiting call answers CANCELLED at once; the handler's later answer is
// refused (jn_complete says the caller was answered already) and released.
TEST_F(CancelTest, SignalEndsTheWaitForAnAsynchronousHandler) {
  CancelPtr cancel = NewCancel();
  ScopedResult result;
  int32_t code = -1;
  std::thread caller([&] { code = CallCancellable(park_.get(), "wait", cancel.get(), result); });
  ASSERT_TRUE(parking_.WaitInvoked(1));
  jn_cancel_signal(cancel.get());
  caller.join();
  EXPECT_EQ(code, JN_CANCELLED);
  EXPECT_EQ(result.message(), "call cancelled by its caller");
  EXPECT_EQ(result.r.response.release, nullptr);
  EXPECT_EQ(CompleteParked(), JN_CANCELLED);
}

TEST_F(CancelTest, SignalledBeforeTheCallItIsRefusedAndCounted) {
  CancelPtr cancel = NewCancel();
  jn_cancel_signal(cancel.get());
  jn_cancel_signal(cancel.get());  // again: no change
  ScopedResult result;
  EXPECT_EQ(CallCancellable(echo_.get(), "x", cancel.get(), result), JN_CANCELLED);
  EXPECT_EQ(result.message(), "call cancelled by its caller before it started");
  EXPECT_EQ(CallCancellable(park_.get(), "x", cancel.get(), result), JN_CANCELLED);
  EXPECT_EQ(parking_.invoked.load(), 0);
  jn_method_stats stats{};
  ASSERT_EQ(jn_method_stats_get(echo_.get(), &stats), JN_OK);
  EXPECT_EQ(stats.calls, 1u);
  EXPECT_EQ(stats.errors, 1u);
}

// A synchronous handler runs on the caller's thread to its end: a signal
// while it runs changes nothing of that call.
TEST_F(CancelTest, ASynchronousHandlerIsNotInterrupted) {
  CancelPtr cancel = NewCancel();
  signalled_in_handler_ = cancel.get();
  ScopedResult result;
  EXPECT_EQ(CallCancellable(signal_then_echo_.get(), "kept", cancel.get(), result), JN_OK);
  EXPECT_EQ(result.response(), "kept");
}

TEST_F(CancelTest, AnUnsignalledCancelChangesNothing) {
  CancelPtr cancel = NewCancel();
  ScopedResult result;
  std::thread completer([&] {
    ASSERT_TRUE(parking_.WaitInvoked(1));
    EXPECT_EQ(CompleteParked(), JN_OK);
  });
  EXPECT_EQ(CallCancellable(park_.get(), "x", cancel.get(), result), JN_OK);
  completer.join();
  EXPECT_EQ(result.response(), "late");
  uint8_t room[16];
  result.reset();
  ASSERT_EQ(jn_call_cancellable(respond_.get(), View("lent"), JN_NO_DEADLINE, cancel.get(), room,
                                sizeof room, result.get()),
            JN_OK);
  EXPECT_EQ(result.r.response.data, room) << "the lent room was not used";
  EXPECT_EQ(result.response(), "lent");
}

// A synchronous handler's own calls wait with its caller's cancel.
TEST_F(CancelTest, ANestedCallEndsWithItsCallersCancel) {
  CancelPtr cancel = NewCancel();
  ScopedResult result;
  int32_t code = -1;
  std::thread caller(
      [&] { code = CallCancellable(calls_park_.get(), "nested", cancel.get(), result); });
  ASSERT_TRUE(parking_.WaitInvoked(1));
  jn_cancel_signal(cancel.get());
  caller.join();
  EXPECT_EQ(code, JN_CANCELLED);
  EXPECT_EQ(CompleteParked(), JN_CANCELLED);
  // Without a cancel of its own, the next call on the thread waits as before.
  ScopedResult plain;
  std::thread completer([&] {
    ASSERT_TRUE(parking_.WaitInvoked(2));
    EXPECT_EQ(CompleteParked(), JN_OK);
  });
  EXPECT_EQ(Call(calls_park_.get(), "plain", plain), JN_OK);
  completer.join();
}

// One cancel shared by calls on many threads ends every wait.
TEST_F(CancelTest, OneSignalEndsEveryCallWaitingWithIt) {
  constexpr int kCallers = 8;
  CancelPtr cancel = NewCancel();
  std::vector<int32_t> codes(kCallers, -1);
  std::vector<std::thread> callers;
  callers.reserve(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      ScopedResult result;
      codes[i] = CallCancellable(park_.get(), "many", cancel.get(), result);
    });
  }
  ASSERT_TRUE(parking_.WaitInvoked(kCallers));
  jn_cancel_signal(cancel.get());
  for (std::thread& caller : callers) caller.join();
  for (int i = 0; i < kCallers; ++i) EXPECT_EQ(codes[i], JN_CANCELLED) << i;
  for (int i = 0; i < kCallers; ++i) EXPECT_EQ(CompleteParked(), JN_CANCELLED) << i;
}

// A synchronous handler is not interrupted, but sees its caller's cancel
// (jn_call_cancel) and may watch it: here it gives up when it is signalled.
struct Watcher {
  std::mutex mu;
  std::condition_variable cv;
  bool woken = false;
  std::atomic<bool> entered{false};
  std::atomic<bool> left{false};  // the handler is done with the watcher

  static void Wake(void* user_data) {
    auto* watcher = static_cast<Watcher*>(user_data);
    const std::lock_guard<std::mutex> lock(watcher->mu);
    watcher->woken = true;
    watcher->cv.notify_all();
  }

  static void Handler(void* ctx, jn_bytes /*request*/, int64_t /*deadline_ns*/, jn_result* result) {
    auto* watcher = static_cast<Watcher*>(ctx);
    jn_cancel* cancel = jn_call_cancel();
    if (cancel == nullptr) {
      jn_status_set(&result->status, JN_FAILED_PRECONDITION, "no cancel to watch");
      return;
    }
    jn_cancel_watch* watch = nullptr;
    if (jn_cancel_watch_new(cancel, &Wake, watcher, &watch) != JN_OK) {
      jn_status_set(&result->status, JN_INTERNAL, "cannot watch");
      return;
    }
    watcher->entered = true;
    {
      std::unique_lock<std::mutex> lock(watcher->mu);
      watcher->cv.wait_for(lock, 5s, [&] { return watcher->woken; });
    }
    jn_cancel_unwatch(watch);
    if (jn_cancel_signalled(cancel) == 1) {
      jn_status_set(&result->status, JN_CANCELLED, "the handler saw its caller give up");
    }
    watcher->left = true;
  }
};

TEST_F(CancelTest, ASynchronousHandlerCanWatchItsCallersCancel) {
  Watcher watcher;
  ASSERT_EQ(Register(host_.get(), "watching", {{"watch", &Watcher::Handler, nullptr, &watcher}}),
            JN_OK);
  MethodPtr watch = Resolve(host_.get(), "watching", "watch");
  EXPECT_EQ(jn_call_cancel(), nullptr) << "outside a call";
  ScopedResult plain;
  EXPECT_EQ(Call(watch.get(), "", plain), JN_FAILED_PRECONDITION) << "a call without a cancel";

  CancelPtr cancel = NewCancel();
  ScopedResult result;
  int32_t code = -1;
  std::thread caller([&] { code = CallCancellable(watch.get(), "", cancel.get(), result); });
  ASSERT_TRUE(WaitFor([&] { return watcher.entered.load(); }));
  jn_cancel_signal(cancel.get());
  caller.join();
  EXPECT_EQ(code, JN_CANCELLED);
  EXPECT_EQ(result.message(), "the handler saw its caller give up");
  EXPECT_EQ(jn_call_cancel(), nullptr) << "after the call";
}

// A watch made on a cancel signalled already wakes at once; one ended
// before the signal never does.
TEST_F(CancelTest, WatchesWakeOnceAndNeverAfterTheyEnd) {
  CancelPtr cancel = NewCancel();
  std::atomic<int> wakes{0};
  const auto count = [](void* user_data) {
    static_cast<std::atomic<int>*>(user_data)->fetch_add(1);
  };
  jn_cancel_watch* ended = nullptr;
  ASSERT_EQ(jn_cancel_watch_new(cancel.get(), count, &wakes, &ended), JN_OK);
  jn_cancel_unwatch(ended);
  jn_cancel_watch* watch = nullptr;
  ASSERT_EQ(jn_cancel_watch_new(cancel.get(), count, &wakes, &watch), JN_OK);
  EXPECT_EQ(jn_cancel_signalled(cancel.get()), 0);
  jn_cancel_signal(cancel.get());
  jn_cancel_signal(cancel.get());
  EXPECT_EQ(jn_cancel_signalled(cancel.get()), 1);
  EXPECT_EQ(wakes.load(), 1);
  jn_cancel_watch* late = nullptr;
  ASSERT_EQ(jn_cancel_watch_new(cancel.get(), count, &wakes, &late), JN_OK);
  EXPECT_EQ(wakes.load(), 2) << "a watch of a signalled cancel wakes at once";
  jn_cancel_unwatch(late);
  jn_cancel_unwatch(watch);
}

// An asynchronous call (jn_call_async_cancellable) is answered CANCELLED
// through done when its cancel is signalled, whatever its handler is doing.

// Parks each call as Parking does, recording the cancel it started with.
struct CancelRecordingParking {
  Parking parking;
  std::atomic<jn_cancel*> seen{nullptr};

  static void Handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_completion completion) {
    auto* self = static_cast<CancelRecordingParking*>(ctx);
    self->seen = jn_call_cancel();
    Parking::Handler(&self->parking, request, deadline_ns, completion);
  }
};

int32_t CallAsyncCancellable(const jn_method* method, jn_cancel* cancel, DoneRecord& done) {
  ScopedStatus status;
  return jn_call_async_cancellable(method, nullptr, jn_now_ns() + 10'000'000'000, cancel,
                                   &DoneRecord::Fn, &done, status.get());
}

TEST_F(CancelTest, AnAsynchronousCallToAnAsynchronousHandlerIsAnsweredAtOnce) {
  CancelRecordingParking recording;
  ASSERT_EQ(Register(host_.get(), "recording",
                     {{"park", nullptr, &CancelRecordingParking::Handler, &recording}}),
            JN_OK);
  MethodPtr park = Resolve(host_.get(), "recording", "park");
  CancelPtr cancel = NewCancel();
  DoneRecord done;
  ASSERT_EQ(CallAsyncCancellable(park.get(), cancel.get(), done), JN_OK);
  ASSERT_TRUE(recording.parking.WaitInvoked(1));
  EXPECT_EQ(recording.seen.load(), cancel.get()) << "the handler started with its caller's cancel";
  jn_cancel_signal(cancel.get());
  cancel.reset();  // the call holds its own
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_CANCELLED);
  EXPECT_EQ(done.Msg(), "call cancelled by its caller");
  jn_completion completion{};
  jn_bytes request{};
  ASSERT_TRUE(recording.parking.Take(&completion, &request));
  EXPECT_EQ(CompleteWith(completion, "late"), JN_CANCELLED);
  EXPECT_EQ(done.count.load(), 1);
}

// Called synchronously with a cancel, an asynchronous handler starts with
// its caller's cancel, which the call holds: the caller frees it once
// answered, and the handler may still read it until it completes.
TEST_F(CancelTest, ASynchronousCallsAsynchronousHandlerHoldsItsCallersCancel) {
  CancelRecordingParking recording;
  ASSERT_EQ(Register(host_.get(), "recording",
                     {{"park", nullptr, &CancelRecordingParking::Handler, &recording}}),
            JN_OK);
  MethodPtr park = Resolve(host_.get(), "recording", "park");
  const std::uint64_t cancels_before = jn_live_cancels();
  CancelPtr cancel = NewCancel();
  const jn_cancel* const callers = cancel.get();
  ScopedResult result;
  int32_t code = -1;
  std::thread caller([&] { code = CallCancellable(park.get(), "wait", cancel.get(), result); });
  ASSERT_TRUE(recording.parking.WaitInvoked(1));
  EXPECT_EQ(recording.seen.load(), callers) << "the handler started with its caller's cancel";
  jn_cancel_signal(cancel.get());
  caller.join();
  EXPECT_EQ(code, JN_CANCELLED);
  cancel.reset();  // the call holds its own
  EXPECT_EQ(jn_live_cancels(), cancels_before + 1);
  EXPECT_EQ(jn_cancel_signalled(recording.seen.load()), 1);
  jn_completion completion{};
  jn_bytes request{};
  ASSERT_TRUE(recording.parking.Take(&completion, &request));
  EXPECT_EQ(CompleteWith(completion, "late"), JN_CANCELLED);
  EXPECT_TRUE(WaitFor([&] { return jn_live_cancels() == cancels_before; }));
}

// An asynchronous handler that gives up when its caller cancels answers
// from its watch's wake: the signal runs wakes unlocked, so answering
// there (which ends the call's own wait on the cancel) does not deadlock.
// The signal runs on a thread of its own that the test waits for with a
// bound.
TEST_F(CancelTest, AWatchsWakeMayAnswerTheCall) {
  struct GivesUp {
    std::atomic<jn_cancel_watch*> watch{nullptr};
    std::atomic<int32_t> completed{-1};
    jn_completion completion{};
    static void Wake(void* ctx) {
      auto* self = static_cast<GivesUp*>(ctx);
      jn_result result{};
      jn_status_set(&result.status, JN_CANCELLED, "gave up");
      self->completed = jn_complete(self->completion, &result);
    }
    static void Handler(void* ctx, jn_bytes /*request*/, int64_t /*deadline_ns*/,
                        jn_completion completion) {
      auto* self = static_cast<GivesUp*>(ctx);
      self->completion = completion;
      jn_cancel_watch* watch = nullptr;
      EXPECT_EQ(jn_cancel_watch_new(jn_call_cancel(), &Wake, self, &watch), JN_OK);
      self->watch = watch;
    }
  };
  GivesUp gives_up;
  ASSERT_EQ(Register(host_.get(), "gives_up", {{"wait", nullptr, &GivesUp::Handler, &gives_up}}),
            JN_OK);
  MethodPtr wait = Resolve(host_.get(), "gives_up", "wait");
  CancelPtr cancel = NewCancel();
  DoneRecord done;
  ASSERT_EQ(CallAsyncCancellable(wait.get(), cancel.get(), done), JN_OK);
  ASSERT_TRUE(WaitFor([&] { return gives_up.watch.load() != nullptr; }));
  std::atomic<bool> signalled{false};
  std::thread signaller([&] {
    jn_cancel_signal(cancel.get());
    signalled = true;
  });
  if (!WaitFor([&] { return signalled.load(); })) {
    signaller.detach();  // stuck for good
    FAIL() << "the signal deadlocked in the wake";
  }
  signaller.join();
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_CANCELLED);
  EXPECT_TRUE(gives_up.completed.load() == JN_OK || gives_up.completed.load() == JN_CANCELLED)
      << gives_up.completed.load();
  jn_cancel_unwatch(gives_up.watch.load());
}

// A synchronous handler runs on a host worker: the caller is answered
// without waiting for it, and the handler's later answer is released.
TEST_F(CancelTest, AnAsynchronousCallIsAnsweredWhileItsSynchronousHandlerRuns) {
  Gate gate;
  ASSERT_EQ(Register(host_.get(), "gated", {{"pass", &Gate::Handler, nullptr, &gate}}), JN_OK);
  MethodPtr pass = Resolve(host_.get(), "gated", "pass");
  CancelPtr cancel = NewCancel();
  DoneRecord done;
  ASSERT_EQ(CallAsyncCancellable(pass.get(), cancel.get(), done), JN_OK);
  ASSERT_TRUE(WaitFor([&] { return gate.entered.load() == 1; }));
  jn_cancel_signal(cancel.get());
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_CANCELLED);
  EXPECT_EQ(gate.left.load(), 0) << "answered only once the handler returned";
  gate.Open();
  ASSERT_TRUE(WaitFor([&] { return gate.left.load() == 1; }));
  EXPECT_EQ(done.count.load(), 1);
}

TEST_F(CancelTest, AnAsynchronousCallsSynchronousHandlerCanWatchItsCancel) {
  Watcher watcher;
  ASSERT_EQ(Register(host_.get(), "watching", {{"watch", &Watcher::Handler, nullptr, &watcher}}),
            JN_OK);
  MethodPtr watch = Resolve(host_.get(), "watching", "watch");
  CancelPtr cancel = NewCancel();
  DoneRecord done;
  ASSERT_EQ(CallAsyncCancellable(watch.get(), cancel.get(), done), JN_OK);
  ASSERT_TRUE(WaitFor([&] { return watcher.entered.load(); }));
  jn_cancel_signal(cancel.get());
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_CANCELLED);
  {
    const std::lock_guard<std::mutex> lock(watcher.mu);
    EXPECT_TRUE(watcher.woken) << "the handler's watch did not wake";
  }
  // The handler, on a worker, may still be using the watcher.
  EXPECT_TRUE(WaitFor([&] { return watcher.left.load(); }));
}

// The call holds the cancel: its maker may free it at once, and the handler
// still reads it.
struct ReadsCancelAfterGate {
  Gate gate;
  std::atomic<int> signalled{-1};

  static void Handler(void* ctx, jn_bytes request, int64_t deadline_ns, jn_result* result) {
    auto* self = static_cast<ReadsCancelAfterGate*>(ctx);
    Gate::Handler(&self->gate, request, deadline_ns, result);
    self->signalled = jn_cancel_signalled(jn_call_cancel());
  }
};

TEST_F(CancelTest, AnAsynchronousCallHoldsItsCancel) {
  ReadsCancelAfterGate reads;
  ASSERT_EQ(
      Register(host_.get(), "reads", {{"read", &ReadsCancelAfterGate::Handler, nullptr, &reads}}),
      JN_OK);
  MethodPtr read = Resolve(host_.get(), "reads", "read");
  CancelPtr cancel = NewCancel();
  DoneRecord done;
  ScopedStatus status;
  ASSERT_EQ(jn_call_async_cancellable(read.get(), nullptr, JN_NO_DEADLINE, cancel.get(),
                                      &DoneRecord::Fn, &done, status.get()),
            JN_OK);
  EXPECT_EQ(jn_live_cancels(), cancels_baseline_ + 1);
  cancel.reset();
  EXPECT_EQ(jn_live_cancels(), cancels_baseline_ + 1) << "the call holds it";
  ASSERT_TRUE(WaitFor([&] { return reads.gate.entered.load() == 1; }));
  reads.gate.Open();
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_OK);
  ASSERT_TRUE(WaitFor([&] { return reads.signalled.load() != -1; }));
  EXPECT_EQ(reads.signalled.load(), 0);
  EXPECT_TRUE(WaitFor([&] { return jn_live_cancels() == cancels_baseline_; }))
      << "freed once the handler is done";
}

TEST_F(CancelTest, AnAsynchronousCallSignalledBeforeIsAnsweredThroughDone) {
  Probe probe;
  ASSERT_EQ(Register(host_.get(), "probed", {{"echo", &Probe::Echo, nullptr, &probe}}), JN_OK);
  MethodPtr echo = Resolve(host_.get(), "probed", "echo");
  CancelPtr cancel = NewCancel();
  jn_cancel_signal(cancel.get());
  DoneRecord done;
  ASSERT_EQ(CallAsyncCancellable(echo.get(), cancel.get(), done), JN_OK);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_CANCELLED);
  EXPECT_EQ(done.Msg(), "call cancelled by its caller");
  EXPECT_EQ(probe.calls.load(), 0) << "the handler ran";
  jn_method_stats stats{};
  ASSERT_EQ(jn_method_stats_get(echo.get(), &stats), JN_OK);
  EXPECT_EQ(stats.errors, 1u);
}

TEST_F(CancelTest, AnAsynchronousCallWithAnUnsignalledOrNoCancelIsAnsweredAsBefore) {
  CancelPtr cancel = NewCancel();
  for (jn_cancel* with : {cancel.get(), static_cast<jn_cancel*>(nullptr)}) {
    DoneRecord done;
    jn_buffer request{};
    ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>("plain"), 5, &request), JN_OK);
    ScopedStatus status;
    ASSERT_EQ(jn_call_async_cancellable(echo_.get(), &request, JN_NO_DEADLINE, with,
                                        &DoneRecord::Fn, &done, status.get()),
              JN_OK);
    ASSERT_TRUE(done.Wait());
    EXPECT_EQ(done.Code(), JN_OK);
    EXPECT_EQ(done.Response(), "plain");
  }
  DoneRecord never;
  ScopedStatus status;
  EXPECT_EQ(jn_call_async_cancellable(nullptr, nullptr, JN_NO_DEADLINE, cancel.get(),
                                      &DoneRecord::Fn, &never, status.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(never.count.load(), 0);
}

TEST_F(CancelTest, NullArguments) {
  EXPECT_EQ(jn_cancel_new(nullptr), JN_INVALID_ARGUMENT);
  jn_cancel_signal(nullptr);
  jn_cancel_free(nullptr);
  CancelPtr cancel = NewCancel();
  jn_cancel_signal(cancel.get());
  ScopedResult result;
  EXPECT_EQ(CallCancellable(nullptr, "x", cancel.get(), result), JN_INVALID_ARGUMENT);
  EXPECT_EQ(result.message(), "method is NULL");
  EXPECT_EQ(jn_call_cancellable(echo_.get(), View("x"), JN_NO_DEADLINE, cancel.get(), nullptr, 0,
                                nullptr),
            JN_INVALID_ARGUMENT);
  result.reset();
  EXPECT_EQ(jn_call_cancellable(echo_.get(), View("x"), JN_NO_DEADLINE, cancel.get(), nullptr, 4,
                                result.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(result.message(), "dst is NULL but dst_cap is not 0");
  const auto wake = [](void*) {};
  jn_cancel_watch* watch = nullptr;
  EXPECT_EQ(jn_cancel_watch_new(nullptr, wake, nullptr, &watch), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_cancel_watch_new(cancel.get(), nullptr, nullptr, &watch), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_cancel_watch_new(cancel.get(), wake, nullptr, nullptr), JN_INVALID_ARGUMENT);
  jn_cancel_unwatch(nullptr);
  EXPECT_EQ(jn_cancel_signalled(nullptr), 0);
  // No cancel: jn_call_into.
  EXPECT_EQ(CallCancellable(echo_.get(), "plain", nullptr, result), JN_OK);
  EXPECT_EQ(result.response(), "plain");
}

}  // namespace
}  // namespace jntest
