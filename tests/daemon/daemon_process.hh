// The junction-host tests' tools: the daemon as a child process, a fresh
// temporary directory, and a client host that routes to the daemon.
#pragma once

#include <junction.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace jndaemon {

using namespace std::chrono_literals;

// junction-host running as a child process (the binary the build made),
// its standard output and error read by a thread each (unless Streams says
// otherwise). Destruction kills (SIGKILL) and reaps it if it is still
// running, so that a failing test leaves no daemon behind.
class Daemon {
 public:
  // The daemon's standard streams. kRead: stdin /dev/null, stdout and
  // stderr pipes this process reads (Stdout, Stderr). kStderrGone: stderr a
  // pipe whose reading end is closed at once, as a log reader that has gone
  // away leaves it. kStderrStalled: stderr a pipe this process does not
  // read (StalledStderr), as a log reader that stalls leaves it. kStdoutFull:
  // stdout /dev/full, where every write fails. kClosed: stdin, stdout and
  // stderr closed.
  enum class Streams { kRead, kStderrGone, kStderrStalled, kStdoutFull, kClosed };

  // Spawns the daemon with args after the program name; the signal mask
  // empty and SIGTERM/SIGINT/SIGPIPE at their default. Throws
  // std::system_error if it cannot be spawned.
  explicit Daemon(const std::vector<std::string>& args, Streams streams = Streams::kRead);
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon();

  // Waits until stdout says "junction-host: ready"; false if the process
  // closed its stdout (exited) first or timeout passed.
  [[nodiscard]] bool WaitReady(std::chrono::milliseconds timeout = 30s);
  // The URLs of the "junction-host: serving ... on URL" lines, in order.
  [[nodiscard]] std::vector<std::string> Urls() const;
  // Waits until stderr holds needle at least count times.
  [[nodiscard]] bool WaitStderr(std::string_view needle, int count = 1,
                                std::chrono::milliseconds timeout = 10s);

  // With Streams::kStderrStalled: the reading end of the stderr pipe, open
  // until destruction.
  [[nodiscard]] int StalledStderr() const noexcept { return stalled_stderr_; }

  void Signal(int signal_number) const;
  // Stops the daemon (SIGSTOP) and returns once all its threads have
  // stopped: kill() returns before a stop takes effect, and a thread still
  // running could answer a call made just after. False if the process
  // ended instead.
  [[nodiscard]] bool Suspend();
  // Waits for the process to end, and for the readers to reach the end of
  // its output: its exit code, or 128 + the signal that ended it; nothing
  // if timeout passed first.
  [[nodiscard]] std::optional<int> WaitExit(std::chrono::milliseconds timeout = 15s);
  [[nodiscard]] bool Running();
  [[nodiscard]] pid_t Pid() const noexcept { return pid_; }

  [[nodiscard]] std::string Stdout() const;
  [[nodiscard]] std::string Stderr() const;
  // Both, labelled, for failure messages.
  [[nodiscard]] std::string Output() const;

 private:
  void Read(int fd, std::string& into, bool& closed);

  pid_t pid_ = -1;
  int stalled_stderr_ = -1;
  std::optional<int> exit_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string stdout_;
  std::string stderr_;
  bool stdout_closed_ = false;
  bool stderr_closed_ = false;
  std::thread stdout_reader_;
  std::thread stderr_reader_;
};

// A fresh directory under the system's temporary directory, removed with
// everything in it on destruction. Its path is short, for ipc socket paths.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // "zmq+ipc://" and the path of name in this directory.
  [[nodiscard]] std::string IpcUrl(std::string_view name) const;

 private:
  std::filesystem::path path_;
};

// What a call answered, and how long it took.
struct Answer {
  std::int32_t code = -1;
  std::string message;
  std::string response;
  std::chrono::steady_clock::duration elapsed{};
};

struct MethodDeleter {
  void operator()(jn_method* method) const { jn_method_free(method); }
};
using MethodPtr = std::unique_ptr<jn_method, MethodDeleter>;

// The calling side: a host of this process whose services are routes to
// daemons.
class Client {
 public:
  Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // jn_host_route with default options; the status's message on failure.
  [[nodiscard]] std::int32_t Route(const std::string& service, const std::string& url,
                                   std::string* message = nullptr);
  // jn_host_resolve; null (and a test failure) if it fails.
  [[nodiscard]] MethodPtr Resolve(const std::string& service, const std::string& method);
  [[nodiscard]] jn_host* host() const { return host_; }

 private:
  jn_host* host_ = nullptr;
};

// A Call timeout meaning no deadline at all (JN_NO_DEADLINE).
inline constexpr std::chrono::milliseconds kNoDeadline = std::chrono::milliseconds::max();

// Calls method with request and a deadline timeout from now (kNoDeadline:
// none).
[[nodiscard]] Answer Call(const jn_method* method, std::string_view request,
                          std::chrono::milliseconds timeout = 10s);

// n as 8 bytes little-endian: a sleep request (milliseconds), a length.
[[nodiscard]] std::string Le64(std::uint64_t n);

// A status code's name, for messages.
[[nodiscard]] std::string CodeName(std::int32_t code);

}  // namespace jndaemon
