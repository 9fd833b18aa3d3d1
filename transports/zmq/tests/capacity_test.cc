// A listener serving max_in_flight calls at once runs no more but reads on
// behind them, over tcp, ipc and inproc: a cancel still reaches a running
// handler, a queued call cancelled or past its deadline is answered
// without its handler running, queued calls run once slots come free (and
// before a draining close returns), and a full queue stops the reading.
// The listener's stats tell the calls queued and those answered unrun.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hh"

namespace jnzmq {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The service "counted": its method "run" counts the calls it runs and
// echoes their requests.
struct Counted {
  std::atomic<int> runs{0};

  junction::Service service() {
    junction::Service counted("counted");
    counted.method("run", [this](auto request, Deadline) {
      runs.fetch_add(1);
      return Buffer::copy_of(request);
    });
    return counted;
  }
};

// A listener on each transport kind serving gate and counted, max_in_flight
// calls at once, with a client routing both to it.
class CapacityTest : public ::testing::TestWithParam<std::string> {
 protected:
  void listen(std::uint32_t max_in_flight) {
    server_.register_service(gate_.service());
    server_.register_service(counted_.service());
    junction::ListenOptions options;
    options.threads = 1;
    options.max_in_flight = max_in_flight;
    listener_ = server_.listen(bind_url(), options);
    client_.route("gate", std::string(listener_.url()));
    client_.route("counted", std::string(listener_.url()));
    wait_ = client_.resolve("gate", "wait");
    run_ = client_.resolve("counted", "run");
  }

  [[nodiscard]] std::string bind_url() const {
    if (GetParam() == "ipc") return dir_.ipc_url();
    if (GetParam() == "inproc") return inproc_url();
    return "zmq+tcp://127.0.0.1:0";
  }

  // Fills every slot with a call held at the gate.
  std::vector<std::future<CallOutcome>> hold_slots(std::uint32_t count) {
    std::vector<std::future<CallOutcome>> held;
    held.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      held.push_back(call_in_background(wait_, ""));
    }
    EXPECT_TRUE(eventually([&] { return gate_.entered.load() == static_cast<int>(count); }))
        << "handlers entered: " << gate_.entered.load();
    return held;
  }

  // Whether the listener has read requests calls (cancels are not counted).
  bool eventually_read(std::uint64_t requests) {
    return eventually([&] { return listener_.stats().requests == requests; }, seconds(5));
  }

  TempDir dir_;
  Gate gate_;
  Counted counted_;
  std::atomic<int> patient_entered_{0};
  std::atomic<bool> patient_heard_{false};
  junction::Host server_;
  junction::Listener listener_;
  OpenOnExit open_on_exit_{gate_.open};
  junction::Host client_;
  junction::Method wait_;
  junction::Method run_;
};

TEST_P(CapacityTest, NoMoreThanMaxInFlightHandlersRunAndTheQueuedCallsRunAfter) {
  listen(2);
  std::vector<std::future<CallOutcome>> held = hold_slots(2);
  // Two are queued (as many as there are slots); the third stays unread.
  std::vector<std::future<CallOutcome>> queued;
  queued.reserve(3);
  for (int i = 0; i < 3; ++i) {
    queued.push_back(call_in_background(wait_, ""));
  }
  ASSERT_TRUE(eventually_read(4)) << "requests read: " << listener_.stats().requests;
  EXPECT_TRUE(eventually([&] { return listener_.stats().queued == 2; }))
      << "queued: " << listener_.stats().queued;
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(gate_.entered.load(), 2) << "a queued call ran past max_in_flight";
  const jn_listener_stats full = listener_.stats();
  EXPECT_EQ(full.in_flight, 2U) << "queued calls are not in flight";
  EXPECT_EQ(full.queued, 2U);
  EXPECT_EQ(full.requests, 4U) << "read past a full queue";
  gate_.open = true;
  for (auto* calls : {&held, &queued}) {
    for (std::future<CallOutcome>& call : *calls) {
      const CallOutcome outcome = call.get();
      EXPECT_EQ(outcome.code, Code::ok);
      EXPECT_EQ(outcome.text, "opened");
    }
  }
  EXPECT_EQ(gate_.entered.load(), 5);
  EXPECT_TRUE(eventually([&] { return listener_.stats().in_flight == 0; }));
  const jn_listener_stats after = listener_.stats();
  EXPECT_EQ(after.queued, 0U);
  EXPECT_EQ(after.answered_unrun, 0U) << "every queued call ran";
}

TEST_P(CapacityTest, ACancelReachesAHandlerWhileEverySlotIsTaken) {
  // Waits for its call's cancel (or the gate, opened as the test ends).
  server_.register_service([this] {
    junction::Service patient("patient");
    patient.method("wait_for_cancel", [this](auto, Deadline) -> Buffer {
      patient_entered_.fetch_add(1);
      while (!junction::call_cancelled() && !gate_.open.load()) {
        std::this_thread::sleep_for(milliseconds(1));
      }
      patient_heard_ = junction::call_cancelled();
      throw junction::Error(Code::cancelled, "heard its cancel");
    });
    return patient;
  }());
  listen(1);
  client_.route("patient", std::string(listener_.url()));
  const junction::Method method = client_.resolve("patient", "wait_for_cancel");
  const junction::Cancel cancel;
  std::future<CallOutcome> call =
      call_in_background(method, "", junction::deadline_after(seconds(30)), &cancel);
  ASSERT_TRUE(eventually([&] { return patient_entered_.load() == 1; }));
  cancel.signal();
  EXPECT_EQ(call.get().code, Code::cancelled);
  EXPECT_TRUE(eventually([&] { return patient_heard_.load(); }, seconds(5)))
      << "the handler filling the only slot never heard its caller's cancel";
}

TEST_P(CapacityTest, AQueuedCallCancelledIsAnsweredWithoutRunning) {
  listen(2);
  std::vector<std::future<CallOutcome>> held = hold_slots(2);
  const junction::Cancel cancel;
  std::future<CallOutcome> cancelled =
      call_in_background(run_, "cancelled", junction::deadline_after(seconds(10)), &cancel);
  ASSERT_TRUE(eventually_read(3)) << "requests read: " << listener_.stats().requests;
  cancel.signal();
  EXPECT_EQ(cancelled.get().code, Code::cancelled);
  // Sent after the cancel, on the same connection: read once the cancel is.
  std::future<CallOutcome> next = call_in_background(run_, "next");
  ASSERT_TRUE(eventually_read(4)) << "requests read: " << listener_.stats().requests;
  // A cancelled call stays queued until its turn.
  EXPECT_TRUE(eventually([&] { return listener_.stats().queued == 2; }))
      << "queued: " << listener_.stats().queued;
  EXPECT_EQ(listener_.stats().answered_unrun, 0U) << "answered before its turn";
  gate_.open = true;
  for (std::future<CallOutcome>& call : held) {
    EXPECT_EQ(call.get().code, Code::ok);
  }
  const CallOutcome after = next.get();
  EXPECT_EQ(after.code, Code::ok);
  EXPECT_EQ(after.text, "next");
  EXPECT_TRUE(eventually([&] { return listener_.stats().answers == 4; }));
  EXPECT_EQ(counted_.runs.load(), 1) << "the cancelled call's handler ran";
  const jn_listener_stats stats = listener_.stats();
  EXPECT_EQ(stats.answered_unrun, 1U) << "the cancelled call, and not the next";
  EXPECT_EQ(stats.queued, 0U);
}

TEST_P(CapacityTest, AQueuedCallPastItsDeadlineIsAnsweredWithoutRunning) {
  listen(1);
  std::vector<std::future<CallOutcome>> held = hold_slots(1);
  constexpr std::int64_t kTimeoutMs = 200;
  std::future<CallOutcome> late =
      call_in_background(run_, "late", junction::deadline_after(milliseconds(kTimeoutMs)));
  ASSERT_TRUE(eventually_read(2)) << "requests read: " << listener_.stats().requests;
  // The listener started the call's deadline when it read it, by now.
  const std::int64_t server_deadline = jn_now_ns() + millis(kTimeoutMs);
  EXPECT_EQ(late.get().code, Code::deadline_exceeded);
  while (jn_now_ns() <= server_deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  gate_.open = true;
  EXPECT_EQ(held[0].get().code, Code::ok);
  EXPECT_TRUE(eventually([&] { return listener_.stats().answers == 2; }));
  EXPECT_EQ(counted_.runs.load(), 0) << "the call past its deadline ran";
  EXPECT_EQ(listener_.stats().answered_unrun, 1U);
  // The slot is free again: the next call runs.
  EXPECT_EQ(run_.call("next").text(), "next");
  EXPECT_EQ(counted_.runs.load(), 1);
  EXPECT_EQ(listener_.stats().answered_unrun, 1U) << "a call that ran counted as unrun";
}

TEST_P(CapacityTest, CloseDrainsQueuedCalls) {
  listen(1);
  std::vector<std::future<CallOutcome>> held = hold_slots(1);
  std::future<CallOutcome> queued = call_in_background(run_, "queued");
  ASSERT_TRUE(eventually_read(2)) << "requests read: " << listener_.stats().requests;
  std::thread opener([this] {
    std::this_thread::sleep_for(milliseconds(100));
    gate_.open = true;
  });
  EXPECT_TRUE(listener_.close(junction::deadline_after(seconds(10))));
  opener.join();
  EXPECT_EQ(held[0].get().code, Code::ok);
  const CallOutcome outcome = queued.get();
  EXPECT_EQ(outcome.code, Code::ok);
  EXPECT_EQ(outcome.text, "queued");
  EXPECT_EQ(counted_.runs.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Transports, CapacityTest, ::testing::Values("tcp", "ipc", "inproc"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace jnzmq
