// The host's objects: registered services, their methods, method handles
// and pending asynchronous calls.
#pragma once

#include <junction.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cancel.hh"
#include "stats.hh"

namespace junction::detail {

struct Host;

// Hashes std::string and std::string_view alike, so a lookup by a C name
// makes no std::string.
struct NameHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view name) const noexcept {
    return std::hash<std::string_view>{}(name);
  }
};

struct MethodEntry {
  // Method handles and pending calls using this entry. Raised under the
  // host's registry_mutex (resolve) or from a holder (a pending call made
  // through a handle); lowered with release order as a holder's last touch,
  // so a routed service may drop an entry it reads as 0 under the mutex.
  std::atomic<std::uint32_t> holders{0};
  // A registered method has one of the two; a routed method has handler
  // and start_routed.
  jn_handler_fn handler = nullptr;
  jn_async_handler_fn async_handler = nullptr;
  // A routed method's asynchronous start (routed_start): sends the call,
  // taking request, the call's own buffer, as it does. With !may_wait (on
  // the caller's thread) a call that would wait is left untouched and
  // false returned, for a worker to start it again with may_wait.
  bool (*start_routed)(void* ctx, jn_buffer& request, std::int64_t deadline_ns,
                       jn_completion completion, bool may_wait) = nullptr;
  void* ctx = nullptr;
  MethodStats stats;
  std::shared_ptr<void> keep_alive;  // what ctx points into, for methods made by the host
};

// One registration of a service. Reference-counted: the registry, every
// method handle and every pending asynchronous call hold a reference, so the
// entry (and its statistics) outlives the registration. The service's ctx
// is another matter: destroy(ctx) runs once no call can still use it.
struct ServiceEntry {
  std::atomic<std::uint32_t> refs{1};
  std::atomic<bool> open{true};
  std::string name;
  // By name (the key is the method's only record of its name). A registered service's methods are
  // fixed at registration; a routed service's grow as names are resolved, up to a bound past which
  // those no handle or call holds are dropped (statistics with them).
  std::unordered_map<std::string, std::unique_ptr<MethodEntry>, NameHash, std::equal_to<>> methods;
  void* ctx = nullptr;
  void (*destroy)(void*) = nullptr;
  Host* host = nullptr;  // valid while open, and within a ReadSection that saw open
  // Set for a routed service: makes the method of any name on first resolve
  // (under the host's registry_mutex).
  std::function<std::unique_ptr<MethodEntry>(std::string_view method)> make_method;
  std::string route_url;  // a routed service's URL, as jn_host_route was given it
  // A routed service's: fills jn_route_stats from its connection.
  std::function<void(jn_route_stats&)> route_stats;

  // Destroy runs when the grace period after closing has passed and no
  // asynchronous handler still holds a completion.
  std::atomic<bool> grace_passed{false};
  std::atomic<std::uint32_t> async_outstanding{0};
  std::atomic<bool> destroyed{false};

  void run_destroy_once() noexcept;
  void finish_async_handler() noexcept;
};

void service_ref(ServiceEntry* service) noexcept;
void service_unref(ServiceEntry* service) noexcept;

// A caller's asynchronous call (or a synchronous call on an asynchronous
// handler), from acceptance until it is answered and its handler is done.
struct PendingCall : std::enable_shared_from_this<PendingCall> {
  // cancel: NULL, or one the call holds (cancel_hold) and drops at its end.
  PendingCall(Host* host, ServiceEntry* service, MethodEntry* method, std::int64_t deadline_ns,
              jn_done_fn done, void* user_data, jn_cancel* cancel = nullptr) noexcept;
  ~PendingCall();
  PendingCall(const PendingCall&) = delete;
  PendingCall& operator=(const PendingCall&) = delete;

  const std::uint64_t id;
  Host* const host;
  ServiceEntry* const service;  // referenced
  MethodEntry* const method;
  const std::int64_t deadline_ns;
  const std::int64_t start_ns;
  jn_done_fn const done;
  void* const user_data;
  jn_cancel* const cancel;  // the caller's, held while the handler may see it
  jn_buffer request{};      // owned; released when the handler is done with it

  std::mutex mutex;  // guards the fields below and every timer operation
  bool answered = false;
  std::int32_t answered_code = JN_OK;
  std::optional<boost::asio::steady_timer> timer;
  std::optional<CancelWait> cancel_wait;  // until answered: cancel's signal answers
};

// Answers the caller once: the first answer wins and reaches done; any later
// one is released. result's contents are consumed either way. Returns
// whether this answer was delivered.
bool pending_answer(const std::shared_ptr<PendingCall>& call, jn_result* result) noexcept;
bool pending_answer_code(const std::shared_ptr<PendingCall>& call, std::int32_t code,
                         std::string_view message) noexcept;

// Runs one accepted asynchronous call: the handler (sync or async) on the
// current thread, inside a ReadSection.
void pending_run(const std::shared_ptr<PendingCall>& call) noexcept;

// Starts one accepted call of a method with start_routed on the current
// thread, inside the caller's ReadSection, if it can be sent without a
// wait; returns whether it was. If not, the call is as accepted, for
// pending_run.
bool pending_start_now(const std::shared_ptr<PendingCall>& call) noexcept;

// Ends the waits to send of the routes host made (transport_api.cc): a
// host worker waiting for a route's connection, or for room in its queue,
// ends its call CANCELLED, so that jn_host_free can join the workers.
void abandon_route_sends(Host& host) noexcept;

// Global table of asynchronous handler invocations awaiting jn_complete.
void completions_insert(const std::shared_ptr<PendingCall>& call);
std::shared_ptr<PendingCall> completions_take(std::uint64_t id) noexcept;

// The host whose thread (worker, timer or reclaimer) this is, if any: such
// a thread cannot free its own host (it would have to join itself).
extern thread_local const Host* tls_owning_host;

// The services a module's jn_module_init registers on host from its own
// thread, which jn_host_load_module unregisters again when the init fails.
struct ModuleRegistrations {
  const Host* host;
  std::vector<std::string> names;
};
extern thread_local ModuleRegistrations* tls_module_registrations;

// An io_context run by threads of one host, named name and asking for a
// slice_ns slice (thread_slice.hh): each is woken for a call or a deadline.
class HostThreads {
 public:
  HostThreads(const Host* owner, std::uint32_t count, const char* name, std::uint64_t slice_ns);
  HostThreads(const HostThreads&) = delete;
  HostThreads& operator=(const HostThreads&) = delete;
  ~HostThreads() { stop_and_join(); }

  boost::asio::io_context& context() noexcept { return context_; }
  // Stops after the handlers now running; queued ones are dropped.
  void stop_and_join();

 private:
  boost::asio::io_context context_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
};

struct Host {
  // thread_slice_ns: the slice the host's threads and its listeners'
  // threads ask for (a value of jn_host_options.thread_slice_ns, 0 resolved
  // to the default).
  Host(std::uint32_t worker_threads, std::uint64_t thread_slice_ns);

  const std::uint64_t thread_slice_ns;

  HostThreads workers;  // run asynchronous calls' handlers
  // Deadline timers, and the answers of asynchronous calls' cancels, run on
  // their own thread so that busy workers never delay a DEADLINE_EXCEEDED or
  // CANCELLED answer.
  HostThreads timers;

  std::mutex registry_mutex;
  // Open registrations, by name.
  using Registry = std::unordered_map<std::string, ServiceEntry*, NameHash, std::equal_to<>>;
  Registry services;
  // Under registry_mutex: jn_host_free has begun. A handler it waits for may
  // still call the host; what would add to it (a service, a route, a
  // listener) is refused from then on.
  bool freeing = false;

  std::mutex pending_mutex;
  bool closing = false;
  std::unordered_set<std::shared_ptr<PendingCall>> pending;  // not yet answered

  // Services closed by unregister, waiting for their grace period.
  std::mutex retire_mutex;
  std::condition_variable retire_ready;
  std::vector<ServiceEntry*> retired;
  bool retire_stop = false;
  std::thread reclaimer;

  // Listeners not yet closed: the host cannot be freed under them. Raised
  // under registry_mutex, while the host is not being freed.
  std::atomic<std::uint32_t> open_listeners{0};
  // Connections of routed services, shared by the routes to one URL with
  // the same options (keyed by both); expired ones go when a route is made.
  std::mutex connections_mutex;
  std::unordered_map<std::string, std::weak_ptr<void>> connections;

  // Tracks call until it is answered, unless the host is shutting down
  // (then false). May throw std::bad_alloc.
  bool accept(const std::shared_ptr<PendingCall>& call);
  // Puts service in the registry (JN_ALREADY_EXISTS if the name is taken,
  // JN_FAILED_PRECONDITION once the host is being freed).
  std::int32_t add_service(std::unique_ptr<ServiceEntry> service, jn_status* status);
  // Under registry_mutex: takes the service at entry out of the registry
  // and hands it to the reclaimer. Throws std::bad_alloc with nothing
  // changed.
  void retire(Registry::iterator entry);
  void reclaim_loop();
};

}  // namespace junction::detail

// The opaque method handle of the C ABI: everything the hot path needs, one
// pointer away.
struct jn_method {
  jn_handler_fn handler;
  void* ctx;
  junction::detail::ServiceEntry* service;
  junction::detail::MethodEntry* method;
};
