// abi_call_bench.cc - what a call through the junction C ABI costs.
//
// A C++ caller calls a C++ handler two ways and Google Benchmark times both
// in the same run:
//
//   direct   the handler called through a plain function pointer, read from a
//            volatile variable on every iteration so the compiler can neither
//            inline nor devirtualise it;
//   jn_call  the same handler registered in a jn_host and reached through a
//            resolved jn_method handle with jn_call() (the C ABI, exported by
//            libjunction.so).
//
// Both callers treat the result the same way: check the code, read the
// response, release the result with jn_result_release(). The direct caller
// zero-initialises the result itself (the handler contract says the host does
// it), the jn_call caller leaves that to jn_call, as a real caller would.
//
// The handlers do a little real work without allocating: "length" returns the
// request length as an 8-byte response, "checksum" returns the FNV-1a hash of
// every request byte. The response points into a thread-local word and its
// release callback only marks it released, so no allocator is timed. (Sound
// because synchronous handlers run on the caller's thread and the caller
// reads the response before its next call.)
//
// The C++ API (junction.hpp) is timed the same way: its handler, a
// std::function returning a junction::Buffer, called directly, against
// junction::Method::call on it registered in a junction::Host (jn_call,
// the API's trampoline and the Buffer's moves on the way back).
//
// Cases, each for requests of 0 B, 64 B and 64 KiB:
//   BM_direct_length / BM_jn_call_length       call overhead (target: <= 5 ns)
//   BM_jn_call_deadline_length                 jn_call with a real deadline
//                                               (the host reads the clock)
//   BM_direct_checksum / BM_jn_call_checksum   the handler reads every byte
//   BM_direct_length, BM_jn_call_length with threads:2
//   BM_cxx_direct_length / BM_cxx_call_length  the C++ API's overhead
//
// bench/micro/report.py turns --benchmark_format=json output into a Markdown
// table of direct vs jn_call.
#include <benchmark/benchmark.h>
#include <junction.h>

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <junction/junction.hpp>
#include <optional>
#include <span>
#include <vector>

#include "benchmark_context.h"
#include "run_checked.h"

namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr std::int64_t kMaxRequest = std::int64_t{64} * 1024;

// The handlers' ctx. Read on every call so the handler touches its context
// the way a real one would; salt is 0 at run time, which the compiler cannot
// know.
struct HandlerContext {
  std::uint64_t salt = 0;
};

// The response storage: one word per thread.
thread_local std::uint64_t t_response_word = 0;

// Release callback of a response that points into t_response_word: nothing
// to free, only mark it released.
void release_thread_word(jn_buffer* buffer) { buffer->release = nullptr; }

inline void respond_with_word(std::uint64_t word, jn_result* result) {
  t_response_word = word;
  result->response.data = reinterpret_cast<const std::uint8_t*>(&t_response_word);
  result->response.len = sizeof t_response_word;
  result->response.release = &release_thread_word;
  result->response.private_data = nullptr;
}

// Reads the request length and returns it.
__attribute__((noinline)) void length_handler(void* ctx, jn_bytes request,
                                              std::int64_t /*deadline_ns*/, jn_result* result) {
  const auto* context = static_cast<const HandlerContext*>(ctx);
  respond_with_word(request.len ^ context->salt, result);
}

std::uint64_t fnv1a(const std::uint8_t* data, std::uint64_t len, std::uint64_t salt) {
  std::uint64_t hash = kFnvOffset ^ salt;
  for (std::uint64_t i = 0; i < len; ++i) {
    hash ^= data[i];
    hash *= kFnvPrime;
  }
  return hash;
}

// Reads every request byte (FNV-1a, 64-bit) and returns the hash.
__attribute__((noinline)) void checksum_handler(void* ctx, jn_bytes request,
                                                std::int64_t /*deadline_ns*/, jn_result* result) {
  const auto* context = static_cast<const HandlerContext*>(ctx);
  respond_with_word(fnv1a(request.data, request.len, context->salt), result);
}

// The direct call targets. volatile: every iteration loads the pointer, so
// the call stays an opaque indirect call.
jn_handler_fn volatile g_direct_length = &length_handler;
jn_handler_fn volatile g_direct_checksum = &checksum_handler;

// The C++ API's length handler: the request length in a Buffer over the
// thread's response word.
junction::Buffer cxx_length_response(std::span<const std::uint8_t> request, std::uint64_t salt) {
  t_response_word = request.size() ^ salt;
  jn_buffer raw{reinterpret_cast<const std::uint8_t*>(&t_response_word), sizeof t_response_word,
                &release_thread_word, nullptr};
  return junction::Buffer(std::move(raw));
}

// Set up by main() before any benchmark runs; shared by every thread.
struct Fixture {
  HandlerContext context;
  std::vector<std::uint8_t> payload;
  jn_host* host = nullptr;
  jn_method* length = nullptr;
  jn_method* checksum = nullptr;
  junction::Handler cxx_length;  // called directly
  std::optional<junction::Host> cxx_host;
  std::optional<junction::Method> cxx_length_method;  // cxx_length, registered
};
Fixture g;

// The direct C++ call's target, read through a volatile pointer as above.
const junction::Handler* volatile g_cxx_direct_length = &g.cxx_length;

jn_bytes request_for(const benchmark::State& state) {
  return jn_bytes{g.payload.data(), static_cast<std::uint64_t>(state.range(0))};
}

// What both callers do with a result before releasing it.
inline void consume(const jn_result& result) {
  std::uint64_t word = 0;
  if (result.response.release != nullptr && result.response.len == sizeof word) {
    std::memcpy(&word, result.response.data, sizeof word);
  }
  benchmark::DoNotOptimize(word);
}

void finish(benchmark::State& state, std::uint64_t failures, bool count_bytes) {
  if (failures != 0) {
    state.SkipWithError("a call did not return JN_OK");
    return;
  }
  if (count_bytes) {
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  }
}

void run_direct(benchmark::State& state, jn_handler_fn volatile& target, bool count_bytes) {
  const jn_bytes request = request_for(state);
  void* const ctx = &g.context;
  std::uint64_t failures = 0;
  for (auto _ : state) {
    const jn_handler_fn handler = target;  // volatile load: opaque target
    jn_result result{};                    // what the host would do
    handler(ctx, request, JN_NO_DEADLINE, &result);
    failures += result.status.code != JN_OK;
    consume(result);
    jn_result_release(&result);
    benchmark::ClobberMemory();
  }
  finish(state, failures, count_bytes);
}

void run_jn_call(benchmark::State& state, const jn_method* method, std::int64_t deadline_ns,
                 bool count_bytes) {
  const jn_bytes request = request_for(state);
  std::uint64_t failures = 0;
  for (auto _ : state) {
    jn_result result;  // out: always written by jn_call
    const std::int32_t code = jn_call(method, request, deadline_ns, &result);
    failures += code != JN_OK;
    consume(result);
    jn_result_release(&result);
    benchmark::ClobberMemory();
  }
  finish(state, failures, count_bytes);
}

// A real deadline, one hour away: never reached, but the host has to read
// the clock to know that.
std::int64_t far_deadline() { return jn_now_ns() + INT64_C(3600) * 1000 * 1000 * 1000; }

void BM_direct_length(benchmark::State& state) { run_direct(state, g_direct_length, false); }
void BM_jn_call_length(benchmark::State& state) {
  run_jn_call(state, g.length, JN_NO_DEADLINE, false);
}
void BM_jn_call_deadline_length(benchmark::State& state) {
  run_jn_call(state, g.length, far_deadline(), false);
}
void BM_direct_checksum(benchmark::State& state) { run_direct(state, g_direct_checksum, true); }
void BM_jn_call_checksum(benchmark::State& state) {
  run_jn_call(state, g.checksum, JN_NO_DEADLINE, true);
}

// The first len payload bytes, as the C++ API takes a request.
std::span<const std::uint8_t> cxx_request(std::int64_t len) {
  return {g.payload.data(), static_cast<std::size_t>(len)};
}

// What both C++ callers do with a response before it goes.
inline void consume(const junction::Buffer& response) {
  std::uint64_t word = 0;
  if (response.size() == sizeof word) {
    std::memcpy(&word, response.data(), sizeof word);
  }
  benchmark::DoNotOptimize(word);
}

void BM_cxx_direct_length(benchmark::State& state) {
  const std::span<const std::uint8_t> request = cxx_request(state.range(0));
  for (auto _ : state) {
    const junction::Handler& handler = *g_cxx_direct_length;
    const junction::Buffer response = handler(request, junction::no_deadline);
    consume(response);
    benchmark::ClobberMemory();
  }
}

void BM_cxx_call_length(benchmark::State& state) {
  const std::span<const std::uint8_t> request = cxx_request(state.range(0));
  const junction::Method& method = *g.cxx_length_method;
  for (auto _ : state) {
    const junction::Buffer response = method.call(request, junction::no_deadline);
    consume(response);
    benchmark::ClobberMemory();
  }
}

void sizes(benchmark::internal::Benchmark* b) {
  b->ArgName("bytes")->Arg(0)->Arg(64)->Arg(kMaxRequest);
}

BENCHMARK(BM_direct_length)->Apply(sizes);
BENCHMARK(BM_jn_call_length)->Apply(sizes);
BENCHMARK(BM_jn_call_deadline_length)->Apply(sizes);
BENCHMARK(BM_direct_checksum)->Apply(sizes);
BENCHMARK(BM_jn_call_checksum)->Apply(sizes);
BENCHMARK(BM_direct_length)->Apply(sizes)->Threads(2);
BENCHMARK(BM_jn_call_length)->Apply(sizes)->Threads(2);
BENCHMARK(BM_cxx_direct_length)->Apply(sizes);
BENCHMARK(BM_cxx_call_length)->Apply(sizes);

// Diagnostics go to stderr: stdout may carry --benchmark_format=json.
void print_status(const char* what, std::int32_t code, const jn_status& status) {
  std::fprintf(
      stderr, "junction_micro_bench: %s failed: %s: %.*s\n", what, jn_status_name(code),
      static_cast<int>(status.message.release != nullptr ? status.message.len : 0),
      status.message.release != nullptr ? reinterpret_cast<const char*>(status.message.data) : "");
}

bool setup() {
  const std::uint32_t version = jn_abi_version();
  if (JN_ABI_VERSION_MAJOR_OF(version) != JN_ABI_VERSION_MAJOR) {
    std::fprintf(stderr,
                 "junction_micro_bench: library ABI %" PRIu32 ".%" PRIu32
                 " does not match header ABI %d.%d\n",
                 JN_ABI_VERSION_MAJOR_OF(version), JN_ABI_VERSION_MINOR_OF(version),
                 JN_ABI_VERSION_MAJOR, JN_ABI_VERSION_MINOR);
    return false;
  }
  g.payload.resize(kMaxRequest);
  for (std::size_t i = 0; i < g.payload.size(); ++i) {
    g.payload[i] = static_cast<std::uint8_t>(i * 131 + 7);
  }

  jn_status status{};
  std::int32_t code = jn_host_new(nullptr, &g.host, &status);
  if (code != JN_OK) {
    print_status("jn_host_new", code, status);
    jn_status_release(&status);
    return false;
  }
  const jn_method_desc methods[] = {
      {"length", &length_handler, nullptr, &g.context},
      {"checksum", &checksum_handler, nullptr, &g.context},
  };
  const jn_service_desc service = {JN_ABI_VERSION, 2, "bench", methods, nullptr, nullptr};
  code = jn_host_register(g.host, &service, &status);
  if (code != JN_OK) {
    print_status("jn_host_register", code, status);
    jn_status_release(&status);
    return false;
  }
  code = jn_host_resolve(g.host, "bench", "length", &g.length, &status);
  if (code == JN_OK) code = jn_host_resolve(g.host, "bench", "checksum", &g.checksum, &status);
  if (code != JN_OK) {
    print_status("jn_host_resolve", code, status);
    jn_status_release(&status);
    return false;
  }
  g.cxx_length = [salt = &g.context.salt](std::span<const std::uint8_t> request,
                                          junction::Deadline /*deadline*/) {
    return cxx_length_response(request, *salt);
  };
  try {
    g.cxx_host.emplace();
    g.cxx_host->register_service(junction::Service("cxx").method("length", g.cxx_length));
    g.cxx_length_method.emplace(g.cxx_host->resolve("cxx", "length"));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "junction_micro_bench: the C++ API's service: %s\n", error.what());
    return false;
  }
  return true;
}

// Whether both C++ API paths answer a request of len bytes with its length.
bool validate_cxx(std::uint64_t len) {
  const std::span<const std::uint8_t> request = cxx_request(static_cast<std::int64_t>(len));
  bool ok = true;
  for (const bool through_junction : {false, true}) {
    const junction::Buffer response =
        through_junction ? g.cxx_length_method->call(request, junction::no_deadline)
                         : g.cxx_length(request, junction::no_deadline);
    std::uint64_t word = 0;
    if (response.size() == sizeof word) std::memcpy(&word, response.data(), sizeof word);
    if (response.size() != sizeof word || word != len) {
      std::fprintf(stderr,
                   "junction_micro_bench: C++ API %s length with %" PRIu64
                   " B: response of %zu bytes, value %" PRIu64 "\n",
                   through_junction ? "Method::call" : "direct", len, response.size(), word);
      ok = false;
    }
  }
  return ok;
}

// Checks, before timing anything, that both paths give the same answers.
bool validate() {
  const std::int64_t deadline = far_deadline();
  bool ok = true;
  for (const std::uint64_t len : {UINT64_C(0), UINT64_C(64), UINT64_C(65536)}) {
    const jn_bytes request{g.payload.data(), len};
    const struct {
      const char* name;
      jn_handler_fn direct;
      const jn_method* method;
      std::uint64_t expected;
    } cases[] = {
        {"length", g_direct_length, g.length, len},
        {"checksum", g_direct_checksum, g.checksum, fnv1a(g.payload.data(), len, 0)},
    };
    for (const auto& c : cases) {
      for (int path = 0; path < 3; ++path) {
        jn_result result{};
        std::int32_t code = JN_OK;
        if (path == 0) {
          c.direct(&g.context, request, JN_NO_DEADLINE, &result);
          code = result.status.code;
        } else {
          code = jn_call(c.method, request, path == 1 ? JN_NO_DEADLINE : deadline, &result);
        }
        std::uint64_t word = 0;
        const bool shaped = code == JN_OK && result.status.code == JN_OK &&
                            result.response.release != nullptr &&
                            result.response.len == sizeof word && result.response.data != nullptr;
        if (shaped) std::memcpy(&word, result.response.data, sizeof word);
        if (!shaped || word != c.expected) {
          static const char* const kPaths[] = {"direct", "jn_call", "jn_call+deadline"};
          std::fprintf(stderr,
                       "junction_micro_bench: %s %s with %" PRIu64
                       " B: code %s, response len %" PRIu64 ", value %" PRIu64 ", expected %" PRIu64
                       "\n",
                       kPaths[path], c.name, len, jn_status_name(code), result.response.len, word,
                       c.expected);
          ok = false;
        }
        jn_result_release(&result);
        if (result.response.release != nullptr || result.status.message.release != nullptr) {
          std::fprintf(stderr,
                       "junction_micro_bench: jn_result_release left a buffer unreleased\n");
          ok = false;
        }
      }
    }
    ok = validate_cxx(len) && ok;
  }
  return ok;
}

bool teardown(const jn_live_counts& baseline) {
  jn_method_stats stats{};
  if (g.length != nullptr && jn_method_stats_get(g.length, &stats) == JN_OK) {
    std::fprintf(stderr,
                 "junction_micro_bench: bench.length: %" PRIu64 " calls, %" PRIu64
                 " errors, %" PRIu64 " latency samples\n",
                 stats.calls, stats.errors, stats.latency_samples);
  }
  g.cxx_length_method.reset();
  g.cxx_host.reset();
  jn_method_free(g.length);
  jn_method_free(g.checksum);
  g.length = g.checksum = nullptr;
  const std::int32_t code = jn_host_free(g.host);
  g.host = nullptr;
  if (code != JN_OK) {
    std::fprintf(stderr, "junction_micro_bench: jn_host_free returned %s\n", jn_status_name(code));
    return false;
  }
  jn_live_counts now{};
  if (jn_live_objects(&now) != JN_OK) return false;
  const bool same = now.buffers == baseline.buffers && now.buffer_bytes == baseline.buffer_bytes &&
                    now.hosts == baseline.hosts && now.methods == baseline.methods &&
                    now.services == baseline.services &&
                    now.pending_calls == baseline.pending_calls;
  if (!same) {
    std::fprintf(stderr,
                 "junction_micro_bench: live objects not back to baseline: buffers %" PRIu64
                 " (was %" PRIu64 "), bytes %" PRIu64 " (was %" PRIu64 "), hosts %" PRIu64
                 " (was %" PRIu64 "), methods %" PRIu64 " (was %" PRIu64 "), services %" PRIu64
                 " (was %" PRIu64 "), pending %" PRIu64 " (was %" PRIu64 ")\n",
                 now.buffers, baseline.buffers, now.buffer_bytes, baseline.buffer_bytes, now.hosts,
                 baseline.hosts, now.methods, baseline.methods, now.services, baseline.services,
                 now.pending_calls, baseline.pending_calls);
  }
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  junction::bench::add_run_context(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  jn_live_counts baseline{};
  if (jn_live_objects(&baseline) != JN_OK) {
    std::fprintf(stderr, "junction_micro_bench: jn_live_objects failed\n");
    return 1;
  }
  if (!setup()) return 1;
  if (!validate()) {
    teardown(baseline);
    return 1;
  }

  const std::size_t failed_runs = junction::bench::run_benchmarks_counting_errors();
  benchmark::Shutdown();
  const bool clean = teardown(baseline);
  if (failed_runs != 0) {
    std::fprintf(stderr, "junction_micro_bench: %zu runs had calls that failed\n", failed_runs);
  }
  return clean && failed_runs == 0 ? 0 : 1;
}
