// Hosts: creation, the service registry, method resolution and the
// reclamation of unregistered services.
#include "host.hh"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "internal.hh"
#include "reader_domain.hh"
#include "thread_local_scope.hh"
#include "thread_slice.hh"

namespace junction::detail {
namespace {

constexpr std::uint32_t kDefaultWorkerThreads = 2;
// Methods a route keeps (jn_host_route): past this many, resolving a new
// name first drops those no handle or call holds.
constexpr std::size_t kMaxRoutedMethods = 4096;

std::int32_t check_descriptor(const jn_service_desc& desc, jn_status* status) {
  if (name_length(desc.name) == 0) {
    return report(status, JN_INVALID_ARGUMENT, "service name must be 1 to 255 bytes");
  }
  const std::string_view service = desc.name;
  if (desc.method_count == 0 || desc.methods == nullptr) {
    return report(status, JN_INVALID_ARGUMENT,
                  "service '" + std::string(service) + "' has no methods");
  }
  for (std::uint32_t i = 0; i < desc.method_count; ++i) {
    const jn_method_desc& m = desc.methods[i];
    if (name_length(m.name) == 0) {
      return report(status, JN_INVALID_ARGUMENT,
                    "service '" + std::string(service) + "': method " + std::to_string(i) +
                        " needs a name of 1 to 255 bytes");
    }
    if ((m.handler == nullptr) == (m.async_handler == nullptr)) {
      return report(status, JN_INVALID_ARGUMENT,
                    "method '" + std::string(service) + "/" + m.name +
                        "' must set exactly one of handler and async_handler");
    }
    for (std::uint32_t j = 0; j < i; ++j) {
      if (std::strcmp(desc.methods[j].name, m.name) == 0) {
        return report(
            status, JN_INVALID_ARGUMENT,
            "service '" + std::string(service) + "' declares method '" + m.name + "' twice");
      }
    }
  }
  return JN_OK;
}

}  // namespace

std::size_t name_length(const char* name) noexcept {
  constexpr std::size_t kMaxNameLength = 255;
  if (name == nullptr) {
    return 0;
  }
  const std::size_t length = strnlen(name, kMaxNameLength + 1);
  return length > kMaxNameLength ? 0 : length;
}

void ServiceEntry::run_destroy_once() noexcept {
  if (destroyed.exchange(true, std::memory_order_acq_rel)) {
    return;
  }
  if (destroy != nullptr) {
    destroy(ctx);
  }
  live_counters().services.fetch_sub(1, std::memory_order_relaxed);
}

void ServiceEntry::finish_async_handler() noexcept {
  if (async_outstanding.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
      grace_passed.load(std::memory_order_seq_cst)) {
    run_destroy_once();
  }
}

void service_ref(ServiceEntry* service) noexcept {
  service->refs.fetch_add(1, std::memory_order_relaxed);
}

void service_unref(ServiceEntry* service) noexcept {
  if (service->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete service;
  }
}

thread_local const Host* tls_owning_host = nullptr;
thread_local ModuleRegistrations* tls_module_registrations = nullptr;

HostThreads::HostThreads(const Host* owner, std::uint32_t count, const char* name,
                         std::uint64_t slice_ns)
    : guard_(boost::asio::make_work_guard(context_)) {
  try {
    threads_.reserve(count);
    for (std::uint32_t i = 0; i < count; ++i) {
      threads_.emplace_back([this, owner, name, slice_ns] {
        name_and_ask_slice(name, slice_ns);
        tls_owning_host = owner;
        context_.run();
      });
    }
  } catch (...) {
    // No destructor runs for a constructor that throws: the threads started
    // are joined here (a joinable thread destroyed would end the process).
    stop_and_join();
    throw;
  }
}

void HostThreads::stop_and_join() {
  context_.stop();
  for (std::thread& thread : threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

Host::Host(std::uint32_t worker_threads, std::uint64_t thread_slice_ns)
    : thread_slice_ns(thread_slice_ns),
      workers(this, worker_threads, "jn-worker", thread_slice_ns),
      timers(this, 1, "jn-timer", thread_slice_ns) {
  reclaimer = std::thread([this] {
    // Named only: it wakes once per unregistration, not per call.
    pthread_setname_np(pthread_self(), "jn-reclaimer");
    tls_owning_host = this;
    reclaim_loop();
  });
}

bool Host::accept(const std::shared_ptr<PendingCall>& call) {
  std::lock_guard lock(pending_mutex);
  if (closing) {
    return false;
  }
  pending.insert(call);
  return true;
}

std::int32_t Host::add_service(std::unique_ptr<ServiceEntry> service, jn_status* status) {
  {
    std::lock_guard lock(registry_mutex);
    if (freeing) {
      return report_parts(
          status, JN_FAILED_PRECONDITION,
          {"service '", service->name, "' cannot be added: the host is being freed"});
    }
    ModuleRegistrations* const by_module =
        tls_module_registrations != nullptr && tls_module_registrations->host == this
            ? tls_module_registrations
            : nullptr;
    if (by_module != nullptr) {
      by_module->names.push_back(service->name);  // throws before anything is registered
    }
    auto [it, inserted] = services.try_emplace(service->name, service.get());
    if (!inserted) {
      if (by_module != nullptr) {
        by_module->names.pop_back();
      }
      return report_parts(status, JN_ALREADY_EXISTS,
                          {"service '", service->name, "' is already registered"});
    }
    // Counted before an unregistration can see it (and count it off).
    live_counters().services.fetch_add(1, std::memory_order_relaxed);
    static_cast<void>(service.release());  // now owned by the registry
  }
  return report(status, JN_OK, "");
}

void Host::retire(Registry::iterator entry) {
  {
    std::lock_guard lock(retire_mutex);
    // Room first, under the lock the reclaimer takes the list with: without
    // it the service stays registered. Grown by half again at least, as
    // push_back would, so that unregistering many while the reclaimer
    // waits does not copy the list each time.
    if (retired.size() == retired.capacity()) {
      retired.reserve(std::max<std::size_t>(8, retired.size() + retired.size() / 2 + 1));
    }
    ServiceEntry* service = entry->second;
    services.erase(entry);
    service->open.store(false, std::memory_order_seq_cst);
    retired.push_back(service);
  }
  retire_ready.notify_one();
}

void Host::reclaim_loop() {
  std::unique_lock lock(retire_mutex);
  for (;;) {
    retire_ready.wait(lock, [this] { return retire_stop || !retired.empty(); });
    if (retired.empty()) {
      return;
    }
    std::vector<ServiceEntry*> batch;
    batch.swap(retired);
    lock.unlock();
    std::sort(batch.begin(), batch.end(), std::less<>());
    synchronize(this, batch);
    for (ServiceEntry* service : batch) {
      service->grace_passed.store(true, std::memory_order_seq_cst);
      if (service->async_outstanding.load(std::memory_order_seq_cst) == 0) {
        service->run_destroy_once();
      }
      service_unref(service);
    }
    lock.lock();
  }
}

}  // namespace junction::detail

using junction::detail::Host;
using junction::detail::live_counters;
using junction::detail::report;
using junction::detail::report_exception;
using junction::detail::report_parts;
using junction::detail::ServiceEntry;

extern "C" {

JN_API std::int32_t jn_host_new(const jn_host_options* options, jn_host** host, jn_status* status) {
  if (host == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host out-pointer is NULL");
  }
  *host = nullptr;
  std::uint32_t workers = junction::detail::kDefaultWorkerThreads;
  std::uint64_t slice_ns = junction::detail::kDefaultSliceNs;
  if (options != nullptr) {
    // Code built against 1.2 or earlier passes the first two fields only.
    if (options->struct_size < offsetof(jn_host_options, thread_slice_ns)) {
      return report(status, JN_INVALID_ARGUMENT,
                    "jn_host_options.struct_size must be sizeof(jn_host_options)");
    }
    if (options->worker_threads > 1024) {
      return report(status, JN_INVALID_ARGUMENT, "worker_threads must be at most 1024");
    }
    if (options->worker_threads != 0) {
      workers = options->worker_threads;
    }
    if (options->struct_size >= sizeof(jn_host_options) && options->thread_slice_ns != 0) {
      slice_ns = options->thread_slice_ns;
      if (slice_ns != JN_THREAD_SLICE_INHERITED &&
          (slice_ns < JN_THREAD_SLICE_MIN_NS || slice_ns > JN_THREAD_SLICE_MAX_NS)) {
        return junction::detail::report_parts(
            status, JN_INVALID_ARGUMENT,
            {"jn_host_options.thread_slice_ns must be 0, JN_THREAD_SLICE_INHERITED or from "
             "100000 to 100000000 (0.1 to 100 ms), got ",
             junction::detail::DecimalText(slice_ns).view()});
      }
    }
  }
  try {
    *host = reinterpret_cast<jn_host*>(new Host(workers, slice_ns));
  } catch (...) {
    return junction::detail::report_exception(status, JN_RESOURCE_EXHAUSTED,
                                              {"cannot create host"});
  }
  live_counters().hosts.fetch_add(1, std::memory_order_relaxed);
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_host_free_check(const jn_host* handle) {
  using namespace junction::detail;
  // A free there would wait for the section, or the thread, it runs in.
  const bool refused =
      handle != nullptr &&
      (in_read_section() || tls_owning_host == reinterpret_cast<const Host*>(handle));
  return refused ? JN_FAILED_PRECONDITION : JN_OK;
}

JN_API std::int32_t jn_host_free(jn_host* handle) {
  using namespace junction::detail;
  if (handle == nullptr) {
    return JN_OK;
  }
  auto* host = reinterpret_cast<Host*>(handle);
  if (jn_host_free_check(handle) != JN_OK || host->open_listeners.load() != 0) {
    return JN_FAILED_PRECONDITION;
  }
  std::vector<ServiceEntry*> services;
  {
    std::lock_guard lock(host->registry_mutex);
    // A listener may have been opened since the look above (listeners are
    // counted under this mutex, until freeing is set).
    if (host->open_listeners.load() != 0) {
      return JN_FAILED_PRECONDITION;
    }
    try {
      services.reserve(host->services.size());
    } catch (const std::bad_alloc&) {
      return JN_RESOURCE_EXHAUSTED;  // nothing changed
    }
    host->freeing = true;
    for (auto& [name, service] : host->services) {
      service->open.store(false, std::memory_order_seq_cst);
      services.push_back(service);
    }
    host->services.clear();
  }
  // The callbacks run from here (done, for the calls answered CANCELLED;
  // destroy) are on this host's thread: jn_host_free_check refuses them,
  // and so does a free from one of them.
  const ThreadLocalScope<const Host*> owned_for_the_free(tls_owning_host, host);
  // Answer every pending call first: synchronous callers waiting on an
  // asynchronous handler are inside a ReadSection until answered.
  std::unordered_set<std::shared_ptr<PendingCall>> pending;
  {
    std::lock_guard lock(host->pending_mutex);
    host->closing = true;
    pending.swap(host->pending);
  }
  for (const auto& call : pending) {
    pending_answer_code(call, JN_CANCELLED, "host is shutting down");
  }
  pending.clear();
  abandon_route_sends(*host);
  {
    std::lock_guard lock(host->retire_mutex);
    host->retire_stop = true;
  }
  host->retire_ready.notify_one();
  host->reclaimer.join();
  std::sort(services.begin(), services.end(), std::less<>());
  synchronize(host, services);
  host->workers.stop_and_join();
  host->timers.stop_and_join();
  // Asynchronous handlers that have not completed keep their request and
  // their service's ctx until jn_complete (which then answers JN_CANCELLED
  // and runs destroy if it was the last one); every other service is
  // destroyed now.
  for (ServiceEntry* service : services) {
    service->grace_passed.store(true, std::memory_order_seq_cst);
    if (service->async_outstanding.load(std::memory_order_seq_cst) == 0) {
      service->run_destroy_once();
    }
    service_unref(service);
  }
  delete host;
  live_counters().hosts.fetch_sub(1, std::memory_order_relaxed);
  return JN_OK;
}

JN_API std::int32_t jn_host_register(jn_host* handle, const jn_service_desc* desc,
                                     jn_status* status) {
  using namespace junction::detail;
  if (handle == nullptr || desc == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host and service descriptor must not be NULL");
  }
  auto* host = reinterpret_cast<Host*>(handle);
  try {
    if (const std::int32_t code =
            check_abi_version(desc->abi_version, "the service descriptor", status);
        code != JN_OK) {
      return code;
    }
    if (const std::int32_t code = check_descriptor(*desc, status); code != JN_OK) {
      return code;
    }
    auto service = std::make_unique<ServiceEntry>();
    service->name = desc->name;
    service->ctx = desc->ctx;
    service->destroy = desc->destroy;
    service->host = host;
    for (std::uint32_t i = 0; i < desc->method_count; ++i) {
      const jn_method_desc& m = desc->methods[i];
      auto method = std::make_unique<MethodEntry>();
      method->handler = m.handler;
      method->async_handler = m.async_handler;
      method->ctx = m.ctx;
      service->methods.emplace(m.name, std::move(method));
    }
    return host->add_service(std::move(service), status);
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot register service"});
  }
}

JN_API std::int32_t jn_host_unregister(jn_host* handle, const char* name, jn_status* status) {
  using namespace junction::detail;
  if (handle == nullptr || name == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host and service name must not be NULL");
  }
  auto* host = reinterpret_cast<Host*>(handle);
  try {
    std::lock_guard lock(host->registry_mutex);
    auto it = host->services.find(name);
    if (it == host->services.end()) {
      return report_parts(status, JN_NOT_FOUND, {"service '", name, "' is not registered"});
    }
    host->retire(it);
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot unregister service"});
  }
  return report(status, JN_OK, "");
}

JN_API std::int32_t jn_host_list_services(jn_host* handle, jn_service_visit_fn visit,
                                          void* user_data) {
  using namespace junction::detail;
  if (handle == nullptr || visit == nullptr) {
    return JN_INVALID_ARGUMENT;
  }
  auto* host = reinterpret_cast<Host*>(handle);
  // A copy of the registry, made whole before the first visit so that
  // running out of memory visits nothing, and visited without the lock so
  // that visit may register, unregister or resolve.
  struct Listed {
    std::string name;
    std::vector<std::string> methods;
    std::optional<std::string> route_url;
    std::vector<const char*> method_names;
  };
  std::vector<Listed> listing;
  try {
    {
      std::lock_guard lock(host->registry_mutex);
      listing.reserve(host->services.size());
      for (const auto& [name, service] : host->services) {
        Listed& listed = listing.emplace_back();
        listed.name = name;
        if (service->make_method) {
          listed.route_url = service->route_url;
        } else {
          listed.methods.reserve(service->methods.size());
          for (const auto& method : service->methods) {
            listed.methods.push_back(method.first);
          }
        }
      }
    }
    std::ranges::sort(listing, {}, &Listed::name);
    for (Listed& listed : listing) {
      std::ranges::sort(listed.methods);
      listed.method_names.reserve(listed.methods.size());
      for (const std::string& method : listed.methods) {
        listed.method_names.push_back(method.c_str());
      }
    }
  } catch (...) {
    return JN_RESOURCE_EXHAUSTED;
  }
  for (const Listed& listed : listing) {
    const jn_service_info info{
        .struct_size = sizeof(jn_service_info),
        .method_count = static_cast<std::uint32_t>(listed.method_names.size()),
        .name = listed.name.c_str(),
        .methods = listed.method_names.data(),
        .route_url = listed.route_url ? listed.route_url->c_str() : nullptr};
    visit(user_data, &info);
  }
  return JN_OK;
}

JN_API std::int32_t jn_host_resolve(jn_host* handle, const char* service_name,
                                    const char* method_name, jn_method** method_out,
                                    jn_status* status) {
  using namespace junction::detail;
  if (method_out != nullptr) {
    *method_out = nullptr;
  }
  if (handle == nullptr || service_name == nullptr || method_name == nullptr ||
      method_out == nullptr) {
    return report(status, JN_INVALID_ARGUMENT,
                  "host, service, method and method_out must not be NULL");
  }
  auto* host = reinterpret_cast<Host*>(handle);
  try {
    std::lock_guard lock(host->registry_mutex);
    auto it = host->services.find(std::string_view(service_name));
    if (it == host->services.end()) {
      return report(status, JN_NOT_FOUND,
                    "service '" + std::string(service_name) + "' is not registered");
    }
    ServiceEntry* service = it->second;
    MethodEntry* method = nullptr;
    if (const auto found = service->methods.find(std::string_view(method_name));
        found != service->methods.end()) {
      method = found->second.get();
    } else if (service->make_method && name_length(method_name) != 0) {
      // A route resolves any name (the far host judges it), so callers
      // choosing names (remote peers of a listener serving the route) must
      // not grow it without end: at the bound, the methods nobody holds go.
      if (service->methods.size() >= kMaxRoutedMethods) {
        std::erase_if(service->methods, [](const auto& entry) {
          return entry.second->holders.load(std::memory_order_acquire) == 0;
        });
      }
      if (service->methods.size() >= kMaxRoutedMethods) {
        return report(status, JN_RESOURCE_EXHAUSTED,
                      "route '" + std::string(service_name) + "' has " +
                          std::to_string(kMaxRoutedMethods) + " methods in use, the most it keeps");
      }
      std::unique_ptr<MethodEntry> made = service->make_method(method_name);
      method = made.get();
      service->methods.emplace(method_name, std::move(made));
    }
    if (method != nullptr) {
      auto* handle = new jn_method{method->handler, method->ctx, service, method};
      method->holders.fetch_add(1, std::memory_order_relaxed);
      service_ref(service);
      *method_out = handle;
      live_counters().methods.fetch_add(1, std::memory_order_relaxed);
      return report(status, JN_OK, "");
    }
    return report(
        status, JN_NOT_FOUND,
        "service '" + std::string(service_name) + "' has no method '" + method_name + "'");
  } catch (...) {
    return report_exception(status, JN_RESOURCE_EXHAUSTED, {"cannot resolve method"});
  }
}

JN_API void jn_method_free(jn_method* method) {
  if (method == nullptr) {
    return;
  }
  // The holder's last touch of its method entry (see MethodEntry::holders).
  method->method->holders.fetch_sub(1, std::memory_order_release);
  junction::detail::service_unref(method->service);
  delete method;
  live_counters().methods.fetch_sub(1, std::memory_order_relaxed);
}

}  // extern "C"
