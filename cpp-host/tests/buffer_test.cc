// Owned C buffers: jn_buffer_new / jn_buffer_copy / jn_buffer_release, the
// live-object accounting of host buffers, and release-exactly-once.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

class BufferTest : public LeakCheckedTest {
 protected:
  CountingProducer producer_;
};

// jn_buffer_new hands out writable bytes, is counted live, and releases once.
TEST_F(BufferTest, NewGivesWritableBytesCountedUntilReleased) {
  const jn_live_counts before = LiveCounts();
  uint8_t* data = nullptr;
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_new(5, &data, &b), JN_OK);
  ASSERT_NE(data, nullptr);
  ASSERT_NE(b.release, nullptr);
  EXPECT_EQ(b.data, data);
  EXPECT_EQ(b.len, 5u);
  constexpr std::string_view kHello = "hello";
  std::memcpy(data, kHello.data(), kHello.size());
  EXPECT_EQ(std::memcmp(b.data, "hello", 5), 0);

  const jn_live_counts during = LiveCounts();
  EXPECT_EQ(during.buffers, before.buffers + 1);
  EXPECT_EQ(during.buffer_bytes, before.buffer_bytes + 5);

  jn_buffer_release(&b);
  EXPECT_EQ(b.release, nullptr);
  const jn_live_counts after = LiveCounts();
  EXPECT_EQ(after.buffers, before.buffers);
  EXPECT_EQ(after.buffer_bytes, before.buffer_bytes);
}

// A zero-length jn_buffer_new still yields a releasable buffer.
TEST_F(BufferTest, NewZeroLengthStillHasRelease) {
  uint8_t* data = nullptr;
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_new(0, &data, &b), JN_OK);
  EXPECT_EQ(b.len, 0u);
  EXPECT_NE(b.release, nullptr);
  jn_buffer_release(&b);
  EXPECT_EQ(b.release, nullptr);
}

// data_out is optional.
TEST_F(BufferTest, NewWithoutDataOut) {
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_new(16, nullptr, &b), JN_OK);
  EXPECT_EQ(b.len, 16u);
  EXPECT_NE(b.data, nullptr);
  jn_buffer_release(&b);
  EXPECT_EQ(b.release, nullptr);
}

// A 16 MiB buffer is accounted byte-exactly.
TEST_F(BufferTest, LargeNewCountsBytes) {
  const uint64_t len = 16u << 20;
  const jn_live_counts before = LiveCounts();
  uint8_t* data = nullptr;
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_new(len, &data, &b), JN_OK);
  ASSERT_NE(data, nullptr);
  data[0] = 1;
  data[len - 1] = 2;
  EXPECT_EQ(LiveCounts().buffer_bytes, before.buffer_bytes + len);
  jn_buffer_release(&b);
  EXPECT_EQ(LiveCounts().buffer_bytes, before.buffer_bytes);
}

// jn_buffer_copy copies: later changes to the source do not show.
TEST_F(BufferTest, CopyDuplicatesBytes) {
  char src[] = "abcdef";
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>(src), 6, &b), JN_OK);
  ASSERT_NE(b.release, nullptr);
  EXPECT_NE(static_cast<const void*>(b.data), static_cast<const void*>(src));
  src[0] = 'X';
  EXPECT_EQ(Text(b), "abcdef");
  jn_buffer_release(&b);
}

// Copying nothing from NULL is allowed and gives an empty releasable buffer.
TEST_F(BufferTest, CopyOfNothingFromNull) {
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_copy(nullptr, 0, &b), JN_OK);
  EXPECT_EQ(b.len, 0u);
  EXPECT_NE(b.release, nullptr);
  jn_buffer_release(&b);
}

// NULL data with a length, or a NULL out buffer, is refused and allocates
// nothing.
TEST_F(BufferTest, InvalidArgumentsAllocateNothing) {
  const jn_live_counts before = LiveCounts();
  jn_buffer b{};
  EXPECT_EQ(jn_buffer_copy(nullptr, 3, &b), JN_INVALID_ARGUMENT);
  EXPECT_EQ(b.release, nullptr);
  const uint8_t bytes[3] = {1, 2, 3};
  EXPECT_EQ(jn_buffer_copy(bytes, 3, nullptr), JN_INVALID_ARGUMENT);
  uint8_t* data = nullptr;
  EXPECT_EQ(jn_buffer_new(4, &data, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_buffer_new(0, nullptr, nullptr), JN_INVALID_ARGUMENT);
  const jn_live_counts after = LiveCounts();
  EXPECT_EQ(after.buffers, before.buffers);
  EXPECT_EQ(after.buffer_bytes, before.buffer_bytes);
}

// Releasing a released buffer, or NULL, is a no-op.
TEST_F(BufferTest, ReleaseTwiceAndNullAreNoOps) {
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>("x"), 1, &b), JN_OK);
  const jn_live_counts held = LiveCounts();
  jn_buffer_release(&b);
  const jn_live_counts once = LiveCounts();
  EXPECT_EQ(once.buffers, held.buffers - 1);
  jn_buffer_release(&b);
  jn_buffer_release(nullptr);
  jn_buffer zero{};
  jn_buffer_release(&zero);
  EXPECT_TRUE(SameCounts(LiveCounts(), once));
}

// jn_buffer_release goes through the producer's own callback, exactly once.
TEST_F(BufferTest, ReleaseCallsProducerCallbackOnce) {
  jn_buffer b = producer_.Make("payload");
  jn_buffer_release(&b);
  EXPECT_EQ(b.release, nullptr);
  EXPECT_EQ(producer_.releases_of(0), 1);
  jn_buffer_release(&b);
  EXPECT_EQ(producer_.releases_of(0), 1);
}

// A host buffer may be released on a thread other than the one that made it.
TEST_F(BufferTest, ReleaseFromAnotherThread) {
  const jn_live_counts before = LiveCounts();
  std::vector<jn_buffer> bufs(64);
  for (auto& b : bufs) ASSERT_EQ(jn_buffer_new(100, nullptr, &b), JN_OK);
  std::thread t([&] {
    for (auto& b : bufs) jn_buffer_release(&b);
  });
  t.join();
  for (auto& b : bufs) EXPECT_EQ(b.release, nullptr);
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// Counts are kept per thread: buffers made by threads that have exited, and
// released by others that exit too, still sum to the truth, and the slots of
// exited threads are reused.
TEST_F(BufferTest, CountsSurviveTheThreadsThatMadeThem) {
  const jn_live_counts before = LiveCounts();
  std::vector<jn_buffer> bufs(32);
  for (int round = 0; round < 3; ++round) {
    std::thread maker([&] {
      for (auto& b : bufs) ASSERT_EQ(jn_buffer_new(10, nullptr, &b), JN_OK);
    });
    maker.join();
    const jn_live_counts held = LiveCounts();
    EXPECT_EQ(held.buffers, before.buffers + bufs.size());
    EXPECT_EQ(held.buffer_bytes, before.buffer_bytes + 10 * bufs.size());
    std::thread releaser([&] {
      for (auto& b : bufs) jn_buffer_release(&b);
    });
    releaser.join();
    EXPECT_TRUE(SameCounts(LiveCounts(), before));
  }
}

// Many buffers made and released concurrently keep the accounting exact.
TEST_F(BufferTest, ConcurrentNewAndReleaseAccountExactly) {
  const jn_live_counts before = LiveCounts();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&failures, t] {
      for (int i = 0; i < 2000; ++i) {
        jn_buffer b{};
        if (jn_buffer_new(static_cast<uint64_t>(i % 37) + static_cast<uint64_t>(t), nullptr, &b) !=
            JN_OK) {
          failures.fetch_add(1);
          continue;
        }
        jn_buffer_release(&b);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// A buffer made on one thread and released on another while a third reads
// the live counts: a read never sees fewer than none. The counts are kept
// per thread and summed one thread after another, so a read that reaches
// the releasing thread's count long after the making thread's may see the
// release without the make; the counts of many threads between the two
// make that likely.
TEST_F(BufferTest, LiveCountsReadWhileBuffersMoveBetweenThreadsNeverGoNegative) {
  constexpr int kBetween = 1000;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kReads = 20000;  // instrumented reads are slow; the dev pass reads more
#else
  constexpr int kReads = 200000;
#endif
  std::atomic<jn_buffer*> handed{nullptr};
  std::atomic<bool> stop{false};
  std::atomic<bool> releaser_counts{false};
  const auto count_once = [] {
    jn_buffer b{};
    EXPECT_EQ(jn_buffer_new(1, nullptr, &b), JN_OK);
    jn_buffer_release(&b);
  };
  std::thread releaser([&] {
    count_once();
    releaser_counts.store(true);
    while (!stop.load()) {
      if (jn_buffer* b = handed.exchange(nullptr)) {
        jn_buffer_release(b);
        delete b;
      }
    }
  });
  ASSERT_TRUE(WaitFor([&] { return releaser_counts.load(); }, 30s));
  {
    // Alive at once, so that each counts on a slot of its own.
    std::atomic<int> counting{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> between;
    between.reserve(kBetween);
    for (int i = 0; i < kBetween; ++i) {
      between.emplace_back([&] {
        jn_buffer b{};
        EXPECT_EQ(jn_buffer_new(1, nullptr, &b), JN_OK);
        counting.fetch_add(1);
        while (!go.load()) std::this_thread::yield();
        jn_buffer_release(&b);
      });
    }
    EXPECT_TRUE(WaitFor([&] { return counting.load() == kBetween; }, 30s));
    go.store(true);
    for (std::thread& thread : between) thread.join();
  }
  std::thread maker([&] {
    while (!stop.load()) {
      auto* b = new jn_buffer{};
      if (jn_buffer_new(8, nullptr, b) != JN_OK) {
        ADD_FAILURE() << "jn_buffer_new failed";
        delete b;
        return;
      }
      jn_buffer* empty = nullptr;
      while (!handed.compare_exchange_weak(empty, b)) {
        empty = nullptr;
        if (stop.load()) {
          jn_buffer_release(b);
          delete b;
          return;
        }
      }
    }
  });
  int wrapped = 0;
  for (int i = 0; i < kReads; ++i) {
    jn_live_counts counts{};
    ASSERT_EQ(jn_live_objects(&counts), JN_OK);
    wrapped += counts.buffers > (std::uint64_t{1} << 62) ? 1 : 0;
  }
  stop.store(true);
  maker.join();
  releaser.join();
  if (jn_buffer* b = handed.exchange(nullptr)) {
    jn_buffer_release(b);
    delete b;
  }
  EXPECT_EQ(wrapped, 0) << "reads of the live buffers that wrapped below zero, of " << kReads;
}

// Small host buffers are made from blocks their thread released before:
// whatever a block held and whatever length it is given now, the buffer
// holds its own bytes with a NUL after them, and is counted as a new one.
TEST_F(BufferTest, ReusedSmallBuffersHoldTheirOwnBytes) {
  const jn_live_counts before = LiveCounts();
  const std::pair<std::size_t, std::size_t> lengths[] = {{64, 3},  {0, 64},  {3, 0}, {64, 64},
                                                         {65, 10}, {17, 60}, {1, 1}};
  for (const auto& [len, later_len] : lengths) {
    uint8_t* data = nullptr;
    jn_buffer earlier{};
    ASSERT_EQ(jn_buffer_new(len, &data, &earlier), JN_OK);
    std::memset(data, 'x', len + 1);  // the NUL too
    jn_buffer_release(&earlier);
    const std::string bytes(later_len, 'y');
    jn_buffer later{};
    ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &later),
              JN_OK);
    EXPECT_EQ(Text(later), bytes) << "after a buffer of " << len;
    EXPECT_EQ(later.data[later.len], 0) << "after a buffer of " << len;
    EXPECT_EQ(LiveCounts().buffers, before.buffers + 1);
    EXPECT_EQ(LiveCounts().buffer_bytes, before.buffer_bytes + bytes.size());
    jn_buffer_release(&later);
  }
  EXPECT_TRUE(SameCounts(LiveCounts(), before));
}

// A thread that released small buffers keeps their blocks for reuse until
// it exits, and frees them then: threads that come and go hold none. What
// fails here without that is the AddressSanitizer build's leak check.
TEST_F(BufferTest, AnExitingThreadFreesTheBlocksItKept) {
  const jn_live_counts before = LiveCounts();
  for (int round = 0; round < 8; ++round) {
    std::vector<jn_buffer> bufs(40);
    for (auto& b : bufs) ASSERT_EQ(jn_buffer_new(8, nullptr, &b), JN_OK);
    std::thread releaser([&bufs] {
      for (auto& b : bufs) jn_buffer_release(&b);
    });
    releaser.join();
    EXPECT_TRUE(SameCounts(LiveCounts(), before));
  }
}

// The next small buffer a thread makes is the block it released last,
// whatever the two lengths (malloc gives blocks of two sizes for these).
TEST_F(BufferTest, ASmallBufferIsMadeFromTheBlockReleasedLast) {
  uint8_t* first = nullptr;
  jn_buffer b{};
  ASSERT_EQ(jn_buffer_new(8, &first, &b), JN_OK);
  jn_buffer_release(&b);
  uint8_t* second = nullptr;
  ASSERT_EQ(jn_buffer_new(40, &second, &b), JN_OK);
  EXPECT_EQ(second, first);
  jn_buffer_release(&b);
}

#if defined(__SANITIZE_ADDRESS__)
// A released small buffer's block is kept poisoned, so a write through a
// pointer kept past the release is still reported. Only AddressSanitizer
// builds can see the write, so only they have this test.
TEST(BufferDeathTest, WriteAfterReleaseOfASmallBufferIsReported) {
  EXPECT_DEATH(
      {
        uint8_t* data = nullptr;
        jn_buffer b{};
        if (jn_buffer_new(8, &data, &b) == JN_OK) {
          jn_buffer_release(&b);
          data[0] = 1;
        }
      },
      "use-after-poison");
}
#endif

// The ABI's move convention: a bitwise copy, then the source is marked
// released; only the destination's release runs the callback.
TEST_F(BufferTest, MoveByBitwiseCopyReleasesOnce) {
  jn_buffer src = producer_.Make("moved");
  jn_buffer dst = src;
  src.release = nullptr;
  jn_buffer_release(&src);
  EXPECT_EQ(producer_.released(), 0);
  EXPECT_EQ(Text(dst), "moved");
  jn_buffer_release(&dst);
  EXPECT_EQ(producer_.released(), 1);
}

}  // namespace
}  // namespace jntest
