// junction-host - the junction daemon: loads modules into one host and serves
// their services to other processes on the URLs it is given, until SIGTERM
// or SIGINT; then it lets the calls in flight finish (up to the drain
// timeout) and exits. SIGUSR1 logs the statistics so far; SIGHUP reads the
// CURVE client keys file again and lets in its keys only. Usage, standard
// output and exit status: options.cc's kUsage and README.md in this
// directory.
#include <fcntl.h>
#include <junction.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "options.hh"

namespace {

using junction::daemon::Options;

constexpr int kExitFailure = 1;  // a module, an address or the drain failed
constexpr int kExitUsage = 2;    // a usage or configuration error

// The daemon's log on standard error. A line is written at once when no
// line waits before it and the write cannot block (it fits in PIPE_BUF and
// standard error has room), so that it is there should a module crash the
// daemon next, and in its order with what the modules write there
// themselves. Otherwise it waits for a thread of the log's own, so that a
// log reader that stalls (a pipe it no longer empties) holds up neither the
// serving nor a stop. While the reader stalls, lines wait, up to
// kMaxPendingBytes of them; those beyond are dropped, and how many is
// logged once there is room again.
class Log {
 public:
  static constexpr std::size_t kMaxPendingBytes = std::size_t{1} << 20;

  // Starts the writing thread; false, said on standard error directly,
  // when no thread can be had.
  bool start() {
    try {
      std::thread([this] { write_lines(); }).detach();
      return true;
    } catch (const std::exception& e) {  // std::system_error, std::bad_alloc
      std::fprintf(stderr, "junction-host: cannot start the log's thread: %s\n", e.what());
      return false;
    }
  }

  // Logs "junction-host: TEXT" as one line.
  void line(std::string_view text) noexcept {
    const std::lock_guard lock(mutex_);
    try {
      std::string notice;
      if (dropped_ != 0) {
        notice = "junction-host: " + std::to_string(dropped_) +
                 " log line(s) dropped while standard error was not read\n";
      }
      std::string entry = "junction-host: " + std::string(text) + "\n";
      if (pending_bytes_ + notice.size() + entry.size() > kMaxPendingBytes) {
        ++dropped_;
        return;
      }
      if (!notice.empty()) {
        emit(std::move(notice));
        dropped_ = 0;
      }
      emit(std::move(entry));
    } catch (const std::bad_alloc&) {
      ++dropped_;
    }
  }

  // Waits until every line queued has been written (or failed to be), for
  // at most `most`: a reader that stalls loses what it has not taken by then.
  void flush(std::chrono::milliseconds most) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, most, [this] { return pending_.empty() && !writing_; });
  }

 private:
  // Writes entry at once when that keeps the lines in order and cannot
  // block: under mutex_, with no line queued and the thread not writing, no
  // other write of the log's is under way. Queues it otherwise.
  void emit(std::string entry) {
    if (pending_.empty() && !writing_ && entry.size() <= PIPE_BUF && has_room()) {
      write_entry(entry);
      return;
    }
    const std::size_t size = entry.size();
    pending_.push_back(std::move(entry));
    pending_bytes_ += size;
    changed_.notify_all();
  }

  // Whether standard error takes a write of up to PIPE_BUF bytes without
  // blocking: a pipe that polls writable has a free buffer of that much.
  static bool has_room() noexcept {
    pollfd out{.fd = STDERR_FILENO, .events = POLLOUT, .revents = 0};
    return ::poll(&out, 1, 0) == 1 && (out.revents & POLLOUT) != 0;
  }

  // A line that cannot be written (no reader any more, a full disk) is
  // dropped.
  static void write_entry(const std::string& entry) noexcept {
    for (std::size_t written = 0; written < entry.size();) {
      const ssize_t n = ::write(STDERR_FILENO, entry.data() + written, entry.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
  }

  void write_lines() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return !pending_.empty(); });
      const std::string entry = std::move(pending_.front());
      pending_.pop_front();
      writing_ = true;
      lock.unlock();
      write_entry(entry);
      lock.lock();
      pending_bytes_ -= entry.size();
      writing_ = false;
      changed_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> pending_;
  std::size_t pending_bytes_ = 0;
  std::uint64_t dropped_ = 0;
  bool writing_ = false;
};

// How long the daemon, about to exit, waits for its log to be written.
constexpr std::chrono::milliseconds kLogGrace{1000};

// The daemon's one log. Never destroyed: its thread may still be blocked
// writing to a stalled reader when the process exits.
Log& daemon_log() {
  static Log* const log = new Log();
  return *log;
}

void log_line(const std::string& line) { daemon_log().line(line); }

// What went wrong writing standard output, if anything did: what was
// printed there has been written only when this is empty.
std::optional<std::string> standard_output_error() {
  if (std::fflush(stdout) != 0) {
    const int error = errno;
    return std::generic_category().message(error);
  }
  // An earlier write failed, and its errno is long gone.
  if (std::ferror(stdout) != 0) return "write error";
  return std::nullopt;
}

// A status's message, or its code's name when it has none; releases it.
std::string take_message(jn_status& status) {
  std::string message(reinterpret_cast<const char*>(status.message.data),
                      status.message.release == nullptr ? 0 : status.message.len);
  if (message.empty()) message = jn_status_name(status.code);
  jn_status_release(&status);
  return message;
}

struct HostDeleter {
  void operator()(jn_host* host) const { jn_host_free(host); }
};
using HostPtr = std::unique_ptr<jn_host, HostDeleter>;

// The listeners bound so far. Those still held on an early return (a later
// URL failed) close without a drain: nothing has been announced on them.
class Listeners {
 public:
  Listeners() = default;
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
  ~Listeners() {
    for (jn_listener* listener : listeners_) jn_listener_close(listener, 0);
  }

  void add(jn_listener* listener) { listeners_.push_back(listener); }
  [[nodiscard]] const std::vector<jn_listener*>& all() const { return listeners_; }

  // Drains every listener at once, so that none keeps taking calls while
  // another drains, each until drain_deadline_ns; they stay open for their
  // stats. True when no call is in flight on any.
  bool drain_all(std::int64_t drain_deadline_ns) {
    return at_once(jn_listener_drain, drain_deadline_ns);
  }

  // Closes every listener at once, waiting for calls still in flight until
  // drain_deadline_ns. True when every one was answered.
  bool close_all(std::int64_t drain_deadline_ns) {
    const bool answered = at_once(jn_listener_close, drain_deadline_ns);
    listeners_.clear();
    return answered;
  }

 private:
  // Runs operation on every listener, each on a thread of its own; true
  // when every one returned JN_OK.
  bool at_once(std::int32_t (*operation)(jn_listener*, std::int64_t), std::int64_t deadline_ns) {
    std::vector<std::int32_t> codes(listeners_.size(), JN_OK);
    {
      std::vector<std::jthread> workers;
      workers.reserve(listeners_.size());
      for (std::size_t i = 0; i < listeners_.size(); ++i) {
        try {
          workers.emplace_back([this, &codes, i, operation, deadline_ns] {
            codes[i] = operation(listeners_[i], deadline_ns);
          });
        } catch (const std::system_error&) {
          // No thread to be had: this one works here, the others meanwhile.
          codes[i] = operation(listeners_[i], deadline_ns);
        }
      }
    }
    return std::ranges::all_of(codes, [](std::int32_t code) { return code == JN_OK; });
  }

  std::vector<jn_listener*> listeners_;
};

// A service as the daemon reports it: its name and methods (none for a
// route).
struct ListedService {
  std::string name;
  std::vector<std::string> methods;
};

// The host's services, by name.
std::vector<ListedService> list_services(jn_host* host) {
  struct Listing {
    std::vector<ListedService> services;
    bool complete = true;
  } listing;
  const auto visit = [](void* user_data, const jn_service_info* info) noexcept {
    auto& into = *static_cast<Listing*>(user_data);
    try {
      into.services.push_back({info->name, std::vector<std::string>(
                                               info->methods, info->methods + info->method_count)});
    } catch (const std::bad_alloc&) {
      into.complete = false;
    }
  };
  if (jn_host_list_services(host, visit, &listing) != JN_OK || !listing.complete) {
    throw std::runtime_error("cannot list the host's services");
  }
  return std::move(listing.services);
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const std::string& part : parts) {
    if (!text.empty()) text += separator;
    text += part;
  }
  return text;
}

// "NAME (METHOD, METHOD)" for each service, separated by "; ".
std::string describe(const std::vector<ListedService>& services) {
  if (services.empty()) return "no services";
  std::vector<std::string> described;
  described.reserve(services.size());
  for (const ListedService& service : services) {
    described.push_back(service.name + " (" + join(service.methods, ", ") + ")");
  }
  return join(described, "; ");
}

// Loads each module in turn, logging the services it brought. False (the
// loader's message logged) when one cannot be loaded.
bool load_modules(jn_host* host, const std::vector<std::string>& modules) {
  std::vector<ListedService> before = list_services(host);
  for (const std::string& module : modules) {
    jn_status status{};
    if (jn_host_load_module(host, module.c_str(), &status) != JN_OK) {
      // The loader's message names the module and the reason.
      log_line(take_message(status));
      return false;
    }
    std::vector<ListedService> after = list_services(host);
    std::vector<ListedService> brought;
    std::ranges::set_difference(after, before, std::back_inserter(brought), {},
                                &ListedService::name, &ListedService::name);
    log_line("loaded module " + module + ": " + describe(brought));
    before = std::move(after);
  }
  return true;
}

// SIGTERM or SIGINT, if one came while the daemon was getting ready: the
// signals stay blocked until it waits for them, so a stop asked for while a
// module loads is found here, before anything is bound or announced.
std::optional<int> stop_signal_pending() {
  sigset_t pending;
  if (sigpending(&pending) != 0) return std::nullopt;
  for (const int signal_number : {SIGTERM, SIGINT}) {
    if (sigismember(&pending, signal_number) == 1) return signal_number;
  }
  return std::nullopt;
}

// The first --serve name no module registered, if any.
std::optional<std::string> unknown_service(const Options& options,
                                           const std::vector<ListedService>& services) {
  for (const std::string& name : options.services) {
    if (std::ranges::find(services, name, &ListedService::name) == services.end()) return name;
  }
  return std::nullopt;
}

// The C strings of strings, which they borrow.
std::vector<const char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<const char*> pointers;
  pointers.reserve(strings.size());
  for (const std::string& text : strings) pointers.push_back(text.c_str());
  return pointers;
}

// On SIGHUP: reads the CURVE client keys file again and puts its keys in
// force on every listener, for new connections and the calls of those
// already made. A file that cannot be used is logged and changes nothing.
void reload_client_keys(const Options& options, const Listeners& listeners) {
  if (options.curve_client_keys_file.empty()) {
    log_line("SIGHUP received; there is no --curve-client-keys-file to read again");
    return;
  }
  std::vector<std::string> keys;
  try {
    keys = junction::daemon::read_curve_client_keys(options.curve_client_keys_file);
  } catch (const junction::daemon::UsageError& e) {
    log_line(std::string("SIGHUP received; ") + e.what() + "; the client keys in force stay");
    return;
  }
  const std::vector<const char*> key_pointers = c_strings(keys);
  for (jn_listener* listener : listeners.all()) {
    jn_status status{};
    if (jn_listener_set_curve_client_keys(listener, key_pointers.data(),
                                          static_cast<std::uint32_t>(key_pointers.size()),
                                          &status) != JN_OK) {
      // The keys are the same for every listener: the first refuses them all.
      log_line("SIGHUP received; " + options.curve_client_keys_file + ": " + take_message(status) +
               "; the client keys in force stay");
      return;
    }
    jn_status_release(&status);
  }
  log_line("SIGHUP received; " + std::to_string(keys.size()) + " client key(s) from " +
           options.curve_client_keys_file +
           " let in, no other (a connection whose key is gone is refused at its next call)");
}

// Logs what each listener has done so far (on SIGUSR1, and once drained);
// with curve, what their client keys refused too.
void log_listener_stats(const Listeners& listeners, bool curve) {
  for (jn_listener* listener : listeners.all()) {
    jn_listener_stats stats{};
    stats.struct_size = sizeof stats;
    static_cast<void>(jn_listener_stats_get(listener, &stats));  // an open listener: JN_OK
    log_line(std::string(jn_listener_url(listener)) + ": " + std::to_string(stats.requests) +
             " requests taken and " + std::to_string(stats.answers) + " answers sent; " +
             std::to_string(stats.refused_unread) + " calls refused and " +
             std::to_string(stats.dropped_unread) +
             " dropped because their clients left answers unread; " +
             std::to_string(stats.unreadable) + " unreadable and " +
             std::to_string(stats.refused_too_large) + " over the payload limit; " +
             std::to_string(stats.in_flight) + " in flight on " + std::to_string(stats.threads) +
             " threads and " + std::to_string(stats.queued) + " queued; " +
             std::to_string(stats.answered_unrun) +
             " answered unrun, cancelled or past their deadline in the queue" +
             (curve ? "; CURVE client keys refused " + std::to_string(stats.refused_handshakes) +
                          " handshakes and " + std::to_string(stats.refused_client_key) + " calls"
                    : std::string()));
  }
}

// Per method: calls, errors and the sampled latency (jn_method_stats).
void log_method_stats(jn_host* host) {
  for (const ListedService& service : list_services(host)) {
    for (const std::string& name : service.methods) {
      jn_method* method = nullptr;
      if (jn_host_resolve(host, service.name.c_str(), name.c_str(), &method, nullptr) != JN_OK) {
        continue;  // unregistered since the listing
      }
      jn_method_stats stats{};
      static_cast<void>(jn_method_stats_get(method, &stats));  // a live handle: JN_OK
      jn_method_free(method);
      std::string line = service.name + "/" + name + ": " + std::to_string(stats.calls) +
                         " calls, " + std::to_string(stats.errors) + " errors";
      if (stats.latency_samples != 0) {
        line += "; latency of " + std::to_string(stats.latency_samples) +
                " sampled calls: p50 <= " + std::to_string(stats.latency_p50_ns) +
                " ns, p99 <= " + std::to_string(stats.latency_p99_ns) + " ns, max " +
                std::to_string(stats.latency_max_ns) + " ns";
      }
      log_line(line);
    }
  }
}

std::string served(const Options& options) {
  return options.services.empty() ? "all services" : join(options.services, ",");
}

// --curve-keygen: writes a new secret key to path, created readable by its
// owner only (an existing file is left alone), and prints the public key;
// when that cannot be printed, path is removed again.
int curve_keygen(const std::string& path) {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_key{};
  std::array<char, JN_CURVE_KEY_LENGTH + 1> secret_key{};
  jn_status status{};
  if (jn_curve_keypair(public_key.data(), secret_key.data(), &status) != JN_OK) {
    log_line("cannot make a CURVE key pair: " + take_message(status));
    return kExitFailure;
  }
  jn_status_release(&status);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    log_line("--curve-keygen " + path + ": " + std::generic_category().message(errno));
    return kExitFailure;
  }
  const std::string line = std::string(secret_key.data()) + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const int write_error = errno;
  if (::close(fd) != 0 || !written) {
    log_line("--curve-keygen " + path + ": " +
             std::generic_category().message(written ? errno : write_error));
    ::unlink(path.c_str());
    return kExitFailure;
  }
  // A secret key whose public key was never shown would serve nobody,
  // and would stand in the way of a new one: it goes again.
  std::printf("%s\n", public_key.data());
  if (const std::optional<std::string> error = standard_output_error()) {
    ::unlink(path.c_str());
    log_line("--curve-keygen " + path + ": cannot print the public key on standard output: " +
             *error + "; the secret key is removed again");
    return kExitFailure;
  }
  return EXIT_SUCCESS;
}

int serve(const Options& options, const sigset_t& handled_signals) {
  jn_host* raw_host = nullptr;
  jn_status status{};
  const jn_host_options host_options{.struct_size = sizeof(jn_host_options),
                                     .worker_threads = 0,
                                     .thread_slice_ns = options.thread_slice_ns};
  if (jn_host_new(&host_options, &raw_host, &status) != JN_OK) {
    log_line("cannot create a host: " + take_message(status));
    return kExitFailure;
  }
  HostPtr host(raw_host);
  if (!load_modules(host.get(), options.modules)) return kExitFailure;
  const std::vector<ListedService> loaded = list_services(host.get());
  if (const std::optional<std::string> name = unknown_service(options, loaded)) {
    std::vector<std::string> names;
    names.reserve(loaded.size());
    for (const ListedService& service : loaded) names.push_back(service.name);
    log_line("--serve " + *name + ": no module registered a service of that name (there are: " +
             (names.empty() ? "none" : join(names, ", ")) + ")");
    return kExitUsage;
  }
  if (options.list) {
    for (const ListedService& service : loaded) {
      for (const std::string& method : service.methods) {
        std::printf("%s/%s\n", service.name.c_str(), method.c_str());
      }
    }
    if (const std::optional<std::string> error = standard_output_error()) {
      log_line("--list: cannot print the methods on standard output: " + *error);
      return kExitFailure;
    }
    return EXIT_SUCCESS;
  }

  if (const std::optional<int> stop = stop_signal_pending()) {
    log_line(std::string(*stop == SIGINT ? "SIGINT" : "SIGTERM") +
             " received while the modules loaded; exiting without serving");
    return EXIT_SUCCESS;
  }

  const std::vector<const char*> services = c_strings(options.services);
  jn_listen_options listen_options{};
  listen_options.struct_size = sizeof listen_options;
  listen_options.threads = options.threads;
  listen_options.services = services.empty() ? nullptr : services.data();
  listen_options.service_count = static_cast<std::uint32_t>(services.size());
  listen_options.max_in_flight = options.max_in_flight;
  listen_options.max_payload_bytes = options.max_payload_bytes;
  listen_options.max_unread_answers = options.max_unread_answers;
  listen_options.max_unread_answer_bytes = options.max_unread_answer_bytes;
  const std::vector<const char*> client_keys = c_strings(options.curve_client_keys);
  if (!options.curve_secret_key.empty()) {
    listen_options.curve_secret_key = options.curve_secret_key.c_str();
    listen_options.curve_client_keys = client_keys.empty() ? nullptr : client_keys.data();
    listen_options.curve_client_key_count = static_cast<std::uint32_t>(client_keys.size());
    log_line("CURVE on every listener; clients route with the public key " +
             options.curve_public_key + "; " +
             (client_keys.empty()
                  ? std::string("any client that knows it may connect")
                  : std::to_string(client_keys.size()) + " client key(s) let in, no other"));
  }

  Listeners listeners;
  for (const std::string& url : options.listens) {
    jn_listener* listener = nullptr;
    const std::int32_t code =
        jn_host_listen(host.get(), url.c_str(), &listen_options, &listener, &status);
    if (code != JN_OK) {
      // The transport's message usually names the URL already.
      std::string message = take_message(status);
      if (message.find(url) == std::string::npos)
        message.insert(0, "cannot listen on " + url + ": ");
      log_line(message);
      // A URL junction cannot read is the configuration's fault.
      return code == JN_INVALID_ARGUMENT ? kExitUsage : kExitFailure;
    }
    listeners.add(listener);
  }
  const std::string what = served(options);
  for (jn_listener* listener : listeners.all()) {
    std::printf("junction-host: serving %s on %s\n", what.c_str(), jn_listener_url(listener));
  }
  std::printf("junction-host: ready\n");
  std::fflush(stdout);

  const bool curve = !options.curve_secret_key.empty();
  int signal_number = 0;
  for (;;) {
    if (sigwait(&handled_signals, &signal_number) != 0) {
      log_line("cannot wait for SIGTERM, SIGINT, SIGUSR1 and SIGHUP");
      return kExitFailure;
    }
    if (signal_number != SIGUSR1 && signal_number != SIGHUP) break;
    // A report or a reload that fails (out of memory) must not stop the
    // serving.
    try {
      if (signal_number == SIGHUP) {
        reload_client_keys(options, listeners);
        continue;
      }
      log_line("SIGUSR1 received; the statistics so far:");
      log_listener_stats(listeners, curve);
      log_method_stats(host.get());
    } catch (const std::exception& e) {
      log_line(std::string("cannot act on the signal: ") + e.what());
    }
  }
  // The drain timeout runs from the signal, whatever becomes of the log.
  const std::int64_t drain_deadline_ns = jn_now_ns() + options.drain_timeout_ns;
  const double drain_seconds = static_cast<double>(options.drain_timeout_ns) / 1e9;
  char announcement[128];
  std::snprintf(announcement, sizeof announcement,
                "%s received; draining calls in flight (at most %g s)",
                signal_number == SIGINT ? "SIGINT" : "SIGTERM", drain_seconds);
  log_line(announcement);
  const bool drained = listeners.drain_all(drain_deadline_ns);
  log_listener_stats(listeners, curve);
  if (!listeners.close_all(drained ? drain_deadline_ns : 0)) {
    log_line("the drain timeout passed with calls still in flight; they were cut short");
    // Their handlers may still be running, and jn_host_free would wait for
    // them: ending the process here keeps the shutdown within the timeout.
    daemon_log().flush(kLogGrace);
    std::_Exit(kExitFailure);
  }
  if (const std::int32_t code = jn_host_free(host.release()); code != JN_OK) {
    log_line(std::string("cannot free the host: ") + jn_status_name(code));
    daemon_log().flush(kLogGrace);
    std::_Exit(kExitFailure);
  }
  log_line("drained; exiting");
  return EXIT_SUCCESS;
}

// Opens /dev/null on each of standard input, output and error that is
// closed, before anything else opens a file: libzmq's and the modules'
// files would otherwise take those numbers, and what the daemon prints
// would go into them (an eventfd of libzmq's takes an 8-byte write on
// kernels before 6.9, and libzmq then aborts). False, said on standard
// error if it is open, when /dev/null cannot be opened.
bool open_closed_standard_streams() {
  for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; ++fd) {
    if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
    // The lowest free number, which is fd: those below it are open by now.
    if (::open("/dev/null", O_RDWR) < 0) {
      const int error = errno;
      std::fprintf(stderr, "junction-host: cannot open /dev/null on a closed standard stream: %s\n",
                   std::generic_category().message(error).c_str());
      return false;
    }
  }
  return true;
}

int run(std::span<const char* const> args, const sigset_t& handled_signals) {
  try {
    Options options;
    try {
      options = junction::daemon::parse_options(args);
    } catch (const junction::daemon::UsageError& e) {
      log_line(std::string(e.what()) + " (see --help)");
      return kExitUsage;
    }
    if (options.help) {
      // The usage outgrows stdout's buffer: fputs writes, and may fail, itself.
      const bool put = std::fputs(junction::daemon::kUsage, stdout) != EOF;
      const int put_error = errno;
      if (const std::optional<std::string> error =
              put ? standard_output_error() : std::generic_category().message(put_error)) {
        log_line("--help: cannot print the usage on standard output: " + *error);
        return kExitFailure;
      }
      return EXIT_SUCCESS;
    }
    if (!options.curve_keygen_file.empty()) {
      return curve_keygen(options.curve_keygen_file);
    }
    return serve(options, handled_signals);
  } catch (const std::exception& e) {
    log_line(std::string("failed: ") + e.what());
    return kExitFailure;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (!open_closed_standard_streams()) return kExitFailure;
  // Blocked before any thread exists (the log's, the library's, the
  // transport's, a Go bundle's runtime threads), so that every thread
  // inherits the mask and the signals reach only the sigwait in serve
  // (SIGUSR1's and SIGHUP's default actions, too, would end the process).
  // An ignored signal may be discarded even while blocked, so a disposition
  // to ignore them inherited from the parent goes back to the default.
  sigset_t handled_signals;
  sigemptyset(&handled_signals);
  sigaddset(&handled_signals, SIGTERM);
  sigaddset(&handled_signals, SIGINT);
  sigaddset(&handled_signals, SIGUSR1);
  sigaddset(&handled_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &handled_signals, nullptr);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  signal(SIGHUP, SIG_DFL);
  // A log reader that has gone away (a closed pipe on stderr) must not end
  // the daemon at its next line, in the middle of a drain: a write to it
  // fails instead, and the daemon serves on.
  signal(SIGPIPE, SIG_IGN);
  if (!daemon_log().start()) return kExitFailure;

  const std::span<const char* const> args(argv + (argc > 0 ? 1 : 0),
                                          static_cast<std::size_t>(argc > 0 ? argc - 1 : 0));
  const int code = run(args, handled_signals);
  daemon_log().flush(kLogGrace);
  return code;
}
