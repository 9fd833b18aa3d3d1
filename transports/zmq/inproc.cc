#include "inproc.hh"

#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace junction::zmq_transport {
namespace {

struct Name {
  bool bound = false;
  std::unordered_map<std::uint64_t, std::function<void()>> watchers;
};

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::string, Name> names;
  std::uint64_t next_id = 1;
};

// Never destroyed: listeners and routes may outlive static destruction.
Registry& registry() {
  static auto* const instance = new Registry;
  return *instance;
}

}  // namespace

void inproc_bind(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.names[name].bound = true;
}

void inproc_unbind(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto it = r.names.find(name);
  if (it == r.names.end()) {
    return;
  }
  it->second.bound = false;
  for (auto& [id, on_unbind] : it->second.watchers) {
    on_unbind();
  }
  if (it->second.watchers.empty()) {
    r.names.erase(it);
  }
}

bool inproc_bound(const std::string& name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto it = r.names.find(name);
  return it != r.names.end() && it->second.bound;
}

std::uint64_t inproc_watch(const std::string& name, std::function<void()> on_unbind) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const std::uint64_t id = r.next_id++;
  r.names[name].watchers.emplace(id, std::move(on_unbind));
  return id;
}

void inproc_unwatch(const std::string& name, std::uint64_t id) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const auto it = r.names.find(name);
  if (it == r.names.end()) {
    return;
  }
  it->second.watchers.erase(id);
  if (!it->second.bound && it->second.watchers.empty()) {
    r.names.erase(it);
  }
}

}  // namespace junction::zmq_transport
