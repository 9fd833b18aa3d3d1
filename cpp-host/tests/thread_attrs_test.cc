// Junction's own threads that are woken for each call or deadline (host
// workers, a host's timer thread, listener threads) carry their names and
// ask for a short scheduler slice (cpp-host/src/short_slice.hh, whose
// struct sched_attr reads them back), keeping the nice value and policy of
// the thread that started them.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <junction/junction.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "../src/short_slice.hh"

namespace jntest {
namespace {

using junction::detail::get_sched_attr;
using junction::detail::kShortSliceNs;
using junction::detail::SchedAttr;

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

class ThreadAttrsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedAttr own;
    ASSERT_TRUE(get_sched_attr(0, own));
    // Kernels before Linux 6.12 report no slice (0) and ignore the request;
    // the names, nice values and policy are checked on every kernel.
    slice_ns_ = own.runtime_ns == 0 ? 0 : kShortSliceNs;
    // One step nicer than now: raising nice needs no privilege.
    nice_ = std::min(own.nice + 1, 19);
  }

  // Runs body on a thread of its own at nice_, which the threads it starts
  // inherit (only that thread's nice value changes).
  template <class Body>
  void on_a_nicer_thread(Body body) {
    std::thread([this, &body] {
      ASSERT_EQ(setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), nice_), 0);
      body();
    }).join();
  }

  // Expects count threads named name (at least one when count is 0), each
  // with slice_ns_, nice_ and SCHED_OTHER. A thread just started
  // carries its creator's name and the default slice until it sets its
  // own: the threads are read again until all have, for up to 5 s.
  void expect_short_slices(std::string_view name, std::size_t count = 0) const {
    const auto all_set = [this, count](const std::vector<SchedAttr>& attrs) {
      return (count == 0 ? !attrs.empty() : attrs.size() == count) &&
             std::ranges::all_of(attrs, [this](const SchedAttr& attr) {
               return attr.runtime_ns == slice_ns_ && attr.nice == nice_ &&
                      attr.policy == SCHED_OTHER;
             });
    };
    std::vector<SchedAttr> attrs = attrs_of_threads_named(name);
    for (int tries = 0; tries < 500 && !all_set(attrs); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      attrs = attrs_of_threads_named(name);
    }
    if (count == 0) {
      EXPECT_FALSE(attrs.empty()) << name;
    } else {
      EXPECT_EQ(attrs.size(), count) << name;
    }
    for (const SchedAttr& attr : attrs) {
      EXPECT_EQ(attr.runtime_ns, slice_ns_) << name;
      EXPECT_EQ(attr.nice, nice_) << name;
      EXPECT_EQ(attr.policy, static_cast<std::uint32_t>(SCHED_OTHER)) << name;
    }
  }

  std::uint64_t slice_ns_ = 0;  // what the threads should report
  std::int32_t nice_ = 0;
};

TEST_F(ThreadAttrsTest, HostWorkersAndTimerThreadAskForAShortSlice) {
  on_a_nicer_thread([this] {
    const junction::Host host(junction::HostOptions{.worker_threads = 3});
    expect_short_slices("jn-worker", 3);
    expect_short_slices("jn-timer", 1);
  });
}

TEST_F(ThreadAttrsTest, ListenerThreadsAskForAShortSlice) {
  on_a_nicer_thread([this] {
    junction::Host server;
    junction::Service service("attrs");
    service.method("echo", [](auto request, junction::Deadline) {
      return junction::Buffer::copy_of(request);
    });
    server.register_service(std::move(service));
    junction::Listener listener = server.listen("zmq+tcp://127.0.0.1:0");
    junction::Host client;
    client.route("attrs", listener.url());
    EXPECT_EQ(client.resolve("attrs", "echo").call("sliced").text(), "sliced");
    expect_short_slices("jn-listener");
  });
}

}  // namespace
}  // namespace jntest
