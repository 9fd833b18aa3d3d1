// zmq_bench.cc - junction over ZeroMQ against a plain cppzmq REQ/REP
// ping-pong on the same endpoint kind and payload.
//
// Paths, each an echo served by another process (this same binary, started
// through /proc/self/exe with a sub-command, as users deploy a server; in
// a session of its own, as a separately started service is, so that the
// kernel schedules the two processes as it would two services: with
// autogroup scheduling, or each service in a cgroup of its own, a process
// woken by another group's does not run before the waker yields, which
// costs a path with more hand-offs between threads more; --same-session
// keeps the servers in the bench's session instead):
//
//   REQ/REP    the plain pattern: each caller thread owns a REQ socket
//              connected to one REP socket (`serve-reqrep ENDPOINT`), which
//              answers one request at a time (that is the pattern's nature);
//   junction   a jn_host in this process routes the service "bench" to the
//              server's URL (jn_host_route) and caller threads call
//              jn_call on one resolved "bench"/"echo" handle, each call with
//              a deadline; the server (`serve-junction URL`) is a jn_host
//              serving "bench" through jn_host_listen.
//
// Both servers do the same work per call: one copy of the request into the
// response (jn_respond on the junction side, a new zmq::message_t on the
// REP side).
//
// With --split, two more paths tell how junction's extra time divides
// between its two sides, each side against a plain peer speaking
// junction's wire protocol (docs/wire.md) with blocking libzmq calls, as
// REQ/REP does:
//
//   junction caller    the junction callers above against `serve-wire
//                      ENDPOINT`, a ROUTER answering one call at a time;
//   junction listener  callers that each own a DEALER socket, sending a
//                      request header and payload and waiting for the
//                      answer, against the junction server.
//
// Over REQ/REP's p50, the first path's is the calling side's share of
// junction's extra time and the second's the listening side's.
//
// Cases: ipc (a socket in a fresh temporary directory) and tcp (127.0.0.1,
// a port the system chooses), 64 B and 64 KiB, 1 and 8 concurrent callers.
// Each case runs in rounds, the paths taking turns, and a payload's
// 1-caller and 8-caller rounds alternate; each round warms up, then calls
// for a fixed time, recording every call's latency at the caller (sorted
// for percentiles), the calls completed (throughput), and the CPU time and
// context switches per call of this process and of the server process
// (getrusage in each, which counts every thread, also those that have
// ended; the server reports its own when the bench asks on its stdin).
// Every response is checked (length, the call's sequence number, a sampled
// byte); a failed call stops the run with an error, so no figure is ever
// made of errors.
//
// Output: a Markdown table on stdout and in OUT_DIR/zmq-latest.md, and
// OUT_DIR/zmq-latest.json with every measured figure, the machine, the
// build, the command and the commit. Targets, judged on the figures of the
// same run: junction's p50 at most 1.10x the REQ/REP p50 (the median of
// the rounds' ratios); junction's throughput with 8 callers at least 3x its
// throughput with 1. A run shorter than kConclusiveSeconds says that its
// verdicts are indicative only.
//
// Fairness: the threads that answer calls in every server ask the kernel
// for the same scheduler slice, junction's listener threads through
// jn_host_options.thread_slice_ns and the plain servers' answering threads
// through the function junction's threads use (cpp-host/src/thread_slice.hh);
// the callers keep the kernel's default on every path (a synchronous
// junction call runs on its caller's thread). --thread-slice sets that
// slice for every server, so that two runs tell what the default short
// slice buys on a machine.
//
// --curve encrypts every connection of every path with CURVE (ABI 1.8):
// the servers take a secret key made for the run (from the environment,
// kCurveSecretKeyVariable), the REQ and DEALER sockets the server's public
// key and a pair of their own, the junction routes the public key
// (jn_route_options.curve_server_key). Compared with a run without it, it
// tells what CURVE costs a call; its report goes to zmq-curve-latest.*.
//
//   junction_zmq_bench [--quick | --seconds S] [--split] [--same-session]
//                      [--thread-slice MS|inherit] [--curve] [--out-dir DIR]
#include <fcntl.h>
#include <junction.h>
#include <poll.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <frame.hh>
#include <fstream>
#include <functional>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "provenance.h"
#include "thread_slice.hh"

#ifndef JN_BENCH_RESULTS_DIR
#define JN_BENCH_RESULTS_DIR "bench/results"
#endif

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kService = "bench";
constexpr std::string_view kMethod = "echo";
constexpr double kQuickSeconds = 1.0;
// The shortest run whose verdicts the report calls more than indicative:
// quick runs of one build flip verdicts from run to run. The README's
// "Measured" figures come from runs this long.
constexpr double kConclusiveSeconds = 6.0;
constexpr double kP50RatioTarget = 1.10;
constexpr double kThroughputRatioTarget = 3.0;
constexpr std::array<std::size_t, 2> kPayloads = {64, std::size_t{64} * 1024};
constexpr std::array<int, 2> kCallerCounts = {1, 8};
// Each case runs in rounds, the paths taking turns; its figures pool
// them, and its p50 verdict takes the median of the rounds' ratios. One
// long run per path would leave the ratio to whatever state the machine
// (its scheduler's placement of a few threads on few CPUs, a virtual
// machine's neighbours) was in for that run, and one path always running
// after another. Such states last seconds, so the rounds are short and
// many: as many as fit at kRoundSeconds each, and at least kMinRounds.
constexpr int kMinRounds = 3;
constexpr double kRoundSeconds = 0.5;
// How long one call may take before the run is declared broken: the
// junction call's deadline and the REQ socket's send/receive timeout.
constexpr std::chrono::seconds kCallTimeout{10};
// How long a server may take to print its URL or answer the bench, and to
// exit once asked.
constexpr std::chrono::seconds kServerAnswerTimeout{15};
constexpr std::chrono::seconds kServerStopTimeout{10};

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string errno_text(int error) { return std::generic_category().message(error); }

std::string status_text(const jn_status& status) {
  std::string text = jn_status_name(status.code);
  if (status.message.release != nullptr && status.message.len > 0) {
    text += ": ";
    text.append(reinterpret_cast<const char*>(status.message.data), status.message.len);
  }
  return text;
}

// CPU time and context switches of a process so far, all its threads
// counted, also those that have ended (getrusage(RUSAGE_SELF)).
struct ProcessCounters {
  std::uint64_t cpu_ns = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
};

ProcessCounters self_counters() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ns = [](const timeval& tv) {
    return static_cast<std::uint64_t>(tv.tv_sec) * 1'000'000'000U +
           static_cast<std::uint64_t>(tv.tv_usec) * 1000U;
  };
  return {ns(usage.ru_utime) + ns(usage.ru_stime), static_cast<std::uint64_t>(usage.ru_nvcsw),
          static_cast<std::uint64_t>(usage.ru_nivcsw)};
}

// ---------------------------------------------------------------------------
// Servers (the sub-commands).

// Blocks SIGTERM and returns a signalfd that becomes readable when it
// arrives. Must run before the process starts any thread, so that every
// thread inherits the mask and the signal stays pending for the fd.
int block_sigterm() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return -1;
  return signalfd(-1, &set, SFD_CLOEXEC);
}

// Answers the bench on stdin until it reaches end of file (the bench closed
// its end, or died) or SIGTERM arrives on sigterm_fd: each line "usage" is
// answered on stdout with "CPU_NS VOLUNTARY INVOLUNTARY\n", this process's
// self_counters().
void serve_bench_requests(int sigterm_fd) {
  std::array<pollfd, 2> fds = {{{STDIN_FILENO, POLLIN, 0}, {sigterm_fd, POLLIN, 0}}};
  std::array<char, 256> chunk{};
  std::string pending;
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    const ssize_t n = read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    pending.append(chunk.data(), static_cast<std::size_t>(n));
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      if (pending.compare(0, end, "usage") == 0) {
        const ProcessCounters counters = self_counters();
        std::printf("%" PRIu64 " %" PRIu64 " %" PRIu64 "\n", counters.cpu_ns,
                    counters.voluntary_switches, counters.involuntary_switches);
        std::fflush(stdout);
      }
      pending.erase(0, end + 1);
    }
  }
}

// The "bench"/"echo" handler: answers a copy of the request.
void echo_handler(void* /*ctx*/, jn_bytes request, std::int64_t /*deadline_ns*/,
                  jn_result* result) {
  if (jn_respond(result, request.data, request.len) != JN_OK) {
    jn_status_set(&result->status, JN_RESOURCE_EXHAUSTED, "echo: no memory for the response");
  }
}

// The environment variable through which the servers get the run's CURVE
// secret key (Z85), when the bench runs with --curve.
constexpr const char* kCurveSecretKeyVariable = "JUNCTION_ZMQ_BENCH_CURVE_SECRET_KEY";

// The run's CURVE secret key, or null without --curve. Read once, before
// any thread of the server starts.
const char* curve_secret_key() {
  return std::getenv(kCurveSecretKeyVariable);  // NOLINT(concurrency-mt-unsafe)
}

// What a calling socket needs for CURVE: the server's public key and a
// pair of its own, Z85.
struct CurveClientKeys {
  std::string server_public_key;
  std::string public_key;
  std::string secret_key;
};

// `serve-junction URL [SLICE_NS]`: serves "bench" on URL from a host whose
// threads ask for a SLICE_NS slice (jn_host_options.thread_slice_ns; by
// default the library's), prints the bound URL on stdout, serves until
// stdin closes or SIGTERM (serve_bench_requests).
int serve_junction(const char* url, const char* slice_ns) {
  const int sigterm_fd = block_sigterm();
  if (sigterm_fd < 0) {
    std::perror("serve-junction: signalfd");
    return 1;
  }
  jn_status status{};
  jn_host* host = nullptr;
  const jn_host_options options{.struct_size = sizeof(jn_host_options),
                                .worker_threads = 0,
                                .thread_slice_ns = slice_ns == nullptr ? 0 : std::stoull(slice_ns)};
  if (jn_host_new(&options, &host, &status) != JN_OK) {
    std::fprintf(stderr, "serve-junction: jn_host_new: %s\n", status_text(status).c_str());
    jn_status_release(&status);
    return 1;
  }
  const std::string service_name(kService);
  const std::string method_name(kMethod);
  const std::array<jn_method_desc, 1> methods = {{{.name = method_name.c_str(),
                                                   .handler = &echo_handler,
                                                   .async_handler = nullptr,
                                                   .ctx = nullptr}}};
  const jn_service_desc service = {.abi_version = JN_ABI_VERSION,
                                   .method_count = methods.size(),
                                   .name = service_name.c_str(),
                                   .methods = methods.data(),
                                   .ctx = nullptr,
                                   .destroy = nullptr};
  jn_listen_options listen_options{};
  listen_options.struct_size = sizeof listen_options;
  listen_options.curve_secret_key = curve_secret_key();
  jn_listener* listener = nullptr;
  if (jn_host_register(host, &service, &status) != JN_OK ||
      jn_host_listen(host, url, &listen_options, &listener, &status) != JN_OK) {
    std::fprintf(stderr, "serve-junction %s: %s\n", url, status_text(status).c_str());
    jn_status_release(&status);
    jn_host_free(host);
    return 1;
  }
  std::printf("%s\n", jn_listener_url(listener));
  std::fflush(stdout);
  serve_bench_requests(sigterm_fd);
  // The bench has its answers by now; a second lets the threads that sent
  // them finish.
  const int close_code = jn_listener_close(
      listener, jn_now_ns() + std::chrono::nanoseconds(std::chrono::seconds(1)).count());
  const int free_code = jn_host_free(host);
  close(sigterm_fd);
  if (close_code != JN_OK || free_code != JN_OK) {
    std::fprintf(stderr, "serve-junction: jn_listener_close %s, jn_host_free %s\n",
                 jn_status_name(close_code), jn_status_name(free_code));
    return 1;
  }
  return 0;
}

// serve-wire's answer to one message (frames: routing id, header,
// payload): a copy of the payload, or an error the decoder names; nothing
// for a message it cannot identify.
void answer_wire_call(zmq::socket_t& router, std::vector<zmq::message_t>& frames,
                      std::vector<std::uint8_t>& header) {
  if (frames.size() < 2) return;  // no header: nothing to answer
  const std::uint64_t payload_len = frames.size() == 3 ? frames[2].size() : 0;
  const junction::wire::Decoded decoded = junction::wire::decode_header(
      {frames[1].data<std::uint8_t>(), frames[1].size()}, payload_len, {});
  const bool answerable =
      decoded.header && decoded.header->kind == junction::wire::Kind::request && frames.size() == 3;
  const std::optional<std::uint64_t> call_id =
      decoded.header ? decoded.header->call_id : decoded.error.call_id;
  if (!call_id) return;
  zmq::message_t payload;
  if (answerable) payload.rebuild(frames[2].data(), frames[2].size());
  const std::int32_t code =
      answerable ? JN_OK : (decoded.header ? JN_INVALID_ARGUMENT : decoded.error.code);
  if (!junction::wire::encode_response(*call_id, code,
                                       answerable ? "" : "serve-wire: not a request it answers",
                                       payload.size(), header)) {
    return;
  }
  router.send(frames[0], zmq::send_flags::sndmore);
  router.send(zmq::buffer(header), zmq::send_flags::sndmore);
  router.send(payload, zmq::send_flags::none);
}

// The slice a server's threads ask for given slice_ns as
// jn_host_options.thread_slice_ns has it: 0 is junction's default.
std::uint64_t resolved_slice_ns(std::uint64_t slice_ns) {
  return slice_ns == 0 ? junction::detail::kDefaultSliceNs : slice_ns;
}

// Binds a socket of type on endpoint (a ZeroMQ endpoint), prints url_prefix
// and ZMQ_LAST_ENDPOINT on stdout, and runs answer_calls(socket) on a
// thread of its own until stdin closes or SIGTERM (serve_bench_requests).
// That thread, named thread_name, asks for the slice serve-junction's
// listener threads ask for given the same slice_ns (junction's default when
// null): the plain pattern's server is scheduled as junction's is. command
// names the sub-command in messages.
int serve_plain(const char* command, zmq::socket_type type, const char* endpoint,
                const char* url_prefix, const char* slice_ns, const char* thread_name,
                const std::function<void(zmq::socket_t&)>& answer_calls) {
  const std::uint64_t slice = resolved_slice_ns(slice_ns == nullptr ? 0 : std::stoull(slice_ns));
  const int sigterm_fd = block_sigterm();
  if (sigterm_fd < 0) {
    std::fprintf(stderr, "%s: signalfd: %s\n", command, errno_text(errno).c_str());
    return 1;
  }
  zmq::context_t context(1);
  zmq::socket_t socket(context, type);
  socket.set(zmq::sockopt::linger, 0);
  try {
    if (const char* secret_key = curve_secret_key(); secret_key != nullptr) {
      socket.set(zmq::sockopt::curve_server, 1);
      socket.set(zmq::sockopt::curve_secretkey, secret_key);
    }
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "%s %s: %s\n", command, endpoint, e.what());
    return 1;
  }
  std::printf("%s%s\n", url_prefix, socket.get(zmq::sockopt::last_endpoint).c_str());
  std::fflush(stdout);
  // The socket moves to this thread (thread creation is a full barrier) and
  // back to main after join; context.shutdown() ends its blocking recv with
  // ETERM.
  std::thread answering([&] {
    junction::detail::name_and_ask_slice(thread_name, slice);
    try {
      answer_calls(socket);
    } catch (const zmq::error_t& e) {
      if (e.num() != ETERM) std::fprintf(stderr, "%s: %s\n", command, e.what());
    }
  });
  serve_bench_requests(sigterm_fd);
  context.shutdown();
  answering.join();
  socket.close();
  close(sigterm_fd);
  return 0;
}

// `serve-reqrep ENDPOINT [SLICE_NS]`: a REP socket answering every request
// with a copy of it (serve_plain).
int serve_reqrep(const char* endpoint, const char* slice_ns) {
  return serve_plain("serve-reqrep", zmq::socket_type::rep, endpoint, "", slice_ns, "bench-rep",
                     [](zmq::socket_t& rep) {
                       zmq::message_t request;
                       for (;;) {
                         if (!rep.recv(request)) continue;
                         zmq::message_t reply(request.data(), request.size());
                         rep.send(reply, zmq::send_flags::none);
                       }
                     });
}

// `serve-wire ENDPOINT [SLICE_NS]`: a ROUTER answering each junction
// request with a copy of its payload, one call at a time with blocking
// libzmq calls: junction's wire without junction's listener (serve_plain;
// the URL it prints is a junction route's, "zmq+" and the endpoint).
// Answers what it cannot read as the listener would, with the decoder's
// status when the call is identified.
int serve_wire(const char* endpoint, const char* slice_ns) {
  return serve_plain("serve-wire", zmq::socket_type::router, endpoint, "zmq+", slice_ns,
                     "bench-wire", [](zmq::socket_t& router) {
                       std::vector<zmq::message_t> frames;
                       std::vector<std::uint8_t> header;
                       for (;;) {
                         frames.clear();
                         do {
                           frames.emplace_back();
                           if (!router.recv(frames.back())) frames.pop_back();
                         } while (frames.empty() || frames.back().more());
                         answer_wire_call(router, frames, header);
                       }
                     });
}

// ---------------------------------------------------------------------------
// Server processes, seen from the bench.

// A server: this binary started with a serve-* sub-command. Its stdin is a
// pipe on which the bench asks for its counters and whose closing tells it
// to exit; its first stdout line is the URL it bound, the next ones answer
// the bench. Its stderr is ours, so its failures are visible.
class ServerProcess {
 public:
  // own_session: the server starts a session of its own (setsid). option:
  // a last argument for the subcommand, or empty for none.
  ServerProcess(const std::string& subcommand, const std::string& url, bool own_session,
                std::string option = {}) {
    std::array<int, 2> in{-1, -1};
    std::array<int, 2> out{-1, -1};
    if (pipe2(in.data(), O_CLOEXEC) != 0 || pipe2(out.data(), O_CLOEXEC) != 0) {
      throw std::runtime_error(std::string("pipe2: ") + errno_text(errno));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    if (own_session) {
      posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
    }
    std::string argv0 = "junction_zmq_bench";
    std::string command = subcommand;
    std::string argument = url;
    std::array<char*, 5> argv = {argv0.data(), command.data(), argument.data(),
                                 option.empty() ? nullptr : option.data(), nullptr};
    const int spawned =
        posix_spawn(&pid_, "/proc/self/exe", &actions, &attributes, argv.data(), environ);
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_fd_ = in[1];
    stdout_fd_ = out[0];
    if (spawned != 0) {
      pid_ = -1;
      close_fds();
      throw std::runtime_error(subcommand + ": posix_spawn: " + errno_text(spawned));
    }
    url_ = read_line(subcommand + " " + url + ": its URL");
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (pid_ > 0) stop();
  }

  [[nodiscard]] const std::string& url() const { return url_; }
  // The server's self_counters(), asked for on its stdin.
  ProcessCounters counters() {
    const std::string_view ask = "usage\n";
    if (write(stdin_fd_, ask.data(), ask.size()) != static_cast<ssize_t>(ask.size())) {
      throw std::runtime_error("server " + url_ +
                               ": cannot ask for its usage: " + errno_text(errno));
    }
    std::istringstream fields(read_line("server " + url_ + ": its usage"));
    ProcessCounters counters;
    if (!(fields >> counters.cpu_ns >> counters.voluntary_switches >>
          counters.involuntary_switches)) {
      throw std::runtime_error("server " + url_ + ": unreadable usage " + fields.str());
    }
    return counters;
  }

  // Closes the server's stdin and waits for it to exit; kills it if it has
  // not exited after kServerStopTimeout. Returns a complaint, empty when it
  // exited with status 0.
  std::string stop() {
    close_fds();
    const auto give_up = std::chrono::steady_clock::now() + kServerStopTimeout;
    int status = 0;
    std::string complaint;
    for (;;) {
      const pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) break;
      if (done < 0) {
        complaint = std::string("waitpid: ") + errno_text(errno);
        break;
      }
      if (std::chrono::steady_clock::now() > give_up) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        complaint = "did not exit within " + std::to_string(kServerStopTimeout.count()) +
                    " s of its stdin closing (killed)";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (complaint.empty() && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      complaint = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                      : "exit status " + std::to_string(WEXITSTATUS(status));
    }
    pid_ = -1;
    return complaint;
  }

 private:
  void close_fds() {
    if (stdin_fd_ >= 0) close(stdin_fd_);
    if (stdout_fd_ >= 0) close(stdout_fd_);
    stdin_fd_ = stdout_fd_ = -1;
  }

  // The server's next stdout line (what names it in errors); stops the
  // server and throws if it does not come within kServerAnswerTimeout.
  std::string read_line(const std::string& what) {
    const auto give_up = std::chrono::steady_clock::now() + kServerAnswerTimeout;
    for (;;) {
      if (const auto end = received_.find('\n'); end != std::string::npos) {
        std::string line = received_.substr(0, end);
        received_.erase(0, end + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          give_up - std::chrono::steady_clock::now());
      pollfd fd = {stdout_fd_, POLLIN, 0};
      if (left.count() <= 0 || poll(&fd, 1, static_cast<int>(left.count())) == 0) {
        stop();
        throw std::runtime_error(what + ": nothing on stdout within " +
                                 std::to_string(kServerAnswerTimeout.count()) + " s");
      }
      std::array<char, 512> chunk{};
      const ssize_t n = read(stdout_fd_, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string complaint = stop();
        throw std::runtime_error(
            std::string(what).append(": the server exited (").append(complaint).append(")"));
      }
      received_.append(chunk.data(), static_cast<std::size_t>(n));
    }
  }

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  std::string received_;  // read from stdout_fd_, not yet returned as a line
  std::string url_;
};

// ---------------------------------------------------------------------------
// Callers.

// Puts seq in the request's first 8 bytes, so that every response can be
// matched to its own request.
void stamp(std::span<std::uint8_t> request, std::uint64_t seq) {
  std::memcpy(request.data(), &seq, sizeof seq);
}

// Checks that response echoes request (which carries seq): its length, its
// first 8 bytes, one byte chosen by seq and the last byte.
bool check_echo(std::span<const std::uint8_t> request, const std::uint8_t* response,
                std::uint64_t response_len, std::uint64_t seq, std::string* error) {
  if (response_len != request.size()) {
    *error = "response of " + std::to_string(response_len) + " bytes to a request of " +
             std::to_string(request.size());
    return false;
  }
  const std::size_t sampled = sizeof seq + (seq * 2654435761U) % (request.size() - sizeof seq);
  if (std::memcmp(response, request.data(), sizeof seq) != 0 ||
      response[sampled] != request[sampled] || response[request.size() - 1] != request.back()) {
    *error = "response to call " + std::to_string(seq) + " differs from its request";
    return false;
  }
  return true;
}

// One caller thread's connection to the server: a call sends request, waits
// for the answer and checks it (check_echo); false with *error set on any
// failure. Made and used on the caller's own thread.
class Caller {
 public:
  Caller() = default;
  Caller(const Caller&) = delete;
  Caller& operator=(const Caller&) = delete;
  virtual ~Caller() = default;
  virtual bool call(std::span<const std::uint8_t> request, std::uint64_t seq,
                    std::string* error) = 0;
};

using CallerFactory = std::function<std::unique_ptr<Caller>()>;

// junction: jn_call on the shared routed handle, with a deadline.
class JunctionCaller final : public Caller {
 public:
  explicit JunctionCaller(const jn_method* method) : method_(method) {}
  bool call(std::span<const std::uint8_t> request, std::uint64_t seq, std::string* error) override {
    jn_result result;
    const std::int64_t deadline = jn_now_ns() + std::chrono::nanoseconds(kCallTimeout).count();
    bool ok =
        jn_call(method_, jn_bytes{request.data(), request.size()}, deadline, &result) == JN_OK;
    if (!ok) *error = "jn_call: " + status_text(result.status);
    ok = ok && check_echo(request, result.response.data, result.response.len, seq, error);
    jn_result_release(&result);
    return ok;
  }

 private:
  const jn_method* method_;
};

// A caller thread's own socket of type on endpoint, its sends and receives
// giving up after kCallTimeout; with CURVE when curve is not null.
zmq::socket_t caller_socket(zmq::context_t& context, zmq::socket_type type,
                            const std::string& endpoint, const CurveClientKeys* curve) {
  zmq::socket_t socket(context, type);
  const int timeout_ms = static_cast<int>(std::chrono::milliseconds(kCallTimeout).count());
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::sndtimeo, timeout_ms);
  socket.set(zmq::sockopt::rcvtimeo, timeout_ms);
  if (curve != nullptr) {
    socket.set(zmq::sockopt::curve_serverkey, curve->server_public_key);
    socket.set(zmq::sockopt::curve_publickey, curve->public_key);
    socket.set(zmq::sockopt::curve_secretkey, curve->secret_key);
  }
  socket.connect(endpoint);
  return socket;
}

// REQ/REP: one REQ socket per caller thread.
class ReqCaller final : public Caller {
 public:
  ReqCaller(zmq::context_t& context, const std::string& endpoint, const CurveClientKeys* curve)
      : socket_(caller_socket(context, zmq::socket_type::req, endpoint, curve)) {}
  bool call(std::span<const std::uint8_t> request, std::uint64_t seq, std::string* error) override {
    try {
      if (!socket_.send(zmq::buffer(request.data(), request.size()), zmq::send_flags::none)) {
        *error = "REQ send timed out";
        return false;
      }
      zmq::message_t reply;
      if (!socket_.recv(reply)) {
        *error = "REQ receive timed out";
        return false;
      }
      return check_echo(request, reply.data<std::uint8_t>(), reply.size(), seq, error);
    } catch (const zmq::error_t& e) {
      *error = std::string("REQ: ") + e.what();
      return false;
    }
  }

 private:
  zmq::socket_t socket_;
};

// junction's wire without junction's caller: one DEALER socket per caller
// thread, each call a request header and payload (docs/wire.md) answered
// before the next is sent, with blocking libzmq calls.
class WireCaller final : public Caller {
 public:
  WireCaller(zmq::context_t& context, const std::string& endpoint, const CurveClientKeys* curve)
      : socket_(caller_socket(context, zmq::socket_type::dealer, endpoint, curve)) {}
  bool call(std::span<const std::uint8_t> request, std::uint64_t seq, std::string* error) override {
    try {
      const std::int64_t timeout_ns = std::chrono::nanoseconds(kCallTimeout).count();
      if (!junction::wire::encode_request(seq, timeout_ns, kService, kMethod, request.size(),
                                          header_)) {
        *error = "cannot encode the request header";
        return false;
      }
      if (!socket_.send(zmq::buffer(header_), zmq::send_flags::sndmore) ||
          !socket_.send(zmq::buffer(request.data(), request.size()), zmq::send_flags::none)) {
        *error = "DEALER send timed out";
        return false;
      }
      zmq::message_t answer_header;
      zmq::message_t payload;
      if (!socket_.recv(answer_header) || !answer_header.more() || !socket_.recv(payload)) {
        *error = "DEALER receive timed out or the answer is not two frames";
        return false;
      }
      const junction::wire::Decoded decoded = junction::wire::decode_header(
          {answer_header.data<std::uint8_t>(), answer_header.size()}, payload.size(), {});
      if (!decoded.header || decoded.header->kind != junction::wire::Kind::response ||
          decoded.header->call_id != seq || decoded.header->code != JN_OK) {
        *error = "unexpected answer: ";
        if (decoded.header) {
          error->append(jn_status_name(decoded.header->code)).append(" ");
          error->append(decoded.header->message);
        } else {
          error->append(decoded.error.message);
        }
        return false;
      }
      return check_echo(request, payload.data<std::uint8_t>(), payload.size(), seq, error);
    } catch (const zmq::error_t& e) {
      *error = std::string("DEALER: ") + e.what();
      return false;
    }
  }

 private:
  zmq::socket_t socket_;
  std::vector<std::uint8_t> header_;
};

// ---------------------------------------------------------------------------
// Running one case.

// junction_caller and junction_listener run with --split only.
enum class Path { reqrep, junction, junction_caller, junction_listener };
constexpr std::size_t kPathCount = 4;
enum class Transport { ipc, tcp };

// Each path's name in the tables and its key in the JSON, in Path's order.
struct PathNames {
  std::string_view name;
  std::string_view key;
};
constexpr std::array<PathNames, kPathCount> kPathNames = {{
    {"REQ/REP", "reqrep"},
    {"junction", "junction"},
    {"junction caller, wire ROUTER", "junction_caller"},
    {"wire DEALER, junction listener", "junction_listener"},
}};
std::string_view path_name(Path path) { return kPathNames[static_cast<std::size_t>(path)].name; }
std::string_view path_key(Path path) { return kPathNames[static_cast<std::size_t>(path)].key; }
std::string_view transport_name(Transport transport) {
  return transport == Transport::ipc ? "ipc" : "tcp";
}
std::string payload_name(std::size_t bytes) {
  return bytes % 1024 == 0 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " B";
}

std::string case_name(Path path, Transport transport, std::size_t payload, int callers) {
  return std::string(path_name(path)) + ", " + std::string(transport_name(transport)) + ", " +
         payload_name(payload) + ", " + std::to_string(callers) +
         (callers == 1 ? " caller" : " callers");
}

struct Timing {
  double seconds;  // per case and path: its rounds' measured time together
  int rounds;
  double warmup_seconds;  // per round, likewise below
  double measure_seconds;
  // Whether the run is too short for its verdicts to be more than
  // indicative.
  [[nodiscard]] bool indicative_only() const { return seconds < kConclusiveSeconds; }
};

// seconds per case and path in rounds of about kRoundSeconds (at least
// kMinRounds), each warming up for a fifth of its measured time.
Timing timing_for(double seconds) {
  const int rounds = std::max(kMinRounds, static_cast<int>(std::lround(seconds / kRoundSeconds)));
  return {seconds, rounds, seconds / 5 / rounds, seconds / rounds};
}

struct Latency {
  std::uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
  double mean = 0;
};

// A round's p50 when it completed no call (a real call takes at least 1 ns).
constexpr std::uint64_t kNoCallsInRound = 0;

struct CaseResult {
  Path path = Path::reqrep;
  Transport transport = Transport::ipc;
  std::size_t payload = 0;
  int callers = 0;
  std::uint64_t calls = 0;
  double seconds = 0;
  Latency latency;                        // ns
  std::vector<std::uint64_t> round_p50s;  // ns, each round's own p50 (or kNoCallsInRound)
  double client_cpu_ns = 0;               // per call, likewise below
  double server_cpu_ns = 0;
  double client_voluntary = 0, client_involuntary = 0;
  double server_voluntary = 0, server_involuntary = 0;

  [[nodiscard]] double throughput() const { return static_cast<double>(calls) / seconds; }
  [[nodiscard]] std::string name() const { return case_name(path, transport, payload, callers); }
};

// What the caller threads and the thread timing them share.
class RunControl {
 public:
  static constexpr int kWarmup = 0;
  static constexpr int kMeasure = 1;
  static constexpr int kStop = 2;

  [[nodiscard]] int phase() const { return phase_.load(std::memory_order_acquire); }
  void set_phase(int phase) { phase_.store(phase, std::memory_order_release); }

  // Records a caller's failure and stops every caller.
  void fail(std::string error) {
    {
      const std::lock_guard lock(mutex_);
      if (error_.empty()) error_ = std::move(error);
    }
    set_phase(kStop);
    wake_.notify_all();
  }
  // Sleeps for seconds, or until a caller fails; false if one did.
  bool sleep(double seconds) {
    std::unique_lock lock(mutex_);
    return !wake_.wait_for(lock, std::chrono::duration<double>(seconds),
                           [this] { return !error_.empty(); });
  }
  [[nodiscard]] std::string error() {
    const std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  std::atomic<int> phase_{kWarmup};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::string error_;
};

// One caller thread: makes its Caller, waits for every caller to be ready,
// then calls until the phase is kStop, recording the latency of each call
// that started in the measured phase.
void caller_thread(RunControl& control, std::latch& ready, const CallerFactory& make_caller,
                   std::size_t payload, int index, double measure_seconds,
                   std::vector<std::uint64_t>& latencies) {
  std::unique_ptr<Caller> caller;
  try {
    caller = make_caller();
  } catch (const std::exception& e) {
    control.fail(std::string("connecting: ") + e.what());
  }
  ready.arrive_and_wait();
  if (!caller) return;
  std::vector<std::uint8_t> request(payload);
  for (std::size_t i = 0; i < request.size(); ++i) {
    request[i] = static_cast<std::uint8_t>(i * 131 + static_cast<std::size_t>(index) * 17 + 7);
  }
  const std::int64_t warmup_start = now_ns();
  std::uint64_t warmup_calls = 0;
  bool reserved = false;
  std::string error;
  for (std::uint64_t seq = 0;; ++seq) {
    const int phase = control.phase();
    if (phase == RunControl::kStop) break;
    if (phase == RunControl::kMeasure && !reserved) {
      // Room for the measured calls at half again the warm-up's rate, so
      // that growing the vector does not land in the latencies.
      const double rate = static_cast<double>(warmup_calls + 1) /
                          (static_cast<double>(now_ns() - warmup_start) * 1e-9);
      latencies.reserve(static_cast<std::size_t>(std::min(rate * measure_seconds * 1.5, 5e7)));
      reserved = true;
    }
    stamp(request, seq);
    const std::int64_t start = now_ns();
    if (!caller->call(request, seq, &error)) {
      control.fail(std::move(error));
      break;
    }
    const std::int64_t end = now_ns();
    if (phase == RunControl::kMeasure) {
      latencies.push_back(static_cast<std::uint64_t>(end - start));
    } else {
      ++warmup_calls;
    }
  }
}

Latency summarize(std::vector<std::uint64_t>& samples) {
  Latency latency;
  if (samples.empty()) return latency;
  std::sort(samples.begin(), samples.end());
  // Nearest rank: the smallest sample with at least q of them at or below.
  const auto rank = [&samples](double q) {
    const auto n = static_cast<double>(samples.size());
    const auto index = static_cast<std::size_t>(std::max(1.0, std::ceil(q * n))) - 1;
    return samples[std::min(index, samples.size() - 1)];
  };
  latency.p50 = rank(0.50);
  latency.p90 = rank(0.90);
  latency.p99 = rank(0.99);
  latency.p999 = rank(0.999);
  latency.max = samples.back();
  double sum = 0;
  for (const auto sample : samples) sum += static_cast<double>(sample);
  latency.mean = sum / static_cast<double>(samples.size());
  return latency;
}

// A case's rounds so far: every call's latency, how long the calls were
// timed, and what the client and server processes spent meanwhile.
struct PooledRounds {
  std::vector<std::uint64_t> latencies;
  std::vector<std::uint64_t> round_p50s;
  std::int64_t ns = 0;
  ProcessCounters client;
  ProcessCounters server;
};

// Adds what was spent between before and after to total.
void add_spent(ProcessCounters& total, const ProcessCounters& before,
               const ProcessCounters& after) {
  total.cpu_ns += after.cpu_ns - before.cpu_ns;
  total.voluntary_switches += after.voluntary_switches - before.voluntary_switches;
  total.involuntary_switches += after.involuntary_switches - before.involuntary_switches;
}

// Runs one round of a case against server and adds it to pooled; throws if
// any call failed. name names the case in errors.
void run_round(const std::string& name, std::size_t payload, int callers,
               const CallerFactory& make_caller, ServerProcess& server, const Timing& timing,
               PooledRounds& pooled) {
  RunControl control;
  std::latch ready(callers + 1);
  std::vector<std::vector<std::uint64_t>> latencies(static_cast<std::size_t>(callers));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(callers));
  for (int i = 0; i < callers; ++i) {
    threads.emplace_back(caller_thread, std::ref(control), std::ref(ready), std::cref(make_caller),
                         payload, i, timing.measure_seconds,
                         std::ref(latencies[static_cast<std::size_t>(i)]));
  }
  ready.arrive_and_wait();
  ProcessCounters client_before;
  ProcessCounters server_before;
  std::int64_t start = 0;
  // Nothing may leave this function before the threads are joined.
  try {
    if (control.sleep(timing.warmup_seconds)) {
      client_before = self_counters();
      server_before = server.counters();
      start = now_ns();
      control.set_phase(RunControl::kMeasure);
      control.sleep(timing.measure_seconds);
    }
  } catch (const std::exception& e) {
    control.fail(std::string("reading the counters: ") + e.what());
  }
  control.set_phase(RunControl::kStop);
  for (auto& thread : threads) thread.join();
  const std::int64_t end = now_ns();
  if (const std::string error = control.error(); !error.empty()) {
    throw std::runtime_error(name + ": " + error);
  }
  add_spent(pooled.client, client_before, self_counters());
  add_spent(pooled.server, server_before, server.counters());
  std::vector<std::uint64_t> round;
  for (const auto& thread_latencies : latencies) {
    round.insert(round.end(), thread_latencies.begin(), thread_latencies.end());
  }
  pooled.latencies.insert(pooled.latencies.end(), round.begin(), round.end());
  pooled.round_p50s.push_back(summarize(round).p50);
  pooled.ns += end - start;
}

// A case's figures from its rounds, pooled.
CaseResult case_result(Path path, Transport transport, std::size_t payload, int callers,
                       PooledRounds& rounds) {
  CaseResult result;
  result.path = path;
  result.transport = transport;
  result.payload = payload;
  result.callers = callers;
  result.calls = rounds.latencies.size();
  if (result.calls == 0) throw std::runtime_error(result.name() + ": no call completed");
  result.seconds = static_cast<double>(rounds.ns) * 1e-9;
  result.latency = summarize(rounds.latencies);
  result.round_p50s = rounds.round_p50s;
  const auto calls = static_cast<double>(result.calls);
  const auto per_call = [calls](std::uint64_t total) { return static_cast<double>(total) / calls; };
  result.client_cpu_ns = per_call(rounds.client.cpu_ns);
  result.server_cpu_ns = per_call(rounds.server.cpu_ns);
  result.client_voluntary = per_call(rounds.client.voluntary_switches);
  result.client_involuntary = per_call(rounds.client.involuntary_switches);
  result.server_voluntary = per_call(rounds.server.voluntary_switches);
  result.server_involuntary = per_call(rounds.server.involuntary_switches);
  return result;
}

// ---------------------------------------------------------------------------
// The machine, and the reports.

struct Machine {
  std::string date;
  std::string commit;
  std::string cpu_model;
  long cpus = 0;
  std::string memory;
  std::string kernel;
  std::string compiler;
  std::string libzmq;
  std::string cppzmq;
  std::string junction_abi;
  std::string build_type = JN_BENCH_BUILD_TYPE;
  std::string load_before;
  std::string load_after;
};

std::string fixed(double value, int decimals) {
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*f", decimals, value);
  return text.data();
}

// A ratio judged against target, to 2 decimals or as many more (up to 4)
// as it takes not to read as the target when it is not: a missed 2.998x
// shows as 2.998, not as 3.00 beside "missed".
std::string ratio_beside(double ratio, double target) {
  int decimals = 2;
  while (decimals < 4 && ratio != target && fixed(ratio, decimals) == fixed(target, decimals)) {
    ++decimals;
  }
  return fixed(ratio, decimals);
}

// The 1-, 5- and 15-minute load averages.
std::string load_average() {
  std::istringstream text(junction::bench::file_text("/proc/loadavg"));
  std::string one;
  std::string five;
  std::string fifteen;
  text >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

Machine describe_machine() {
  Machine machine;
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> date{};
  std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  machine.date = date.data();
  machine.commit = junction::bench::source_commit();
  machine.cpu_model = junction::bench::cpu_model();
  machine.cpus = sysconf(_SC_NPROCESSORS_ONLN);
  // MemTotal reads "N kB".
  const std::string memory =
      junction::bench::text_field(junction::bench::file_text("/proc/meminfo"), "MemTotal");
  machine.memory = !memory.empty() && std::isdigit(static_cast<unsigned char>(memory.front()))
                       ? fixed(std::stod(memory) / (1024.0 * 1024.0), 1) + " GiB"
                       : memory;
  machine.kernel = junction::bench::kernel();
  machine.compiler = junction::bench::compiler();
  int major = 0;
  int minor = 0;
  int patch = 0;
  zmq_version(&major, &minor, &patch);
  machine.libzmq =
      std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
  machine.cppzmq = std::to_string(CPPZMQ_VERSION_MAJOR) + "." +
                   std::to_string(CPPZMQ_VERSION_MINOR) + "." +
                   std::to_string(CPPZMQ_VERSION_PATCH);
  const std::uint32_t abi = jn_abi_version();
  machine.junction_abi = std::to_string(JN_ABI_VERSION_MAJOR_OF(abi)) + "." +
                         std::to_string(JN_ABI_VERSION_MINOR_OF(abi));
  machine.load_before = load_average();
  return machine;
}

std::string micros(std::uint64_t ns) { return fixed(static_cast<double>(ns) * 1e-3, 1); }
std::string met(bool ok) { return ok ? "met" : "**missed**"; }

// The paths' results for one (transport, payload, callers); the split
// paths' are null without --split.
struct Pair {
  const CaseResult* reqrep = nullptr;
  const CaseResult* junction = nullptr;
  const CaseResult* junction_caller = nullptr;
  const CaseResult* junction_listener = nullptr;
  // junction's pooled p50 over REQ/REP's: shown, not judged (a slow round
  // completes fewer calls and weighs less in both pools).
  [[nodiscard]] double pooled_p50_ratio() const {
    return static_cast<double>(junction->latency.p50) / static_cast<double>(reqrep->latency.p50);
  }
  // Each round's junction p50 over the REQ/REP p50 of the same round (the
  // two ran back to back), sorted: how far the machine's drift moves the
  // ratio in one run. A round in which either path completed no call (a
  // very short round on a loaded machine) has no ratio.
  [[nodiscard]] std::vector<double> round_ratios() const {
    std::vector<double> ratios;
    for (std::size_t i = 0; i < junction->round_p50s.size() && i < reqrep->round_p50s.size(); ++i) {
      if (junction->round_p50s[i] == kNoCallsInRound || reqrep->round_p50s[i] == kNoCallsInRound) {
        continue;
      }
      ratios.push_back(static_cast<double>(junction->round_p50s[i]) /
                       static_cast<double>(reqrep->round_p50s[i]));
    }
    std::sort(ratios.begin(), ratios.end());
    return ratios;
  }
  // The median of round_ratios(), on which the p50 target is judged: each
  // round compares the two paths in one state of the machine. None when no
  // round has a ratio.
  [[nodiscard]] std::optional<double> median_round_ratio() const {
    const std::vector<double> sorted = round_ratios();
    if (sorted.empty()) return std::nullopt;
    const std::size_t half = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
  }
  [[nodiscard]] bool p50_met() const {
    const std::optional<double> median = median_round_ratio();
    return median && *median <= kP50RatioTarget;
  }
};

// "lowest-highest" of sorted ratios; "-" for none.
std::string range(const std::vector<double>& sorted) {
  return sorted.empty() ? "-" : fixed(sorted.front(), 2) + "-" + fixed(sorted.back(), 2);
}

// junction's and REQ/REP's throughput with 8 callers over 1 caller, for
// one (transport, payload).
struct Scaling {
  Transport transport;
  std::size_t payload;
  double junction = 0;
  double reqrep = 0;
};

struct Report {
  Machine machine;
  Timing timing{};
  std::string command;
  bool same_session = false;
  bool curve = false;
  std::uint64_t thread_slice_ns = 0;  // the servers' slice, as Options has it
  std::vector<CaseResult> cases;
  std::vector<Pair> pairs;
  std::vector<Scaling> scaling;
};

void pair_up(Report& report) {
  const auto find_run = [&report](Path path, Transport transport, std::size_t payload,
                                  int callers) -> const CaseResult* {
    for (const auto& c : report.cases) {
      if (c.path == path && c.transport == transport && c.payload == payload &&
          c.callers == callers) {
        return &c;
      }
    }
    return nullptr;
  };
  const auto find = [&find_run](Path path, Transport transport, std::size_t payload, int callers) {
    const CaseResult* found = find_run(path, transport, payload, callers);
    if (found == nullptr) throw std::logic_error("a case is missing from the report");
    return found;
  };
  for (const Transport transport : {Transport::ipc, Transport::tcp}) {
    for (const std::size_t payload : kPayloads) {
      for (const int callers : kCallerCounts) {
        report.pairs.push_back({find(Path::reqrep, transport, payload, callers),
                                find(Path::junction, transport, payload, callers),
                                find_run(Path::junction_caller, transport, payload, callers),
                                find_run(Path::junction_listener, transport, payload, callers)});
      }
      const auto ratio = [&](Path path) {
        return find(path, transport, payload, kCallerCounts.back())->throughput() /
               find(path, transport, payload, kCallerCounts.front())->throughput();
      };
      report.scaling.push_back({transport, payload, ratio(Path::junction), ratio(Path::reqrep)});
    }
  }
}

// The slice every server's answering threads ask for, in words.
std::string slice_text(std::uint64_t slice_ns) {
  if (slice_ns == JN_THREAD_SLICE_INHERITED) {
    return "none, so they keep the kernel's default (`--thread-slice inherit`)";
  }
  if (slice_ns == 0) {
    return fixed(static_cast<double>(junction::detail::kDefaultSliceNs) * 1e-6, 2) +
           " ms, junction's default";
  }
  return fixed(static_cast<double>(slice_ns) * 1e-6, 2) + " ms (`--thread-slice`)";
}

// What a short run's verdicts carry: how long it ran, and the run to make
// for conclusions.
std::string indicative_caveat(const Timing& timing) {
  const Timing conclusive = timing_for(kConclusiveSeconds);
  return "**Verdicts indicative only: a short run.** Each case ran " +
         std::to_string(timing.rounds) + " rounds of " + fixed(timing.measure_seconds, 2) +
         " s per path, each after " + fixed(timing.warmup_seconds, 2) +
         " s of warm-up; runs this short of one build flip verdicts. For conclusions run "
         "`--seconds " +
         fixed(kConclusiveSeconds, 0) + "` or longer (" + std::to_string(conclusive.rounds) +
         " rounds of " + fixed(conclusive.measure_seconds, 2) +
         " s; `JUNCTION_ZMQ_SECONDS=" + fixed(kConclusiveSeconds, 0) + " scripts/run.sh`).\n\n";
}

std::string markdown(const Report& report) {
  const Machine& m = report.machine;
  const bool split = !report.pairs.empty() && report.pairs.front().junction_caller != nullptr;
  const bool indicative = report.timing.indicative_only();
  std::ostringstream out;
  out << "## junction over ZeroMQ against plain REQ/REP" << (report.curve ? ", with CURVE" : "")
      << "\n\n"
      << "Run " << m.date << " at commit " << m.commit << " on " << m.cpu_model << ", " << m.cpus
      << " CPUs, " << m.memory << ", " << m.kernel << "; " << m.compiler << ", " << m.build_type
      << " build, libzmq " << m.libzmq << ", cppzmq " << m.cppzmq << ", junction ABI "
      << m.junction_abi << ". Load average " << m.load_before << " before the run, " << m.load_after
      << " after.\n\n"
      << "`" << report.command << "`: each case runs in " << report.timing.rounds
      << " rounds, the paths taking turns (which one goes first rotates), and a payload's "
      << kCallerCounts.front() << "-caller and " << kCallerCounts.back()
      << "-caller rounds alternate (which goes first alternating too); a round warms up for "
      << fixed(report.timing.warmup_seconds, 2) << " s, then calls for "
      << fixed(report.timing.measure_seconds, 2)
      << " s. A case's p50s, p99s and calls/s pool its rounds. The p50 target is judged on the "
         "median of the round ratios (each round's junction p50 over the REQ/REP p50 of the "
         "same round, leaving out rounds in which either completed no call): the two paths of a "
         "round run back to back in one state of the machine, while a pool weighs each round by "
         "its calls, so a slow round (each caller waits for its answer: fewer calls) counts for "
         "less and the ratio of the pooled p50s, shown beside, can disagree with every round's. "
         "The range of the round ratios shows how much the machine moved during the run. The "
         "server is another process (this binary)"
      << (report.same_session ? ", in the bench's session (`--same-session`)"
                              : ", in a session of its own as a separate service is")
      << ", answering a copy of the request on both paths; REQ/REP callers each have a REQ socket "
         "on one REP socket, junction callers share one routed handle (`jn_call` with a "
         "deadline)"
      << (report.curve ? "; every connection of both paths is encrypted with CURVE (`--curve`)"
                       : "")
      << ". Every server's threads that answer calls (junction's listener threads, the REP "
         "socket's thread"
      << (split ? ", the wire ROUTER's thread" : "")
      << ") ask the kernel for the same scheduler slice: " << slice_text(report.thread_slice_ns)
      << "; the callers keep the kernel's default on every path. Latencies in us at the caller, "
         "every call recorded; ratios are junction over REQ/REP.\n\n";

  if (indicative) out << indicative_caveat(report.timing);
  out << "| transport | payload | callers | REQ/REP p50, pooled | junction p50, pooled | "
         "pooled p50 ratio | round ratios, median | round ratios, range | median <= "
      << fixed(kP50RatioTarget, 2) << (indicative ? " (indicative)" : "")
      << " | REQ/REP p99 | junction p99 | REQ/REP calls/s | junction calls/s |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n";
  int p50_met = 0;
  for (const auto& pair : report.pairs) {
    const CaseResult& r = *pair.reqrep;
    const CaseResult& j = *pair.junction;
    const std::optional<double> median = pair.median_round_ratio();
    p50_met += pair.p50_met() ? 1 : 0;
    out << "| " << transport_name(r.transport) << " | " << payload_name(r.payload) << " | "
        << r.callers << " | " << micros(r.latency.p50) << " | " << micros(j.latency.p50) << " | "
        << fixed(pair.pooled_p50_ratio(), 2) << " | "
        << (median ? ratio_beside(*median, kP50RatioTarget) : "-") << " | "
        << range(pair.round_ratios()) << " | " << (median ? met(pair.p50_met()) : "no round ratio")
        << " | " << micros(r.latency.p99) << " | " << micros(j.latency.p99) << " | "
        << fixed(r.throughput(), 0) << " | " << fixed(j.throughput(), 0) << " |\n";
  }

  out << "\nThroughput with " << kCallerCounts.back() << " callers over " << kCallerCounts.front()
      << " caller, each pooled over its rounds, which alternate (target for junction: at least "
      << fixed(kThroughputRatioTarget, 0) << "x"
      << (indicative ? "; verdicts indicative only, a short run as above" : "") << "):\n\n"
      << "| transport | payload | junction | target | REQ/REP |\n|---|---:|---:|---|---:|\n";
  int scaling_met = 0;
  for (const auto& s : report.scaling) {
    const bool ok = s.junction >= kThroughputRatioTarget;
    scaling_met += ok ? 1 : 0;
    out << "| " << transport_name(s.transport) << " | " << payload_name(s.payload) << " | "
        << ratio_beside(s.junction, kThroughputRatioTarget) << "x | " << met(ok) << " | "
        << fixed(s.reqrep, 2) << "x |\n";
  }
  out << "\nTargets in this run" << (indicative ? " (indicative only: a short run, see above)" : "")
      << ": p50 ratio, median of the rounds, <= " << fixed(kP50RatioTarget, 2) << " met in "
      << p50_met << " of " << report.pairs.size()
      << " cases; junction throughput ratio >= " << fixed(kThroughputRatioTarget, 0) << "x met in "
      << scaling_met << " of " << report.scaling.size() << ".\n\n";

  if (split) {
    out << "Where junction's extra time goes (`--split`): each side of junction against a plain "
           "peer speaking junction's wire with blocking libzmq calls, as REQ/REP does (a "
           "ROUTER answering one call at a time; callers each owning a DEALER socket). p50 in "
           "us, pooled, with its difference from the REQ/REP p50 of the same run:\n\n"
        << "| transport | payload | callers | REQ/REP | junction caller, wire ROUTER | "
           "wire DEALER, junction listener | junction (both sides) |\n"
        << "|---|---:|---:|---:|---:|---:|---:|\n";
    const auto over_reqrep = [](const CaseResult& c, const CaseResult& reqrep) {
      const double difference =
          (static_cast<double>(c.latency.p50) - static_cast<double>(reqrep.latency.p50)) * 1e-3;
      return micros(c.latency.p50) + " (" + (difference >= 0 ? "+" : "") + fixed(difference, 1) +
             ")";
    };
    for (const auto& pair : report.pairs) {
      const CaseResult& r = *pair.reqrep;
      out << "| " << transport_name(r.transport) << " | " << payload_name(r.payload) << " | "
          << r.callers << " | " << micros(r.latency.p50) << " | "
          << over_reqrep(*pair.junction_caller, r) << " | "
          << over_reqrep(*pair.junction_listener, r) << " | " << over_reqrep(*pair.junction, r)
          << " |\n";
    }
    out << "\n";
  }

  out << "Every case (latency in us; CPU time in us per call, of this process and of the "
         "server process, both from getrusage; context switches per call, "
         "voluntary/involuntary, summed over all threads):\n\n"
      << "| path | transport | payload | callers | calls | p50 | p90 | p99 | p99.9 | max | "
         "calls/s | client CPU | server CPU | client switches | server switches |\n"
      << "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& pair : report.pairs) {
    for (const CaseResult* c :
         {pair.reqrep, pair.junction, pair.junction_caller, pair.junction_listener}) {
      if (c == nullptr) continue;
      out << "| " << path_name(c->path) << " | " << transport_name(c->transport) << " | "
          << payload_name(c->payload) << " | " << c->callers << " | " << c->calls << " | "
          << micros(c->latency.p50) << " | " << micros(c->latency.p90) << " | "
          << micros(c->latency.p99) << " | " << micros(c->latency.p999) << " | "
          << micros(c->latency.max) << " | " << fixed(c->throughput(), 0) << " | "
          << fixed(c->client_cpu_ns * 1e-3, 1) << " | " << fixed(c->server_cpu_ns * 1e-3, 1)
          << " | " << fixed(c->client_voluntary, 2) << "/" << fixed(c->client_involuntary, 2)
          << " | " << fixed(c->server_voluntary, 2) << "/" << fixed(c->server_involuntary, 2)
          << " |\n";
    }
  }
  return out.str();
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          std::array<char, 8> escaped{};
          std::snprintf(escaped.data(), escaped.size(), "\\u%04x", ch);
          out += escaped.data();
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// A JSON array of values, each written as format(value).
template <class T, class Format>
std::string json_array(const std::vector<T>& values, Format format) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    out.append(i == 0 ? "" : ", ").append(format(values[i]));
  }
  return out + "]";
}

std::string json(const Report& report) {
  const Machine& m = report.machine;
  std::ostringstream out;
  out << "{\n  \"benchmark\": \"junction_zmq_bench\",\n"
      << "  \"command\": " << json_string(report.command) << ",\n"
      << "  \"commit\": " << json_string(m.commit) << ",\n"
      << "  \"date\": " << json_string(m.date) << ",\n"
      << "  \"seconds\": " << report.timing.seconds << ",\n"
      << "  \"rounds\": " << report.timing.rounds << ",\n"
      << "  \"warmup_seconds\": " << report.timing.warmup_seconds << ",\n"
      << "  \"measure_seconds\": " << report.timing.measure_seconds << ",\n"
      << "  \"servers_in_own_session\": " << (report.same_session ? "false" : "true") << ",\n"
      << "  \"curve\": " << (report.curve ? "true" : "false") << ",\n"
      << "  \"server_thread_slice_ns\": "
      << (report.thread_slice_ns == JN_THREAD_SLICE_INHERITED
              ? std::string("null")
              : std::to_string(resolved_slice_ns(report.thread_slice_ns)))
      << ",\n"
      << R"(  "machine": {"cpu_model": )" << json_string(m.cpu_model) << ", \"cpus\": " << m.cpus
      << ", \"memory\": " << json_string(m.memory) << ", \"kernel\": " << json_string(m.kernel)
      << ", \"compiler\": " << json_string(m.compiler)
      << ", \"build_type\": " << json_string(m.build_type)
      << ", \"libzmq\": " << json_string(m.libzmq) << ", \"cppzmq\": " << json_string(m.cppzmq)
      << ", \"junction_abi\": " << json_string(m.junction_abi)
      << ", \"load_average_before\": " << json_string(m.load_before)
      << ", \"load_average_after\": " << json_string(m.load_after) << "},\n"
      << "  \"cases\": [\n";
  for (std::size_t i = 0; i < report.cases.size(); ++i) {
    const CaseResult& c = report.cases[i];
    out << "    {\"path\": " << json_string(path_key(c.path))
        << ", \"transport\": " << json_string(transport_name(c.transport))
        << ", \"payload_bytes\": " << c.payload << ", \"callers\": " << c.callers
        << ", \"calls\": " << c.calls << ", \"seconds\": " << fixed(c.seconds, 6)
        << ", \"calls_per_second\": " << fixed(c.throughput(), 1) << R"(, "latency_ns": {"p50": )"
        << c.latency.p50 << ", \"p90\": " << c.latency.p90 << ", \"p99\": " << c.latency.p99
        << ", \"p99_9\": " << c.latency.p999 << ", \"max\": " << c.latency.max
        << ", \"mean\": " << fixed(c.latency.mean, 1) << "}"
        << ", \"round_p50_ns\": "
        << json_array(c.round_p50s,
                      [](std::uint64_t ns) {
                        return ns == kNoCallsInRound ? std::string("null") : std::to_string(ns);
                      })
        << ", \"client_cpu_ns_per_call\": " << fixed(c.client_cpu_ns, 1)
        << ", \"server_cpu_ns_per_call\": " << fixed(c.server_cpu_ns, 1)
        << R"(, "client_context_switches_per_call": {"voluntary": )" << fixed(c.client_voluntary, 4)
        << ", \"involuntary\": " << fixed(c.client_involuntary, 4)
        << R"(}, "server_context_switches_per_call": {"voluntary": )"
        << fixed(c.server_voluntary, 4) << ", \"involuntary\": " << fixed(c.server_involuntary, 4)
        << "}}" << (i + 1 < report.cases.size() ? "," : "") << "\n";
  }
  out << "  ],\n  \"targets\": {\n    \"indicative_only\": "
      << (report.timing.indicative_only() ? "true" : "false")
      << ",\n    \"p50_ratio_max\": " << fixed(kP50RatioTarget, 2)
      << ",\n    \"throughput_ratio_min\": " << fixed(kThroughputRatioTarget, 1)
      << ",\n    \"p50\": [\n";
  bool all_met = true;
  for (std::size_t i = 0; i < report.pairs.size(); ++i) {
    const Pair& pair = report.pairs[i];
    const bool ok = pair.p50_met();
    const std::optional<double> median = pair.median_round_ratio();
    all_met = all_met && ok;
    out << "      {\"transport\": " << json_string(transport_name(pair.junction->transport))
        << ", \"payload_bytes\": " << pair.junction->payload
        << ", \"callers\": " << pair.junction->callers
        << ", \"pooled_ratio\": " << fixed(pair.pooled_p50_ratio(), 4)
        << ", \"median_round_ratio\": " << (median ? fixed(*median, 4) : "null")
        << ", \"round_ratios\": "
        << json_array(pair.round_ratios(), [](double ratio) { return fixed(ratio, 4); })
        << ", \"met\": " << (ok ? "true" : "false") << "}"
        << (i + 1 < report.pairs.size() ? "," : "") << "\n";
  }
  out << "    ],\n    \"throughput\": [\n";
  for (std::size_t i = 0; i < report.scaling.size(); ++i) {
    const Scaling& s = report.scaling[i];
    const bool ok = s.junction >= kThroughputRatioTarget;
    all_met = all_met && ok;
    out << "      {\"transport\": " << json_string(transport_name(s.transport))
        << ", \"payload_bytes\": " << s.payload << ", \"junction_ratio\": " << fixed(s.junction, 4)
        << ", \"reqrep_ratio\": " << fixed(s.reqrep, 4) << ", \"met\": " << (ok ? "true" : "false")
        << "}" << (i + 1 < report.scaling.size() ? "," : "") << "\n";
  }
  out << "    ],\n    \"all_met\": " << (all_met ? "true" : "false") << "\n  }\n}\n";
  return out.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// ---------------------------------------------------------------------------
// The bench.

// A client jn_host with "bench" routed to url and "bench"/"echo" resolved.
class JunctionClient {
 public:
  // With CURVE when curve is not null (the route makes its own pair).
  JunctionClient(const std::string& url, const CurveClientKeys* curve) {
    jn_status status{};
    const std::string service(kService);
    const std::string method(kMethod);
    jn_route_options route_options{};
    route_options.struct_size = sizeof route_options;
    route_options.curve_server_key = curve != nullptr ? curve->server_public_key.c_str() : nullptr;
    if (jn_host_new(nullptr, &host_, &status) != JN_OK ||
        jn_host_route(host_, service.c_str(), url.c_str(), &route_options, &status) != JN_OK ||
        jn_host_resolve(host_, service.c_str(), method.c_str(), &method_, &status) != JN_OK) {
      const std::string reason = status_text(status);
      jn_status_release(&status);
      jn_host_free(host_);
      throw std::runtime_error("junction client for " + url + ": " + reason);
    }
  }
  JunctionClient(const JunctionClient&) = delete;
  JunctionClient& operator=(const JunctionClient&) = delete;
  ~JunctionClient() {
    jn_method_free(method_);
    jn_host_free(host_);
  }
  [[nodiscard]] const jn_method* method() const { return method_; }

 private:
  jn_host* host_ = nullptr;
  jn_method* method_ = nullptr;
};

// A fresh directory for the ipc sockets, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    // No thread of the bench changes the environment.
    const char* base = std::getenv("TMPDIR");  // NOLINT(concurrency-mt-unsafe)
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/junction-zmq-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("mkdtemp " + pattern + ": " + errno_text(errno));
    }
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Options {
  std::optional<int> exit_code;  // set: exit with it instead of running (--help, a bad option)
  Timing timing{};
  bool split = false;
  bool same_session = false;
  bool curve = false;
  // The slice every server's answering threads ask for, as
  // jn_host_options.thread_slice_ns has it (0: junction's default).
  std::uint64_t thread_slice_ns = 0;
  fs::path out_dir = JN_BENCH_RESULTS_DIR;
  std::string command;
};

void usage(std::FILE* to) {
  std::fprintf(to,
               "usage: junction_zmq_bench [--quick | --seconds S] [--split] [--same-session] "
               "[--thread-slice MS|inherit] [--curve] [--out-dir DIR]\n"
               "  --quick         %.0f s per case and path (the default)\n"
               "  --seconds S     S seconds per case and path, in rounds of about %.1f s (at least "
               "%d), each with a warm-up of a fifth of its time\n"
               "  --split         also measure each side of junction against a plain peer speaking "
               "its wire protocol\n"
               "  --same-session  start the servers in this process's session (by default each "
               "starts its own, as a separate service would)\n"
               "  --thread-slice MS|inherit\n"
               "                  the scheduler slice every server's answering threads ask for "
               "(junction's listener threads, the plain servers' thread), in milliseconds (0.1 to "
               "100; default junction's, 0.5), or none\n"
               "  --curve         encrypt every connection of every path with CURVE; the report "
               "goes to zmq-curve-latest.md and .json\n"
               "  --out-dir D     where zmq-latest.md and zmq-latest.json go (default %s)\n",
               kQuickSeconds, kRoundSeconds, kMinRounds, JN_BENCH_RESULTS_DIR);
}

// Parses the bench's options; a bad command line sets exit_code 2.
Options parse_options(int argc, char** argv) {
  Options options;
  double seconds = kQuickSeconds;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--quick") {
      seconds = kQuickSeconds;
    } else if (arg == "--seconds" && has_value) {
      char* end = nullptr;
      seconds = std::strtod(argv[++i], &end);
      if (*end != '\0' || !(seconds > 0 && seconds <= 3600)) {
        std::fprintf(stderr, "junction_zmq_bench: --seconds wants a number in (0, 3600]\n");
        options.exit_code = 2;
        return options;
      }
    } else if (arg == "--split") {
      options.split = true;
    } else if (arg == "--same-session") {
      options.same_session = true;
    } else if (arg == "--curve") {
      options.curve = true;
    } else if (arg == "--thread-slice" && has_value) {
      const std::string_view value = argv[++i];
      char* end = nullptr;
      const double nanoseconds =
          value == "inherit" ? 0 : std::round(std::strtod(value.data(), &end) * 1e6);
      if (value == "inherit") {
        options.thread_slice_ns = JN_THREAD_SLICE_INHERITED;
      } else if (*end != '\0' || !(nanoseconds >= static_cast<double>(JN_THREAD_SLICE_MIN_NS) &&
                                   nanoseconds <= static_cast<double>(JN_THREAD_SLICE_MAX_NS))) {
        std::fprintf(stderr,
                     "junction_zmq_bench: --thread-slice wants milliseconds in [0.1, 100] or "
                     "'inherit'\n");
        options.exit_code = 2;
        return options;
      } else {
        options.thread_slice_ns = static_cast<std::uint64_t>(nanoseconds);
      }
    } else if (arg == "--out-dir" && has_value) {
      options.out_dir = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      options.exit_code = 0;
      return options;
    } else {
      usage(stderr);
      options.exit_code = 2;
      return options;
    }
  }
  options.timing = timing_for(seconds);
  // The program by its name, wherever it was run from, and the arguments.
  const std::string arguments = junction::bench::command_line(argc - 1, argv + 1);
  options.command = "junction_zmq_bench" + (arguments.empty() ? "" : " " + arguments);
  return options;
}

void print_progress(const CaseResult& c) {
  std::fprintf(stderr, "%-40s p50 %8s us  p99 %8s us  %9.0f calls/s\n", c.name().c_str(),
               micros(c.latency.p50).c_str(), micros(c.latency.p99).c_str(), c.throughput());
}

int run_bench(const Options& options) {
  // A server that died makes writing to its stdin fail with EPIPE, reported
  // as an error, instead of killing the bench.
  std::signal(SIGPIPE, SIG_IGN);
  Report report;
  report.machine = describe_machine();
  report.timing = options.timing;
  report.command = options.command;
  report.same_session = options.same_session;
  report.curve = options.curve;
  report.thread_slice_ns = options.thread_slice_ns;
  std::optional<CurveClientKeys> curve;
  if (options.curve) {
    std::array<char, JN_CURVE_KEY_LENGTH + 1> server_public{};
    std::array<char, JN_CURVE_KEY_LENGTH + 1> server_secret{};
    std::array<char, JN_CURVE_KEY_LENGTH + 1> client_public{};
    std::array<char, JN_CURVE_KEY_LENGTH + 1> client_secret{};
    if (jn_curve_keypair(server_public.data(), server_secret.data(), nullptr) != JN_OK ||
        jn_curve_keypair(client_public.data(), client_secret.data(), nullptr) != JN_OK) {
      throw std::runtime_error("--curve: this libzmq cannot make CURVE keys");
    }
    curve = CurveClientKeys{server_public.data(), client_public.data(), client_secret.data()};
    // The servers, started after this, inherit it; no other thread runs yet.
    setenv(kCurveSecretKeyVariable, server_secret.data(), 1);  // NOLINT(concurrency-mt-unsafe)
  }
  const CurveClientKeys* const curve_keys = curve ? &*curve : nullptr;
  zmq::context_t context(1);
  const TempDir sockets;
  std::vector<Path> paths = {Path::reqrep, Path::junction};
  if (options.split) {
    paths.insert(paths.end(), {Path::junction_caller, Path::junction_listener});
  }
  // Per caller count, the rounds started so far: they rotate which path goes
  // first.
  std::array<int, kCallerCounts.size()> order{};
  for (const Transport transport : {Transport::ipc, Transport::tcp}) {
    const bool ipc = transport == Transport::ipc;
    const std::string dir = sockets.path().string();
    std::vector<std::unique_ptr<ServerProcess>> servers;
    const auto start_server = [&servers, &options](const char* command, const std::string& where,
                                                   std::string option = {}) {
      return servers
          .emplace_back(std::make_unique<ServerProcess>(command, where, !options.same_session,
                                                        std::move(option)))
          .get();
    };
    // Every server's answering threads ask for the same slice.
    const std::string slice =
        options.thread_slice_ns == 0 ? std::string() : std::to_string(options.thread_slice_ns);
    ServerProcess* const junction_server =
        start_server("serve-junction",
                     ipc ? "zmq+ipc://" + dir + "/junction.sock" : "zmq+tcp://127.0.0.1:0", slice);
    ServerProcess* const reqrep_server = start_server(
        "serve-reqrep", ipc ? "ipc://" + dir + "/reqrep.sock" : "tcp://127.0.0.1:*", slice);
    ServerProcess* const wire_server =
        options.split
            ? start_server("serve-wire", ipc ? "ipc://" + dir + "/wire.sock" : "tcp://127.0.0.1:*",
                           slice)
            : nullptr;
    {
      // The client hosts go before the servers are stopped.
      const JunctionClient client(junction_server->url(), curve_keys);
      const std::optional<JunctionClient> wire_client =
          wire_server != nullptr
              ? std::optional<JunctionClient>(std::in_place, wire_server->url(), curve_keys)
              : std::nullopt;
      // A junction URL's ZeroMQ endpoint: the URL without its "zmq+".
      const std::string junction_endpoint = junction_server->url().substr(4);
      const auto make_caller = [&](Path path) -> CallerFactory {
        switch (path) {
          case Path::reqrep:
            return [&context, reqrep_server, curve_keys] {
              return std::make_unique<ReqCaller>(context, reqrep_server->url(), curve_keys);
            };
          case Path::junction:
            return [&client] { return std::make_unique<JunctionCaller>(client.method()); };
          case Path::junction_caller:
            return
                [&wire_client] { return std::make_unique<JunctionCaller>(wire_client->method()); };
          case Path::junction_listener:
            return [&context, &junction_endpoint, curve_keys] {
              return std::make_unique<WireCaller>(context, junction_endpoint, curve_keys);
            };
        }
        throw std::logic_error("unknown path");
      };
      const auto server_of = [&](Path path) -> ServerProcess& {
        switch (path) {
          case Path::reqrep:
            return *reqrep_server;
          case Path::junction:
          case Path::junction_listener:
            return *junction_server;
          case Path::junction_caller:
            return *wire_server;
        }
        throw std::logic_error("unknown path");
      };
      std::vector<CallerFactory> factories;
      factories.reserve(paths.size());
      for (const Path path : paths) factories.push_back(make_caller(path));
      for (const std::size_t payload : kPayloads) {
        // The caller counts' rounds alternate, which goes first alternating
        // too, so that the throughput ratio between them, like each p50
        // ratio, compares rounds run side by side rather than one count's
        // rounds all after the other's.
        std::array<std::array<PooledRounds, kPathCount>, kCallerCounts.size()> rounds;
        for (int round = 0; round < options.timing.rounds; ++round) {
          for (std::size_t k = 0; k < kCallerCounts.size(); ++k) {
            const std::size_t count = round % 2 == 0 ? k : kCallerCounts.size() - 1 - k;
            const int callers = kCallerCounts[count];
            // Rotating which path goes first in a case's rounds spreads any
            // drift of the machine over all of them.
            const std::size_t first = static_cast<std::size_t>(order[count]++) % paths.size();
            for (std::size_t p = 0; p < paths.size(); ++p) {
              const std::size_t index = (first + p) % paths.size();
              const Path path = paths[index];
              run_round(case_name(path, transport, payload, callers), payload, callers,
                        factories[index], server_of(path), options.timing,
                        rounds[count][static_cast<std::size_t>(path)]);
            }
          }
        }
        for (std::size_t count = 0; count < kCallerCounts.size(); ++count) {
          for (const Path path : paths) {
            report.cases.push_back(case_result(path, transport, payload, kCallerCounts[count],
                                               rounds[count][static_cast<std::size_t>(path)]));
            print_progress(report.cases.back());
          }
        }
      }
    }
    for (const auto& server : servers) {
      if (const std::string complaint = server->stop(); !complaint.empty()) {
        throw std::runtime_error("server " + server->url() + ": " + complaint);
      }
    }
  }
  report.machine.load_after = load_average();
  pair_up(report);
  const std::string table = markdown(report);
  std::fputs(("\n" + table).c_str(), stdout);
  fs::create_directories(options.out_dir);
  const std::string stem = options.curve ? "zmq-curve-latest" : "zmq-latest";
  write_text(options.out_dir / (stem + ".md"), table);
  write_text(options.out_dir / (stem + ".json"), json(report));
  std::fprintf(stderr, "wrote %s and %s\n", (options.out_dir / (stem + ".md")).c_str(),
               (options.out_dir / (stem + ".json")).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 3 || argc == 4) && std::string_view(argv[1]) == "serve-junction") {
    return serve_junction(argv[2], argc == 4 ? argv[3] : nullptr);
  }
  if ((argc == 3 || argc == 4) && std::string_view(argv[1]) == "serve-reqrep") {
    return serve_reqrep(argv[2], argc == 4 ? argv[3] : nullptr);
  }
  if ((argc == 3 || argc == 4) && std::string_view(argv[1]) == "serve-wire") {
    return serve_wire(argv[2], argc == 4 ? argv[3] : nullptr);
  }
  const Options options = parse_options(argc, argv);
  if (options.exit_code) return *options.exit_code;
  try {
    return run_bench(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "junction_zmq_bench: %s\n", e.what());
    return 1;
  }
}
