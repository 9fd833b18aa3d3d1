// A Google Benchmark run's provenance (provenance.h) and junction's ABI
// version and build type, added to the context that its console output
// prints and its JSON output holds ("context"), where bench/micro/report.py
// reads them.
#pragma once

#include <benchmark/benchmark.h>
#include <junction.h>

#include <cstdint>
#include <string>

#include "provenance.h"

#ifndef JN_BENCH_BUILD_TYPE
#error "JN_BENCH_BUILD_TYPE must name the build type (junction_bench_provenance sets it)"
#endif

namespace junction::bench {

// Call with main's argc and argv before benchmark::Initialize, which takes
// its own flags out of argv: the command recorded is the one given.
inline void add_run_context(int argc, char** argv) {
  benchmark::AddCustomContext("command", command_line(argc, argv));
  benchmark::AddCustomContext("commit", source_commit());
  benchmark::AddCustomContext("cpu_model", cpu_model());
  benchmark::AddCustomContext("kernel", kernel());
  benchmark::AddCustomContext("compiler", compiler());
  benchmark::AddCustomContext("junction_bench_build_type", JN_BENCH_BUILD_TYPE);
  const std::uint32_t version = jn_abi_version();
  benchmark::AddCustomContext("junction_abi_version",
                              std::to_string(JN_ABI_VERSION_MAJOR_OF(version)) + "." +
                                  std::to_string(JN_ABI_VERSION_MINOR_OF(version)));
}

}  // namespace junction::bench
