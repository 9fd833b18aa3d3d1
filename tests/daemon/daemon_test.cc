// junction-host run as a real process, with this process as its client:
// serving modules over zmq+tcp and zmq+ipc, draining on SIGTERM and
// SIGINT, dying under calls (SIGKILL) and starting again in their place,
// going silent (SIGSTOP) and coming back, reading a config file, refusing
// what it cannot run, and living with standard streams closed, full or
// stalled.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "../../cpp-host/src/thread_slice.hh"
#include "daemon_process.hh"

namespace jndaemon {
namespace {

constexpr const char* kFixture = JN_TEST_FIXTURE_MODULE;
constexpr const char* kGreeter = JN_TEST_GREETER_MODULE;
constexpr const char* kMismatched = JN_TEST_MISMATCHED_MODULE;
constexpr const char* kFailingInit = JN_TEST_FAILING_MODULE;
constexpr const char* kAnyTcpPort = "zmq+tcp://127.0.0.1:0";
// How late, past its deadline, a caller may get its answer.
constexpr auto kSlack = 500ms;
// The deadline of the calls a killed daemon leaves unanswered.
constexpr auto kKilledCallDeadline = 30s;

// n bytes of a pattern that does not repeat every 256 bytes.
std::string Payload(std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 131 + i / 251) & 0xFF);
  return bytes;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Echoes 0 B, 64 B, 64 KiB and 1 MiB through echo and checks each comes
// back unchanged.
void ExpectEchoes(const jn_method* echo) {
  for (const std::size_t size :
       {std::size_t{0}, std::size_t{64}, std::size_t{64} << 10, std::size_t{1} << 20}) {
    const std::string request = Payload(size);
    const Answer answer = Call(echo, request);
    ASSERT_EQ(answer.code, JN_OK) << size << " bytes: " << CodeName(answer.code) << ": "
                                  << answer.message;
    EXPECT_EQ(answer.response.size(), size);
    EXPECT_TRUE(answer.response == request) << size << " bytes came back changed";
  }
}

// Routes "fixture" to urls[0] (tcp) through over_tcp and to urls[1] (ipc)
// through over_ipc, one client host per URL since a route is registered
// under the service name; resolves fixture/echo on each into tcp_echo and
// ipc_echo and calls each once, so that both connections are up.
void ConnectEchoes(const std::vector<std::string>& urls, Client& over_tcp, Client& over_ipc,
                   MethodPtr& tcp_echo, MethodPtr& ipc_echo) {
  ASSERT_EQ(urls.size(), 2U);
  ASSERT_EQ(over_tcp.Route("fixture", urls[0]), JN_OK);
  ASSERT_EQ(over_ipc.Route("fixture", urls[1]), JN_OK);
  tcp_echo = over_tcp.Resolve("fixture", "echo");
  ipc_echo = over_ipc.Resolve("fixture", "echo");
  ASSERT_EQ(Call(tcp_echo.get(), "connect first").code, JN_OK);
  ASSERT_EQ(Call(ipc_echo.get(), "connect first").code, JN_OK);
}

// Expects each echo, routed to a daemon that is coming back, to answer
// again within 10 s (reconnecting takes a moment; calls fail meanwhile).
void ExpectServedAgain(std::initializer_list<const jn_method*> echoes) {
  for (const jn_method* echo : echoes) {
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    Answer answer;
    for (answer = Call(echo, "again", 1s);
         answer.code != JN_OK && std::chrono::steady_clock::now() < give_up;
         answer = Call(echo, "again", 1s)) {
      std::this_thread::sleep_for(10ms);  // not a busy loop while the daemon starts
    }
    EXPECT_EQ(answer.code, JN_OK) << CodeName(answer.code) << ": " << answer.message;
    EXPECT_EQ(answer.response, "again");
  }
}

// Stops a daemon with SIGTERM and expects a clean exit.
void ExpectCleanStop(Daemon& daemon) {
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
}

// --- Serving -------------------------------------------------------------

enum class Transport { kTcp4, kTcp6, kIpc };

// Test names and ctest's list show the parameters by name.
std::string Name(Transport transport) {
  return transport == Transport::kTcp4 ? "tcp4" : transport == Transport::kTcp6 ? "tcp6" : "ipc";
}
void PrintTo(Transport transport, std::ostream* out) { *out << Name(transport); }

class ServeTest : public ::testing::TestWithParam<Transport> {};

TEST_P(ServeTest, EchoesPayloadsAndCarriesStatuses) {
  const TempDir dir;
  const std::string asked = GetParam() == Transport::kTcp4   ? std::string(kAnyTcpPort)
                            : GetParam() == Transport::kTcp6 ? std::string("zmq+tcp://[::1]:0")
                                                             : dir.IpcUrl("fixture.sock");
  Daemon daemon({"--module", kFixture, "--listen", asked});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 1U) << daemon.Output();
  const std::string& url = urls[0];
  if (GetParam() == Transport::kIpc) {
    EXPECT_EQ(url, asked);
  } else {
    const std::string host = GetParam() == Transport::kTcp4 ? "127.0.0.1" : "[::1]";
    ASSERT_TRUE(url.starts_with("zmq+tcp://" + host + ":")) << url;
    const int port = std::stoi(url.substr(url.rfind(':') + 1));
    EXPECT_GT(port, 0) << url;
    EXPECT_LT(port, 65536) << url;
  }
  EXPECT_TRUE(Contains(daemon.Stdout(), "junction-host: serving all services on " + url + "\n" +
                                            "junction-host: ready\n"))
      << daemon.Output();

  Client client;
  std::string why;
  ASSERT_EQ(client.Route("fixture", url, &why), JN_OK) << why;
  const MethodPtr echo = client.Resolve("fixture", "echo");
  ExpectEchoes(echo.get());

  const MethodPtr fail = client.Resolve("fixture", "fail");
  const Answer failed = Call(fail.get(), std::string(1, static_cast<char>(JN_PERMISSION_DENIED)));
  EXPECT_EQ(failed.code, JN_PERMISSION_DENIED) << CodeName(failed.code);
  EXPECT_EQ(failed.message, "fixture/fail was asked to fail");
  EXPECT_TRUE(failed.response.empty());

  const MethodPtr missing = client.Resolve("fixture", "no-such-method");
  EXPECT_EQ(Call(missing.get(), "x").code, JN_NOT_FOUND);

  ExpectCleanStop(daemon);
  // Once drained it logs what each listener did: the 6 calls above.
  EXPECT_TRUE(Contains(daemon.Stderr(), "junction-host: " + url +
                                            ": 6 requests taken and 6 answers sent; 0 "
                                            "calls refused and 0 dropped because their clients "
                                            "left answers unread; 0 unreadable and 0 over the "
                                            "payload limit; 0 in flight on "))
      << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stderr(),
                       " threads and 0 queued; 0 answered unrun, cancelled or past their "
                       "deadline in the queue\n"))
      << daemon.Output();
}

INSTANTIATE_TEST_SUITE_P(Transports, ServeTest,
                         ::testing::Values(Transport::kTcp4, Transport::kTcp6, Transport::kIpc),
                         [](const ::testing::TestParamInfo<Transport>& info) {
                           return Name(info.param);
                         });

TEST(DaemonServe, ServeLimitsTheServicesAnsweredOthersAreNotFound) {
  Daemon daemon(
      {"--module", kFixture, "--module", kGreeter, "--serve", "greeter", "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 1U) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stdout(), "junction-host: serving greeter on " + urls[0] + "\n"))
      << daemon.Output();

  Client client;
  ASSERT_EQ(client.Route("greeter", urls[0]), JN_OK);
  ASSERT_EQ(client.Route("fixture", urls[0]), JN_OK);
  const MethodPtr hello = client.Resolve("greeter", "hello");
  const Answer greeted = Call(hello.get(), "junction");
  EXPECT_EQ(greeted.code, JN_OK) << CodeName(greeted.code) << ": " << greeted.message;
  EXPECT_EQ(greeted.response, "hello, junction");
  const MethodPtr echo = client.Resolve("fixture", "echo");
  const Answer refused = Call(echo.get(), "not served");
  EXPECT_EQ(refused.code, JN_NOT_FOUND) << CodeName(refused.code) << ": " << refused.message;

  ExpectCleanStop(daemon);
}

TEST(DaemonServe, ListenLimitsReachTheListeners) {
  // Every limit set; the payload limit shows on the wire (the limits' own
  // effects are the ZeroMQ transport's tests).
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort, "--max-payload", "1024",
                 "--max-in-flight", "2", "--max-unread-answers", "16", "--max-unread-bytes",
                 "1048576"});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 1U) << daemon.Output();

  Client client;
  ASSERT_EQ(client.Route("fixture", urls[0]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  const Answer at_limit = Call(echo.get(), Payload(1024));
  EXPECT_EQ(at_limit.code, JN_OK) << CodeName(at_limit.code) << ": " << at_limit.message;
  EXPECT_EQ(at_limit.response, Payload(1024));
  const Answer over = Call(echo.get(), Payload(1025));
  EXPECT_EQ(over.code, JN_RESOURCE_EXHAUSTED) << CodeName(over.code) << ": " << over.message;

  ExpectCleanStop(daemon);
}

// --- What the daemon reports ----------------------------------------------

// Each module's services are logged as it is loaded; SIGUSR1 logs what the
// listener and each method have done, and the daemon serves on.
TEST(DaemonReport, LogsModulesServicesAndOnSigusr1TheStatisticsSoFar) {
  Daemon daemon({"--module", kFixture, "--module", kGreeter, "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  // Logged before "ready" but on stderr, which another thread reads: waited
  // for, not looked up.
  EXPECT_TRUE(daemon.WaitStderr("junction-host: loaded module " + std::string(kFixture) +
                                ": fixture (echo, fail, sleep)\n"))
      << daemon.Output();
  EXPECT_TRUE(daemon.WaitStderr("junction-host: loaded module " + std::string(kGreeter) +
                                ": greeter (hello)\n"))
      << daemon.Output();

  Client client;
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Call(echo.get(), "counted").code, JN_OK);
  const MethodPtr fail = client.Resolve("fixture", "fail");
  ASSERT_EQ(Call(fail.get(), std::string(1, static_cast<char>(JN_ABORTED))).code, JN_ABORTED);

  daemon.Signal(SIGUSR1);
  ASSERT_TRUE(daemon.WaitStderr("greeter/hello: ")) << daemon.Output();
  const std::string report = daemon.Stderr();
  EXPECT_TRUE(Contains(report, "junction-host: SIGUSR1 received")) << report;
  EXPECT_TRUE(Contains(report, daemon.Urls()[0] + ": 4 requests taken and 4 answers sent"))
      << report;
  EXPECT_TRUE(Contains(report, "junction-host: fixture/echo: 3 calls, 0 errors\n")) << report;
  EXPECT_TRUE(Contains(report, "junction-host: fixture/fail: 1 calls, 1 errors\n")) << report;
  EXPECT_TRUE(Contains(report, "junction-host: fixture/sleep: 0 calls, 0 errors\n")) << report;
  EXPECT_TRUE(Contains(report, "junction-host: greeter/hello: 0 calls, 0 errors\n")) << report;

  const Answer after = Call(echo.get(), "still serving");
  EXPECT_EQ(after.code, JN_OK) << CodeName(after.code) << ": " << after.message;
  daemon.Signal(SIGUSR1);
  EXPECT_TRUE(daemon.WaitStderr("fixture/echo: 4 calls, 0 errors")) << daemon.Output();
  ExpectCleanStop(daemon);
}

// A line logged while standard error has room is written before the daemon
// goes on: in its order with what a module writes there itself (the
// fixture's init line, between the two modules' "loaded" lines), and there
// should the daemon die next (killed here, as a module's crash ends it).
TEST(DaemonReport, LinesAreWrittenInOrderWithTheModulesOwnAndBeforeADeath) {
  // The daemon inherits the environment; no other thread of this test runs
  // while it is changed.
  setenv("JUNCTION_FIXTURE_INIT_WAIT_MS", "0", 1);  // NOLINT(concurrency-mt-unsafe)
  Daemon daemon({"--module", kGreeter, "--module", kFixture, "--listen", kAnyTcpPort});
  unsetenv("JUNCTION_FIXTURE_INIT_WAIT_MS");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  daemon.Signal(SIGKILL);
  ASSERT_EQ(daemon.WaitExit(), 128 + SIGKILL) << daemon.Output();
  const std::string log = daemon.Stderr();
  const std::size_t greeter = log.find("junction-host: loaded module " + std::string(kGreeter));
  const std::size_t init = log.find("fixture: init waits 0 ms\n");
  const std::size_t fixture = log.find("junction-host: loaded module " + std::string(kFixture));
  ASSERT_NE(fixture, std::string::npos) << log;
  EXPECT_LT(greeter, init) << log;
  EXPECT_LT(init, fixture) << log;
}

#ifdef JN_TEST_RUST_ECHO_MODULE
TEST(DaemonModules, ServesTheRustEchoModule) {
  Daemon daemon({"--module", JN_TEST_RUST_ECHO_MODULE, "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("rust.echo", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("rust.echo", "echo");
  ExpectEchoes(echo.get());
  const MethodPtr length = client.Resolve("rust.echo", "length");
  const Answer measured = Call(length.get(), Payload(1000));
  EXPECT_EQ(measured.code, JN_OK) << measured.message;
  EXPECT_EQ(measured.response, Le64(1000));
  const MethodPtr panics = client.Resolve("rust.echo", "panic");
  const Answer panicked = Call(panics.get(), "xy");
  EXPECT_EQ(panicked.code, JN_INTERNAL) << CodeName(panicked.code);
  EXPECT_TRUE(Contains(panicked.message, "rust.echo/panic called with 2 bytes"))
      << panicked.message;
  ExpectCleanStop(daemon);
}
#endif

#ifdef JN_TEST_GO_ECHO_BUNDLE
TEST(DaemonModules, ServesTheGoEchoBundleWhoseThreadsKeepTheSignalsBlocked) {
  Daemon daemon(
      {"--module", JN_TEST_GO_ECHO_BUNDLE, "--module", kFixture, "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("go.echo", daemon.Urls()[0]), JN_OK);
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("go.echo", "echo");
  ExpectEchoes(echo.get());
  const MethodPtr length = client.Resolve("go.echo", "length");
  const Answer measured = Call(length.get(), Payload(1000));
  EXPECT_EQ(measured.code, JN_OK) << measured.message;
  EXPECT_EQ(measured.response, Le64(1000));
  const MethodPtr go_sleep = client.Resolve("go.echo", "sleep");
  const Answer slept = Call(go_sleep.get(), Le64(20));
  EXPECT_EQ(slept.code, JN_OK) << CodeName(slept.code) << ": " << slept.message;

  // SIGUSR1 and SIGHUP too reach the daemon's sigwait only (their default
  // actions would end the process), with the Go runtime's threads running.
  daemon.Signal(SIGUSR1);
  EXPECT_TRUE(daemon.WaitStderr("go.echo/length: 1 calls, 0 errors")) << daemon.Output();
  daemon.Signal(SIGHUP);
  EXPECT_TRUE(daemon.WaitStderr("there is no --curve-client-keys-file to read again"))
      << daemon.Output();
  EXPECT_TRUE(daemon.Running()) << daemon.Output();

  // Draining, the main thread is out of sigwait, so a second SIGTERM goes
  // to whichever thread does not block it, and its default action would
  // end the daemon there (exit 128 + 15). The Go runtime's threads, made
  // when the bundle was loaded, must have inherited the blocked mask.
  const MethodPtr sleep = client.Resolve("fixture", "sleep");
  auto in_flight =
      std::async(std::launch::async, [&] { return Call(sleep.get(), Le64(1000), 10s); });
  ASSERT_TRUE(daemon.WaitStderr("fixture: sleep")) << daemon.Output();
  daemon.Signal(SIGTERM);
  ASSERT_TRUE(daemon.WaitStderr("draining")) << daemon.Output();
  daemon.Signal(SIGTERM);
  const Answer finished = in_flight.get();
  EXPECT_EQ(finished.code, JN_OK) << CodeName(finished.code) << ": " << finished.message;
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
}
#endif

#if defined(JN_TEST_RUST_ECHO_MODULE) && defined(JN_TEST_GO_ECHO_BUNDLE)
TEST(DaemonModules, ServesGoAndRustTogetherCallingEachOther) {
  Daemon daemon({"--module", JN_TEST_RUST_ECHO_MODULE, "--module", JN_TEST_GO_ECHO_BUNDLE,
                 "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("go.echo", daemon.Urls()[0]), JN_OK);
  ASSERT_EQ(client.Route("rust.echo", daemon.Urls()[0]), JN_OK);
  // Remote caller -> Go -> Rust, and remote caller -> Rust -> Go, in the daemon.
  const MethodPtr go_relay = client.Resolve("go.echo", "relay");
  const Answer to_rust = Call(go_relay.get(), "rust.echo/echo\nfrom go");
  EXPECT_EQ(to_rust.code, JN_OK) << to_rust.message;
  EXPECT_EQ(to_rust.response, "from go");
  const MethodPtr rust_relay = client.Resolve("rust.echo", "relay");
  const Answer to_go = Call(rust_relay.get(), "go.echo/echo\nfrom rust");
  EXPECT_EQ(to_go.code, JN_OK) << to_go.message;
  EXPECT_EQ(to_go.response, "from rust");
  ExpectCleanStop(daemon);
}
#endif

// --- Draining --------------------------------------------------------------

// A client routed to a daemon serving the fixture on one URL, with
// fixture/sleep and fixture/echo resolved.
struct FixtureCaller {
  Client client;
  MethodPtr sleep;
  MethodPtr echo;
};

// Waits for daemon to be ready, then routes caller to it and makes the
// connection (an echo answered).
void ConnectToFixture(Daemon& daemon, FixtureCaller& caller) {
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  ASSERT_EQ(caller.client.Route("fixture", daemon.Urls()[0]), JN_OK);
  caller.sleep = caller.client.Resolve("fixture", "sleep");
  caller.echo = caller.client.Resolve("fixture", "echo");
  ASSERT_EQ(Call(caller.echo.get(), "connect first").code, JN_OK);
}

class DrainTest : public ::testing::TestWithParam<int> {};

TEST_P(DrainTest, CallsInFlightFinishLaterCallsAreUnavailableExitIsZero) {
  const int signal_number = GetParam();
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort});
  FixtureCaller caller;
  ASSERT_NO_FATAL_FAILURE(ConnectToFixture(daemon, caller));
  const MethodPtr& sleep = caller.sleep;
  const MethodPtr& echo = caller.echo;

  // The short call is the one the signal interrupts; the long one keeps
  // the daemon draining while the late call is made.
  auto short_call =
      std::async(std::launch::async, [&] { return Call(sleep.get(), Le64(300), 10s); });
  auto long_call =
      std::async(std::launch::async, [&] { return Call(sleep.get(), Le64(2000), 10s); });
  ASSERT_TRUE(daemon.WaitStderr("fixture: sleep", 2)) << daemon.Output();
  daemon.Signal(signal_number);
  ASSERT_TRUE(daemon.WaitStderr("draining")) << daemon.Output();
  // Held blocked while the daemon drains: it changes nothing.
  daemon.Signal(signal_number);

  const Answer finished = short_call.get();
  EXPECT_EQ(finished.code, JN_OK) << CodeName(finished.code) << ": " << finished.message;
  EXPECT_EQ(finished.response, Le64(300));
  // "draining" is logged just before the listeners start refusing, so a
  // call made at once may still be served; within a moment every call is
  // refused, while the long call keeps the daemon draining.
  Answer late = Call(echo.get(), "after the signal", 5s);
  int late_calls = 1;
  for (; late.code == JN_OK && late_calls <= 100; ++late_calls) {
    std::this_thread::sleep_for(10ms);
    late = Call(echo.get(), "after the signal", 5s);
  }
  EXPECT_EQ(late.code, JN_UNAVAILABLE) << CodeName(late.code) << ": " << late.message;
  EXPECT_TRUE(daemon.Running()) << "the late call should meet the draining daemon\n"
                                << daemon.Output();
  const Answer long_finished = long_call.get();
  EXPECT_EQ(long_finished.code, JN_OK)
      << CodeName(long_finished.code) << ": " << long_finished.message;

  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  const std::string name = signal_number == SIGINT ? "SIGINT" : "SIGTERM";
  EXPECT_TRUE(Contains(daemon.Stderr(), name + " received; draining")) << daemon.Output();
  EXPECT_FALSE(Contains(daemon.Stderr(), "cut short")) << daemon.Output();
  // After the drain it logs what the listener did, the calls answered
  // while it drained included: the first call, the two sleeps and the late
  // ones, each answered.
  const std::string calls = std::to_string(3 + late_calls);
  EXPECT_TRUE(Contains(daemon.Stderr(), daemon.Urls()[0] + ": " + calls + " requests taken and " +
                                            calls + " answers sent; 0 "))
      << daemon.Output();
}

INSTANTIATE_TEST_SUITE_P(Signals, DrainTest, ::testing::Values(SIGTERM, SIGINT),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGINT ? "SIGINT" : "SIGTERM");
                         });

// Makes a fixture/sleep call through caller, stops daemon with SIGTERM
// once the daemon has taken it, and checks that the call is answered and
// the daemon exits 0.
void ExpectTheDrainAnswersASleep(Daemon& daemon, FixtureCaller& caller) {
  auto in_flight =
      std::async(std::launch::async, [&] { return Call(caller.sleep.get(), Le64(1000), 10s); });
  // Sent, then followed by an echo answered on the same connection: the
  // daemon, which reads a connection's requests in order, has taken it.
  jn_route_stats route{};
  route.struct_size = sizeof route;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (route.in_flight == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
    ASSERT_EQ(jn_host_route_stats(caller.client.host(), "fixture", &route), JN_OK);
  }
  ASSERT_EQ(route.in_flight, 1U) << "the sleep was never sent";
  ASSERT_EQ(Call(caller.echo.get(), "behind it").code, JN_OK);
  daemon.Signal(SIGTERM);
  const Answer answered = in_flight.get();
  EXPECT_EQ(answered.code, JN_OK) << CodeName(answered.code) << ": " << answered.message;
  EXPECT_EQ(answered.response, Le64(1000));
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
}

// Standard error is a pipe nobody reads any longer (a log reader that died):
// every line the daemon logs, the drain's included, fails to be written,
// and the daemon serves, drains the call in flight and exits 0 all the
// same.
TEST(DaemonDrain, AGoneLogReaderStopsNeitherTheServingNorTheDrain) {
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort}, Daemon::Streams::kStderrGone);
  FixtureCaller caller;
  ASSERT_NO_FATAL_FAILURE(ConnectToFixture(daemon, caller));
  ExpectTheDrainAnswersASleep(daemon, caller);
}

#ifdef JN_TEST_GO_STDERR_BUNDLE
// The same with a Go bundle whose handler writes to that standard error:
// its Go runtime, started when the bundle was loaded, replaced the SIGPIPE
// disposition the daemon ignores with a handler of its own, and the bundle
// (package junction/module) asks for SIGPIPE, so that the Go write fails
// with EPIPE rather than end the daemon with SIGPIPE.
TEST(DaemonDrain, AGoneLogReaderStopsNeitherAGoBundleWritingToItNorTheDrain) {
  Daemon daemon(
      {"--module", JN_TEST_GO_STDERR_BUNDLE, "--module", kFixture, "--listen", kAnyTcpPort},
      Daemon::Streams::kStderrGone);
  FixtureCaller caller;
  ASSERT_NO_FATAL_FAILURE(ConnectToFixture(daemon, caller));
  ASSERT_EQ(caller.client.Route("go.stderr", daemon.Urls()[0]), JN_OK);
  const MethodPtr write = caller.client.Resolve("go.stderr", "write");
  for (int line = 0; line < 2; ++line) {
    const Answer written = Call(write.get(), "a line nobody reads\n");
    ASSERT_EQ(written.code, JN_OK) << CodeName(written.code) << ": " << written.message;
    EXPECT_TRUE(Contains(written.response, "broken pipe")) << written.response;
  }
  ExpectTheDrainAnswersASleep(daemon, caller);
}

// The signals a /proc/PID/status shows in its line named field ("SigIgn:",
// say), as a mask whose bit N - 1 is signal N; nullopt without that line.
std::optional<std::uint64_t> SignalMask(std::string_view status, std::string_view field) {
  const std::size_t at = status.find(field);
  if (at == std::string_view::npos) return std::nullopt;
  std::uint64_t mask = 0;
  const std::string_view hex = status.substr(at + field.size());
  const std::size_t digits = hex.find_first_not_of(" \t");
  if (digits == std::string_view::npos) return std::nullopt;
  if (std::from_chars(hex.data() + digits, hex.data() + hex.size(), mask, 16).ec != std::errc{}) {
    return std::nullopt;
  }
  return mask;
}

// A process a Go bundle starts gets SIGPIPE at its default disposition:
// the daemon's ignored one would survive its exec and break a program that
// stops on a closed pipe. (It keeps the daemon's blocked stop signals, as
// junction-host's README says.)
TEST(DaemonSignals, AProcessAGoBundleStartsHasSIGPIPEAtItsDefault) {
  Daemon daemon({"--module", JN_TEST_GO_STDERR_BUNDLE, "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("go.stderr", daemon.Urls()[0]), JN_OK);
  const MethodPtr status = client.Resolve("go.stderr", "status");
  const Answer started = Call(status.get(), "");
  ASSERT_EQ(started.code, JN_OK) << CodeName(started.code) << ": " << started.message;
  const std::optional<std::uint64_t> ignored = SignalMask(started.response, "SigIgn:");
  ASSERT_TRUE(ignored.has_value()) << started.response;
  EXPECT_EQ(*ignored & (std::uint64_t{1} << (SIGPIPE - 1)), 0U)
      << "the process ignored SIGPIPE: " << started.response;
  ExpectCleanStop(daemon);
}
#endif

// Reads the pipe fd until what it gave holds needle, for at most timeout;
// what it read.
std::string ReadUntil(int fd, std::string_view needle, std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  std::string text;
  while (text.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    pollfd readable{.fd = fd, .events = POLLIN, .revents = 0};
    if (left <= 0ms || poll(&readable, 1, static_cast<int>(left.count())) != 1) break;
    std::array<char, 4096> chunk{};
    const ssize_t n = read(fd, chunk.data(), chunk.size());
    if (n <= 0) break;
    text.append(chunk.data(), static_cast<std::size_t>(n));
  }
  return text;
}

// Fills the pipe whose reading end is read_end to the brim, through a
// writing end of its own that does not block (the daemon's blocks), so
// that the daemon's next write to it blocks until it is read.
void FillPipe(int read_end) {
  const std::string path = "/proc/self/fd/" + std::to_string(read_end);
  const int fd = open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path << ": " << std::generic_category().message(errno);
  const std::string filler(4096, '.');
  // Whole pages while a buffer is free, then bytes into the last one.
  for (const std::size_t size : {filler.size(), std::size_t{1}}) {
    while (write(fd, filler.data(), size) > 0) {
    }
  }
  const int error = errno;
  close(fd);
  ASSERT_EQ(error, EAGAIN) << std::generic_category().message(error);
}

// A log reader that stalls (standard error a full pipe nobody reads) holds
// up neither a report nor a stop: after SIGUSR1 and SIGTERM, which both
// log, the daemon refuses new calls at once, lets the call in flight
// finish and exits 0 while the pipe is still full.
TEST(DaemonDrain, AStalledLogReaderHoldsUpNeitherAReportNorTheStop) {
  // The sleep keeps the daemon draining until the late calls are refused,
  // and the test waits for it: long enough for a slow (sanitized) run to
  // get there first, no longer. The drain timeout outlasts it.
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort, "--drain-timeout", "20"},
                Daemon::Streams::kStderrStalled);
  FixtureCaller caller;
  ASSERT_NO_FATAL_FAILURE(ConnectToFixture(daemon, caller));
  auto in_flight =
      std::async(std::launch::async, [&] { return Call(caller.sleep.get(), Le64(5000), 20s); });
  // fixture/sleep has written its line (into the pipe, which has room
  // until it is filled): it writes nothing more.
  ASSERT_TRUE(Contains(ReadUntil(daemon.StalledStderr(), "fixture: sleep 5000 ms\n", 10s),
                       "fixture: sleep 5000 ms\n"));
  ASSERT_NO_FATAL_FAILURE(FillPipe(daemon.StalledStderr()));

  daemon.Signal(SIGUSR1);
  daemon.Signal(SIGTERM);
  Answer late = Call(caller.echo.get(), "after the signal", 5s);
  for (int late_calls = 1; late.code == JN_OK && late_calls <= 100; ++late_calls) {
    std::this_thread::sleep_for(10ms);
    late = Call(caller.echo.get(), "after the signal", 5s);
  }
  EXPECT_EQ(late.code, JN_UNAVAILABLE) << CodeName(late.code) << ": " << late.message;
  EXPECT_TRUE(daemon.Running()) << "the sleep should keep the daemon draining";
  const Answer finished = in_flight.get();
  EXPECT_EQ(finished.code, JN_OK) << CodeName(finished.code) << ": " << finished.message;
  // A daemon held up by its log would wait for the reader for ever.
  EXPECT_EQ(daemon.WaitExit(), 0) << "with standard error still full";
}

// A stop asked for while a module is still loading (its init takes a
// second) ends the daemon once the loading is done, before it binds or
// says it is ready: a supervisor that reads "ready" is never told so by a
// daemon on its way out.
TEST(DaemonDrain, ASignalWhileTheModulesLoadStopsTheDaemonBeforeItIsReady) {
  // The daemon inherits the environment; no other thread of this test runs
  // while it is changed.
  setenv("JUNCTION_FIXTURE_INIT_WAIT_MS", "1000", 1);  // NOLINT(concurrency-mt-unsafe)
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort});
  unsetenv("JUNCTION_FIXTURE_INIT_WAIT_MS");  // NOLINT(concurrency-mt-unsafe)
  ASSERT_TRUE(daemon.WaitStderr("fixture: init waits 1000 ms")) << daemon.Output();
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  EXPECT_FALSE(Contains(daemon.Stdout(), "ready")) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stderr(), "SIGTERM received while the modules loaded"))
      << daemon.Output();
}

TEST(DaemonDrain, TimeoutCutsLongCallsShortAndExitsOne) {
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort, "--drain-timeout", "0.3"});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr sleep = client.Resolve("fixture", "sleep");
  constexpr auto kDeadline = 20s;
  auto call =
      std::async(std::launch::async, [&] { return Call(sleep.get(), Le64(30'000), kDeadline); });
  ASSERT_TRUE(daemon.WaitStderr("fixture: sleep")) << daemon.Output();

  const auto signalled = std::chrono::steady_clock::now();
  daemon.Signal(SIGTERM);
  EXPECT_EQ(daemon.WaitExit(), 1) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stderr(), "cut short")) << daemon.Output();

  // The daemon's exit closed the call's connection, and its loss answers
  // the call (docs/wire.md, "Connections"), long before its deadline: the
  // code shows the cut; the bound, far above the 0.3 s drain timeout and
  // below the deadline, catches only a hang.
  const Answer cut = call.get();
  EXPECT_EQ(cut.code, JN_UNAVAILABLE) << CodeName(cut.code) << ": " << cut.message;
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 10s) << "the drain timeout is 0.3 s";
}

// --- Dying and starting again ------------------------------------------

TEST(DaemonKill, CallersAreAnsweredInTimeAndAReplacementServesThemAgain) {
  const TempDir dir;
  const std::string ipc = dir.IpcUrl("killed.sock");
  auto first = std::make_unique<Daemon>(std::vector<std::string>{
      "--module", kFixture, "--listen", kAnyTcpPort, "--listen", ipc, "--threads", "6"});
  ASSERT_TRUE(first->WaitReady()) << first->Output();
  const std::vector<std::string> urls = first->Urls();
  ASSERT_EQ(urls.size(), 2U) << first->Output();
  ASSERT_EQ(urls[1], ipc);

  Client over_tcp;
  Client over_ipc;
  MethodPtr tcp_echo;
  MethodPtr ipc_echo;
  ASSERT_NO_FATAL_FAILURE(ConnectEchoes(urls, over_tcp, over_ipc, tcp_echo, ipc_echo));
  const MethodPtr tcp_sleep = over_tcp.Resolve("fixture", "sleep");
  const MethodPtr ipc_sleep = over_ipc.Resolve("fixture", "sleep");

  constexpr int kCallersPerUrl = 4;
  std::vector<std::future<Answer>> calls;
  for (int i = 0; i < kCallersPerUrl; ++i) {
    for (const jn_method* sleep : {tcp_sleep.get(), ipc_sleep.get()}) {
      calls.push_back(std::async(
          std::launch::async, [sleep] { return Call(sleep, Le64(60'000), kKilledCallDeadline); }));
    }
  }
  ASSERT_TRUE(first->WaitStderr("fixture: sleep", 2 * kCallersPerUrl)) << first->Output();
  first->Signal(SIGKILL);
  EXPECT_EQ(first->WaitExit(), 128 + SIGKILL);
  // The loss of their connection answers them (docs/wire.md,
  // "Connections"), not their deadline, which is far enough away that no
  // machine is slow enough to reach it first.
  for (auto& call : calls) {
    const Answer answer = call.get();
    EXPECT_EQ(answer.code, JN_UNAVAILABLE) << CodeName(answer.code) << ": " << answer.message;
  }
  first.reset();

  // The same port and the same socket path: the killed daemon's leftovers
  // (its socket file, its connections in TIME_WAIT) must not stand in the way.
  Daemon second({"--module", kFixture, "--listen", urls[0], "--listen", urls[1]});
  ASSERT_TRUE(second.WaitReady()) << second.Output();
  EXPECT_EQ(second.Urls(), urls) << second.Output();
  ExpectServedAgain({tcp_echo.get(), ipc_echo.get()});
  ExpectCleanStop(second);
}

// --- A daemon that stops answering ------------------------------------

// A stopped daemon (SIGSTOP) keeps its connections open and says nothing:
// only the ZMTP heartbeats on a route's liveness connection (docs/wire.md:
// one a second, a connection silent for five dropped, its calls failed
// half a second later) tell its callers, so that even a call with no
// deadline is answered UNAVAILABLE instead of waiting for ever. Continued,
// the daemon serves the same routes again.
TEST(DaemonStopped, CallsWithoutADeadlineAreAnsweredUnavailableAndServedAgainOnceContinued) {
  const TempDir dir;
  Daemon daemon(
      {"--module", kFixture, "--listen", kAnyTcpPort, "--listen", dir.IpcUrl("stopped.sock")});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 2U) << daemon.Output();
  Client over_tcp;
  Client over_ipc;
  MethodPtr tcp_echo;
  MethodPtr ipc_echo;
  ASSERT_NO_FATAL_FAILURE(ConnectEchoes(urls, over_tcp, over_ipc, tcp_echo, ipc_echo));

  ASSERT_TRUE(daemon.Suspend()) << daemon.Output();
  std::vector<std::future<Answer>> calls;
  for (const jn_method* echo : {tcp_echo.get(), ipc_echo.get()}) {
    calls.push_back(
        std::async(std::launch::async, [echo] { return Call(echo, "frozen", kNoDeadline); }));
  }
  // The heartbeat timeout starts at the first heartbeat left unanswered:
  // at most one interval, then the timeout, then the route's grace.
  constexpr auto kSilenceNoticed = 1s + 5s + 500ms;
  for (auto& call : calls) {
    if (call.wait_for(kSilenceNoticed + 4 * kSlack) != std::future_status::ready) {
      daemon.Signal(SIGKILL);  // closes its connections, so the calls return
      FAIL() << "a call to the stopped daemon is still waiting";
    }
    const Answer answer = call.get();
    EXPECT_EQ(answer.code, JN_UNAVAILABLE)
        << CodeName(answer.code) << ": " << answer.message << "\n"
        << daemon.Output();
  }
  // Until it answers again, new calls are refused at once, saying why.
  for (const jn_method* echo : {tcp_echo.get(), ipc_echo.get()}) {
    const Answer refused = Call(echo, "refused", 5s);
    EXPECT_EQ(refused.code, JN_UNAVAILABLE)
        << CodeName(refused.code) << ": " << refused.message << "\n"
        << daemon.Output();
    EXPECT_TRUE(Contains(refused.message, "stopped answering")) << refused.message;
    EXPECT_LT(refused.elapsed, 1s);
  }

  daemon.Signal(SIGCONT);
  ExpectServedAgain({tcp_echo.get(), ipc_echo.get()});
  ExpectCleanStop(daemon);
}

// --- Threads -------------------------------------------------------------

// The slices (sched_attr's runtime) of the threads of process pid named name.
std::vector<std::uint64_t> SlicesOfThreads(pid_t pid, std::string_view name) {
  std::vector<std::uint64_t> slices;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::string comm;
    std::ifstream(task.path() / "comm") >> comm;
    junction::detail::SchedAttr attr;
    if (comm == name &&
        junction::detail::get_sched_attr(std::stoi(task.path().filename().string()), attr)) {
      slices.push_back(attr.runtime_ns);
    }
  }
  return slices;
}

// Expects every thread of the daemon named name (at least one) to report
// slice_ns. Kernels before Linux 6.12 report 0 for every thread: there the
// threads are only counted, and the test ends skipped, saying so (the rest
// of it still runs, and fails it if anything else is wrong).
void ExpectThreadsSlice(const Daemon& daemon, const char* name, std::uint64_t slice_ns) {
  junction::detail::SchedAttr own;
  ASSERT_TRUE(junction::detail::get_sched_attr(0, own));
  const std::uint64_t expected = own.runtime_ns == 0 ? 0 : slice_ns;
  std::vector<std::uint64_t> slices = SlicesOfThreads(daemon.Pid(), name);
  const auto all_expected = [&] {
    return !slices.empty() &&
           std::ranges::all_of(slices, [&](std::uint64_t slice) { return slice == expected; });
  };
  // A thread just started has the slice it inherited until it asks.
  for (int tries = 0; tries < 500 && !all_expected(); ++tries) {
    std::this_thread::sleep_for(10ms);
    slices = SlicesOfThreads(daemon.Pid(), name);
  }
  EXPECT_FALSE(slices.empty()) << name;
  for (const std::uint64_t slice : slices) {
    EXPECT_EQ(slice, expected) << name;
  }
  if (own.runtime_ns == 0) {
    GTEST_SKIP() << "the kernel reports no thread slices (Linux before 6.12): " << name
                 << " threads were counted, their slices not checked";
  }
}

// Serves one call with --thread-slice thread_slice, and expects the
// daemon's threads named name to report slice_ns.
void ExpectThreadSliceServing(const std::string& thread_slice, const char* name,
                              std::uint64_t slice_ns) {
  SCOPED_TRACE(thread_slice);
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort, "--thread-slice", thread_slice});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  EXPECT_EQ(Call(echo.get(), Payload(64)).code, JN_OK);
  ExpectThreadsSlice(daemon, name, slice_ns);
  ExpectCleanStop(daemon);
}

TEST(DaemonThreads, ThreadSliceChoosesTheSliceTheThreadsRunningCallsAskFor) {
  ExpectThreadSliceServing("2", "jn-listener", 2'000'000);
  ExpectThreadSliceServing("0.25", "jn-worker", 250'000);
}

TEST(DaemonThreads, ThreadSliceInheritLeavesThemTheDaemonsSlice) {
  // The daemon's own threads start with the slice of the test's thread.
  junction::detail::SchedAttr own;
  ASSERT_TRUE(junction::detail::get_sched_attr(0, own));
  ExpectThreadSliceServing("inherit", "jn-listener", own.runtime_ns);
}

// --- Configuration -----------------------------------------------------

TEST(DaemonConfig, ReadsAConfigFileAndCombinesItWithTheCommandLine) {
  const TempDir dir;
  std::filesystem::create_directory(dir.path() / "modules");
  const std::filesystem::path copied =
      dir.path() / "modules" / std::filesystem::path(kFixture).filename();
  std::filesystem::copy_file(kFixture, copied);
  const std::string ipc = dir.IpcUrl("config.sock");
  const std::filesystem::path config = dir.path() / "junction-host.conf";
  std::ofstream(config) << "# the daemon test's configuration\n"
                        << "module = modules/" << copied.filename().string() << "\n"
                        << "  module=" << kGreeter << "  \n"
                        << "\n"
                        << "listen = " << ipc << "\n"
                        << "serve = fixture\n"
                        << "threads = 2\n"
                        << "drain-timeout = 5\n"
                        << "thread-slice = 3\n"
                        << "max-payload = 65536\n";

  // The command line adds a listener and overrides the drain timeout.
  Daemon daemon({"--config", config.string(), "--listen", kAnyTcpPort, "--drain-timeout", "7"});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 2U) << daemon.Output();
  EXPECT_EQ(urls[0], ipc);
  EXPECT_TRUE(urls[1].starts_with("zmq+tcp://127.0.0.1:")) << urls[1];
  for (const std::string& url : urls) {
    EXPECT_TRUE(Contains(daemon.Stdout(), "junction-host: serving fixture on " + url + "\n"))
        << daemon.Output();
  }
  // The relative path was taken from the config file's directory.
  EXPECT_TRUE(daemon.WaitStderr("loaded module " + copied.string())) << daemon.Output();

  Client client;
  ASSERT_EQ(client.Route("fixture", urls[0]), JN_OK);
  ASSERT_EQ(client.Route("greeter", urls[1]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  const Answer echoed = Call(echo.get(), Payload(64));
  EXPECT_EQ(echoed.code, JN_OK) << CodeName(echoed.code) << ": " << echoed.message;
  EXPECT_EQ(echoed.response, Payload(64));
  const Answer over = Call(echo.get(), Payload(65537));
  EXPECT_EQ(over.code, JN_RESOURCE_EXHAUSTED) << CodeName(over.code) << ": " << over.message;
  const MethodPtr hello = client.Resolve("greeter", "hello");
  const Answer refused = Call(hello.get(), "not served");
  EXPECT_EQ(refused.code, JN_NOT_FOUND) << CodeName(refused.code) << ": " << refused.message;
  ExpectThreadsSlice(daemon, "jn-listener", 3'000'000);

  ExpectCleanStop(daemon);
  EXPECT_TRUE(Contains(daemon.Stderr(), "(at most 7 s)")) << daemon.Output();
}

// --- CURVE ------------------------------------------------------------------

struct KeyPair {
  std::string public_key;
  std::string secret_key;
};

KeyPair NewKeyPair() {
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_key{};
  std::array<char, JN_CURVE_KEY_LENGTH + 1> secret_key{};
  EXPECT_EQ(jn_curve_keypair(public_key.data(), secret_key.data(), nullptr), JN_OK);
  return {public_key.data(), secret_key.data()};
}

// Routes service on client to url with CURVE: the daemon's public key, and
// the route's own pair.
std::int32_t RouteWithCurve(const Client& client, const std::string& service,
                            const std::string& url, const std::string& server_key,
                            const KeyPair& pair, std::string* message = nullptr) {
  jn_route_options options{};
  options.struct_size = sizeof options;
  options.curve_server_key = server_key.c_str();
  options.curve_public_key = pair.public_key.c_str();
  options.curve_secret_key = pair.secret_key.c_str();
  jn_status status{};
  const std::int32_t code =
      jn_host_route(client.host(), service.c_str(), url.c_str(), &options, &status);
  std::string text(reinterpret_cast<const char*>(status.message.data),
                   static_cast<std::size_t>(status.message.len));
  jn_status_release(&status);
  if (message != nullptr) *message = std::move(text);
  return code;
}

// --curve-keygen makes a secret key only its owner can read and prints the
// public key; a daemon serving with that key (named in a config file,
// relative to it) and a client list lets in the listed clients only, over
// tcp and ipc.
TEST(DaemonCurve, KeygenThenServesEncryptedToTheListedClientsOnly) {
  const TempDir dir;
  const std::filesystem::path secret = dir.path() / "keys" / "daemon.secret";
  std::filesystem::create_directory(secret.parent_path());
  Daemon keygen({"--curve-keygen", secret.string()});
  ASSERT_EQ(keygen.WaitExit(), 0) << keygen.Output();
  const std::string public_key = keygen.Stdout().substr(0, JN_CURVE_KEY_LENGTH);
  EXPECT_EQ(keygen.Stdout(), public_key + "\n");
  EXPECT_EQ(std::filesystem::status(secret).permissions(),
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  Daemon again({"--curve-keygen", secret.string()});
  EXPECT_EQ(again.WaitExit(), 1) << again.Output();
  EXPECT_TRUE(Contains(again.Stderr(), "File exists")) << again.Output();

  const KeyPair allowed = NewKeyPair();
  const KeyPair stranger = NewKeyPair();
  const std::filesystem::path clients = dir.path() / "clients";
  std::ofstream(clients) << "# who may call\n\n" << allowed.public_key << "\n";
  const std::filesystem::path config = dir.path() / "curve.conf";
  std::ofstream(config) << "curve-secret-key-file = keys/daemon.secret\n";
  const std::string ipc = dir.IpcUrl("curve.sock");
  Daemon daemon({"--config", config.string(), "--module", kFixture, "--listen", kAnyTcpPort,
                 "--listen", ipc, "--curve-client-keys-file", clients.string()});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  EXPECT_TRUE(daemon.WaitStderr("clients route with the public key " + public_key +
                                "; 1 client key(s) let in, no other\n"))
      << daemon.Output();
  const std::vector<std::string> urls = daemon.Urls();
  ASSERT_EQ(urls.size(), 2U) << daemon.Output();
  for (const std::string& url : urls) {
    SCOPED_TRACE(url);
    Client client;
    ASSERT_EQ(RouteWithCurve(client, "fixture", url, public_key, allowed), JN_OK);
    const MethodPtr echo = client.Resolve("fixture", "echo");
    ExpectEchoes(echo.get());

    Client refused;
    ASSERT_EQ(RouteWithCurve(refused, "fixture", url, public_key, stranger), JN_OK);
    const MethodPtr refused_echo = refused.Resolve("fixture", "echo");
    const Answer answer = Call(refused_echo.get(), "let me in", 5s);
    EXPECT_EQ(answer.code, JN_UNAVAILABLE) << CodeName(answer.code) << ": " << answer.message;
    EXPECT_TRUE(Contains(answer.message, "refused this route's CURVE key")) << answer.message;

    Client plain;
    ASSERT_EQ(plain.Route("fixture", url), JN_OK);
    const MethodPtr plain_echo = plain.Resolve("fixture", "echo");
    EXPECT_EQ(Call(plain_echo.get(), "in the clear", 5s).code, JN_UNAVAILABLE);
  }
  ExpectCleanStop(daemon);
}

// SIGHUP reads the client keys file again and puts it in force: a key
// taken off is refused at its connection's next call, a key put on
// connects; a file that cannot be used is logged and changes nothing.
TEST(DaemonCurve, SighupPutsTheClientKeysFileInForce) {
  const TempDir dir;
  const KeyPair daemon_keys = NewKeyPair();
  const std::filesystem::path secret = dir.path() / "daemon.secret";
  std::ofstream(secret) << daemon_keys.secret_key << "\n";
  std::filesystem::permissions(
      secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const KeyPair first = NewKeyPair();
  const KeyPair second = NewKeyPair();
  const std::filesystem::path clients = dir.path() / "clients";
  std::ofstream(clients) << first.public_key << "\n";
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort, "--curve-secret-key-file",
                 secret.string(), "--curve-client-keys-file", clients.string()});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  const std::string url = daemon.Urls()[0];
  Client first_client;
  ASSERT_EQ(RouteWithCurve(first_client, "fixture", url, daemon_keys.public_key, first), JN_OK);
  const MethodPtr first_echo = first_client.Resolve("fixture", "echo");
  Client second_client;
  ASSERT_EQ(RouteWithCurve(second_client, "fixture", url, daemon_keys.public_key, second), JN_OK);
  const MethodPtr second_echo = second_client.Resolve("fixture", "echo");
  EXPECT_EQ(Call(first_echo.get(), "first").code, JN_OK);
  EXPECT_EQ(Call(second_echo.get(), "second", 5s).code, JN_UNAVAILABLE);

  std::ofstream(clients) << "# rotated\n" << second.public_key << "\n";
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitStderr("SIGHUP received; 1 client key(s) from " + clients.string() +
                                " let in, no other"))
      << daemon.Output();
  const Answer refused = Call(first_echo.get(), "first again");
  EXPECT_EQ(refused.code, JN_PERMISSION_DENIED)
      << CodeName(refused.code) << ": " << refused.message;
  EXPECT_EQ(refused.message, "this client's CURVE key is no longer let in at " + url);
  // The route makes its refused connection again a second later.
  Answer admitted{};
  for (int attempt = 0; attempt < 50 && admitted.code != JN_OK; ++attempt) {
    admitted = Call(second_echo.get(), "second again", 5s);
    if (admitted.code != JN_OK) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(admitted.code, JN_OK) << CodeName(admitted.code) << ": " << admitted.message;

  std::ofstream(clients) << "not a key\n";
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(daemon.WaitStderr("; the client keys in force stay")) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stderr(), clients.string() + ":1: not a CURVE public key"))
      << daemon.Output();
  EXPECT_EQ(Call(second_echo.get(), "still let in").code, JN_OK);
  EXPECT_EQ(Call(first_echo.get(), "still refused").code, JN_PERMISSION_DENIED);

  daemon.Signal(SIGUSR1);
  ASSERT_TRUE(daemon.WaitStderr("fixture/echo: ")) << daemon.Output();
  // Each refused attempt of the second route is two handshakes (its calls'
  // connection and its liveness one), and it may have attempted again.
  EXPECT_TRUE(Contains(daemon.Stderr(), "; CURVE client keys refused ")) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stderr(), " handshakes and 2 calls\n")) << daemon.Output();
  ExpectCleanStop(daemon);
}

// Without a client keys file SIGHUP has nothing to read: it says so, and
// the daemon serves on (SIGHUP's default action would end it).
TEST(DaemonCurve, SighupWithoutAClientKeysFileChangesNothing) {
  Daemon daemon({"--module", kFixture, "--listen", kAnyTcpPort});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  daemon.Signal(SIGHUP);
  ASSERT_TRUE(
      daemon.WaitStderr("SIGHUP received; there is no --curve-client-keys-file to read "
                        "again"))
      << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  EXPECT_EQ(Call(echo.get(), "served on").code, JN_OK);
  ExpectCleanStop(daemon);
}

TEST(DaemonCli, HelpPrintsTheUsageAndExitsZero) {
  Daemon daemon({"--help"});
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  EXPECT_TRUE(daemon.Stdout().starts_with("Usage: junction-host")) << daemon.Output();
  EXPECT_TRUE(Contains(daemon.Stdout(), "junction-host: serving SERVICES on URL"));
}

// What --help, --list and --curve-keygen print, standard output cannot
// take (/dev/full): each says so on standard error and exits 1, and
// --curve-keygen removes the secret key whose public key it could not
// show, so that a second try can make one there.
TEST(DaemonCli, WhatStandardOutputCannotTakeFailsSayingSo) {
  Daemon help({"--help"}, Daemon::Streams::kStdoutFull);
  EXPECT_EQ(help.WaitExit(), 1) << help.Output();
  EXPECT_EQ(help.Stderr(),
            "junction-host: --help: cannot print the usage on standard output: No space left on "
            "device\n");

  Daemon list({"--module", kFixture, "--list"}, Daemon::Streams::kStdoutFull);
  EXPECT_EQ(list.WaitExit(), 1) << list.Output();
  EXPECT_TRUE(Contains(list.Stderr(),
                       "junction-host: --list: cannot print the methods on standard output: No "
                       "space left on device\n"))
      << list.Output();

  const TempDir dir;
  const std::string secret = (dir.path() / "daemon.secret").string();
  Daemon keygen({"--curve-keygen", secret}, Daemon::Streams::kStdoutFull);
  EXPECT_EQ(keygen.WaitExit(), 1) << keygen.Output();
  EXPECT_EQ(keygen.Stderr(), "junction-host: --curve-keygen " + secret +
                                 ": cannot print the public key on standard output: No space "
                                 "left on device; the secret key is removed again\n");
  EXPECT_FALSE(std::filesystem::exists(secret));
  Daemon again({"--curve-keygen", secret});
  EXPECT_EQ(again.WaitExit(), 0) << again.Output();
  EXPECT_EQ(again.Stdout().size(), JN_CURVE_KEY_LENGTH + 1) << again.Output();
  EXPECT_TRUE(std::filesystem::exists(secret));
}

// Started with standard input, output and error closed (`<&- >&- 2>&-`),
// the daemon opens /dev/null on them before anything else can take their
// numbers (libzmq's eventfds would, and what the daemon prints would go
// into them); it serves and drains as ever.
TEST(DaemonCli, ClosedStandardStreamsAreOpenedOnDevNull) {
  const TempDir dir;
  const std::string ipc = dir.IpcUrl("closed.sock");
  Daemon daemon({"--module", kFixture, "--listen", ipc}, Daemon::Streams::kClosed);
  Client client;
  ASSERT_EQ(client.Route("fixture", ipc), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  // Nothing can say it is ready: an answer does.
  ExpectServedAgain({echo.get()});
  for (const int fd : {0, 1, 2}) {
    const std::filesystem::path link =
        "/proc/" + std::to_string(daemon.Pid()) + "/fd/" + std::to_string(fd);
    std::error_code error;
    EXPECT_EQ(std::filesystem::read_symlink(link, error), std::filesystem::path("/dev/null"))
        << link << ": " << error.message();
  }
  ExpectCleanStop(daemon);
}

// --list prints every method the modules registered and exits, serving
// nothing: no --listen is needed, and one given is not bound.
TEST(DaemonCli, ListPrintsTheModulesMethodsAndExitsWithoutServing) {
  Daemon daemon({"--module", kFixture, "--module", kGreeter, "--list"});
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  EXPECT_EQ(daemon.Stdout(), "fixture/echo\nfixture/fail\nfixture/sleep\ngreeter/hello\n")
      << daemon.Output();

  Daemon listing({"--module", kGreeter, "--listen", kAnyTcpPort, "--list"});
  EXPECT_EQ(listing.WaitExit(), 0) << listing.Output();
  EXPECT_EQ(listing.Stdout(), "greeter/hello\n") << listing.Output();
}

// A module given by a bare file name on the command line is the file of
// that name in the working directory (dlopen would search its library path
// for one of that name instead), as a relative path in a config file is
// the file next to it.
TEST(DaemonCli, ABareModuleNameIsTheFileInTheWorkingDirectory) {
  const std::filesystem::path module(kFixture);
  struct WorkingDirectory {
    std::filesystem::path before = std::filesystem::current_path();
    ~WorkingDirectory() { std::filesystem::current_path(before); }
  } restored;
  std::filesystem::current_path(module.parent_path());
  Daemon daemon({"--module", module.filename().string(), "--list"});
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  EXPECT_EQ(daemon.Stdout(), "fixture/echo\nfixture/fail\nfixture/sleep\n") << daemon.Output();
}

// A config file that an editor began with a UTF-8 byte order mark reads as
// one without it.
TEST(DaemonConfig, AByteOrderMarkBeginsNoKey) {
  const TempDir dir;
  const std::filesystem::path config = dir.path() / "marked.conf";
  std::ofstream(config) << "\xEF\xBB\xBFmodule = " << kFixture << "\n";
  Daemon daemon({"--config", config.string(), "--list"});
  EXPECT_EQ(daemon.WaitExit(), 0) << daemon.Output();
  EXPECT_EQ(daemon.Stdout(), "fixture/echo\nfixture/fail\nfixture/sleep\n") << daemon.Output();
}

// A '#' that follows a blank begins a comment running to the line's end; a
// '#' within a word is part of the value (here a module's file name).
TEST(DaemonConfig, ACommentMayEndALine) {
  const TempDir dir;
  const std::filesystem::path module = dir.path() / "lib#fixture.so";
  std::filesystem::copy_file(kFixture, module);
  const std::filesystem::path config = dir.path() / "commented.conf";
  std::ofstream(config) << "module = lib#fixture.so # the fixture, copied\n"
                        << "listen = " << kAnyTcpPort << "\t# any port\n"
                        << "threads = 2 #two\n";
  Daemon daemon({"--config", config.string()});
  ASSERT_TRUE(daemon.WaitReady()) << daemon.Output();
  ASSERT_EQ(daemon.Urls().size(), 1U) << daemon.Output();
  EXPECT_TRUE(daemon.Urls()[0].starts_with("zmq+tcp://127.0.0.1:")) << daemon.Output();
  EXPECT_TRUE(daemon.WaitStderr("loaded module " + module.string() + ": fixture"))
      << daemon.Output();
  Client client;
  ASSERT_EQ(client.Route("fixture", daemon.Urls()[0]), JN_OK);
  const MethodPtr echo = client.Resolve("fixture", "echo");
  EXPECT_EQ(Call(echo.get(), "commented").response, "commented");
  ExpectCleanStop(daemon);
}

// What a refused configuration case can use: a directory of its own and a
// TCP address something else is bound to.
struct Setting {
  std::filesystem::path dir;
  std::string busy_url;
  std::string good_ipc;

  // Writes a config file holding text; returns its path.
  [[nodiscard]] std::string Config(const std::string& text) const {
    return File("refused.conf", text);
  }

  // Writes the file name in dir holding text, with permissions; returns
  // its path.
  [[nodiscard]] std::string File(
      const std::string& name, const std::string& text,
      std::filesystem::perms permissions = std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write) const {
    const std::filesystem::path path = dir / name;
    std::ofstream(path) << text;
    std::filesystem::permissions(path, permissions);
    return path.string();
  }
};

struct Refusal {
  std::string name;
  int exit_code;
  // The daemon's arguments, and what its one error line must hold.
  std::function<std::vector<std::string>(const Setting&)> args;
  std::function<std::vector<std::string>(const Setting&)> says;
  // What must hold once it has exited, if anything.
  std::function<void(const Setting&)> leaves = nullptr;
};

void PrintTo(const Refusal& refusal, std::ostream* out) { *out << refusal.name; }

class RefusalTest : public ::testing::TestWithParam<Refusal> {
 protected:
  void SetUp() override {
    setting_.dir = dir_.path();
    setting_.good_ipc = dir_.IpcUrl("good.sock");
    busy_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(busy_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ASSERT_EQ(bind(busy_, reinterpret_cast<sockaddr*>(&address), length), 0);
    ASSERT_EQ(listen(busy_, 1), 0);
    ASSERT_EQ(getsockname(busy_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    setting_.busy_url = "zmq+tcp://127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  }
  void TearDown() override {
    if (busy_ >= 0) close(busy_);
  }

  TempDir dir_;
  Setting setting_;
  int busy_ = -1;
};

TEST_P(RefusalTest, ExitsAtOnceWithOneLineNamingTheProblem) {
  const Refusal& refusal = GetParam();
  Daemon daemon(refusal.args(setting_));
  const std::optional<int> exit_code = daemon.WaitExit(20s);
  ASSERT_TRUE(exit_code.has_value()) << "still running\n" << daemon.Output();
  EXPECT_EQ(*exit_code, refusal.exit_code) << daemon.Output();
  EXPECT_FALSE(Contains(daemon.Stdout(), "ready")) << daemon.Output();
  std::vector<std::string> errors;
  std::istringstream lines(daemon.Stderr());
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("junction-host: loaded module ")) errors.push_back(line);
  }
  ASSERT_EQ(errors.size(), 1U) << daemon.Output();
  EXPECT_TRUE(errors[0].starts_with("junction-host: ")) << errors[0];
  for (const std::string& part : refusal.says(setting_)) {
    EXPECT_TRUE(Contains(errors[0], part)) << "wanted: " << part << "\ngot: " << errors[0];
  }
  if (refusal.leaves) refusal.leaves(setting_);
}

using Args = std::vector<std::string>;

// The arguments that serve the fixture on a tcp port, then extra.
Args ServingWith(Args extra) {
  Args args{"--module", kFixture, "--listen", kAnyTcpPort};
  args.insert(args.end(), std::make_move_iterator(extra.begin()),
              std::make_move_iterator(extra.end()));
  return args;
}

std::vector<Refusal> Refusals() {
  return {
      {"MissingModule", 1,
       [](const Setting& s) {
         return Args{"--module", (s.dir / "no-such-module.so").string(), "--listen", kAnyTcpPort};
       },
       [](const Setting& s) {
         return Args{"cannot load module " + (s.dir / "no-such-module.so").string()};
       }},
      {"MismatchedAbi", 1,
       [](const Setting&) {
         return Args{"--module", kMismatched, "--listen", kAnyTcpPort};
       },
       [](const Setting&) {
         return Args{kMismatched, "ABI 2.0"};
       }},
      {"FailingModuleInit", 1,
       [](const Setting&) {
         return Args{"--module", kFixture, "--module", kFailingInit, "--listen", kAnyTcpPort};
       },
       [](const Setting&) {
         return Args{kFailingInit, "failed to initialise", "configuration missing"};
       }},
      // The first listener is bound when the second fails: it is closed again.
      {"TcpAddressInUse", 1,
       [](const Setting& s) {
         return Args{"--module", kFixture, "--listen", s.good_ipc, "--listen", s.busy_url};
       },
       [](const Setting& s) {
         return Args{s.busy_url, "in use"};
       }},
      {"IpcDirectoryMissing", 1,
       [](const Setting& s) {
         return Args{"--module", kFixture, "--listen",
                     "zmq+ipc://" + (s.dir / "no-such-dir" / "d.sock").string()};
       },
       [](const Setting& s) {
         return Args{"zmq+ipc://" + (s.dir / "no-such-dir" / "d.sock").string(),
                     "No such file or directory"};
       }},
      {"UnknownScheme", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", "tcp://127.0.0.1:0"};
       },
       [](const Setting&) { return Args{"tcp://127.0.0.1:0"}; }},
      {"InprocUrl", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", "zmq+inproc://x"};
       },
       [](const Setting&) {
         return Args{"--listen zmq+inproc://x", "reaches this process only"};
       }},
      {"ServeNameNoModuleRegistered", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--serve", "fixtur", "--listen", kAnyTcpPort};
       },
       [](const Setting&) {
         return Args{"--serve fixtur", "no module registered", "there are: fixture"};
       }},
      {"ConfigPathThatCannotBeLookedAt", 2,
       [](const Setting& s) {
         std::filesystem::create_symlink("loop.conf", s.dir / "loop.conf");
         return Args{"--config", (s.dir / "loop.conf").string()};
       },
       [](const Setting& s) {
         return Args{"cannot read config file " + (s.dir / "loop.conf").string(),
                     "Too many levels of symbolic links"};
       }},
      // libzmq would unlink the file to bind there.
      {"IpcPathHoldingAFile", 1,
       [](const Setting& s) {
         return Args{"--module", kFixture, "--listen", "zmq+ipc://" + s.File("precious", "kept")};
       },
       [](const Setting& s) {
         return Args{(s.dir / "precious").string(), "is not a socket"};
       },
       [](const Setting& s) {
         std::string kept;
         std::ifstream(s.dir / "precious") >> kept;
         EXPECT_EQ(kept, "kept");
       }},
      {"HelpWithAValue", 2, [](const Setting&) { return Args{"--help=1"}; },
       [](const Setting&) { return Args{"--help takes no value"}; }},
      {"UnknownOption", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--frobnicate", "1"};
       },
       [](const Setting&) { return Args{"unknown option '--frobnicate'"}; }},
      {"OptionWithoutValue", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen"};
       },
       [](const Setting&) { return Args{"--listen needs a value"}; }},
      {"StrayArgument", 2,
       [](const Setting&) {
         return Args{kFixture, "--listen", kAnyTcpPort};
       },
       [](const Setting&) { return Args{"unexpected argument '" + std::string(kFixture) + "'"}; }},
      {"NoModule", 2,
       [](const Setting&) {
         return Args{"--listen", kAnyTcpPort};
       },
       [](const Setting&) {
         return Args{"no module to load", "--module"};
       }},
      {"NoListen", 2,
       [](const Setting&) {
         return Args{"--module", kFixture};
       },
       [](const Setting&) {
         return Args{"no URL to listen on", "--listen"};
       }},
      {"CurveSecretKeyOthersMayRead", 2,
       [](const Setting& s) {
         return ServingWith(
             {"--curve-secret-key-file",
              s.File("open.secret", NewKeyPair().secret_key + "\n",
                     std::filesystem::perms::owner_read | std::filesystem::perms::group_read |
                         std::filesystem::perms::others_read)});
       },
       [](const Setting& s) {
         return Args{(s.dir / "open.secret").string(), "may be read by other users (mode 0444)",
                     "chmod 600"};
       }},
      {"CurveSecretKeyFileHoldsNoKey", 2,
       [](const Setting& s) {
         return ServingWith(
             {"--curve-secret-key-file", s.File("short.secret", "# a key\nnot a key\n")});
       },
       [](const Setting& s) {
         return Args{(s.dir / "short.secret").string(), "must hold one CURVE secret key"};
       }},
      {"CurveClientKeysWithoutSecretKey", 2,
       [](const Setting& s) {
         return ServingWith(
             {"--curve-client-keys-file", s.File("clients", NewKeyPair().public_key + "\n")});
       },
       [](const Setting&) {
         return Args{"--curve-client-keys-file needs --curve-secret-key-file"};
       }},
      {"CurveClientKeysFileBadKey", 2,
       [](const Setting& s) {
         return ServingWith({"--curve-secret-key-file",
                             s.File("daemon.secret", NewKeyPair().secret_key),
                             "--curve-client-keys-file",
                             s.File("clients", NewKeyPair().public_key + "\n" + "tooshort\n")});
       },
       [](const Setting& s) {
         return Args{(s.dir / "clients").string() + ":2: not a CURVE public key", "tooshort"};
       }},
      {"CurveClientKeysFileEmpty", 2,
       [](const Setting& s) {
         return ServingWith({"--curve-secret-key-file",
                             s.File("daemon.secret", NewKeyPair().secret_key),
                             "--curve-client-keys-file", s.File("clients", "# nobody yet\n")});
       },
       [](const Setting&) { return Args{"lists no key, which would let no client in"}; }},
      {"BadThreads", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--threads", "0"};
       },
       [](const Setting&) {
         return Args{"--threads wants a whole number from 1 to 1024, got '0'"};
       }},
      {"BadThreadSlice", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--thread-slice", "0.05"};
       },
       [](const Setting&) {
         return Args{"--thread-slice wants milliseconds from 0.1 to 100 or 'inherit', got '0.05'"};
       }},
      {"BadMaxInFlight", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--max-in-flight", "65537"};
       },
       [](const Setting&) {
         return Args{"--max-in-flight wants a whole number from 1 to 65536, got '65537'"};
       }},
      {"BadMaxUnreadAnswers", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--max-unread-answers", "0"};
       },
       [](const Setting&) {
         return Args{"--max-unread-answers wants a whole number from 1 to 1048576, got '0'"};
       }},
      {"BadMaxPayloadInConfig", 2,
       [](const Setting& s) {
         return Args{"--config", s.Config("max-payload = 1.5\n")};
       },
       [](const Setting& s) {
         return Args{(s.dir / "refused.conf").string() + ":1: max-payload wants a whole number"};
       }},
      {"BadDrainTimeout", 2,
       [](const Setting&) {
         return Args{"--module", kFixture, "--listen", kAnyTcpPort, "--drain-timeout", "-1"};
       },
       [](const Setting&) { return Args{"--drain-timeout wants seconds"}; }},
      // The options before --curve-keygen are checked; no key is made.
      {"KeygenAfterAMissingConfigFile", 2,
       [](const Setting& s) {
         return Args{"--config", (s.dir / "none.conf").string(), "--curve-keygen",
                     (s.dir / "new.secret").string()};
       },
       [](const Setting& s) {
         return Args{"cannot read config file " + (s.dir / "none.conf").string()};
       },
       [](const Setting& s) { EXPECT_FALSE(std::filesystem::exists(s.dir / "new.secret")); }},
      {"KeygenAfterASecretKeyOthersMayRead", 2,
       [](const Setting& s) {
         return Args{
             "--curve-secret-key-file",
             s.File("open.secret", NewKeyPair().secret_key + "\n",
                    std::filesystem::perms::owner_read | std::filesystem::perms::group_read),
             "--curve-keygen", (s.dir / "new.secret").string()};
       },
       [](const Setting& s) {
         return Args{(s.dir / "open.secret").string(), "may be read by other users (mode 0440)"};
       },
       [](const Setting& s) { EXPECT_FALSE(std::filesystem::exists(s.dir / "new.secret")); }},
      {"MissingConfigFile", 2,
       [](const Setting& s) {
         return Args{"--config", (s.dir / "none.conf").string()};
       },
       [](const Setting& s) {
         return Args{"cannot read config file " + (s.dir / "none.conf").string()};
       }},
      {"MalformedConfigLine", 2,
       [](const Setting& s) {
         return Args{"--config", s.Config("# comment\nmodule = " + std::string(kFixture) +
                                          "\nlisten zmq+tcp://127.0.0.1:0\n")};
       },
       [](const Setting& s) {
         return Args{(s.dir / "refused.conf").string() + ":3: expected 'key = value'"};
       }},
      {"UnknownConfigKey", 2,
       [](const Setting& s) {
         return Args{"--config", s.Config("\nport = 5\n")};
       },
       [](const Setting& s) {
         return Args{(s.dir / "refused.conf").string() + ":2: unknown key 'port'"};
       }},
      {"BadConfigValue", 2,
       [](const Setting& s) {
         return Args{"--config", s.Config("threads = many\n")};
       },
       [](const Setting& s) {
         return Args{(s.dir / "refused.conf").string() + ":1: threads wants a whole number"};
       }},
  };
}

INSTANTIATE_TEST_SUITE_P(Configurations, RefusalTest, ::testing::ValuesIn(Refusals()),
                         [](const ::testing::TestParamInfo<Refusal>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace jndaemon
