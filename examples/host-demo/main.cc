// junction_host_demo - a small tour of the junction C++ API (junction.hpp).
//
// It creates a host, registers a service "text" and calls its methods the
// ways a C++ user would: synchronously and asynchronously through resolved
// method handles. It then provokes the usual failures (an unknown method, a
// deadline that has passed, a handler that throws) and prints what comes
// back, prints per-method statistics, unregisters the service and checks
// that nothing leaked.
//
// Exit status: 0 when everything behaved as documented, 1 otherwise (each
// surprise is printed as "UNEXPECTED: ...").
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <junction/junction.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;
using junction::Code;

constexpr auto kAsyncWaitLimit = 5s;  // bounded wait for every asynchronous answer

int g_unexpected = 0;

void expect(bool ok, const std::string& what) {
  if (!ok) {
    ++g_unexpected;
    std::printf("    UNEXPECTED: %s\n", what.c_str());
  }
}

std::string quoted(std::string_view text) {
  // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) on "\"" + s.
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '"').append(text).append(1, '"');
  return out;
}

// --- The service logic --------------------------------------------------

// ASCII uppercase; anything else is refused with INVALID_ARGUMENT (thrown
// as junction::Error, which the C++ API turns into that status code).
junction::Buffer upper(std::span<const std::uint8_t> request) {
  std::vector<std::uint8_t> out(request.begin(), request.end());
  for (auto& byte : out) {
    if (byte >= 0x80) {
      throw junction::Error(Code::invalid_argument, "upper takes ASCII text only");
    }
    byte = static_cast<std::uint8_t>(std::toupper(byte));
  }
  return junction::Buffer::from_vector(std::move(out));
}

// FNV-1a, 64-bit.
std::uint64_t fnv1a64(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const std::uint8_t byte : bytes) {
    hash ^= byte;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// The 8-byte hash as 16 lowercase hex digits.
std::string hex64(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Runs the asynchronous method's work on a thread of its own, the way an
// asynchronous handler hands work to its own event loop or pool and
// completes the call later from there.
class Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() { stop(); }

  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    ready_.notify_one();
  }

  // Runs what is queued, then joins the thread.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    ready_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

junction::Service make_text_service(Worker& worker) {
  junction::Service service("text");
  service.method("upper", [](std::span<const std::uint8_t> request, junction::Deadline) {
    return upper(request);
  });
  service.method("checksum", [](std::span<const std::uint8_t> request, junction::Deadline) {
    return junction::Buffer::copy_of(hex64(fnv1a64(request)));
  });
  // Asynchronous: returns at once; the worker thread answers a little later.
  // The request stays valid until the call is completed.
  service.async_method(
      "upper_later", [&worker](std::span<const std::uint8_t> request, junction::Deadline deadline,
                               junction::Completion completion) {
        auto pending = std::make_shared<junction::Completion>(std::move(completion));
        worker.post([request, deadline, pending] {
          std::this_thread::sleep_for(5ms);
          if (deadline != junction::no_deadline && jn_now_ns() >= deadline) {
            pending->fail(Code::deadline_exceeded, "upper_later: deadline passed while queued");
            return;
          }
          try {
            pending->succeed(upper(request));
          } catch (const junction::Error& e) {
            pending->fail(e.code(), e.what());
          }
        });
      });
  service.method("explode",
                 [](std::span<const std::uint8_t>, junction::Deadline) -> junction::Buffer {
                   throw std::runtime_error("explode: the handler threw on purpose");
                 });
  return service;
}

// --- Calling helpers ----------------------------------------------------

// Calls asynchronously and waits for the answer, at most kAsyncWaitLimit.
// Returns nothing if the answer did not come in time.
struct AsyncCall {
  std::future<junction::Result> answer;
};

AsyncCall start_async(const junction::Method& method, std::string_view request,
                      junction::Deadline deadline = junction::no_deadline) {
  auto promise = std::make_shared<std::promise<junction::Result>>();
  AsyncCall call{promise->get_future()};
  method.call_async(junction::Buffer::copy_of(request), deadline,
                    [promise](junction::Result result) { promise->set_value(std::move(result)); });
  return call;
}

std::optional<junction::Result> await(AsyncCall& call) {
  if (call.answer.wait_for(kAsyncWaitLimit) != std::future_status::ready) return std::nullopt;
  return call.answer.get();
}

// Runs fn, which must throw junction::Error with the expected code.
template <typename Fn>
void expect_error(const std::string& label, Code expected, Fn&& fn) {
  try {
    fn();
    std::printf("    %-36s -> OK\n", label.c_str());
    expect(false, label + " succeeded; expected " + std::string(junction::code_name(expected)));
  } catch (const junction::Error& e) {
    std::printf("    %-36s -> %s: %s\n", label.c_str(),
                std::string(junction::code_name(e.code())).c_str(), e.what());
    expect(e.code() == expected, label + " gave " + std::string(junction::code_name(e.code())) +
                                     "; expected " + std::string(junction::code_name(expected)));
  }
}

void print_stats(const char* name, const junction::MethodStats& s) {
  std::printf(
      "    %-18s calls=%llu errors=%llu latency: samples=%llu mean=%lluns p50<=%lluns "
      "p99<=%lluns max=%lluns\n",
      name, static_cast<unsigned long long>(s.calls), static_cast<unsigned long long>(s.errors),
      static_cast<unsigned long long>(s.latency_samples),
      static_cast<unsigned long long>(s.latency_mean_ns),
      static_cast<unsigned long long>(s.latency_p50_ns),
      static_cast<unsigned long long>(s.latency_p99_ns),
      static_cast<unsigned long long>(s.latency_max_ns));
}

jn_live_counts live_counts() {
  jn_live_counts counts{};
  if (jn_live_objects(&counts) != JN_OK) expect(false, "jn_live_objects failed");
  return counts;
}

bool same_counts(const jn_live_counts& a, const jn_live_counts& b) {
  return a.buffers == b.buffers && a.buffer_bytes == b.buffer_bytes && a.hosts == b.hosts &&
         a.methods == b.methods && a.services == b.services && a.pending_calls == b.pending_calls;
}

void print_counts(const char* label, const jn_live_counts& c) {
  std::printf(
      "    %-9s buffers=%llu bytes=%llu hosts=%llu methods=%llu services=%llu pending=%llu\n",
      label, static_cast<unsigned long long>(c.buffers),
      static_cast<unsigned long long>(c.buffer_bytes), static_cast<unsigned long long>(c.hosts),
      static_cast<unsigned long long>(c.methods), static_cast<unsigned long long>(c.services),
      static_cast<unsigned long long>(c.pending_calls));
}

// --- The tour -----------------------------------------------------------

void run() {
  const std::uint32_t version = jn_abi_version();
  std::printf("junction host demo: library ABI %u.%u, built against %d.%d\n",
              static_cast<unsigned>(JN_ABI_VERSION_MAJOR_OF(version)),
              static_cast<unsigned>(JN_ABI_VERSION_MINOR_OF(version)), JN_ABI_VERSION_MAJOR,
              JN_ABI_VERSION_MINOR);
  expect(JN_ABI_VERSION_MAJOR_OF(version) == JN_ABI_VERSION_MAJOR, "ABI major differs");

  const jn_live_counts baseline = live_counts();
  {
    Worker worker;  // outlives the host's use of upper_later (stopped below)

    std::printf("\n[1] create a host and register service \"text\"\n");
    junction::Host host(junction::HostOptions{.worker_threads = 2});
    host.register_service(make_text_service(worker));
    std::printf("    registered text.{upper, checksum, upper_later (async), explode}\n");

    std::printf("\n[2] resolve the methods once\n");
    const junction::Method upper_m = host.resolve("text", "upper");
    const junction::Method checksum_m = host.resolve("text", "checksum");
    const junction::Method later_m = host.resolve("text", "upper_later");
    const junction::Method explode_m = host.resolve("text", "explode");
    std::printf("    resolved text.upper, text.checksum, text.upper_later, text.explode\n");

    std::printf("\n[3] synchronous calls\n");
    {
      const junction::Buffer out = upper_m.call("hello, junction");
      std::printf("    upper(\"hello, junction\")         = %s\n", quoted(out.text()).c_str());
      expect(out.text() == "HELLO, JUNCTION", "upper returned " + quoted(out.text()));
    }
    const std::pair<std::string_view, std::string_view> checks[] = {
        {"", "cbf29ce484222325"},  // FNV-1a 64 test vectors
        {"a", "af63dc4c8601ec8c"},
    };
    for (const auto& [input, hex] : checks) {
      const junction::Buffer out = checksum_m.call(input, junction::deadline_after(1s));
      std::printf("    checksum(%-5s) with 1 s deadline = %s\n", quoted(input).c_str(),
                  quoted(out.text()).c_str());
      expect(out.text() == hex, "checksum(" + quoted(input) + ") returned " + quoted(out.text()) +
                                    ", expected " + quoted(hex));
    }

    std::printf("\n[4] asynchronous calls (each answer awaited at most %lld s)\n",
                static_cast<long long>(std::chrono::seconds(kAsyncWaitLimit).count()));
    {
      const std::string_view inputs[] = {"alpha", "beta", "gamma", "delta"};
      std::vector<AsyncCall> calls;
      for (const auto input : inputs)
        calls.push_back(start_async(later_m, input, junction::deadline_after(5s)));
      // A synchronous handler called asynchronously runs on a host worker.
      AsyncCall sum = start_async(checksum_m, "hello");
      for (std::size_t i = 0; i < calls.size(); ++i) {
        const std::optional<junction::Result> r = await(calls[i]);
        if (!r) {
          expect(false, "upper_later(" + quoted(inputs[i]) + ") not answered in time");
          continue;
        }
        std::printf("    upper_later(%-7s) -> %s %s\n", quoted(inputs[i]).c_str(),
                    std::string(junction::code_name(r->code)).c_str(),
                    quoted(r->response.text()).c_str());
        std::string want(inputs[i]);
        for (auto& ch : want) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        expect(r->code == Code::ok && r->response.text() == want,
               "upper_later(" + quoted(inputs[i]) + ") gave " +
                   std::string(junction::code_name(r->code)) + " " + quoted(r->response.text()) +
                   " " + r->message);
      }
      const std::optional<junction::Result> r = await(sum);
      if (!r) {
        expect(false, "async checksum not answered in time");
      } else {
        const std::string want = hex64(fnv1a64(bytes_of("hello")));
        std::printf("    checksum(\"hello\") async -> %s %s\n",
                    std::string(junction::code_name(r->code)).c_str(),
                    quoted(r->response.text()).c_str());
        expect(r->code == Code::ok && r->response.text() == want,
               "async checksum gave " + std::string(junction::code_name(r->code)) + " " +
                   quoted(r->response.text()) + ", expected " + quoted(want));
      }
    }

    std::printf("\n[5] errors come back as status codes (junction::Error)\n");
    expect_error("resolve text.reverse", Code::not_found,
                 [&] { (void)host.resolve("text", "reverse"); });
    expect_error("resolve nosuch.upper", Code::not_found,
                 [&] { (void)host.resolve("nosuch", "upper"); });
    expect_error("upper with a deadline 1 ms ago", Code::deadline_exceeded,
                 [&] { (void)upper_m.call("too late", junction::deadline_after(-1ms)); });
    expect_error("explode (handler throws)", Code::internal, [&] { (void)explode_m.call("boom"); });
    expect_error("upper of non-ASCII (throws Error)", Code::invalid_argument,
                 [&] { (void)upper_m.call("h\xc3\xa9llo"); });
    {
      // The message of an exception survives the trip through the C ABI.
      try {
        (void)explode_m.call("boom");
      } catch (const junction::Error& e) {
        expect(std::string_view(e.what()).find("the handler threw on purpose") !=
                   std::string_view::npos,
               std::string("INTERNAL message lost the exception's what(): ") + e.what());
      }
    }

    std::printf("\n[6] per-method statistics (Method::stats)\n");
    const junction::MethodStats upper_s = upper_m.stats();
    const junction::MethodStats checksum_s = checksum_m.stats();
    const junction::MethodStats later_s = later_m.stats();
    const junction::MethodStats explode_s = explode_m.stats();
    print_stats("text.upper", upper_s);
    print_stats("text.checksum", checksum_s);
    print_stats("text.upper_later", later_s);
    print_stats("text.explode", explode_s);
    // Counts are exact. upper: 1 OK + 1 INVALID_ARGUMENT reached the handler
    // (whether the call refused at its deadline is counted is not specified).
    expect(upper_s.calls >= 2 && upper_s.errors >= 1 && upper_s.errors + 1 <= upper_s.calls,
           "text.upper stats: want at least 2 calls and at least 1 error");
    expect(checksum_s.calls == 3 && checksum_s.errors == 0,
           "text.checksum stats: want 3 calls and 0 errors");
    expect(later_s.calls == 4 && later_s.errors == 0,
           "text.upper_later stats: want 4 calls and 0 errors");
    expect(later_s.latency_samples == later_s.calls,
           "text.upper_later: every asynchronous call should be sampled");
    expect(later_s.latency_max_ns >= 5'000'000,
           "text.upper_later: max latency should be at least the handler's 5 ms");
    expect(explode_s.calls == 2 && explode_s.errors == 2,
           "text.explode stats: want 2 calls and 2 errors");

    std::printf("\n[7] unregister \"text\": resolved handles now answer NOT_FOUND\n");
    host.unregister_service("text");
    expect_error("upper after unregister", Code::not_found,
                 [&] { (void)upper_m.call("anyone there?"); });
    expect_error("resolve text.upper after unregister", Code::not_found,
                 [&] { (void)host.resolve("text", "upper"); });

    worker.stop();  // every asynchronous call has been answered
    std::printf("\n[8] shut down (methods, host, worker)\n");
  }

  const jn_live_counts after = live_counts();
  print_counts("baseline", baseline);
  print_counts("after", after);
  expect(same_counts(baseline, after), "live objects did not return to the baseline (a leak)");
}

}  // namespace

int main() {
  try {
    run();
  } catch (const junction::Error& e) {
    std::printf("UNEXPECTED: junction::Error %s: %s\n",
                std::string(junction::code_name(e.code())).c_str(), e.what());
    return 1;
  } catch (const std::exception& e) {
    std::printf("UNEXPECTED: exception: %s\n", e.what());
    return 1;
  }
  if (g_unexpected != 0) {
    std::printf("\nFAILED: %d unexpected outcome(s)\n", g_unexpected);
    return 1;
  }
  std::printf("\nOK: every step behaved as documented\n");
  return 0;
}
