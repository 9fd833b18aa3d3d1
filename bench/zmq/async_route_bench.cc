// What asynchronous calls on a routed method buy: one thread keeping 1, 8
// or 64 calls in flight (Method::call_async, jn_call_async) on a client
// host with the default two workers, against one thread making the same
// calls one after another (Method::call), to an echo service over ipc and
// tcp, 64 B and 64 KiB requests. The listener serves from this process;
// each row's time is per call (so 1/time is the calls per second), and its
// CPU time is the whole process's per call: caller, route and listener.
//
//   build/release/bench/zmq/junction_async_route_bench --benchmark_min_time=2
//     --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
// (one command line).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <junction/junction.hpp>
#include <mutex>
#include <string>
#include <string_view>

#include "benchmark_context.h"
#include "run_checked.h"

namespace {

// A request of size bytes: 64 or 65536.
std::string_view request(std::int64_t size) {
  static const std::string small(64, 'r');
  static const std::string large(65536, 'r');
  return size == 64 ? small : large;
}

// A server host serving "bench"/"echo" on one listener, and a client host
// routing "bench" there.
class Route {
 public:
  explicit Route(const std::string& url) {
    junction::Service service("bench");
    service.method("echo", [](std::span<const std::uint8_t> request, junction::Deadline) {
      return junction::Buffer::copy_of(request);
    });
    server_.register_service(std::move(service));
    listener_ = server_.listen(url);
    client_.route("bench", std::string(listener_.url()));
    echo_ = client_.resolve("bench", "echo");
    static_cast<void>(echo_.call(request(64)));  // connected
  }
  [[nodiscard]] const junction::Method& echo() const { return echo_; }

 private:
  junction::Host server_;
  junction::Listener listener_;
  junction::Host client_;
  junction::Method echo_;
};

// The listen URL of a transport: 0 ipc, 1 tcp.
std::string listen_url(std::int64_t transport) {
  if (transport == 1) {
    return "zmq+tcp://127.0.0.1:0";
  }
  static const std::string path = (std::filesystem::temp_directory_path() /
                                   ("junction-async-route-bench-" + std::to_string(getpid())))
                                      .string();
  return "zmq+ipc://" + path;
}

// Labels a row with its transport and request size (ranges 0 and 1).
void label(benchmark::State& state) {
  state.SetLabel(std::string(state.range(0) == 1 ? "tcp " : "ipc ") +
                 (state.range(1) == 64 ? "64 B" : "64 KiB"));
}

void BM_RoutedCall(benchmark::State& state) {
  const Route route(listen_url(state.range(0)));
  const std::string_view bytes = request(state.range(1));
  for (auto _ : state) {
    junction::Buffer response = route.echo().call(bytes);
    if (response.size() != bytes.size()) {
      state.SkipWithError("wrong response");
      break;
    }
  }
  label(state);
}

// Calls answered so far and how many are in flight, for one benchmark run.
struct InFlight {
  std::mutex mutex;
  std::condition_variable changed;
  std::int64_t outstanding = 0;
  std::int64_t failed = 0;
};

void BM_RoutedCallAsync(benchmark::State& state) {
  const Route route(listen_url(state.range(0)));
  const std::string_view bytes = request(state.range(1));
  const std::int64_t limit = state.range(2);
  InFlight in_flight;
  benchmark::IterationCount sent = 0;
  for (auto _ : state) {
    {
      std::unique_lock lock(in_flight.mutex);
      in_flight.changed.wait(lock, [&] { return in_flight.outstanding < limit; });
      ++in_flight.outstanding;
    }
    route.echo().call_async(
        junction::Buffer::copy_of(bytes), junction::no_deadline,
        [&in_flight, expected = bytes.size()](junction::Result result) {
          const std::lock_guard lock(in_flight.mutex);
          --in_flight.outstanding;
          if (result.code != junction::Code::ok || result.response.size() != expected) {
            ++in_flight.failed;
          }
          in_flight.changed.notify_one();
        });
    if (++sent == state.max_iterations) {
      // Timed to the last answer, as the one-after-another row is: the
      // calls still in flight are part of the run.
      std::unique_lock lock(in_flight.mutex);
      in_flight.changed.wait(lock, [&] { return in_flight.outstanding == 0; });
    }
  }
  const std::lock_guard lock(in_flight.mutex);
  if (in_flight.failed != 0) {
    state.SkipWithError("a call failed");
  }
  label(state);
}

}  // namespace

BENCHMARK(BM_RoutedCall)
    ->ArgNames({"transport", "bytes"})
    ->ArgsProduct({{0, 1}, {64, 65536}})
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_RoutedCallAsync)
    ->ArgNames({"transport", "bytes", "in_flight"})
    ->ArgsProduct({{0, 1}, {64, 65536}, {1, 8, 64}})
    ->MeasureProcessCPUTime()
    ->UseRealTime();

int main(int argc, char** argv) {
  junction::bench::add_run_context(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  const std::size_t failed_runs = junction::bench::run_benchmarks_counting_errors();
  benchmark::Shutdown();
  if (failed_runs != 0) {
    std::fprintf(stderr, "junction_async_route_bench: %zu runs had calls that failed\n",
                 failed_runs);
  }
  return failed_runs == 0 ? 0 : 1;
}
