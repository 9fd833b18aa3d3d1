// Shared helpers for the libjunction black-box tests: a leak-checking
// fixture over jn_live_objects(), a counting buffer producer, RAII holders
// for C handles and results, bounded polling, and small handlers.
#pragma once

#include <gtest/gtest.h>
#include <junction.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace jntest {

using namespace std::chrono_literals;

// Polls pred about every millisecond until it holds or timeout passes;
// returns its final value. Tests never sleep to synchronise; they poll.
template <class Pred>
bool WaitFor(Pred&& pred, std::chrono::milliseconds timeout = 5s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= end) return pred();
    std::this_thread::sleep_for(1ms);
  }
}

inline jn_live_counts LiveCounts() {
  jn_live_counts c{};
  EXPECT_EQ(jn_live_objects(&c), JN_OK);
  return c;
}

inline bool SameCounts(const jn_live_counts& a, const jn_live_counts& b) {
  return a.buffers == b.buffers && a.buffer_bytes == b.buffer_bytes && a.hosts == b.hosts &&
         a.methods == b.methods && a.services == b.services && a.pending_calls == b.pending_calls;
}

// Reads an owned UTF-8 message ("" when released).
inline std::string Text(const jn_buffer& b) {
  if (b.release == nullptr || b.len == 0) return {};
  return {reinterpret_cast<const char*>(b.data), static_cast<std::size_t>(b.len)};
}
inline std::string Message(const jn_status& s) { return Text(s.message); }
inline bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

inline jn_bytes View(std::string_view s) {
  return jn_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline jn_bytes View(const std::vector<uint8_t>& v) { return jn_bytes{v.data(), v.size()}; }

// Records what a jn_done_fn received: how often, code, message, response.
struct DoneRecord {
  std::atomic<int> count{0};
  mutable std::mutex mu;
  int32_t code = -1;
  std::string message;
  std::string response;
  bool response_on_error = false;  // a response was delivered with a non-OK code
  int64_t at_ns = 0;               // jn_now_ns() when done ran

  static void Fn(void* user, jn_result* r) {
    auto* d = static_cast<DoneRecord*>(user);
    {
      std::lock_guard<std::mutex> lock(d->mu);
      d->at_ns = jn_now_ns();
      d->code = r->status.code;
      d->message = Message(r->status);
      d->response = Text(r->response);
      if (r->status.code != JN_OK && r->response.release != nullptr) d->response_on_error = true;
    }
    jn_result_release(r);
    d->count.fetch_add(1);
  }
  bool Wait(std::chrono::milliseconds timeout = 5s) const {
    return WaitFor([&] { return count.load() >= 1; }, timeout);
  }
  int32_t Code() const {
    std::lock_guard<std::mutex> lock(mu);
    return code;
  }
  std::string Response() const {
    std::lock_guard<std::mutex> lock(mu);
    return response;
  }
  std::string Msg() const {
    std::lock_guard<std::mutex> lock(mu);
    return message;
  }
};

// Every test derives from this: it captures jn_live_objects() at SetUp and
// checks, in TearDown, that every field came back to that baseline (polling
// up to 5 s, since destroy callbacks and completions may finish on other
// threads shortly after the objects are freed).
class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    baseline_ = LiveCounts();
    cancels_baseline_ = jn_live_cancels();
  }
  void TearDown() override {
    jn_live_counts now{};
    WaitFor([&] {
      EXPECT_EQ(jn_live_objects(&now), JN_OK);
      return SameCounts(now, baseline_) && jn_live_cancels() == cancels_baseline_;
    });
    EXPECT_EQ(jn_live_cancels(), cancels_baseline_) << "cancels leaked";
    EXPECT_EQ(now.buffers, baseline_.buffers) << "live buffers leaked";
    EXPECT_EQ(now.buffer_bytes, baseline_.buffer_bytes) << "live buffer bytes leaked";
    EXPECT_EQ(now.hosts, baseline_.hosts) << "hosts leaked";
    EXPECT_EQ(now.methods, baseline_.methods) << "method handles leaked";
    EXPECT_EQ(now.services, baseline_.services) << "services whose destroy never ran";
    EXPECT_EQ(now.pending_calls, baseline_.pending_calls) << "async calls never finished";
  }

  // A DoneRecord that lives as long as the fixture, so a late done callback
  // never writes into a test's freed stack, even when an assertion failed.
  DoneRecord* NewDone() {
    std::lock_guard<std::mutex> lock(dones_mu_);
    return &dones_.emplace_back();
  }
  std::vector<DoneRecord*> NewDones(int n) {
    std::vector<DoneRecord*> v;
    v.reserve(n);
    for (int i = 0; i < n; ++i) v.push_back(NewDone());
    return v;
  }

  jn_live_counts baseline_{};
  uint64_t cancels_baseline_ = 0;

 private:
  std::mutex dones_mu_;
  std::deque<DoneRecord> dones_;
};

// A test-side producer of owned buffers whose release callback counts. Each
// buffer's bookkeeping record outlives the buffer, so a double release is
// counted (not a double free). Destroy it only after every host that may
// hold its buffers is freed (tests keep it as a fixture member or declare it
// before the host).
class CountingProducer {
 public:
  CountingProducer() = default;
  CountingProducer(const CountingProducer&) = delete;
  CountingProducer& operator=(const CountingProducer&) = delete;
  ~CountingProducer() {
    for (auto& r : records_) {
      if (r->releases.load() == 0) delete[] r->data;
    }
  }

  jn_buffer Make(std::string_view bytes) {
    auto rec = std::make_unique<Record>();
    rec->owner = this;
    rec->data = new uint8_t[bytes.size() + 1];
    if (!bytes.empty()) std::memcpy(rec->data, bytes.data(), bytes.size());
    jn_buffer b{rec->data, bytes.size(), &Release, rec.get()};
    std::lock_guard<std::mutex> lock(mu_);
    records_.push_back(std::move(rec));
    return b;
  }

  // Buffers made so far.
  int made() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(records_.size());
  }
  // Release callbacks run so far (over all buffers).
  int released() const { return released_.load(); }
  // Release callbacks run on the i-th buffer made.
  int releases_of(int i) const {
    std::lock_guard<std::mutex> lock(mu_);
    return records_.at(static_cast<std::size_t>(i))->releases.load();
  }
  // Buffers released more than once.
  int over_released() const {
    std::lock_guard<std::mutex> lock(mu_);
    int n = 0;
    for (const auto& r : records_) n += r->releases.load() > 1 ? 1 : 0;
    return n;
  }
  // Waits (bounded) until `n` release callbacks have run.
  bool WaitReleased(int n, std::chrono::milliseconds timeout = 5s) const {
    return WaitFor([&] { return released() >= n; }, timeout);
  }

 private:
  struct Record {
    CountingProducer* owner = nullptr;
    uint8_t* data = nullptr;
    std::atomic<int> releases{0};
  };
  static void Release(jn_buffer* b) {
    auto* rec = static_cast<Record*>(b->private_data);
    if (rec->releases.fetch_add(1) == 0) delete[] rec->data;
    rec->owner->released_.fetch_add(1);
    b->release = nullptr;
  }

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Record>> records_;
  std::atomic<int> released_{0};
};

// RAII holders for C objects.
struct HostDeleter {
  void operator()(jn_host* h) const { EXPECT_EQ(jn_host_free(h), JN_OK); }
};
using HostPtr = std::unique_ptr<jn_host, HostDeleter>;

struct MethodDeleter {
  void operator()(jn_method* m) const { jn_method_free(m); }
};
using MethodPtr = std::unique_ptr<jn_method, MethodDeleter>;

inline HostPtr NewHost(uint32_t worker_threads = 0) {
  jn_host_options opts{sizeof(jn_host_options), worker_threads, 0};
  jn_host* h = nullptr;
  EXPECT_EQ(jn_host_new(&opts, &h, nullptr), JN_OK);
  return HostPtr(h);
}

// A jn_status / jn_result released on scope exit.
struct ScopedStatus {
  jn_status s{};
  ScopedStatus() = default;
  ScopedStatus(const ScopedStatus&) = delete;
  ScopedStatus& operator=(const ScopedStatus&) = delete;
  ~ScopedStatus() { jn_status_release(&s); }
  jn_status* get() { return &s; }
  [[nodiscard]] std::string message() const { return Message(s); }
};

struct ScopedResult {
  jn_result r{};
  ScopedResult() = default;
  ScopedResult(const ScopedResult&) = delete;
  ScopedResult& operator=(const ScopedResult&) = delete;
  ~ScopedResult() { jn_result_release(&r); }
  jn_result* get() { return &r; }
  void reset() {
    jn_result_release(&r);
    r = jn_result{};
  }
  [[nodiscard]] int32_t code() const { return r.status.code; }
  [[nodiscard]] std::string message() const { return Message(r.status); }
  [[nodiscard]] std::string response() const { return Text(r.response); }
};

inline jn_service_desc Desc(const char* name, const jn_method_desc* methods, uint32_t count,
                            void* ctx = nullptr, void (*destroy)(void*) = nullptr) {
  return jn_service_desc{JN_ABI_VERSION, count, name, methods, ctx, destroy};
}

// Registers a service from a list of methods.
inline int32_t Register(jn_host* host, const char* name, std::initializer_list<jn_method_desc> m,
                        void* ctx = nullptr, void (*destroy)(void*) = nullptr,
                        jn_status* status = nullptr) {
  std::vector<jn_method_desc> methods(m);
  jn_service_desc d =
      Desc(name, methods.data(), static_cast<uint32_t>(methods.size()), ctx, destroy);
  return jn_host_register(host, &d, status);
}

inline MethodPtr Resolve(jn_host* host, const char* service, const char* method) {
  jn_method* m = nullptr;
  EXPECT_EQ(jn_host_resolve(host, service, method, &m, nullptr), JN_OK)
      << "resolve " << service << "/" << method;
  return MethodPtr(m);
}

inline int32_t Call(const jn_method* m, std::string_view request, ScopedResult& out,
                    int64_t deadline = JN_NO_DEADLINE) {
  out.reset();
  return jn_call(m, View(request), deadline, out.get());
}

// Handlers. Echo copies the request into a host buffer.
inline void EchoHandler(void* /*ctx*/, jn_bytes req, int64_t /*deadline_ns*/, jn_result* result) {
  jn_buffer_copy(req.data, req.len, &result->response);
}

// Counts calls and destroy callbacks of a service; records the last
// deadline a handler saw.
struct Probe {
  std::atomic<int> calls{0};
  std::atomic<int> destroyed{0};
  std::atomic<int64_t> last_deadline{0};
  std::atomic<uint64_t> last_len{0};
  static void Destroy(void* ctx) { static_cast<Probe*>(ctx)->destroyed.fetch_add(1); }
  // Echo that counts.
  static void Echo(void* ctx, jn_bytes req, int64_t deadline, jn_result* result) {
    auto* p = static_cast<Probe*>(ctx);
    p->last_deadline.store(deadline);
    p->last_len.store(req.len);
    p->calls.fetch_add(1);
    jn_buffer_copy(req.data, req.len, &result->response);
  }
  // Async handler that counts and completes at once with an echo.
  static void AsyncEcho(void* ctx, jn_bytes req, int64_t deadline, jn_completion c) {
    auto* p = static_cast<Probe*>(ctx);
    p->last_deadline.store(deadline);
    p->calls.fetch_add(1);
    jn_result r{};
    jn_buffer_copy(req.data, req.len, &r.response);
    jn_complete(c, &r);
  }
};

// An async handler context that parks every invocation (completion and the
// borrowed request view) until the test completes it.
struct Parking {
  std::mutex mu;
  std::vector<jn_completion> completions;
  std::vector<jn_bytes> requests;
  std::atomic<int> invoked{0};

  static void Handler(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_completion c) {
    auto* p = static_cast<Parking*>(ctx);
    {
      std::lock_guard<std::mutex> lock(p->mu);
      p->completions.push_back(c);
      p->requests.push_back(req);
    }
    p->invoked.fetch_add(1);
  }
  bool WaitInvoked(int n, std::chrono::milliseconds timeout = 5s) {
    return WaitFor([&] { return invoked.load() >= n; }, timeout);
  }
  // Takes one parked call (the oldest); false if none.
  bool Take(jn_completion* c, jn_bytes* req) {
    std::lock_guard<std::mutex> lock(mu);
    if (completions.empty()) return false;
    *c = completions.front();
    *req = requests.front();
    completions.erase(completions.begin());
    requests.erase(requests.begin());
    return true;
  }
  // Completes, empty, every call still parked (a test that failed before
  // finishing them), so that none outlives the test.
  void CompleteAll() {
    jn_completion c{};
    jn_bytes req{};
    while (Take(&c, &req)) {
      jn_result r{};
      jn_complete(c, &r);
    }
  }
};

// A handler context that blocks each call until the test opens the gate
// (at most 5 s, then the call fails with JN_ABORTED).
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  std::atomic<int> left{0};
  std::atomic<int> destroyed{0};

  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  bool Pass() {
    entered.fetch_add(1);
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 5s, [&] { return open; });
  }
  static void Handler(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_result* r) {
    auto* g = static_cast<Gate*>(ctx);
    if (g->Pass()) {
      jn_buffer_copy(req.data, req.len, &r->response);
    } else {
      r->status.code = JN_ABORTED;
    }
    g->left.fetch_add(1);
  }
  // Counts destroy calls, and those that came while a call was still inside.
  static void Destroy(void* ctx) {
    auto* g = static_cast<Gate*>(ctx);
    if (g->left.load() != g->entered.load()) g->destroyed_early.fetch_add(1);
    g->destroyed.fetch_add(1);
  }
  std::atomic<int> destroyed_early{0};
};

// Completes c with a host-allocated copy of text as the response.
inline int32_t CompleteWith(jn_completion c, std::string_view text) {
  jn_result r{};
  EXPECT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>(text.data()), text.size(), &r.response),
            JN_OK);
  int32_t rc = jn_complete(c, &r);
  EXPECT_EQ(r.response.release, nullptr) << "jn_complete must take the result";
  jn_result_release(&r);
  return rc;
}

}  // namespace jntest
