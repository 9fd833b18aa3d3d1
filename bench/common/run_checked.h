// Runs Google Benchmark's benchmarks so that a run ending in an error
// (State::SkipWithError: a call failed or answered wrongly) fails the
// executable. Google Benchmark reports such a run, but its own exit status
// (BENCHMARK_MAIN) is 0 all the same, so a smoke test or a benchmark script
// would pass with rows that measured nothing.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>
#include <vector>

namespace junction::bench {

// The display reporter that --benchmark_format picks, counting the runs
// that ended in an error as it passes every report on.
class ErrorCountingReporter final : public benchmark::BenchmarkReporter {
 public:
  ErrorCountingReporter() : display_(benchmark::CreateDefaultDisplayReporter()) {}

  bool ReportContext(const Context& context) override { return display_->ReportContext(context); }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      errors_ += run.error_occurred ? 1 : 0;
    }
    display_->ReportRuns(runs);
  }
  void Finalize() override { display_->Finalize(); }

  [[nodiscard]] std::size_t errors() const noexcept { return errors_; }

 private:
  std::unique_ptr<benchmark::BenchmarkReporter> display_;
  std::size_t errors_ = 0;
};

// Runs the benchmarks the command line picks (after benchmark::Initialize)
// and returns the number of runs that ended in an error.
inline std::size_t run_benchmarks_counting_errors() {
  ErrorCountingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  return reporter.errors();
}

}  // namespace junction::bench
