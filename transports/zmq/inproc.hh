// The zmq+inproc names bound in this process. libzmq reports nothing about
// inproc connections (no connection events, no reconnection): routes to an
// inproc URL learn from here whether a listener is bound, and are told when
// it goes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace junction::zmq_transport {

// Records name as bound by a listener.
void inproc_bind(const std::string& name);
// Records name as unbound and runs the watchers of name.
void inproc_unbind(const std::string& name);
[[nodiscard]] bool inproc_bound(const std::string& name);

// Runs on_unbind (under the registry's lock: it must not call back into
// it) each time name is unbound, until the returned id is unwatched.
[[nodiscard]] std::uint64_t inproc_watch(const std::string& name, std::function<void()> on_unbind);
void inproc_unwatch(const std::string& name, std::uint64_t id);

}  // namespace junction::zmq_transport
