// C++ caller -> Rust handler: a jn_call on the Rust module's rust.echo/length
// (loaded with jn_host_load_module) against a direct call of the same
// module's typed C export junction_echo_length (the cbindgen-generated
// header's fast path, found with dlsym in the same loaded library), for
// 0 B, 64 B, 64 KiB and 1 MiB. The handler reads only the length, so the
// request size must not change the cost: nothing is copied.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <junction.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "benchmark_context.h"
#include "run_checked.h"

namespace {

using TypedLength = std::uint64_t (*)(const std::uint8_t*, std::uintptr_t);

struct Loaded {
  jn_host* host = nullptr;
  jn_method* length = nullptr;
  TypedLength typed_length = nullptr;
  std::vector<std::uint8_t> payload;  // 1 MiB, filled by load()
};
Loaded g;

bool load() {
  g.payload.assign(std::size_t{1} << 20, 0x5a);
  jn_status status{};
  if (jn_host_new(nullptr, &g.host, nullptr) != JN_OK ||
      jn_host_load_module(g.host, JN_BENCH_RUST_MODULE, &status) != JN_OK ||
      jn_host_resolve(g.host, "rust.echo", "length", &g.length, nullptr) != JN_OK) {
    std::fprintf(stderr, "cannot load %s: %.*s\n", JN_BENCH_RUST_MODULE,
                 static_cast<int>(status.message.len),
                 reinterpret_cast<const char*>(status.message.data));
    jn_status_release(&status);
    return false;
  }
  // The module is already loaded: this finds the same library instance.
  void* library = dlopen(JN_BENCH_RUST_MODULE, RTLD_NOW | RTLD_NOLOAD);
  g.typed_length = library == nullptr
                       ? nullptr
                       : reinterpret_cast<TypedLength>(dlsym(library, "junction_echo_length"));
  return g.typed_length != nullptr;
}

void BM_rust_typed_length(benchmark::State& state) {
  const auto size = static_cast<std::uintptr_t>(state.range(0));
  std::uint64_t failures = 0;
  for (auto _ : state) {
    const std::uint64_t length = g.typed_length(g.payload.data(), size);
    failures += length != size;
    benchmark::DoNotOptimize(length);
  }
  if (failures != 0) state.SkipWithError("junction_echo_length answered a wrong length");
}

void BM_rust_jn_call_length(benchmark::State& state) {
  const jn_bytes request{g.payload.data(), static_cast<std::uint64_t>(state.range(0))};
  std::uint64_t failures = 0;
  for (auto _ : state) {
    jn_result result;
    std::uint64_t length = 0;
    if (jn_call(g.length, request, JN_NO_DEADLINE, &result) == JN_OK &&
        result.response.len == sizeof length) {
      std::memcpy(&length, result.response.data, sizeof length);
    }
    failures += length != request.len;
    benchmark::DoNotOptimize(length);
    jn_result_release(&result);
  }
  if (failures != 0) state.SkipWithError("rust.echo/length answered a wrong length");
}

// jn_call_into lending room for the answer: the Rust handler writes its
// 8-byte answer there with jn_respond, so the call allocates nothing.
void BM_rust_jn_call_into_length(benchmark::State& state) {
  const jn_bytes request{g.payload.data(), static_cast<std::uint64_t>(state.range(0))};
  std::uint64_t failures = 0;
  for (auto _ : state) {
    std::uint64_t length = 0;
    jn_result result;
    if (jn_call_into(g.length, request, JN_NO_DEADLINE, reinterpret_cast<std::uint8_t*>(&length),
                     sizeof length, &result) != JN_OK ||
        result.response.data != reinterpret_cast<std::uint8_t*>(&length)) {
      length = ~request.len;
    }
    failures += length != request.len;
    benchmark::DoNotOptimize(length);
    // A response in the room lent needs no release (junction.h).
    if (result.response.data != reinterpret_cast<std::uint8_t*>(&length)) {
      jn_result_release(&result);
    }
  }
  if (failures != 0) state.SkipWithError("rust.echo/length did not answer into the room lent");
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("bytes")->Arg(0)->Arg(64)->Arg(64 << 10)->Arg(1 << 20);
}
BENCHMARK(BM_rust_typed_length)->Apply(sizes);
BENCHMARK(BM_rust_jn_call_length)->Apply(sizes);
BENCHMARK(BM_rust_jn_call_into_length)->Apply(sizes);

}  // namespace

int main(int argc, char** argv) {
  if (!load()) {
    return 1;
  }
  junction::bench::add_run_context(argc, argv);
  benchmark::Initialize(&argc, argv);
  const std::size_t failed_runs = junction::bench::run_benchmarks_counting_errors();
  benchmark::Shutdown();
  jn_method_free(g.length);
  const bool freed = jn_host_free(g.host) == JN_OK;
  if (failed_runs != 0) {
    std::fprintf(stderr, "junction_rust_module_bench: %zu runs had calls that failed\n",
                 failed_runs);
  }
  return freed && failed_runs == 0 ? 0 : 1;
}
