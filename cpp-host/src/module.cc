// Loading modules: shared libraries exporting jn_module_abi_version and
// jn_module_init.
#include <dlfcn.h>

#include <mutex>
#include <string>

#include "host.hh"
#include "internal.hh"
#include "thread_local_scope.hh"

namespace junction::detail {
namespace {

// Runs a module's init on host, recording what it registers from this
// thread; when the init fails, unregisters that again.
std::int32_t init_module(jn_module_init_fn init, jn_host* host, jn_status* init_status) {
  ModuleRegistrations registrations{reinterpret_cast<const Host*>(host), {}};
  std::int32_t code = JN_OK;
  {
    const ThreadLocalScope<ModuleRegistrations*> recording(tls_module_registrations,
                                                           &registrations);
    code = init(host, init_status);
  }
  if (code != JN_OK) {
    for (const std::string& name : registrations.names) {
      jn_host_unregister(host, name.c_str(), nullptr);
    }
  }
  return code;
}

}  // namespace
}  // namespace junction::detail

extern "C" JN_API std::int32_t jn_host_load_module(jn_host* host, const char* path,
                                                   jn_status* status) {
  using junction::detail::report;
  if (host == nullptr || path == nullptr) {
    return report(status, JN_INVALID_ARGUMENT, "host and module path must not be NULL");
  }
  try {
    {
      // Refused before dlopen runs the library's constructors (a Go
      // bundle's runtime among them).
      auto* target = reinterpret_cast<junction::detail::Host*>(host);
      const std::lock_guard lock(target->registry_mutex);
      if (target->freeing) {
        return junction::detail::report_parts(
            status, JN_FAILED_PRECONDITION,
            {"cannot load module ", path, ": the host is being freed"});
      }
    }
    const std::string module = path;
    // Never closed (see abi/junction.h: modules are never unloaded).
    void* library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      // glibc keeps dlerror state per thread.
      const char* reason = dlerror();  // NOLINT(concurrency-mt-unsafe)
      return report(status, JN_NOT_FOUND,
                    "cannot load module " + module + ": " + (reason ? reason : "unknown error"));
    }
    auto* abi_version =
        reinterpret_cast<jn_module_abi_version_fn>(dlsym(library, "jn_module_abi_version"));
    auto* init = reinterpret_cast<jn_module_init_fn>(dlsym(library, "jn_module_init"));
    if (abi_version == nullptr || init == nullptr) {
      return report(status, JN_FAILED_PRECONDITION,
                    "module " + module +
                        " is not a junction module: it must export jn_module_abi_version and "
                        "jn_module_init");
    }
    if (const std::int32_t code =
            junction::detail::check_abi_version(abi_version(), "module " + module, status);
        code != JN_OK) {
      return code;
    }
    jn_status init_status{};
    const std::int32_t code = junction::detail::init_module(init, host, &init_status);
    if (code == JN_OK) {
      jn_status_release(&init_status);
      return report(status, JN_OK, "");
    }
    std::string reason(reinterpret_cast<const char*>(init_status.message.data),
                       static_cast<std::size_t>(init_status.message.len));
    jn_status_release(&init_status);
    const std::int32_t reported = code < JN_OK || code > JN_STATUS_CODE_MAX ? JN_INTERNAL : code;
    if (reason.empty()) {
      reason = std::string(jn_status_name(reported)) + ", with no reason given";
    }
    return report(status, reported, "module " + module + " failed to initialise: " + reason);
  } catch (...) {
    return junction::detail::report_exception(status, JN_INTERNAL, {"cannot load module"});
  }
}
