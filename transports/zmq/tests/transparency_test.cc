// Location transparency: the same calling code runs against the service in
// this host and against the service routed to another host over each
// ZeroMQ endpoint kind, and sees the same answers.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "test_support.hh"

namespace jnzmq {
namespace {

enum class Where { local, inproc, ipc, tcp };

std::string name_of(const testing::TestParamInfo<Where>& info) {
  switch (info.param) {
    case Where::local:
      return "local";
    case Where::inproc:
      return "inproc";
    case Where::ipc:
      return "ipc";
    case Where::tcp:
      return "tcp";
  }
  return "unknown";
}

class TransparencyTest : public testing::TestWithParam<Where> {
 protected:
  void SetUp() override {
    server_.register_service(test_service());
    switch (GetParam()) {
      case Where::local:
        return;
      case Where::inproc:
        listener_ = server_.listen(inproc_url());
        break;
      case Where::ipc:
        listener_ = server_.listen(dir_.ipc_url());
        break;
      case Where::tcp:
        listener_ = server_.listen("zmq+tcp://127.0.0.1:0");
        break;
    }
    client_.emplace();
    client_->route("test", listener_.url());
  }

  // The host the calling code uses: the server itself, or a client host
  // routing "test" to it.
  junction::Host& caller() { return client_ ? *client_ : server_; }

  // Serves gate's service "gate" too, routed as "test" is; a call on it
  // waits until the test opens the gate (or 20 s).
  junction::Method gate_wait(Gate& gate) {
    server_.register_service(gate.service());
    if (client_) {
      client_->route("gate", std::string(listener_.url()));
    }
    return caller().resolve("gate", "wait");
  }

  junction::Host server_;
  TempDir dir_;
  junction::Listener listener_;
  std::optional<junction::Host> client_;
};

// Tests of the listener's own threading, run only where a listener serves
// the calls (local calls run on their callers' threads).
class ListenerTest : public TransparencyTest {};

TEST_P(TransparencyTest, EchoesEveryPayloadSizeByteForByte) {
  const junction::Method echo = caller().resolve("test", "echo");
  const junction::Method length = caller().resolve("test", "length");
  for (const std::size_t size : {0u, 1u, 64u, 4096u, 4097u, 65536u, 1u << 20}) {
    const std::vector<std::uint8_t> request = pattern_bytes(size, static_cast<std::uint8_t>(size));
    const Buffer response = echo.call(request, junction::deadline_after(std::chrono::seconds(10)));
    ASSERT_EQ(response.size(), size);
    EXPECT_TRUE(std::equal(request.begin(), request.end(), response.data())) << size;
    const Buffer counted = length.call(request);
    std::uint64_t counted_size = 0;
    ASSERT_EQ(counted.size(), sizeof(counted_size));
    std::memcpy(&counted_size, counted.data(), sizeof(counted_size));
    EXPECT_EQ(counted_size, size);
  }
}

TEST_P(TransparencyTest, CallIntoLentRoomAnswersTheSame) {
  const junction::Method echo = caller().resolve("test", "echo");
  std::vector<std::uint8_t> room(256);
  const Buffer small = echo.call_into(pattern_bytes(100, 7), room);
  EXPECT_EQ(std::vector<std::uint8_t>(small.data(), small.data() + small.size()),
            pattern_bytes(100, 7));
  const Buffer large = echo.call_into(pattern_bytes(10000, 9), room);
  EXPECT_EQ(std::vector<std::uint8_t>(large.data(), large.data() + large.size()),
            pattern_bytes(10000, 9));
}

TEST_P(TransparencyTest, HandlerStatusArrivesWithCodeAndMessage) {
  std::string message;
  EXPECT_EQ(
      code_of([&] { static_cast<void>(caller().resolve("test", "fail").call("x")); }, &message),
      Code::permission_denied);
  EXPECT_NE(message.find("not allowed"), std::string::npos) << message;
}

// A handler may answer OK with a message (jn_status_set): the message
// reaches the caller with the response, sync and async, as in process.
TEST_P(TransparencyTest, AnOkAnswerKeepsItsMessage) {
  const jn_handler_fn noted = [](void*, jn_bytes, std::int64_t, jn_result* result) {
    static constexpr std::uint8_t kDone[] = {'d', 'o', 'n', 'e'};
    EXPECT_EQ(jn_respond(result, kDone, sizeof(kDone)), JN_OK);
    EXPECT_EQ(jn_status_set(&result->status, JN_OK, "noted"), JN_OK);
  };
  jn_method_desc method{"answer", noted, nullptr, nullptr};
  const jn_service_desc service{JN_ABI_VERSION, 1, "noted", &method, nullptr, nullptr};
  ASSERT_EQ(jn_host_register(server_.raw(), &service, nullptr), JN_OK);
  if (client_) {
    client_->route("noted", std::string(listener_.url()));
  }
  const junction::Method answer = caller().resolve("noted", "answer");
  jn_result result{};
  ASSERT_EQ(jn_call(answer.raw(), jn_bytes{nullptr, 0},
                    junction::deadline_after(std::chrono::seconds(10)), &result),
            JN_OK);
  EXPECT_EQ(result.status.code, JN_OK);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(result.status.message.data),
                        result.status.message.len),
            "noted");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(result.response.data), result.response.len),
            "done");
  jn_result_release(&result);

  std::promise<junction::Result> done;
  answer.call_async(Buffer(), junction::deadline_after(std::chrono::seconds(10)),
                    [&done](junction::Result outcome) { done.set_value(std::move(outcome)); });
  std::future<junction::Result> outcome = done.get_future();
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  const junction::Result async_result = outcome.get();
  EXPECT_EQ(async_result.code, Code::ok);
  EXPECT_EQ(async_result.message, "noted");
  EXPECT_EQ(async_result.response.text(), "done");
}

TEST_P(TransparencyTest, ThrowingHandlerIsInternalAndServingGoesOn) {
  std::string message;
  EXPECT_EQ(
      code_of([&] { static_cast<void>(caller().resolve("test", "throw").call("x")); }, &message),
      Code::internal);
  EXPECT_NE(message.find("boom"), std::string::npos) << message;
  EXPECT_EQ(caller().resolve("test", "echo").call("after").text(), "after");
}

TEST_P(TransparencyTest, UnknownMethodIsNotFound) {
  // A routed service resolves any method name (the remote host decides), so
  // NOT_FOUND comes from resolve here and from the call there.
  EXPECT_EQ(code_of([&] { static_cast<void>(caller().resolve("test", "nope").call("x")); }),
            Code::not_found);
}

TEST_P(TransparencyTest, DeadlineReachesTheHandler) {
  const junction::Method nap = caller().resolve("test", "nap");
  const std::int64_t start = jn_now_ns();
  EXPECT_EQ(code_of([&] {
              static_cast<void>(
                  nap.call("2000", junction::deadline_after(std::chrono::milliseconds(100))));
            }),
            Code::deadline_exceeded);
  EXPECT_LT(jn_now_ns() - start, millis(1500));
  EXPECT_EQ(nap.call("1", junction::deadline_after(std::chrono::seconds(10))).text(), "rested");
}

TEST_P(TransparencyTest, ConcurrentCallersEachGetTheirOwnAnswer) {
  const junction::Method echo = caller().resolve("test", "echo");
  std::vector<std::future<int>> callers;
  callers.reserve(8);
  for (int t = 0; t < 8; ++t) {
    callers.push_back(std::async(std::launch::async, [&echo, t] {
      int matched = 0;
      for (int i = 0; i < 200; ++i) {
        const std::string request = std::to_string(t) + ":" + std::to_string(i);
        if (echo.call(request, junction::deadline_after(std::chrono::seconds(10))).text() ==
            request) {
          ++matched;
        }
      }
      return matched;
    }));
  }
  for (auto& caller_result : callers) {
    EXPECT_EQ(caller_result.get(), 200);
  }
}

// Signals interrupt libzmq's non-blocking calls (EINTR), as a Go runtime's
// preemption signals do in every Go process: calls must neither fail nor
// lose their answers while every thread of the process is signalled
// without SA_RESTART.
TEST_P(TransparencyTest, CallsSurviveSignalsOnEveryThread) {
  struct sigaction quiet {};
  quiet.sa_handler = [](int) {};
  sigemptyset(&quiet.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGUSR1, &quiet, &previous), 0);
  // A jthread: stopped and joined on every way out of the test.
  std::jthread signaller([](const std::stop_token& stop) {
    const pid_t pid = getpid();
    while (!stop.stop_requested()) {
      for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        syscall(SYS_tgkill, pid, std::stoi(task.path().filename().string()), SIGUSR1);
      }
    }
  });
  const junction::Method echo = caller().resolve("test", "echo");
  std::vector<std::future<std::string>> callers;
  callers.reserve(4);
  for (int t = 0; t < 4; ++t) {
    callers.push_back(std::async(std::launch::async, [&echo, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string request = std::to_string(t) + ":" + std::to_string(i);
        std::string answer;
        const Code code = code_of(
            [&] {
              answer =
                  echo.call(request, junction::deadline_after(std::chrono::seconds(10))).text();
            },
            &answer);
        if (code != Code::ok || answer != request) {
          return std::string("call ").append(request).append(": ").append(answer);
        }
      }
      return std::string();
    }));
  }
  for (auto& caller_result : callers) {
    EXPECT_EQ(caller_result.get(), "");
  }
  signaller.request_stop();
  signaller.join();
  // Ignoring discards the signals sent but not yet delivered, which the
  // previous (default: fatal) action would otherwise meet.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR1, &ignore, nullptr);
  sigaction(SIGUSR1, &previous, nullptr);
}

// Slow calls (held at a gate, more than the listener's 4 threads) do not
// hold up fast ones: these are all answered while every slow one is still
// held, which a fast call waiting for a slow one could not be (the gate
// opens only after them, or gives up at 20 s).
TEST_P(TransparencyTest, SlowCallDoesNotHoldUpFastOnes) {
  Gate gate{/*heeds_deadline=*/false};
  const junction::Method wait = gate_wait(gate);
  const OpenOnExit open_on_exit{gate.open};
  const junction::Method echo = caller().resolve("test", "echo");
  std::vector<std::future<std::string>> slow;
  slow.reserve(6);
  for (int i = 0; i < 6; ++i) {
    slow.push_back(
        std::async(std::launch::async, [&wait] { return std::string(wait.call("").text()); }));
  }
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 6; }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(echo.call("fast").text(), "fast");
  }
  for (auto& call : slow) {
    EXPECT_NE(call.wait_for(std::chrono::seconds(0)), std::future_status::ready)
        << "a slow call ended before the fast ones were answered";
  }
  gate.open = true;
  for (auto& call : slow) {
    EXPECT_EQ(call.get(), "opened");
  }
}

// The only call in flight waits for its answer inside libzmq, holding the
// route's socket: each call made meanwhile wakes it to be sent, and is
// answered without waiting for the slow one.
TEST_P(TransparencyTest, CallsMadeWhileAnotherWaitsAloneAreAnsweredAtOnce) {
  Gate gate{/*heeds_deadline=*/false};
  const junction::Method wait = gate_wait(gate);
  const OpenOnExit open_on_exit{gate.open};
  const junction::Method echo = caller().resolve("test", "echo");
  auto slow = std::async(std::launch::async, [&wait] { return std::string(wait.call("").text()); });
  ASSERT_TRUE(eventually([&] { return gate.entered.load() == 1; }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(echo.call("fast").text(), "fast");
  }
  EXPECT_NE(slow.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the slow call ended before the fast ones were answered";
  gate.open = true;
  EXPECT_EQ(slow.get(), "opened");
}

// One slow call in the listener's receiving thread, and nothing else in
// flight: the standby takes over receiving a takeover tick into the slow
// handler, so the fast call arriving meanwhile does not wait for it.
TEST_P(ListenerTest, CallArrivingDuringTheOnlySlowCallIsServedAtOnce) {
  Gate gate{/*heeds_deadline=*/false};
  const junction::Method wait = gate_wait(gate);
  const OpenOnExit open_on_exit{gate.open};
  const junction::Method echo = caller().resolve("test", "echo");
  for (int round = 0; round < 3; ++round) {
    gate.open = false;
    auto slow =
        std::async(std::launch::async, [&wait] { return std::string(wait.call("").text()); });
    ASSERT_TRUE(eventually([&] { return gate.entered.load() == round + 1; })) << "round " << round;
    EXPECT_EQ(echo.call("fast").text(), "fast");
    EXPECT_NE(slow.wait_for(std::chrono::seconds(0)), std::future_status::ready)
        << "round " << round << ": the fast call waited for the slow one";
    gate.open = true;
    EXPECT_EQ(slow.get(), "opened");
  }
}

// Calls shorter than the listener's takeover tick never keep a handler
// running for a whole tick, so when they queue only the hand-over of the
// receiving role serves them side by side: with 8 callers at once their
// handlers must overlap.
TEST_P(ListenerTest, QueuedCallsShorterThanATakeoverTickRunSideBySide) {
  struct Overlap {
    std::atomic<int> running{0};
    std::atomic<int> most{0};
  };
  const auto overlap = std::make_shared<Overlap>();
  junction::Service steady("steady");
  steady.method("pause", [overlap](auto, Deadline) {
    const int now = overlap->running.fetch_add(1) + 1;
    int most = overlap->most.load();
    while (now > most && !overlap->most.compare_exchange_weak(most, now)) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(150));
    overlap->running.fetch_sub(1);
    return Buffer::copy_of("done");
  });
  server_.register_service(std::move(steady));
  if (client_) {
    client_->route("steady", listener_.url());
  }
  const junction::Method pause = caller().resolve("steady", "pause");
  std::vector<std::future<int>> callers;
  callers.reserve(8);
  for (int t = 0; t < 8; ++t) {
    callers.push_back(std::async(std::launch::async, [&pause] {
      int answered = 0;
      for (int i = 0; i < 50; ++i) {
        if (pause.call("x", junction::deadline_after(std::chrono::seconds(10))).text() == "done") {
          ++answered;
        }
      }
      return answered;
    }));
  }
  for (auto& caller_result : callers) {
    EXPECT_EQ(caller_result.get(), 50);
  }
  EXPECT_GE(overlap->most.load(), 2);
}

// A call alone in flight waits for its answer inside libzmq: it gives up
// there at its deadline too, to the millisecond libzmq counts in.
TEST_P(ListenerTest, CallAloneGivesUpAtItsDeadline) {
  const junction::Method nap = caller().resolve("test", "stubborn_nap");
  for (const std::int64_t deadline_ms : {300, 50}) {
    const std::int64_t start = jn_now_ns();
    const Code code = code_of([&] {
      static_cast<void>(
          nap.call("1500", junction::deadline_after(std::chrono::milliseconds(deadline_ms))));
    });
    const std::int64_t took = jn_now_ns() - start;
    EXPECT_EQ(code, Code::deadline_exceeded) << deadline_ms << " ms";
    EXPECT_GE(took, millis(deadline_ms)) << deadline_ms << " ms";
    EXPECT_LT(took, millis(deadline_ms + 400)) << deadline_ms << " ms";
  }
}

// A routed caller's own deadline ends its wait, whether it is receiving
// for every caller or waiting for the receiver to hand it its answer, and
// whatever the order in which the deadlines were set (here each later
// caller's deadline comes before the earlier callers'); the handler never
// answers in time.
TEST_P(ListenerTest, EachWaitingCallerGivesUpAtItsOwnDeadline) {
  const junction::Method nap = caller().resolve("test", "stubborn_nap");
  constexpr std::int64_t kDeadlinesMs[] = {1500, 1000, 500};
  std::vector<std::future<std::pair<Code, std::int64_t>>> callers;
  for (const std::int64_t deadline_ms : kDeadlinesMs) {
    callers.push_back(std::async(std::launch::async, [&nap, deadline_ms] {
      const std::int64_t start = jn_now_ns();
      const Code code = code_of([&] {
        static_cast<void>(
            nap.call("2500", junction::deadline_after(std::chrono::milliseconds(deadline_ms))));
      });
      return std::pair{code, jn_now_ns() - start};
    }));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (std::size_t i = 0; i < callers.size(); ++i) {
    const auto [code, took] = callers[i].get();
    EXPECT_EQ(code, Code::deadline_exceeded) << "caller " << i;
    EXPECT_GE(took, millis(kDeadlinesMs[i])) << "caller " << i;
    // Before the next deadline (500 ms apart).
    EXPECT_LT(took, millis(kDeadlinesMs[i] + 400)) << "caller " << i;
  }
}

TEST_P(TransparencyTest, AsynchronousCallsAndHandlersWork) {
  const junction::Method async_echo = caller().resolve("test", "async_echo");
  EXPECT_EQ(async_echo.call("via completion").text(), "via completion");
  std::promise<junction::Result> done;
  caller()
      .resolve("test", "echo")
      .call_async(Buffer::copy_of("async caller"),
                  junction::deadline_after(std::chrono::seconds(10)),
                  [&done](junction::Result result) { done.set_value(std::move(result)); });
  std::future<junction::Result> outcome = done.get_future();
  ASSERT_EQ(outcome.wait_for(std::chrono::seconds(20)), std::future_status::ready);
  junction::Result result = outcome.get();
  EXPECT_EQ(result.code, Code::ok) << result.message;
  EXPECT_EQ(result.response.text(), "async caller");
}

// The live host-buffer counts once they stop changing: handler buffers of
// remote answers are released just after libzmq has sent them, a moment
// after the caller has its answer.
jn_live_counts settled_counts() {
  jn_live_counts previous{};
  EXPECT_EQ(jn_live_objects(&previous), JN_OK);
  for (int stable = 0, attempt = 0; stable < 3 && attempt < 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    jn_live_counts now{};
    EXPECT_EQ(jn_live_objects(&now), JN_OK);
    stable = now.buffers == previous.buffers && now.buffer_bytes == previous.buffer_bytes
                 ? stable + 1
                 : 0;
    previous = now;
  }
  return previous;
}

TEST_P(TransparencyTest, BuffersReturnToBaseline) {
  const junction::Method echo = caller().resolve("test", "echo");
  static_cast<void>(echo.call("warm"));
  const jn_live_counts before = settled_counts();
  for (const std::size_t size : {10u, 5000u, 100000u}) {
    for (int i = 0; i < 50; ++i) {
      EXPECT_EQ(echo.call(pattern_bytes(size, 1)).size(), size);
    }
  }
  const jn_live_counts after = settled_counts();
  EXPECT_EQ(after.buffers, before.buffers);
  EXPECT_EQ(after.buffer_bytes, before.buffer_bytes);
}

// The listener releases what the host gave back for a call before it sends
// the answer (only payloads over its copy limit, 4096 bytes, are released
// after sending), so a caller holding its answer, or a test taking a
// baseline of live objects, finds nothing of the call still held.
TEST_P(ListenerTest, NothingOfACallIsHeldOnceItsAnswerArrives) {
  const junction::Method echo = caller().resolve("test", "echo");
  static_cast<void>(echo.call("warm"));
  const jn_live_counts before = settled_counts();
  int held_after = 0;
  for (int i = 0; i < 300; ++i) {
    const std::size_t size = i % 2 == 0 ? 10 : 4096;
    EXPECT_EQ(echo.call(pattern_bytes(size, 2)).size(), size);
    jn_live_counts now{};
    ASSERT_EQ(jn_live_objects(&now), JN_OK);
    if (now.buffers != before.buffers || now.buffer_bytes != before.buffer_bytes) {
      ++held_after;
    }
  }
  EXPECT_EQ(held_after, 0) << "calls after which a buffer of theirs was still live";
}

INSTANTIATE_TEST_SUITE_P(Everywhere, TransparencyTest,
                         testing::Values(Where::local, Where::inproc, Where::ipc, Where::tcp),
                         name_of);
INSTANTIATE_TEST_SUITE_P(Routed, ListenerTest,
                         testing::Values(Where::inproc, Where::ipc, Where::tcp), name_of);

}  // namespace
}  // namespace jnzmq
