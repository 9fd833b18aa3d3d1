// Shared pieces of the ZeroMQ transport tests: a service exercising every
// outcome, unique endpoints, and error capture.
#pragma once

#include <junction.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <junction/junction.hpp>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace jnzmq {

using junction::Buffer;
using junction::Code;
using junction::Deadline;

inline std::int64_t millis(std::int64_t ms) { return ms * 1'000'000; }

inline std::uint64_t request_number(std::span<const std::uint8_t> request) {
  return std::stoull(std::string(request.begin(), request.end()));
}

// The service "test": echo, length (8 bytes, little-endian), fail
// (PERMISSION_DENIED "not allowed"), throw (std::runtime_error "boom"),
// nap (sleeps the request's milliseconds, giving up at the deadline like a
// well-behaved handler), stubborn_nap (sleeps them whatever the deadline),
// async_echo (answers from another thread).
inline junction::Service test_service(std::string name = "test") {
  junction::Service service(std::move(name));
  service.method("echo", [](auto request, Deadline) { return Buffer::copy_of(request); });
  service.method("length", [](auto request, Deadline) {
    std::uint8_t out[8];
    const std::uint64_t length = request.size();
    std::memcpy(out, &length, sizeof(out));
    return Buffer::copy_of(std::span<const std::uint8_t>(out, sizeof(out)));
  });
  service.method("fail", [](auto, Deadline) -> Buffer {
    throw junction::Error(Code::permission_denied, "not allowed");
  });
  service.method("throw", [](auto, Deadline) -> Buffer { throw std::runtime_error("boom"); });
  service.method("nap", [](auto request, Deadline deadline) {
    const std::int64_t until =
        jn_now_ns() + millis(static_cast<std::int64_t>(request_number(request)));
    while (jn_now_ns() < until) {
      if (jn_now_ns() >= deadline) {
        throw junction::Error(Code::deadline_exceeded, "gave up at the deadline");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Buffer::copy_of("rested");
  });
  service.method("stubborn_nap", [](auto request, Deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(request_number(request)));
    return Buffer::copy_of("rested");
  });
  service.async_method("async_echo", [](auto request, Deadline, junction::Completion completion) {
    std::thread([bytes = std::vector<std::uint8_t>(request.begin(), request.end()),
                 completion = std::move(completion)]() mutable {
      completion.succeed(Buffer::copy_of(bytes));
    }).detach();
  });
  return service;
}

// The service "gate": its method "wait" answers "opened" once the test
// opens the gate, or gives up at the call's deadline; a gate that does not
// heed deadlines gives up only after 20 s.
class Gate {
 public:
  explicit Gate(bool heeds_deadline = true) : heeds_deadline_(heeds_deadline) {}
  std::atomic<bool> open{false};
  std::atomic<int> entered{0};

  junction::Service service() {
    junction::Service gate("gate");
    gate.method("wait", [this](auto, Deadline deadline) {
      entered.fetch_add(1);
      const std::int64_t give_up = heeds_deadline_ ? deadline : jn_now_ns() + millis(20'000);
      while (!open.load() && jn_now_ns() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      return Buffer::copy_of("opened");
    });
    return gate;
  }

 private:
  const bool heeds_deadline_;
};

// Opens a gate (a handler's loop condition) when it goes: declared after the
// listener, it opens before the listener closes, so that a failed assertion
// does not leave a handler running while the hosts close.
struct OpenOnExit {
  std::atomic<bool>& gate;
  ~OpenOnExit() { gate = true; }
};

// A fresh directory for ipc sockets, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "jnzmq-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp failed");
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] std::string ipc_url(const std::string& name = "s") const {
    return "zmq+ipc://" + (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

// Polls pred about every millisecond until it holds or timeout passes;
// returns its last value.
template <class Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= give_up) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Whether listener takes (reads off its connections) n requests within
// eventually's time: from then on those calls are in flight there, however
// loaded the machine, where a sleep would only make that likely.
inline bool taken_requests(const junction::Listener& listener, std::uint64_t n) {
  return eventually([&] { return listener.stats().requests >= n; });
}

inline std::string inproc_url() {
  static std::atomic<int> count{0};
  return "zmq+inproc://jnzmq-test-" + std::to_string(count.fetch_add(1));
}

// One URL of each kind that nothing listens on: a tcp port that was free a
// moment ago (bound, then released), an ipc path in dir, an inproc name.
inline std::vector<std::string> unbound_urls(const TempDir& dir) {
  std::vector<std::string> urls;
  {
    junction::Host probe;
    urls.emplace_back(probe.listen("zmq+tcp://127.0.0.1:0").url());
  }
  urls.push_back(dir.ipc_url());
  urls.push_back(inproc_url());
  return urls;
}

// A host routing service to listener with options.
inline junction::Host routed_to(const junction::Listener& listener,
                                const junction::RouteOptions& options = {},
                                const std::string& service = "test") {
  junction::Host host;
  host.route(service, std::string(listener.url()), options);
  return host;
}

// Runs f and returns the code of the junction::Error it throws (ok if none).
template <class F>
Code code_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const junction::Error& error) {
    if (message != nullptr) {
      *message = error.what();
    }
    return error.code();
  }
  return Code::ok;
}

// A call made on a thread of its own, once done: its code, its error's
// message and its response's text.
struct CallOutcome {
  Code code = Code::ok;
  std::string message;
  std::string text;
};

// Calls method with request on a thread of its own, with cancel if given
// (Method::call's cancellable form). method and cancel must outlive the
// future.
inline std::future<CallOutcome> call_in_background(
    const junction::Method& method, std::string request,
    Deadline deadline = junction::deadline_after(std::chrono::seconds(10)),
    const junction::Cancel* cancel = nullptr) {
  return std::async(std::launch::async, [&method, request = std::move(request), deadline, cancel] {
    CallOutcome outcome;
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(request.data()),
                                              request.size());
    outcome.code = code_of(
        [&] {
          const Buffer answer = cancel != nullptr ? method.call(bytes, deadline, *cancel)
                                                  : method.call(bytes, deadline);
          outcome.text = std::string(answer.text());
        },
        &outcome.message);
    return outcome;
  });
}

inline std::vector<std::uint8_t> pattern_bytes(std::size_t size, std::uint8_t seed) {
  std::vector<std::uint8_t> bytes(size);
  for (std::size_t i = 0; i < size; ++i) {
    bytes[i] = static_cast<std::uint8_t>(i * 31 + seed);
  }
  return bytes;
}

}  // namespace jnzmq
