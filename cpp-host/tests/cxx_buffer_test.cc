// junction::Buffer: adoption of raw buffers, move semantics, into_raw,
// copy_of and from_vector, each owned buffer released exactly once.
#include <cstdint>
#include <junction/junction.hpp>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

using junction::Buffer;

class CxxBufferTest : public LeakCheckedTest {
 protected:
  CountingProducer producer_;
};

// A default Buffer is empty and owns nothing.
TEST_F(CxxBufferTest, DefaultIsEmpty) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_TRUE(b.bytes().empty());
}

// Adopting a raw buffer marks the raw one released; destruction releases once.
TEST_F(CxxBufferTest, AdoptsRawAndReleasesOnDestruction) {
  jn_buffer raw = producer_.Make("xyz");
  {
    Buffer b(std::move(raw));
    // Adopting clears the raw buffer: reading it after the move is the check.
    EXPECT_EQ(raw.release, nullptr);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(b.text(), "xyz");
    EXPECT_EQ(b.size(), 3u);
    EXPECT_EQ(producer_.released(), 0);
  }
  EXPECT_EQ(producer_.releases_of(0), 1);
}

// Move construction leaves the source empty and releases only once.
TEST_F(CxxBufferTest, MoveConstructTransfersOwnership) {
  jn_buffer raw = producer_.Make("abc");
  {
    Buffer a(std::move(raw));
    Buffer b(std::move(a));
    EXPECT_TRUE(a.empty());   // NOLINT(*use-after-move,*.Move): documented state
    EXPECT_EQ(a.size(), 0u);  // NOLINT(*.Move)
    EXPECT_EQ(b.text(), "abc");
    EXPECT_EQ(producer_.released(), 0);
  }
  EXPECT_EQ(producer_.releases_of(0), 1);
}

// Move assignment releases what the target held, at once, and takes the
// source's buffer.
TEST_F(CxxBufferTest, MoveAssignReleasesPrevious) {
  jn_buffer r1 = producer_.Make("first");
  jn_buffer r2 = producer_.Make("second");
  {
    Buffer a(std::move(r1));
    Buffer b(std::move(r2));
    a = std::move(b);
    EXPECT_EQ(producer_.releases_of(0), 1);
    EXPECT_EQ(producer_.releases_of(1), 0);
    EXPECT_EQ(a.text(), "second");
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_EQ(producer_.releases_of(0), 1);
  EXPECT_EQ(producer_.releases_of(1), 1);
}

// Self-move-assignment never releases twice.
TEST_F(CxxBufferTest, SelfMoveAssignReleasesAtMostOnce) {
  jn_buffer raw = producer_.Make("self");
  {
    Buffer a(std::move(raw));
    Buffer& alias = a;
    a = std::move(alias);
    EXPECT_LE(producer_.released(), 1);
  }
  EXPECT_EQ(producer_.releases_of(0), 1);
}

// into_raw hands ownership to C: the Buffer no longer releases it.
TEST_F(CxxBufferTest, IntoRawHandsOwnershipToCaller) {
  jn_buffer raw = producer_.Make("raw");
  jn_buffer back{};
  {
    Buffer b(std::move(raw));
    back = b.into_raw();
    EXPECT_TRUE(b.empty());
  }
  EXPECT_EQ(producer_.released(), 0);
  EXPECT_EQ(Text(back), "raw");
  jn_buffer_release(&back);
  EXPECT_EQ(producer_.releases_of(0), 1);
}

// copy_of makes a host-allocated copy (counted live until destroyed).
TEST_F(CxxBufferTest, CopyOfSpanAndText) {
  const std::vector<uint8_t> src = {1, 2, 3, 4};
  const jn_live_counts before = LiveCounts();
  {
    Buffer a = Buffer::copy_of(std::span<const uint8_t>(src));
    Buffer b = Buffer::copy_of(std::string_view("text"));
    EXPECT_EQ(a.size(), 4u);
    EXPECT_NE(a.data(), src.data());
    EXPECT_EQ(std::vector<uint8_t>(a.bytes().begin(), a.bytes().end()), src);
    EXPECT_EQ(b.text(), "text");
    EXPECT_EQ(LiveCounts().buffers, before.buffers + 2);
  }
  EXPECT_EQ(LiveCounts().buffers, before.buffers);
}

// from_vector owns the vector's storage without copying; a raw handoff of it
// is still released exactly once through its own callback.
TEST_F(CxxBufferTest, FromVectorKeepsStorage) {
  std::vector<uint8_t> v(1000, 7);
  const uint8_t* storage = v.data();
  Buffer b = Buffer::from_vector(std::move(v));
  EXPECT_EQ(b.data(), storage);
  EXPECT_EQ(b.size(), 1000u);
  Buffer moved(std::move(b));
  EXPECT_EQ(moved.data(), storage);
  jn_buffer raw = moved.into_raw();
  ASSERT_NE(raw.release, nullptr);
  EXPECT_EQ(raw.data, storage);
  jn_buffer_release(&raw);
  EXPECT_EQ(raw.release, nullptr);
}

// from_vector of an empty vector is an empty buffer.
TEST_F(CxxBufferTest, FromEmptyVector) {
  Buffer b = Buffer::from_vector({});
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
}

// A raw buffer may round-trip through Buffer more than once and is still
// released once.
TEST_F(CxxBufferTest, RawRoundTripReleasesOnce) {
  jn_buffer raw = producer_.Make("loop");
  for (int i = 0; i < 3; ++i) {
    Buffer b(std::move(raw));
    EXPECT_EQ(b.text(), "loop");
    raw = b.into_raw();
  }
  EXPECT_EQ(producer_.released(), 0);
  { Buffer last(std::move(raw)); }
  EXPECT_EQ(producer_.releases_of(0), 1);
}

}  // namespace
}  // namespace jntest
