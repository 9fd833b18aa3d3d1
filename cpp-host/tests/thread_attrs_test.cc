// Junction's own threads that are woken for each call or deadline (host
// workers, a host's timer thread, listener threads) carry their names and
// ask for the host's scheduler slice, 0.5 ms by default, or for none
// (cpp-host/src/thread_slice.hh, whose struct sched_attr reads them back),
// keeping the nice value and policy of the thread that started them. The
// host's reclaimer thread is named and asks for nothing.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <junction/junction.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../src/thread_slice.hh"
#include "test_support.h"

namespace jntest {
namespace {

using junction::detail::get_sched_attr;
using junction::detail::kDefaultSliceNs;
using junction::detail::SchedAttr;

// The slice the thread creating hosts and listeners gives itself, which
// threads asking for none inherit: neither the default nor the kernel's.
constexpr std::uint64_t kCreatorSliceNs = 3'000'000;
constexpr std::uint64_t kChosenSliceNs = 2'000'000;

// The scheduling attributes of this process's threads named name (a thread
// that ended meanwhile is left out).
std::vector<SchedAttr> attrs_of_threads_named(std::string_view name) {
  std::vector<SchedAttr> attrs;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::ifstream(task.path() / "comm") >> comm;
    SchedAttr attr;
    if (comm == name && get_sched_attr(std::stoi(task.path().filename().string()), attr)) {
      attrs.push_back(attr);
    }
  }
  return attrs;
}

// A host serving an echo service on a tcp listener, with a route to it
// from a second host, and one call made: every kind of junction thread is
// running once it is constructed.
struct ServedEcho {
  explicit ServedEcho(junction::HostOptions options) : server(options) {
    junction::Service service("attrs");
    service.method("echo", [](auto request, junction::Deadline) {
      return junction::Buffer::copy_of(request);
    });
    server.register_service(std::move(service));
    listener = server.listen("zmq+tcp://127.0.0.1:0");
    client.route("attrs", listener.url());
    EXPECT_EQ(client.resolve("attrs", "echo").call("sliced").text(), "sliced");
  }

  junction::Host server;
  junction::Listener listener;
  junction::Host client;
};

class ThreadAttrsTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    SchedAttr own;
    ASSERT_TRUE(get_sched_attr(0, own));
    // Kernels before Linux 6.12 report no slice (0) and ignore requests;
    // the names, nice values and policy are checked on every kernel, and a
    // test that expected a slice there ends skipped (TearDown).
    reports_slices_ = own.runtime_ns != 0;
    // One step nicer than now: raising nice needs no privilege.
    nice_ = std::min(own.nice + 1, 19);
  }

  void TearDown() override {
    LeakCheckedTest::TearDown();
    if (slices_unchecked_) {
      GTEST_SKIP() << "the kernel reports no thread slices (Linux before 6.12): the threads' "
                      "names, nice values and policy were checked, their slices not";
    }
  }

  // What a thread that asked for slice_ns reports.
  [[nodiscard]] std::uint64_t reported(std::uint64_t slice_ns) {
    slices_unchecked_ = !reports_slices_;
    return reports_slices_ ? slice_ns : 0;
  }

  // Runs body on a thread of its own at nice_ with a kCreatorSliceNs slice,
  // which the threads it starts inherit (only that thread changes).
  template <class Body>
  void on_a_creator_thread(Body body) {
    std::thread([this, &body] {
      ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_), 0);
      SchedAttr attr;
      ASSERT_TRUE(get_sched_attr(0, attr));
      attr.size = sizeof(attr);
      attr.runtime_ns = kCreatorSliceNs;
      ASSERT_EQ(syscall(SYS_sched_setattr, 0, &attr, 0), 0) << "errno " << errno;
      body();
    }).join();
  }

  // Expects one thread named name per entry of slices, whose slices are
  // those (in any order), each at nice_ and SCHED_OTHER; with
  // any_count, at least one thread, each with slices[0]. A thread just
  // started carries its creator's name and slice until it sets its own:
  // the threads are read again until all have, for up to 5 s.
  void expect_threads(std::string_view name, std::vector<std::uint64_t> slices,
                      bool any_count = false) const {
    std::ranges::sort(slices);
    const auto slices_of = [](const std::vector<SchedAttr>& attrs) {
      std::vector<std::uint64_t> found;
      found.reserve(attrs.size());
      for (const SchedAttr& attr : attrs) {
        found.push_back(attr.runtime_ns);
      }
      std::ranges::sort(found);
      return found;
    };
    const auto has_first_slice = [&](const SchedAttr& attr) {
      return attr.runtime_ns == slices[0];
    };
    const auto all_set = [&](const std::vector<SchedAttr>& attrs) {
      const bool slices_match = any_count
                                    ? !attrs.empty() && std::ranges::all_of(attrs, has_first_slice)
                                    : slices_of(attrs) == slices;
      return slices_match && std::ranges::all_of(attrs, [this](const SchedAttr& attr) {
               return attr.nice == nice_ && attr.policy == SCHED_OTHER;
             });
    };
    std::vector<SchedAttr> attrs = attrs_of_threads_named(name);
    for (int tries = 0; tries < 500 && !all_set(attrs); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      attrs = attrs_of_threads_named(name);
    }
    if (any_count) {
      EXPECT_FALSE(attrs.empty()) << name;
      for (const SchedAttr& attr : attrs) {
        EXPECT_EQ(attr.runtime_ns, slices[0]) << name;
      }
    } else {
      EXPECT_EQ(slices_of(attrs), slices) << name;
    }
    for (const SchedAttr& attr : attrs) {
      EXPECT_EQ(attr.nice, nice_) << name;
      EXPECT_EQ(attr.policy, static_cast<std::uint32_t>(SCHED_OTHER)) << name;
    }
  }

  // Serves from a host whose options ask for slice_ns, on a creator
  // thread, and expects its threads (workers, timer, listener) to report
  // expected; the calling host's ask for the default: each host's threads
  // follow its own options.
  void expect_served_threads(std::uint64_t slice_ns, std::uint64_t expected) {
    on_a_creator_thread([&] {
      const ServedEcho served(junction::HostOptions{.thread_slice_ns = slice_ns});
      const std::uint64_t default_slice = reported(kDefaultSliceNs);
      expect_threads("jn-worker", {expected, expected, default_slice, default_slice});
      expect_threads("jn-timer", {expected, default_slice});
      expect_threads("jn-listener", {expected}, true);
    });
  }

  bool reports_slices_ = false;
  // Set by reported() where the kernel reports no slice (on the test's
  // thread or on a creator thread, joined before TearDown reads it).
  bool slices_unchecked_ = false;
  std::int32_t nice_ = 0;
};

TEST_F(ThreadAttrsTest, HostThreadsAskForTheDefaultSliceAndTheReclaimerForNone) {
  on_a_creator_thread([this] {
    const junction::Host host(junction::HostOptions{.worker_threads = 3});
    const std::uint64_t slice = reported(kDefaultSliceNs);
    expect_threads("jn-worker", {slice, slice, slice});
    expect_threads("jn-timer", {slice});
    expect_threads("jn-reclaimer", {reported(kCreatorSliceNs)});
  });
}

TEST_F(ThreadAttrsTest, ListenerThreadsAskForTheDefaultSlice) {
  expect_served_threads(0, reported(kDefaultSliceNs));
}

TEST_F(ThreadAttrsTest, ThreadsAskForTheSliceTheirHostsOptionsChoose) {
  expect_served_threads(kChosenSliceNs, reported(kChosenSliceNs));
}

TEST_F(ThreadAttrsTest, ThreadsOfAHostAskingForNoSliceKeepTheirCreatorsSlice) {
  expect_served_threads(JN_THREAD_SLICE_INHERITED, reported(kCreatorSliceNs));
}

// Code built against ABI 1.2 passes an 8-byte jn_host_options: what
// follows it is not the host's to read (here it would read as
// JN_THREAD_SLICE_INHERITED), and its threads get the default.
TEST_F(ThreadAttrsTest, OptionsFromCodeBuiltBeforeTheSliceFieldGetTheDefault) {
  on_a_creator_thread([this] {
    std::array<std::byte, sizeof(jn_host_options)> memory{};
    std::ranges::fill(memory, std::byte{0xFF});
    const std::array<std::uint32_t, 2> older_options{8, 1};
    std::memcpy(memory.data(), older_options.data(), sizeof(older_options));
    jn_host* host = nullptr;
    ASSERT_EQ(jn_host_new(reinterpret_cast<const jn_host_options*>(memory.data()), &host, nullptr),
              JN_OK);
    expect_threads("jn-worker", {reported(kDefaultSliceNs)});
    EXPECT_EQ(jn_host_free(host), JN_OK);

    const std::array<std::uint32_t, 2> too_short{4, 1};
    std::memcpy(memory.data(), too_short.data(), sizeof(too_short));
    host = nullptr;
    EXPECT_EQ(jn_host_new(reinterpret_cast<const jn_host_options*>(memory.data()), &host, nullptr),
              JN_INVALID_ARGUMENT);
    EXPECT_EQ(host, nullptr);
  });
}

// Slices outside the kernel's bounds are refused, naming the field and the
// value; the bounds themselves and the two special values are taken.
TEST_F(ThreadAttrsTest, OnlySlicesWithinTheKernelsBoundsAndTheSpecialValuesAreTaken) {
  for (const std::uint64_t slice_ns : {std::uint64_t{0}, JN_THREAD_SLICE_MIN_NS,
                                       JN_THREAD_SLICE_MAX_NS, JN_THREAD_SLICE_INHERITED}) {
    SCOPED_TRACE(slice_ns);
    const jn_host_options options{sizeof(jn_host_options), 1, slice_ns};
    jn_host* host = nullptr;
    ASSERT_EQ(jn_host_new(&options, &host, nullptr), JN_OK);
    EXPECT_EQ(jn_host_free(host), JN_OK);
  }
  for (const std::uint64_t slice_ns : {std::uint64_t{1}, JN_THREAD_SLICE_MIN_NS - 1,
                                       JN_THREAD_SLICE_MAX_NS + 1, JN_THREAD_SLICE_INHERITED - 1}) {
    SCOPED_TRACE(slice_ns);
    const jn_host_options options{sizeof(jn_host_options), 1, slice_ns};
    jn_host* host = nullptr;
    ScopedStatus status;
    EXPECT_EQ(jn_host_new(&options, &host, status.get()), JN_INVALID_ARGUMENT);
    EXPECT_EQ(host, nullptr);
    EXPECT_TRUE(Contains(status.message(), "thread_slice_ns must be")) << status.message();
    EXPECT_TRUE(Contains(status.message(), std::to_string(slice_ns))) << status.message();
  }
}

}  // namespace
}  // namespace jntest
