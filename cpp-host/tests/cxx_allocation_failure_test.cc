// Out of memory in the C++ API's exception wall and in call_async's
// delivery, and in the C ABI's calls: the caller still gets its answer,
// with the code and whatever message memory allowed, nothing is half done,
// and the process goes on (failing_allocation.hh: built without
// sanitizers).
#include <gtest/gtest.h>
#include <junction.h>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstring>
#include <exception>
#include <functional>
#include <future>
#include <junction/junction.hpp>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "failing_allocation.hh"

namespace {

using junction::Buffer;
using junction::Code;
using junction::Deadline;
using junction::Host;
using junction::Method;
using junction::Result;
using junction::Service;
using std::chrono::seconds;

constexpr std::size_t kLongText = 3000;

// An exception whose what() is kLongText bytes, thrown without allocating.
struct LongWhat : std::exception {
  [[nodiscard]] const char* what() const noexcept override { return text().c_str(); }
  static const std::string& text() {
    static const std::string long_text(kLongText, 'w');
    return long_text;
  }
};

// A handler whose exception's what() is long, and after whose throw this
// thread has no memory for anything as long: the wall's "handler threw: "
// message cannot be made.
TEST(CxxAllocationFailureTest, TheWallAnswersInternalWithoutMemoryForItsMessage) {
  Host host;
  host.register_service(
      Service("throws").method("long", [](std::span<const std::uint8_t>, Deadline) -> Buffer {
        static_cast<void>(LongWhat::text());
        jnfail::failing_from = kLongText;
        throw LongWhat();
      }));
  const Method method = host.resolve("throws", "long");
  jn_result result{};
  const std::int32_t code = jn_call(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, &result);
  jnfail::failing_from = 0;
  EXPECT_EQ(code, JN_INTERNAL);
  EXPECT_EQ(result.status.message.len, kLongText) << "what() alone, without the prefix";
  jn_result_release(&result);
}

void echo_c(void* /*ctx*/, jn_bytes request, std::int64_t /*deadline*/, jn_result* result) {
  jn_buffer_copy(request.data, request.len, &result->response);
}

jn_service_desc c_service(const char* name, const jn_method_desc* methods, std::uint32_t count) {
  jn_service_desc service{};
  service.abi_version = JN_ABI_VERSION;
  service.name = name;
  service.method_count = count;
  service.methods = methods;
  return service;
}

// Registers the service "c" with method alone on host; returns its handle.
Method register_c_method(Host& host, const jn_method_desc& method) {
  const jn_service_desc service = c_service("c", &method, 1);
  EXPECT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
  return host.resolve("c", method.name);
}

// A C handler failing with a long message, on a worker thread that then
// has no memory for a copy of it: call_async's done still runs, once, with
// the code.
void fails_long(void* /*ctx*/, jn_bytes /*request*/, std::int64_t /*deadline*/, jn_result* result) {
  const std::string message(kLongText, 'm');
  jn_status_set(&result->status, JN_PERMISSION_DENIED, message.c_str());
  jnfail::failing_from = kLongText;
}

TEST(CxxAllocationFailureTest, CallAsyncsDoneRunsWithoutMemoryForTheMessage) {
  Host host;
  const Method method = register_c_method(host, {"long", fails_long, nullptr, nullptr});
  auto done = std::make_shared<std::promise<Result>>();
  method.call_async(Buffer(), junction::no_deadline, [done](Result result) {
    jnfail::failing_from = 0;
    done->set_value(std::move(result));
  });
  auto outcome = done->get_future();
  ASSERT_EQ(outcome.wait_for(seconds(10)), std::future_status::ready);
  const Result result = outcome.get();
  EXPECT_EQ(result.code, Code::permission_denied);
  EXPECT_TRUE(result.message.empty());
}

struct DoneCount {
  std::atomic<int> ran{0};
  std::atomic<std::int32_t> code{-1};
  static void Fn(void* user_data, jn_result* result) {
    auto* self = static_cast<DoneCount*>(user_data);
    self->code.store(result->status.code);
    jn_result_release(result);
    self->ran.fetch_add(1);
  }
};

bool eventually(const std::function<bool()>& done) {
  for (const auto give_up = std::chrono::steady_clock::now() + seconds(10);
       std::chrono::steady_clock::now() < give_up;
       std::this_thread::sleep_for(std::chrono::milliseconds(1))) {
    if (done()) return true;
  }
  return done();
}

// jn_call_async with its n-th allocation failing, for every n until a call
// needs no more: a call it could not start (no memory for the call, for its
// cancel's wait, its deadline's timer or the hand-off to a worker) is
// refused RESOURCE_EXHAUSTED with the request still the caller's and done
// never run; one it took is answered once.
TEST(CxxAllocationFailureTest, CallAsyncWithoutMemoryToStartTheCallGivesItBack) {
  constexpr unsigned kMostAllocations = 40;
  std::vector<DoneCount> dones(kMostAllocations + 1);
  std::vector<bool> refused(kMostAllocations + 1, false);
  {
    Host host;
    const Method method = register_c_method(host, {"echo", echo_c, nullptr, nullptr});
    jn_cancel* cancel = nullptr;
    ASSERT_EQ(jn_cancel_new(&cancel), JN_OK);
    // This thread's first call registers it (reader_domain.hh), once, so
    // that the count below is the calls' own.
    EXPECT_EQ(method.call("registers", junction::no_deadline).text(), "registers");
    for (unsigned n = 1; n <= kMostAllocations; ++n) {
      SCOPED_TRACE("allocation " + std::to_string(n) + " failing");
      jn_buffer request{};
      ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const std::uint8_t*>("abc"), 3, &request), JN_OK);
      jn_status status{};
      std::int32_t code = -1;
      try {
        jnfail::failing_nth = n;
        code = jn_call_async_cancellable(method.raw(), &request, jn_now_ns() + 10'000'000'000,
                                         cancel, DoneCount::Fn, &dones[n], &status);
        jnfail::failing_nth = 0;
      } catch (...) {
        jnfail::failing_nth = 0;
        ADD_FAILURE() << "an exception left jn_call_async";
        jn_buffer_release(&request);
        continue;
      }
      jn_status_release(&status);
      if (code == JN_OK) {
        EXPECT_EQ(request.release, nullptr) << "the request is the host's";
        EXPECT_TRUE(eventually([&] { return dones[n].ran.load() == 1; }));
        EXPECT_EQ(dones[n].code.load(), JN_OK);
        continue;
      }
      refused[n] = true;
      EXPECT_EQ(code, JN_RESOURCE_EXHAUSTED);
      ASSERT_NE(request.release, nullptr) << "the refused request is the caller's again";
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(request.data), request.len), "abc");
      jn_buffer_release(&request);
    }
    jn_cancel_free(cancel);
  }  // the host freed: any call it still held is answered by now
  for (unsigned n = 1; n <= kMostAllocations; ++n) {
    if (refused[n]) {
      EXPECT_EQ(dones[n].ran.load(), 0) << "done ran for a refused call, allocation " << n;
    }
  }
  EXPECT_TRUE(refused[1]) << "the first allocation's failure was not seen";
}

// A handler's invalid status code becomes INTERNAL with a message naming
// it; without memory for that message, INTERNAL all the same.
void invalid_code_without_memory(void* /*ctx*/, jn_bytes /*request*/, std::int64_t /*deadline*/,
                                 jn_result* result) {
  result->status.code = 99;
  jnfail::failing_from = 1;
}

TEST(CxxAllocationFailureTest, AnInvalidCodeWithoutMemoryForItsMessageIsInternal) {
  Host host;
  const Method method =
      register_c_method(host, {"invalid", invalid_code_without_memory, nullptr, nullptr});
  jn_result result{};
  const std::int32_t code = jn_call(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, &result);
  jnfail::failing_from = 0;
  EXPECT_EQ(code, JN_INTERNAL);
  jn_result_release(&result);
}

// Out of memory, registering is refused RESOURCE_EXHAUSTED (not an
// exception through the C ABI) and registers nothing.
TEST(CxxAllocationFailureTest, RegisteringWithoutMemoryIsRefused) {
  Host host;
  const jn_method_desc methods[] = {{"echo", echo_c, nullptr, nullptr}};
  const jn_service_desc service = c_service("c", methods, 1);
  jn_status status{};
  std::int32_t code = -1;
  try {
    jnfail::failing_from = 1;
    code = jn_host_register(host.raw(), &service, &status);
    jnfail::failing_from = 0;
  } catch (...) {
    jnfail::failing_from = 0;
    ADD_FAILURE() << "an exception left jn_host_register";
  }
  EXPECT_EQ(code, JN_RESOURCE_EXHAUSTED);
  jn_status_release(&status);
  jn_method* method = nullptr;
  EXPECT_EQ(jn_host_resolve(host.raw(), "c", "echo", &method, nullptr), JN_NOT_FOUND);
  jn_method_free(method);
}

// Unregistering without memory to hand the service to the reclaimer is
// refused and leaves the service registered and served; a later
// unregistration retires it, and its destroy runs once.
TEST(CxxAllocationFailureTest, UnregisteringWithoutMemoryKeepsTheService) {
  std::atomic<int> destroyed{0};
  {
    Host host;
    const jn_method_desc methods[] = {{"echo", echo_c, nullptr, nullptr}};
    jn_service_desc service = c_service("c", methods, 1);
    service.ctx = &destroyed;
    service.destroy = [](void* ctx) { static_cast<std::atomic<int>*>(ctx)->fetch_add(1); };
    ASSERT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
    jnfail::failing_nth = 1;
    const std::int32_t code = jn_host_unregister(host.raw(), "c", nullptr);
    jnfail::failing_nth = 0;
    EXPECT_EQ(code, JN_RESOURCE_EXHAUSTED);
    const Method method = host.resolve("c", "echo");
    EXPECT_EQ(method.call("still served", junction::no_deadline).text(), "still served");
    EXPECT_EQ(jn_host_unregister(host.raw(), "c", nullptr), JN_OK);
    EXPECT_TRUE(eventually([&] { return destroyed.load() == 1; }));
  }
  EXPECT_EQ(destroyed.load(), 1);
}

// A synchronous call on an asynchronous handler that cannot start (no
// memory for the call) is counted as a call and an error.
void parks_nothing(void* /*ctx*/, jn_bytes /*request*/, std::int64_t /*deadline*/,
                   jn_completion completion) {
  jn_result result{};
  jn_complete(completion, &result);
}

TEST(CxxAllocationFailureTest, ASynchronousCallThatCannotStartIsCounted) {
  Host host;
  const Method method = register_c_method(host, {"async", nullptr, parks_nothing, nullptr});
  jn_result result{};
  ASSERT_EQ(jn_call(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, &result), JN_OK);
  jn_result_release(&result);
  jnfail::failing_nth = 1;
  const std::int32_t code = jn_call(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, &result);
  jnfail::failing_nth = 0;
  EXPECT_EQ(code, JN_RESOURCE_EXHAUSTED);
  jn_result_release(&result);
  jn_method_stats stats{};
  ASSERT_EQ(jn_method_stats_get(method.raw(), &stats), JN_OK);
  EXPECT_EQ(stats.calls, 2U);
  EXPECT_EQ(stats.errors, 1U);
}

// Answers OK with nothing, allocating nothing.
void answers_nothing(void* /*ctx*/, jn_bytes /*request*/, std::int64_t /*deadline*/,
                     jn_result* /*result*/) {}

// Threads past a method's inline statistics shards count their calls in
// segments made at their first call (stats.hh); a thread that finds no
// memory for its segment counts in the shared overflow shard instead, its
// calls answered, and makes the segment at a later call.
TEST(CxxAllocationFailureTest, CallsWithoutMemoryForTheirStatsShardAreCounted) {
  Host host;
  const jn_method_desc methods[] = {{"first", answers_nothing, nullptr, nullptr},
                                    {"counted", answers_nothing, nullptr, nullptr}};
  const jn_service_desc service = c_service("c", methods, 2);
  ASSERT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
  const Method first = host.resolve("c", "first");
  const Method counted = host.resolve("c", "counted");
  constexpr int kThreads = 24;  // at least 8 past the 16 inline shards
  constexpr int kCallsWithoutMemory = 10;
  // Each thread's record is made (with memory) before any thread goes on,
  // so all of them hold one at once.
  std::barrier all_registered(kThreads);
  std::atomic<int> wrong{0};
  std::atomic<unsigned> failed_allocations{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  auto call = [&wrong](const Method& method) {
    jn_result result{};
    if (jn_call_into(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, nullptr, 0, &result) !=
        JN_OK) {
      wrong.fetch_add(1);
    }
    jn_result_release(&result);
  };
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      call(first);
      all_registered.arrive_and_wait();
      jnfail::failing_from = 1;
      for (int i = 0; i < kCallsWithoutMemory; ++i) {
        call(counted);
      }
      jnfail::failing_from = 0;
      failed_allocations.fetch_add(jnfail::failed);
      call(counted);
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GE(failed_allocations.load(), static_cast<unsigned>(kCallsWithoutMemory))
      << "no thread past the inline shards tried to make its segment";
  jn_method_stats stats{};
  ASSERT_EQ(jn_method_stats_get(counted.raw(), &stats), JN_OK);
  EXPECT_EQ(stats.calls, static_cast<std::uint64_t>(kThreads * (kCallsWithoutMemory + 1)));
  EXPECT_EQ(stats.errors, 0U);
}

// The C library allocates (calloc) when a thread first uses a C++
// thread_local with a destructor, to register it, and crashes when that
// allocation fails. A thread's first host buffers need no such
// registration: made and released with calloc failing, and counted as
// released once the thread has gone.
TEST(CxxAllocationFailureTest, AThreadsFirstHostBuffersNeedNoCalloc) {
  jn_live_counts before{};
  ASSERT_EQ(jn_live_objects(&before), JN_OK);
  std::int32_t made = -1;
  unsigned calloc_failed = 0;
  std::thread([&] {
    jnfail::failing_calloc = true;
    std::array<jn_buffer, 3> buffers{};
    made = JN_OK;
    for (jn_buffer& buffer : buffers) {  // small ones, cached as released
      if (const std::int32_t code =
              jn_buffer_copy(reinterpret_cast<const std::uint8_t*>("abc"), 3, &buffer);
          code != JN_OK) {
        made = code;
      }
    }
    for (jn_buffer& buffer : buffers) {
      jn_buffer_release(&buffer);
    }
    jnfail::failing_calloc = false;
    calloc_failed = jnfail::calloc_failed;
  }).join();
  EXPECT_EQ(made, JN_OK);
  EXPECT_EQ(calloc_failed, 0U);
  jn_live_counts after{};
  ASSERT_EQ(jn_live_objects(&after), JN_OK);
  EXPECT_EQ(after.buffers, before.buffers);
  EXPECT_EQ(after.buffer_bytes, before.buffer_bytes);
}

// What a call on a thread without memory for its reader record
// (reader_domain.hh) sees: the handler that answers it, and whether
// jn_host_free_check there refused (the call runs in a section).
struct UnrecordedCall {
  jn_host* host = nullptr;
  std::promise<void> entered;
  std::shared_future<void> release;
  std::atomic<std::int32_t> free_check{-1};
};

// Answers "recorded" at once on a thread that had its record (every
// allocation on the thread fails, so a record it reused); on one that had
// none, tells the test it is running and waits to be released first.
void held_unless_recorded(void* ctx, jn_bytes /*request*/, std::int64_t /*deadline*/,
                          jn_result* result) {
  auto* call = static_cast<UnrecordedCall*>(ctx);
  if (jnfail::failed == 0) {
    jn_respond(result, reinterpret_cast<const std::uint8_t*>("recorded"), 8);
    return;
  }
  call->free_check = jn_host_free_check(call->host);
  call->entered.set_value();
  call->release.wait();
  jn_respond(result, reinterpret_cast<const std::uint8_t*>("unrecorded"), 10);
}

// Threads that made a call each and stay until the test ends, holding
// their reader records; released and joined however the test ends.
class ParkedThreads {
 public:
  ParkedThreads() : leave_(leave_signal_.get_future().share()) {}
  ParkedThreads(const ParkedThreads&) = delete;
  ParkedThreads& operator=(const ParkedThreads&) = delete;
  ~ParkedThreads() {
    leave_signal_.set_value();
    for (std::thread& thread : threads_) {
      thread.join();
    }
  }

  // Starts a thread that makes one call on method with every allocation
  // failing, and returns the future of its code and answer.
  std::future<std::pair<std::int32_t, std::string>> call_without_memory(const Method& method) {
    std::promise<std::pair<std::int32_t, std::string>> outcome;
    auto answered = outcome.get_future();
    threads_.emplace_back([&method, outcome = std::move(outcome), leave = leave_]() mutable {
      std::array<std::uint8_t, 16> room{};
      jn_result result{};
      jnfail::failing_from = 1;
      const std::int32_t code = jn_call_into(method.raw(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE,
                                             room.data(), room.size(), &result);
      jnfail::failing_from = 0;
      outcome.set_value({code, std::string(reinterpret_cast<const char*>(result.response.data),
                                           result.response.len)});
      jn_result_release(&result);
      leave.wait();
    });
    return answered;
  }

 private:
  std::promise<void> leave_signal_;
  std::shared_future<void> leave_;
  std::vector<std::thread> threads_;
};

template <class T>
bool is_ready(const std::future<T>& future) {
  return future.wait_for(seconds(0)) == std::future_status::ready;
}

// A thread whose first call finds no memory for its reader record still
// makes the call, and the call still holds its service: the service's
// destroy waits for it, and jn_host_free_check in it refuses.
TEST(CxxAllocationFailureTest, ACallWithoutMemoryForItsThreadsRecordIsServedAndWaitedFor) {
  std::atomic<int> destroyed{0};
  Host host;
  std::promise<void> release;
  UnrecordedCall call;
  call.host = host.raw();
  call.release = release.get_future().share();
  const std::future<void> unrecorded_entered = call.entered.get_future();
  const jn_method_desc methods[] = {{"held", held_unless_recorded, nullptr, &call}};
  jn_service_desc service = c_service("c", methods, 1);
  service.ctx = &destroyed;
  service.destroy = [](void* ctx) { static_cast<std::atomic<int>*>(ctx)->fetch_add(1); };
  ASSERT_EQ(jn_host_register(host.raw(), &service, nullptr), JN_OK);
  const Method method = host.resolve("c", "held");

  // A thread that finds a record an exited thread left needs no memory for
  // one: such threads stay, holding theirs, and the next thread tries,
  // until one has to make its record.
  {
    ParkedThreads threads;
    for (int attempt = 0; attempt < 256 && !is_ready(unrecorded_entered); ++attempt) {
      auto answered = threads.call_without_memory(method);
      if (!eventually([&] { return is_ready(unrecorded_entered) || is_ready(answered); })) {
        ADD_FAILURE() << "a call neither answered nor reached its handler";
        break;
      }
      if (!is_ready(unrecorded_entered)) {
        EXPECT_EQ(answered.get(), std::make_pair(std::int32_t{JN_OK}, std::string("recorded")));
        continue;
      }
      // The service's destroy waits for the call (on the host's reclaimer).
      EXPECT_EQ(jn_host_unregister(host.raw(), "c", nullptr), JN_OK);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      EXPECT_EQ(destroyed.load(), 0) << "destroyed under the unrecorded call";
      release.set_value();
      EXPECT_EQ(answered.get(), std::make_pair(std::int32_t{JN_OK}, std::string("unrecorded")));
    }
  }
  ASSERT_TRUE(is_ready(unrecorded_entered)) << "no thread had to make its record";
  EXPECT_EQ(call.free_check.load(), JN_FAILED_PRECONDITION);
  EXPECT_TRUE(eventually([&] { return destroyed.load() == 1; }));
}

}  // namespace
