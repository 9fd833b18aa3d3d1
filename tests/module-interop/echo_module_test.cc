// The C++ host loading the echo modules of the other languages and calling
// them through one contract: the Rust module (rust-bridge/junction-echo-module,
// a cdylib, service rust.echo) and the Go services bundle
// (go-bridge/cmd/junction-go-echo, a c-shared library, service go.echo).
// Each: sync and async calls (handlers on host worker threads, which neither
// Rust nor Go created), 0 B to 1 MiB, from several C++ threads; a panic comes
// back as INTERNAL; a relay from the module back into a C++ service; one
// library serving two hosts; a module built against another ABI major is
// refused before any of its code runs. Allocation counts return to their
// baseline after every test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <junction/junction.hpp>
#include <mutex>
#include <numeric>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (std::uint8_t byte : bytes) {
    hash = (hash ^ byte) * 0x100000001b3ULL;
  }
  return hash;
}

std::uint64_t le64(const junction::Buffer& buffer) {
  std::uint64_t value = 0;
  EXPECT_EQ(buffer.size(), sizeof value);
  if (buffer.size() == sizeof value) {
    std::memcpy(&value, buffer.data(), sizeof value);  // x86-64: little-endian
  }
  return value;
}

std::vector<std::uint8_t> payload(std::size_t size) {
  std::vector<std::uint8_t> bytes(size);
  std::iota(bytes.begin(), bytes.end(), std::uint8_t{7});
  return bytes;
}

// Loads path into host; returns the code and the status message.
std::pair<std::int32_t, std::string> load(const junction::Host& host, const char* path) {
  jn_status status{};
  const std::int32_t code = jn_host_load_module(host.raw(), path, &status);
  std::string message(reinterpret_cast<const char*>(status.message.data), status.message.len);
  jn_status_release(&status);
  return {code, message};
}

// One module under test.
struct EchoModule {
  const char* name;           // for test names
  const char* path;           // the module
  const char* mismatch_path;  // a module of the same language claiming ABI 2.0
  const char* service;        // its echo service
  const char* sleep_method;   // answers after an 8-byte little-endian delay in ms
  const char* panic_message;  // what a call of panic with "boom" answers
};

void PrintTo(const EchoModule& module, std::ostream* os) { *os << module.name; }

class EchoModuleTest : public ::testing::TestWithParam<EchoModule> {
 protected:
  void SetUp() override {
    jn_live_objects(&baseline_);
    const auto [code, message] = load(host_, GetParam().path);
    ASSERT_EQ(code, JN_OK) << message;
  }
  void TearDown() override {
    host_ = junction::Host();
    // An asynchronous handler may still be finishing on its own thread.
    jn_live_counts now{};
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    do {
      jn_live_objects(&now);
      if (now.pending_calls == baseline_.pending_calls && now.services == baseline_.services &&
          now.buffers == baseline_.buffers) {
        break;
      }
      std::this_thread::sleep_for(1ms);
    } while (std::chrono::steady_clock::now() < give_up);
    EXPECT_EQ(now.buffers, baseline_.buffers);
    EXPECT_EQ(now.buffer_bytes, baseline_.buffer_bytes);
    EXPECT_EQ(now.methods, baseline_.methods);
    EXPECT_EQ(now.services, baseline_.services);
    EXPECT_EQ(now.pending_calls, baseline_.pending_calls);
  }
  [[nodiscard]] junction::Method resolve(const char* method) const {
    return host_.resolve(GetParam().service, method);
  }
  jn_live_counts baseline_{};
  junction::Host host_;
};

TEST_P(EchoModuleTest, EchoLengthAndChecksumFromZeroToOneMebibyte) {
  const junction::Method echo = resolve("echo");
  const junction::Method length = resolve("length");
  const junction::Method checksum = resolve("checksum");
  for (const std::size_t size : {0UL, 1UL, 64UL, 65536UL, 1UL << 20}) {
    SCOPED_TRACE(size);
    const std::vector<std::uint8_t> request = payload(size);
    const junction::Buffer echoed = echo.call(request, junction::deadline_after(10s));
    ASSERT_EQ(echoed.size(), size);
    EXPECT_TRUE(std::equal(request.begin(), request.end(), echoed.data()));
    EXPECT_EQ(le64(length.call(request)), size);
    EXPECT_EQ(le64(checksum.call(request)), fnv1a(request));
  }
}

TEST_P(EchoModuleTest, PanicComesBackAsInternalAndTheHostKeepsServing) {
  const junction::Method panic = resolve("panic");
  for (int i = 0; i < 200; ++i) {
    try {
      (void)panic.call("boom");
      FAIL() << "panic answered OK";
    } catch (const junction::Error& e) {
      EXPECT_EQ(e.code(), junction::Code::internal);
      EXPECT_NE(std::string(e.what()).find(GetParam().panic_message), std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(resolve("echo").call("still serving").text(), "still serving");
  EXPECT_EQ(panic.stats().errors, 200U);
}

TEST_P(EchoModuleTest, ConcurrentCallsFromCxxThreads) {
  const junction::Method checksum = resolve("checksum");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::vector<std::uint8_t> request =
            payload((static_cast<std::size_t>(t) * 100) + static_cast<std::size_t>(i));
        if (le64(checksum.call(request, junction::deadline_after(10s))) != fnv1a(request)) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(checksum.stats().calls, 2000U);
}

TEST_P(EchoModuleTest, AsyncCallsRunHandlersOnHostWorkers) {
  const junction::Method echo = resolve("echo");
  const junction::Method sleeper = resolve(GetParam().sleep_method);
  std::mutex mutex;
  std::condition_variable answered;
  std::vector<junction::Result> results;
  auto collect = [&](junction::Result result) {
    std::lock_guard lock(mutex);
    results.push_back(std::move(result));
    answered.notify_all();
  };
  echo.call_async(junction::Buffer::copy_of("async echo"), junction::deadline_after(10s), collect);
  const std::uint64_t ten_ms = 10;
  sleeper.call_async(
      junction::Buffer::copy_of({reinterpret_cast<const std::uint8_t*>(&ten_ms), sizeof ten_ms}),
      junction::deadline_after(10s), collect);
  const std::uint64_t late_ms = 300;
  sleeper.call_async(
      junction::Buffer::copy_of({reinterpret_cast<const std::uint8_t*>(&late_ms), sizeof late_ms}),
      junction::deadline_after(50ms), collect);
  std::unique_lock lock(mutex);
  ASSERT_TRUE(answered.wait_for(lock, 10s, [&] { return results.size() == 3; }));
  int ok = 0;
  int expired = 0;
  for (const junction::Result& result : results) {
    ok += result.code == junction::Code::ok;
    expired += result.code == junction::Code::deadline_exceeded;
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(expired, 1);
}

// C++ -> module -> C++: relay calls a C++ service on the same host.
TEST_P(EchoModuleTest, RelayBackIntoCxx) {
  junction::Service upper("cxx.text");
  upper.method("upper", [](std::span<const std::uint8_t> request, junction::Deadline) {
    std::string text(request.begin(), request.end());
    for (char& c : text) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return junction::Buffer::copy_of(text);
  });
  host_.register_service(std::move(upper));
  const junction::Method relay = resolve("relay");
  EXPECT_EQ(relay.call("cxx.text/upper\nround trip").text(), "ROUND TRIP");
  try {
    (void)relay.call("cxx.text/missing\nx");
    FAIL() << "relay to a missing method answered OK";
  } catch (const junction::Error& e) {
    EXPECT_EQ(e.code(), junction::Code::not_found) << e.what();
  }
}

// A module is loaded once per process (for Go: one runtime) and serves
// every host that loads it.
TEST_P(EchoModuleTest, OneLibraryServesTwoHosts) {
  junction::Host second;
  const auto [code, message] = load(second, GetParam().path);
  ASSERT_EQ(code, JN_OK) << message;
  EXPECT_EQ(second.resolve(GetParam().service, "echo").call("second host").text(), "second host");
  EXPECT_EQ(resolve("echo").call("first host").text(), "first host");
}

TEST_P(EchoModuleTest, MismatchedMajorIsRefusedBeforeTheModuleRuns) {
  junction::Host host;
  const auto [code, message] = load(host, GetParam().mismatch_path);
  EXPECT_EQ(code, JN_FAILED_PRECONDITION);
  EXPECT_NE(message.find("ABI 2.0"), std::string::npos) << message;
  EXPECT_NE(message.find("ABI " + std::to_string(JN_ABI_VERSION_MAJOR) + "." +
                         std::to_string(JN_ABI_VERSION_MINOR)),
            std::string::npos)
      << message;
}

INSTANTIATE_TEST_SUITE_P(
    Modules, EchoModuleTest,
    ::testing::Values(EchoModule{"rust", JN_TEST_RUST_MODULE, JN_TEST_RUST_MISMATCH_MODULE,
                                 "rust.echo", "sleep_async",
                                 "handler panicked: rust.echo/panic called with 4 bytes"},
                      EchoModule{"go", JN_TEST_GO_MODULE, JN_TEST_GO_MISMATCH_MODULE, "go.echo",
                                 "sleep",
                                 "go handler panicked: go.echo/panic called with 4 bytes"}),
    [](const ::testing::TestParamInfo<EchoModule>& info) { return std::string(info.param.name); });

}  // namespace
