#include "daemon_process.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <sstream>
#include <system_error>

namespace jndaemon {
namespace {

[[noreturn]] void fail_with(int error, const char* what) {
  throw std::system_error(error, std::generic_category(), what);
}

std::string message_of(jn_status& status) {
  std::string message(reinterpret_cast<const char*>(status.message.data),
                      status.message.release == nullptr ? 0 : status.message.len);
  jn_status_release(&status);
  return message;
}

// The exit code of a wait status, or 128 + the signal that ended it.
int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  return 128 + WTERMSIG(wait_status);
}

}  // namespace

Daemon::Daemon(const std::vector<std::string>& args, Streams streams) {
  const bool closed = streams == Streams::kClosed;
  const bool stdout_piped = !closed && streams != Streams::kStdoutFull;
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (stdout_piped && pipe2(out, O_CLOEXEC) != 0) fail_with(errno, "pipe2");
  if (!closed && pipe2(err, O_CLOEXEC) != 0) {
    const int error = errno;
    if (stdout_piped) {
      close(out[0]);
      close(out[1]);
    }
    fail_with(error, "pipe2");
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (closed) {
    for (const int fd : {0, 1, 2}) posix_spawn_file_actions_addclose(&actions, fd);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (stdout_piped) {
      posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, "/dev/full", O_WRONLY, 0);
    }
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attributes, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);
  // A process group of its own, as a supervisor gives a service: the kernel
  // sends SIGHUP and SIGCONT to every member of a process group that becomes
  // orphaned while one of them is stopped, so a daemon in the group of the
  // test runner (ctest, its other tests and their children) could be
  // continued by an exit elsewhere while a test holds it stopped.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  std::vector<std::string> strings;
  strings.reserve(args.size() + 1);
  strings.emplace_back(JN_TEST_DAEMON);
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(strings.size() + 1);
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  const int spawned =
      posix_spawn(&pid_, JN_TEST_DAEMON, &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  for (const int fd : {out[1], err[1]}) {
    if (fd >= 0) close(fd);
  }
  if (spawned != 0) {
    for (const int fd : {out[0], err[0]}) {
      if (fd >= 0) close(fd);
    }
    pid_ = -1;
    fail_with(spawned, "posix_spawn " JN_TEST_DAEMON);
  }
  if (stdout_piped) {
    stdout_reader_ = std::thread([this, fd = out[0]] { Read(fd, stdout_, stdout_closed_); });
  } else {
    stdout_closed_ = true;
  }
  if (closed) {
    stderr_closed_ = true;
  } else if (streams == Streams::kStderrGone) {
    close(err[0]);
    stderr_closed_ = true;
  } else if (streams == Streams::kStderrStalled) {
    // Never read: WaitExit waits for stdout alone.
    stalled_stderr_ = err[0];
    stderr_closed_ = true;
  } else {
    stderr_reader_ = std::thread([this, fd = err[0]] { Read(fd, stderr_, stderr_closed_); });
  }
}

Daemon::~Daemon() {
  if (!exit_) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (stdout_reader_.joinable()) stdout_reader_.join();
  if (stderr_reader_.joinable()) stderr_reader_.join();
  if (stalled_stderr_ >= 0) close(stalled_stderr_);
}

void Daemon::Read(int fd, std::string& into, bool& closed) {
  char chunk[4096];
  for (;;) {
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      closed = true;
      changed_.notify_all();
      break;
    }
    into.append(chunk, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  close(fd);
}

bool Daemon::WaitReady(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] {
    return stdout_.find("junction-host: ready\n") != std::string::npos || stdout_closed_;
  }) && stdout_.find("junction-host: ready\n") != std::string::npos;
}

std::vector<std::string> Daemon::Urls() const {
  constexpr std::string_view kServing = "junction-host: serving ";
  std::vector<std::string> urls;
  std::istringstream lines(Stdout());
  for (std::string line; std::getline(lines, line);) {
    const std::size_t on = line.rfind(" on ");
    if (line.starts_with(kServing) && on != std::string::npos) urls.push_back(line.substr(on + 4));
  }
  return urls;
}

bool Daemon::WaitStderr(std::string_view needle, int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    int found = 0;
    for (std::size_t at = stderr_.find(needle); at != std::string::npos;
         at = stderr_.find(needle, at + needle.size())) {
      ++found;
    }
    return found >= count;
  });
}

void Daemon::Signal(int signal_number) const { ASSERT_EQ(kill(pid_, signal_number), 0); }

bool Daemon::Suspend() {
  if (kill(pid_, SIGSTOP) != 0) return false;
  // The kernel reports the stop to the parent when the last thread stops.
  int status = 0;
  pid_t reaped = 0;
  while ((reaped = waitpid(pid_, &status, WUNTRACED)) < 0 && errno == EINTR) {
  }
  if (reaped != pid_) return false;
  if (WIFSTOPPED(status)) return true;
  exit_ = exit_code_of(status);
  return false;
}

std::optional<int> Daemon::WaitExit(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (Running()) {
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(2ms);
  }
  // Then all it wrote: the readers may not have reached the end yet.
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, end, [this] { return stdout_closed_ && stderr_closed_; });
  return exit_;
}

bool Daemon::Running() {
  if (exit_) return false;
  int status = 0;
  const pid_t reaped = waitpid(pid_, &status, WNOHANG);
  if (reaped == pid_) exit_ = exit_code_of(status);
  return !exit_;
}

std::string Daemon::Stdout() const {
  std::lock_guard lock(mutex_);
  return stdout_;
}

std::string Daemon::Stderr() const {
  std::lock_guard lock(mutex_);
  return stderr_;
}

std::string Daemon::Output() const {
  std::lock_guard lock(mutex_);
  return "--- daemon stdout ---\n" + stdout_ + "--- daemon stderr ---\n" + stderr_;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "jn-daemon-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) fail_with(errno, "mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::IpcUrl(std::string_view name) const {
  return "zmq+ipc://" + (path_ / name).string();
}

Client::Client() {
  jn_status status{};
  if (jn_host_new(nullptr, &host_, &status) != JN_OK) {
    ADD_FAILURE() << "jn_host_new: " << message_of(status);
  }
  jn_status_release(&status);
}

Client::~Client() { EXPECT_EQ(jn_host_free(host_), JN_OK); }

std::int32_t Client::Route(const std::string& service, const std::string& url,
                           std::string* message) {
  jn_status status{};
  const std::int32_t code = jn_host_route(host_, service.c_str(), url.c_str(), nullptr, &status);
  std::string text = message_of(status);
  if (message != nullptr) *message = std::move(text);
  return code;
}

MethodPtr Client::Resolve(const std::string& service, const std::string& method) {
  jn_method* resolved = nullptr;
  jn_status status{};
  if (jn_host_resolve(host_, service.c_str(), method.c_str(), &resolved, &status) != JN_OK) {
    ADD_FAILURE() << "resolve " << service << "/" << method << ": " << message_of(status);
  }
  jn_status_release(&status);
  return MethodPtr(resolved);
}

Answer Call(const jn_method* method, std::string_view request, std::chrono::milliseconds timeout) {
  Answer answer;
  const auto start = std::chrono::steady_clock::now();
  jn_result result{};
  const std::int64_t deadline_ns = timeout == kNoDeadline
                                       ? JN_NO_DEADLINE
                                       : jn_now_ns() + std::chrono::nanoseconds(timeout).count();
  answer.code = jn_call(
      method, jn_bytes{reinterpret_cast<const std::uint8_t*>(request.data()), request.size()},
      deadline_ns, &result);
  answer.elapsed = std::chrono::steady_clock::now() - start;
  answer.message = message_of(result.status);
  if (result.response.release != nullptr) {
    answer.response.assign(reinterpret_cast<const char*>(result.response.data),
                           static_cast<std::size_t>(result.response.len));
  }
  jn_result_release(&result);
  return answer;
}

std::string Le64(std::uint64_t n) {
  std::string bytes(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return bytes;
}

std::string CodeName(std::int32_t code) { return jn_status_name(code); }

}  // namespace jndaemon
