// Thread creation failing part way through jn_host_new (a process at its
// thread limit): the host is not made, JN_RESOURCE_EXHAUSTED says why, the
// threads already started are joined, and the process goes on. This
// executable stands in for pthread_create (the sanitizer builds intercept
// it themselves, so it is built without them).
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <junction.h>
#include <pthread.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace {

// Calls to let through before failing; negative: fail none.
std::atomic<int> creations_left{-1};

}  // namespace

extern "C" int pthread_create(pthread_t* __restrict newthread,
                              const pthread_attr_t* __restrict attr, void* (*start_routine)(void*),
                              void* __restrict arg) {
  using Create = int (*)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*);
  static const auto real = reinterpret_cast<Create>(dlsym(RTLD_NEXT, "pthread_create"));
  int left = creations_left.load();
  while (left >= 0) {
    if (left == 0) {
      return EAGAIN;
    }
    if (creations_left.compare_exchange_weak(left, left - 1)) {
      break;
    }
  }
  return real(newthread, attr, start_routine, arg);
}

namespace {

TEST(ThreadFailureTest, AHostWhoseThreadsCannotAllStartIsNotMade) {
  jn_live_counts before{};
  ASSERT_EQ(jn_live_objects(&before), JN_OK);
  // Four workers, the timer thread and the reclaimer: six threads.
  const jn_host_options options{sizeof(jn_host_options), 4, 0};
  for (int started = 0; started < 6; ++started) {
    SCOPED_TRACE(started);
    creations_left = started;
    auto* host = reinterpret_cast<jn_host*>(0x1);
    jn_status status{};
    const std::int32_t code = jn_host_new(&options, &host, &status);
    creations_left = -1;
    EXPECT_EQ(code, JN_RESOURCE_EXHAUSTED);
    EXPECT_EQ(status.code, JN_RESOURCE_EXHAUSTED);
    const std::string message(reinterpret_cast<const char*>(status.message.data),
                              status.message.len);
    EXPECT_NE(message.find("cannot create host"), std::string::npos) << message;
    EXPECT_EQ(host, nullptr);
    jn_status_release(&status);
  }
  jn_host* host = nullptr;
  jn_status status{};
  status.code = JN_INTERNAL;  // a reused status: overwritten on success too
  ASSERT_EQ(jn_host_new(&options, &host, &status), JN_OK);
  EXPECT_EQ(status.code, JN_OK);
  jn_status_release(&status);
  EXPECT_EQ(jn_host_free(host), JN_OK);
  jn_live_counts after{};
  ASSERT_EQ(jn_live_objects(&after), JN_OK);
  EXPECT_EQ(after.hosts, before.hosts);
}

}  // namespace
