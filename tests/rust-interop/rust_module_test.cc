// The C++ host loading the Rust module (rust-bridge/junction-echo-module,
// a cdylib) and calling its services: sync and async, 0 B to 1 MiB, from
// several threads; a Rust panic comes back as INTERNAL; a module built
// against another ABI major is refused. Allocation counts return to their
// baseline after every test.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <junction/junction.hpp>
#include <mutex>
#include <numeric>
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

class RustModuleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    jn_live_objects(&baseline_);
    jn_status status{};
    const std::int32_t code = jn_host_load_module(host_.raw(), JN_TEST_RUST_MODULE, &status);
    std::string message(reinterpret_cast<const char*>(status.message.data), status.message.len);
    jn_status_release(&status);
    ASSERT_EQ(code, JN_OK) << message;
  }
  void TearDown() override {
    host_ = junction::Host();
    // An asynchronous Rust handler may still be finishing on its own thread.
    jn_live_counts now{};
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    do {
      std::this_thread::sleep_for(1ms);
      jn_live_objects(&now);
    } while ((now.pending_calls != baseline_.pending_calls || now.services != baseline_.services ||
              now.buffers != baseline_.buffers) &&
             std::chrono::steady_clock::now() < give_up);
    EXPECT_EQ(now.buffers, baseline_.buffers);
    EXPECT_EQ(now.buffer_bytes, baseline_.buffer_bytes);
    EXPECT_EQ(now.methods, baseline_.methods);
    EXPECT_EQ(now.services, baseline_.services);
    EXPECT_EQ(now.pending_calls, baseline_.pending_calls);
  }
  jn_live_counts baseline_{};
  junction::Host host_;
};

TEST_F(RustModuleTest, EchoLengthAndChecksumFromZeroToOneMebibyte) {
  const junction::Method echo = host_.resolve("rust.echo", "echo");
  const junction::Method length = host_.resolve("rust.echo", "length");
  const junction::Method checksum = host_.resolve("rust.echo", "checksum");
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

TEST_F(RustModuleTest, PanicComesBackAsInternalAndTheHostKeepsServing) {
  const junction::Method panic = host_.resolve("rust.echo", "panic");
  const junction::Method echo = host_.resolve("rust.echo", "echo");
  for (int i = 0; i < 200; ++i) {
    try {
      (void)panic.call("boom");
      FAIL() << "panic answered OK";
    } catch (const junction::Error& e) {
      EXPECT_EQ(e.code(), junction::Code::internal);
      EXPECT_NE(std::string(e.what()).find("rust.echo/panic called with 4 bytes"),
                std::string::npos)
          << e.what();
    }
  }
  EXPECT_EQ(echo.call("still serving").text(), "still serving");
  EXPECT_EQ(panic.stats().errors, 200U);
}

TEST_F(RustModuleTest, ConcurrentCallsFromCxxThreads) {
  const junction::Method checksum = host_.resolve("rust.echo", "checksum");
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::vector<std::uint8_t> request = payload(static_cast<std::size_t>(t * 100 + i));
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

TEST_F(RustModuleTest, AsyncCallsToSyncAndAsyncRustHandlers) {
  const junction::Method echo = host_.resolve("rust.echo", "echo");
  const junction::Method sleeper = host_.resolve("rust.echo", "sleep_async");
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
    if (result.code == junction::Code::ok) {
      ++ok;
    } else if (result.code == junction::Code::deadline_exceeded) {
      ++expired;
    }
  }
  EXPECT_EQ(ok, 2);
  EXPECT_EQ(expired, 1);
  // The late sleeper still holds its completion: TearDown's wait for the
  // live counts covers its release once it completes.
}

TEST(RustModuleVersionTest, MismatchedMajorIsRefusedNamingBothVersions) {
  junction::Host host;
  jn_status status{};
  const std::int32_t code = jn_host_load_module(host.raw(), JN_TEST_RUST_MISMATCH_MODULE, &status);
  const std::string message(reinterpret_cast<const char*>(status.message.data), status.message.len);
  jn_status_release(&status);
  EXPECT_EQ(code, JN_FAILED_PRECONDITION);
  EXPECT_NE(message.find("ABI 2.0"), std::string::npos) << message;
  EXPECT_NE(message.find("ABI 1.0"), std::string::npos) << message;
}

}  // namespace
