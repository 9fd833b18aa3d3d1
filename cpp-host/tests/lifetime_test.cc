// Lifetimes of services, hosts and method handles: handles that outlive
// their service or host, re-registration, when destroy runs (exactly once,
// never while a call is inside, and which calls a free or a destroy waits
// for), and re-entrant calls from handlers.
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

class LifetimeTest : public LeakCheckedTest {};

// jn_host_free on a thread of its own, so that a test can watch it wait.
struct BackgroundFree {
  explicit BackgroundFree(jn_host* host)
      : thread([this, host] {
          rc.store(jn_host_free(host));
          freed.store(true);
        }) {}
  BackgroundFree(const BackgroundFree&) = delete;
  BackgroundFree& operator=(const BackgroundFree&) = delete;
  ~BackgroundFree() { thread.join(); }

  std::atomic<bool> freed{false};
  std::atomic<int32_t> rc{-1};
  std::thread thread;  // last: starts once the fields above are made
};

// A call on a handle whose service was unregistered is JN_NOT_FOUND.
TEST_F(LifetimeTest, CallAfterUnregisterIsNotFound) {
  Probe p;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "svc", {{"m", &Probe::Echo, nullptr, &p}}, &p, &Probe::Destroy),
            JN_OK);
  MethodPtr m = Resolve(host.get(), "svc", "m");
  ScopedResult r;
  ASSERT_EQ(Call(m.get(), "a", r), JN_OK);
  ASSERT_EQ(jn_host_unregister(host.get(), "svc", nullptr), JN_OK);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Call(m.get(), "b", r), JN_NOT_FOUND);
    EXPECT_EQ(r.r.response.release, nullptr);
  }
  EXPECT_EQ(p.calls.load(), 1);
  jn_method* again = nullptr;
  EXPECT_EQ(jn_host_resolve(host.get(), "svc", "m", &again, nullptr), JN_NOT_FOUND);
  jn_method_free(again);
  EXPECT_EQ(jn_host_unregister(host.get(), "svc", nullptr), JN_NOT_FOUND);
  EXPECT_TRUE(WaitFor([&] { return p.destroyed.load() == 1; }));
}

// A method handle outlives its host: calls answer JN_NOT_FOUND until the
// handle is freed.
TEST_F(LifetimeTest, MethodHandleOutlivesHost) {
  Probe p;
  DoneRecord done;
  jn_host* host = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &host, nullptr), JN_OK);
  ASSERT_EQ(Register(host, "svc", {{"m", &Probe::Echo, nullptr, &p}}, &p, &Probe::Destroy), JN_OK);
  MethodPtr m = Resolve(host, "svc", "m");
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(jn_host_free(host), JN_OK);
  EXPECT_EQ(p.destroyed.load(), 1);
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts);
  EXPECT_EQ(LiveCounts().methods, baseline_.methods + 1);

  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "x", r), JN_NOT_FOUND);
  EXPECT_EQ(r.code(), JN_NOT_FOUND);

  jn_buffer req{};
  ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>("y"), 1, &req), JN_OK);
  const int32_t rc = jn_call_async(m.get(), &req, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr);
  if (rc == JN_OK) {
    ASSERT_TRUE(done.Wait());
    EXPECT_EQ(done.Code(), JN_NOT_FOUND);
  } else {
    EXPECT_EQ(rc, JN_NOT_FOUND);
    EXPECT_NE(req.release, nullptr);
    jn_buffer_release(&req);
  }
  EXPECT_EQ(p.calls.load(), 0);
  jn_method_stats s{};
  const int32_t stats_rc = jn_method_stats_get(m.get(), &s);
  EXPECT_TRUE(stats_rc == JN_OK || stats_rc == JN_NOT_FOUND) << jn_status_name(stats_rc);
  m.reset();
  EXPECT_EQ(LiveCounts().methods, baseline_.methods);
}

// Re-registering a name after unregister works: the old handle stays
// JN_NOT_FOUND, a new resolve reaches the new registration, whose stats
// start from zero.
TEST_F(LifetimeTest, ReRegisterSameName) {
  Probe p1;
  Probe p2;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "svc", {{"m", &Probe::Echo, nullptr, &p1}}, &p1, &Probe::Destroy),
            JN_OK);
  MethodPtr old_handle = Resolve(host.get(), "svc", "m");
  ScopedResult r;
  ASSERT_EQ(Call(old_handle.get(), "1", r), JN_OK);
  ASSERT_EQ(Call(old_handle.get(), "2", r), JN_OK);
  ASSERT_EQ(jn_host_unregister(host.get(), "svc", nullptr), JN_OK);
  ASSERT_EQ(Register(host.get(), "svc", {{"m", &Probe::Echo, nullptr, &p2}}, &p2, &Probe::Destroy),
            JN_OK);
  EXPECT_EQ(Call(old_handle.get(), "3", r), JN_NOT_FOUND);
  MethodPtr new_handle = Resolve(host.get(), "svc", "m");
  ASSERT_NE(new_handle, nullptr);
  EXPECT_EQ(Call(new_handle.get(), "4", r), JN_OK);
  EXPECT_EQ(r.response(), "4");
  EXPECT_EQ(Call(old_handle.get(), "5", r), JN_NOT_FOUND);
  EXPECT_EQ(p1.calls.load(), 2);
  EXPECT_EQ(p2.calls.load(), 1);
  jn_method_stats s{};
  ASSERT_EQ(jn_method_stats_get(new_handle.get(), &s), JN_OK);
  EXPECT_EQ(s.calls, 1u);
  EXPECT_TRUE(WaitFor([&] { return p1.destroyed.load() == 1; }));
  EXPECT_EQ(p2.destroyed.load(), 0);
  host.reset();
  EXPECT_EQ(p1.destroyed.load(), 1);
  EXPECT_EQ(p2.destroyed.load(), 1);
}

// destroy runs exactly once after unregister, and the service stops being
// counted live.
TEST_F(LifetimeTest, DestroyOnceAfterUnregister) {
  Probe p;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "svc", {{"m", &Probe::Echo, nullptr, &p}}, &p, &Probe::Destroy),
            JN_OK);
  EXPECT_EQ(LiveCounts().services, baseline_.services + 1);
  ASSERT_EQ(jn_host_unregister(host.get(), "svc", nullptr), JN_OK);
  EXPECT_TRUE(WaitFor([&] { return p.destroyed.load() >= 1; }));
  EXPECT_TRUE(WaitFor([&] { return LiveCounts().services == baseline_.services; }));
  host.reset();
  EXPECT_EQ(p.destroyed.load(), 1);
}

// jn_host_free runs every service's destroy exactly once before returning;
// a NULL destroy is allowed.
TEST_F(LifetimeTest, DestroyOnceAtHostFree) {
  Probe a;
  Probe b;
  jn_host* host = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &host, nullptr), JN_OK);
  ASSERT_EQ(Register(host, "a", {{"m", &Probe::Echo, nullptr, &a}}, &a, &Probe::Destroy), JN_OK);
  ASSERT_EQ(Register(host, "b", {{"m", &Probe::Echo, nullptr, &b}}, &b, &Probe::Destroy), JN_OK);
  ASSERT_EQ(Register(host, "c", {{"m", &EchoHandler, nullptr, nullptr}}, nullptr, nullptr), JN_OK);
  EXPECT_EQ(jn_host_free(host), JN_OK);
  EXPECT_EQ(a.destroyed.load(), 1);
  EXPECT_EQ(b.destroyed.load(), 1);
  EXPECT_EQ(LiveCounts().services, baseline_.services);
}

// Unregister does not wait for a call in flight: new calls are refused at
// once, the call in flight finishes normally, and only then destroy runs.
TEST_F(LifetimeTest, DestroyWaitsForCallInFlight) {
  Gate gate;
  HostPtr host = NewHost();
  ASSERT_EQ(
      Register(host.get(), "slow", {{"m", &Gate::Handler, nullptr, &gate}}, &gate, &Gate::Destroy),
      JN_OK);
  MethodPtr m = Resolve(host.get(), "slow", "m");
  int32_t code = -1;
  std::string response;
  std::thread caller([&] {
    ScopedResult r;
    code = Call(m.get(), "in flight", r);
    response = r.response();
  });
  ASSERT_TRUE(WaitFor([&] { return gate.entered.load() == 1; }));
  const int64_t t0 = jn_now_ns();
  EXPECT_EQ(jn_host_unregister(host.get(), "slow", nullptr), JN_OK);
  EXPECT_LT(jn_now_ns() - t0, 1'000'000'000) << "unregister waited for the call";
  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "new", r), JN_NOT_FOUND);
  std::this_thread::sleep_for(20ms);  // give an early destroy the chance to show
  EXPECT_EQ(gate.destroyed.load(), 0) << "destroy ran while a call was inside";
  gate.Open();
  caller.join();
  EXPECT_EQ(code, JN_OK);
  EXPECT_EQ(response, "in flight");
  EXPECT_TRUE(WaitFor([&] { return gate.destroyed.load() == 1; }));
  EXPECT_EQ(gate.destroyed_early.load(), 0);
  EXPECT_EQ(gate.entered.load(), 1);
}

// jn_host_free waits for synchronous calls in flight, then destroys.
TEST_F(LifetimeTest, HostFreeWaitsForSyncCallInFlight) {
  Gate gate;
  jn_host* host = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &host, nullptr), JN_OK);
  ASSERT_EQ(Register(host, "slow", {{"m", &Gate::Handler, nullptr, &gate}}, &gate, &Gate::Destroy),
            JN_OK);
  MethodPtr m = Resolve(host, "slow", "m");
  int32_t code = -1;
  std::thread caller([&] {
    ScopedResult r;
    code = Call(m.get(), "x", r);
  });
  ASSERT_TRUE(WaitFor([&] { return gate.entered.load() == 1; }));
  {
    const BackgroundFree free(host);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(free.freed.load()) << "jn_host_free returned while a call was in flight";
    gate.Open();
    EXPECT_TRUE(WaitFor([&] { return free.freed.load(); }));
    EXPECT_EQ(free.rc.load(), JN_OK);
  }
  caller.join();
  EXPECT_EQ(code, JN_OK);
  EXPECT_EQ(gate.destroyed.load(), 1);
  EXPECT_EQ(gate.destroyed_early.load(), 0);
}

// A handler that jn_host_free waits for may still call its host: it finds
// no service, and what would add to the host (a service, a route, a
// listener) is refused, so nothing is left behind the free.
struct CallsItsHostDuringFree {
  jn_host* host = nullptr;
  std::atomic<bool> entered{false};
  std::atomic<int32_t> registered{-1};
  std::atomic<int32_t> routed{-1};
  std::atomic<int32_t> listened{-1};
  std::atomic<int32_t> loaded{-1};

  static void Handler(void* ctx, jn_bytes /*req*/, int64_t /*deadline_ns*/, jn_result* /*r*/) {
    auto* self = static_cast<CallsItsHostDuringFree*>(ctx);
    self->entered.store(true);
    // The free has begun once the service is gone from the registry.
    const bool freeing = WaitFor([&] {
      jn_method* method = nullptr;
      const int32_t code = jn_host_resolve(self->host, "during", "m", &method, nullptr);
      jn_method_free(method);
      return code == JN_NOT_FOUND;
    });
    if (!freeing) return;
    self->registered.store(Register(self->host, "added", {{"m", &EchoHandler, nullptr, nullptr}}));
    self->routed.store(
        jn_host_route(self->host, "routed", "zmq+tcp://127.0.0.1:1", nullptr, nullptr));
    jn_listener* listener = nullptr;
    self->listened.store(
        jn_host_listen(self->host, "zmq+inproc://during-free", nullptr, &listener, nullptr));
    jn_listener_close(listener, 0);
    // Refused before the file is looked for: without the refusal this
    // would be NOT_FOUND.
    self->loaded.store(jn_host_load_module(self->host, "junction-no-such-module.so", nullptr));
  }
};

TEST_F(LifetimeTest, AHandlerTheFreeWaitsForMayCallItsHostAndAddsNothing) {
  CallsItsHostDuringFree handler;
  ASSERT_EQ(jn_host_new(nullptr, &handler.host, nullptr), JN_OK);
  ASSERT_EQ(Register(handler.host, "during",
                     {{"m", &CallsItsHostDuringFree::Handler, nullptr, &handler}}),
            JN_OK);
  MethodPtr m = Resolve(handler.host, "during", "m");
  std::thread caller([&] {
    ScopedResult r;
    static_cast<void>(Call(m.get(), "x", r));
  });
  ASSERT_TRUE(WaitFor([&] { return handler.entered.load(); }));
  EXPECT_EQ(jn_host_free(handler.host), JN_OK);
  caller.join();
  EXPECT_EQ(handler.registered.load(), JN_FAILED_PRECONDITION);
  EXPECT_EQ(handler.routed.load(), JN_FAILED_PRECONDITION);
  EXPECT_EQ(handler.listened.load(), JN_FAILED_PRECONDITION);
  EXPECT_EQ(handler.loaded.load(), JN_FAILED_PRECONDITION);
}

// The done of a call that jn_host_free answers CANCELLED runs on the
// freeing thread: a free of the same host from there is refused (it would
// free the host under the outer free), and so says jn_host_free_check.
struct FreesItsHostInDone {
  jn_host* host = nullptr;
  std::atomic<int> ran{0};
  std::atomic<int32_t> code{-1};
  std::atomic<int32_t> check{-1};
  std::atomic<int32_t> freed{-1};

  static void Done(void* user_data, jn_result* result) {
    auto* self = static_cast<FreesItsHostInDone*>(user_data);
    self->code.store(result->status.code);
    jn_result_release(result);
    self->check.store(jn_host_free_check(self->host));
    self->freed.store(jn_host_free(self->host));
    self->ran.fetch_add(1);
  }
};

TEST_F(LifetimeTest, AFreeFromTheDoneOfACallItAnswersIsRefused) {
  Parking parking;
  FreesItsHostInDone done;
  ASSERT_EQ(jn_host_new(nullptr, &done.host, nullptr), JN_OK);
  ASSERT_EQ(Register(done.host, "parking", {{"park", nullptr, &Parking::Handler, &parking}}),
            JN_OK);
  {
    MethodPtr m = Resolve(done.host, "parking", "park");
    ASSERT_EQ(
        jn_call_async(m.get(), nullptr, JN_NO_DEADLINE, &FreesItsHostInDone::Done, &done, nullptr),
        JN_OK);
  }
  ASSERT_TRUE(parking.WaitInvoked(1));
  EXPECT_EQ(jn_host_free(done.host), JN_OK);
  EXPECT_EQ(done.ran.load(), 1);
  EXPECT_EQ(done.code.load(), JN_CANCELLED);
  EXPECT_EQ(done.check.load(), JN_FAILED_PRECONDITION);
  EXPECT_EQ(done.freed.load(), JN_FAILED_PRECONDITION);
  parking.CompleteAll();  // the handler's late answer: its service's destroy runs
}

// A call held in one host's handler holds up neither an unregistered
// service's destroy nor jn_host_free on another host: each waits only for
// calls that may touch its own services.
TEST_F(LifetimeTest, AnotherHostsCallHoldsUpNeitherDestroyNorHostFree) {
  Gate gate;
  HostPtr busy = NewHost();
  ASSERT_EQ(
      Register(busy.get(), "slow", {{"m", &Gate::Handler, nullptr, &gate}}, &gate, &Gate::Destroy),
      JN_OK);
  MethodPtr slow = Resolve(busy.get(), "slow", "m");
  Probe gone;
  Probe kept;
  jn_host* idle = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &idle, nullptr), JN_OK);
  ASSERT_EQ(Register(idle, "gone", {{"m", &Probe::Echo, nullptr, &gone}}, &gone, &Probe::Destroy),
            JN_OK);
  ASSERT_EQ(Register(idle, "kept", {{"m", &Probe::Echo, nullptr, &kept}}, &kept, &Probe::Destroy),
            JN_OK);
  {
    MethodPtr echo = Resolve(idle, "kept", "m");
    ScopedResult r;
    ASSERT_EQ(Call(echo.get(), "served", r), JN_OK);
  }
  int32_t code = -1;
  std::thread caller([&] {
    ScopedResult r;
    code = Call(slow.get(), "held", r);
  });
  ASSERT_TRUE(WaitFor([&] { return gate.entered.load() == 1; }));

  ASSERT_EQ(jn_host_unregister(idle, "gone", nullptr), JN_OK);
  EXPECT_TRUE(WaitFor([&] { return gone.destroyed.load() == 1; }))
      << "an unregistered service's destroy waited for another host's call";
  {
    const BackgroundFree free(idle);
    EXPECT_TRUE(WaitFor([&] { return free.freed.load(); }))
        << "jn_host_free waited for another host's call";
    EXPECT_EQ(gate.left.load(), 0) << "the other host's call ended before the waits did";
    EXPECT_EQ(free.rc.load(), JN_OK);
    gate.Open();
  }
  caller.join();
  EXPECT_EQ(kept.destroyed.load(), 1);
  EXPECT_EQ(code, JN_OK);
}

// Re-entrancy: what a handler may do with its own host.
struct Reentrant {
  jn_host* host = nullptr;
  jn_method* inner = nullptr;
  jn_method* self = nullptr;
  std::atomic<int32_t> rc{-1};
  Probe probe;

  static void Unregister(void* ctx, jn_bytes req, int64_t /*deadline_ns*/, jn_result* r) {
    auto* x = static_cast<Reentrant*>(ctx);
    x->rc.store(jn_host_unregister(x->host, "self", nullptr));
    jn_buffer_copy(req.data, req.len, &r->response);
  }
  static void Free(void* ctx, jn_bytes /*request*/, int64_t /*deadline_ns*/, jn_result* r) {
    auto* x = static_cast<Reentrant*>(ctx);
    x->rc.store(jn_host_free(x->host));
    jn_buffer_copy(reinterpret_cast<const uint8_t*>("alive"), 5, &r->response);
  }
  static void AsyncFree(void* ctx, jn_bytes /*request*/, int64_t /*deadline_ns*/, jn_completion c) {
    auto* x = static_cast<Reentrant*>(ctx);
    x->rc.store(jn_host_free(x->host));
    jn_result r{};
    jn_complete(c, &r);
  }
  // Calls inner and wraps its answer.
  static void Nest(void* ctx, jn_bytes req, int64_t deadline, jn_result* r) {
    auto* x = static_cast<Reentrant*>(ctx);
    jn_result in{};
    const int32_t code = jn_call(x->inner, req, deadline, &in);
    const std::string out = "outer(" + Text(in.response) + ")";
    jn_result_release(&in);
    if (code != JN_OK) {
      r->status.code = code;
      return;
    }
    jn_buffer_copy(reinterpret_cast<const uint8_t*>(out.data()), out.size(), &r->response);
  }
  // Request "n": calls itself with n-1 down to 0; answers the depth path.
  static void Recurse(void* ctx, jn_bytes req, int64_t deadline, jn_result* r) {
    auto* x = static_cast<Reentrant*>(ctx);
    const int n = std::stoi(std::string(reinterpret_cast<const char*>(req.data), req.len));
    std::string out = std::to_string(n);
    if (n > 0) {
      const std::string next = std::to_string(n - 1);
      jn_result in{};
      if (jn_call(x->self, View(next), deadline, &in) != JN_OK) {
        r->status.code = JN_INTERNAL;
        jn_result_release(&in);
        return;
      }
      out += "," + Text(in.response);
      jn_result_release(&in);
    }
    jn_buffer_copy(reinterpret_cast<const uint8_t*>(out.data()), out.size(), &r->response);
  }
  // Registers a service "child" from inside a call.
  static void Spawn(void* ctx, jn_bytes /*request*/, int64_t /*deadline_ns*/,
                    jn_result* /*result*/) {
    auto* x = static_cast<Reentrant*>(ctx);
    x->rc.store(Register(x->host, "child", {{"m", &EchoHandler, nullptr, nullptr}}));
  }
};

// Nesting widens what a call holds up: a handler calling another host's
// method holds up that host's free, and one calling another service of its
// own host holds up that service's destroy. NestedGate calls outer/nest
// (Reentrant::Nest) from a thread of its own; the nested call waits at the
// gate.
struct NestedGate {
  Gate gate;
  Reentrant outer;  // outer.inner: the gated method
  std::atomic<int32_t> code{-1};

  std::thread Start(const jn_method* nest) {
    return std::thread([this, nest] {
      ScopedResult r;
      code.store(Call(nest, "x", r));
    });
  }
};

TEST_F(LifetimeTest, ACallNestedIntoAnotherHostHoldsUpThatHostsFree) {
  NestedGate nested;
  HostPtr outer_host = NewHost();
  jn_host* inner_host = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &inner_host, nullptr), JN_OK);
  ASSERT_EQ(Register(inner_host, "slow", {{"m", &Gate::Handler, nullptr, &nested.gate}},
                     &nested.gate, &Gate::Destroy),
            JN_OK);
  MethodPtr slow = Resolve(inner_host, "slow", "m");
  nested.outer.inner = slow.get();
  ASSERT_EQ(
      Register(outer_host.get(), "outer", {{"nest", &Reentrant::Nest, nullptr, &nested.outer}}),
      JN_OK);
  MethodPtr nest = Resolve(outer_host.get(), "outer", "nest");
  std::thread caller = nested.Start(nest.get());
  ASSERT_TRUE(WaitFor([&] { return nested.gate.entered.load() == 1; }));
  {
    const BackgroundFree free(inner_host);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(free.freed.load())
        << "jn_host_free returned while a nested call was in its handler";
    nested.gate.Open();
    EXPECT_TRUE(WaitFor([&] { return free.freed.load(); }));
    EXPECT_EQ(free.rc.load(), JN_OK);
  }
  caller.join();
  EXPECT_EQ(nested.code.load(), JN_OK);
  EXPECT_EQ(nested.gate.destroyed.load(), 1);
  EXPECT_EQ(nested.gate.destroyed_early.load(), 0);
}

TEST_F(LifetimeTest, ACallNestedIntoAnotherServiceHoldsUpItsDestroy) {
  NestedGate nested;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "slow", {{"m", &Gate::Handler, nullptr, &nested.gate}},
                     &nested.gate, &Gate::Destroy),
            JN_OK);
  MethodPtr slow = Resolve(host.get(), "slow", "m");
  nested.outer.inner = slow.get();
  ASSERT_EQ(Register(host.get(), "outer", {{"nest", &Reentrant::Nest, nullptr, &nested.outer}}),
            JN_OK);
  MethodPtr nest = Resolve(host.get(), "outer", "nest");
  std::thread caller = nested.Start(nest.get());
  ASSERT_TRUE(WaitFor([&] { return nested.gate.entered.load() == 1; }));
  ASSERT_EQ(jn_host_unregister(host.get(), "slow", nullptr), JN_OK);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(nested.gate.destroyed.load(), 0) << "destroy ran while a nested call was inside";
  nested.gate.Open();
  caller.join();
  EXPECT_EQ(nested.code.load(), JN_OK);
  EXPECT_TRUE(WaitFor([&] { return nested.gate.destroyed.load() == 1; }));
  EXPECT_EQ(nested.gate.destroyed_early.load(), 0);
}

// A handler may unregister its own service: its call completes, later
// calls are JN_NOT_FOUND, and destroy runs once after it returned.
// A call completed after its service was unregistered (and retired) still
// holds up its host's free until the completion is delivered: the free
// deletes the host, which the completion uses. Its done callback, which
// runs inside the completion, shows when that ends.
TEST_F(LifetimeTest, ACompletionOnAnUnregisteredServiceHoldsUpHostFree) {
  struct BlockingDone {
    std::atomic<bool> inside{false};
    std::atomic<bool> release{false};
    std::atomic<int32_t> code{-1};
    static void Fn(void* user, jn_result* result) {
      auto* self = static_cast<BlockingDone*>(user);
      self->code = result->status.code;
      jn_result_release(result);
      self->inside = true;
      while (!self->release.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  };
  jn_host* host = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &host, nullptr), JN_OK);
  Parking parking;
  ASSERT_EQ(Register(host, "parked", {{"park", nullptr, &Parking::Handler, &parking}}), JN_OK);
  Probe later;
  ASSERT_EQ(
      Register(host, "later", {{"echo", &Probe::Echo, nullptr, &later}}, &later, &Probe::Destroy),
      JN_OK);
  BlockingDone done;
  {
    MethodPtr park = Resolve(host, "parked", "park");
    ASSERT_EQ(jn_call_async(park.get(), nullptr, JN_NO_DEADLINE, &BlockingDone::Fn, &done, nullptr),
              JN_OK);
  }
  ASSERT_TRUE(parking.WaitInvoked(1));
  ASSERT_EQ(jn_host_unregister(host, "parked", nullptr), JN_OK);
  ASSERT_EQ(jn_host_unregister(host, "later", nullptr), JN_OK);
  // Retired one after the other: once the second's destroy has run, the
  // first's retirement has passed too.
  ASSERT_TRUE(WaitFor([&] { return later.destroyed.load() == 1; }));
  jn_completion completion{};
  jn_bytes request{};
  ASSERT_TRUE(parking.Take(&completion, &request));
  std::thread completer([&] { CompleteWith(completion, "late"); });
  ASSERT_TRUE(WaitFor([&] { return done.inside.load(); }));
  std::atomic<bool> freed{false};
  std::thread freer([&] {
    EXPECT_EQ(jn_host_free(host), JN_OK);
    freed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(freed.load()) << "the host was freed under a completion still being delivered";
  done.release = true;
  completer.join();
  freer.join();
  EXPECT_TRUE(freed.load());
  EXPECT_EQ(done.code.load(), JN_OK);
}

TEST_F(LifetimeTest, UnregisterFromInsideHandler) {
  Reentrant x;
  HostPtr host = NewHost();
  x.host = host.get();
  ASSERT_EQ(Register(host.get(), "self", {{"m", &Reentrant::Unregister, nullptr, &x}}, &x.probe,
                     &Probe::Destroy),
            JN_OK);
  MethodPtr m = Resolve(host.get(), "self", "m");
  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "bye", r), JN_OK);
  EXPECT_EQ(r.response(), "bye");
  EXPECT_EQ(x.rc.load(), JN_OK);
  EXPECT_EQ(Call(m.get(), "again", r), JN_NOT_FOUND);
  EXPECT_TRUE(WaitFor([&] { return x.probe.destroyed.load() == 1; }));
  host.reset();
  EXPECT_EQ(x.probe.destroyed.load(), 1);
}

// A handler may call other methods and itself on the same host.
TEST_F(LifetimeTest, CallsFromInsideHandler) {
  Reentrant x;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "inner", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  ASSERT_EQ(Register(host.get(), "outer",
                     {{"nest", &Reentrant::Nest, nullptr, &x},
                      {"recurse", &Reentrant::Recurse, nullptr, &x}}),
            JN_OK);
  MethodPtr inner = Resolve(host.get(), "inner", "echo");
  MethodPtr self = Resolve(host.get(), "outer", "recurse");
  MethodPtr nest = Resolve(host.get(), "outer", "nest");
  x.inner = inner.get();
  x.self = self.get();
  ScopedResult r;
  EXPECT_EQ(Call(nest.get(), "core", r), JN_OK);
  EXPECT_EQ(r.response(), "outer(core)");
  EXPECT_EQ(Call(self.get(), "5", r), JN_OK);
  EXPECT_EQ(r.response(), "5,4,3,2,1,0");
}

// A handler may register a new service on its host.
TEST_F(LifetimeTest, RegisterFromInsideHandler) {
  Reentrant x;
  HostPtr host = NewHost();
  x.host = host.get();
  ASSERT_EQ(Register(host.get(), "parent", {{"spawn", &Reentrant::Spawn, nullptr, &x}}), JN_OK);
  MethodPtr spawn = Resolve(host.get(), "parent", "spawn");
  ScopedResult r;
  EXPECT_EQ(Call(spawn.get(), "", r), JN_OK);
  EXPECT_EQ(x.rc.load(), JN_OK);
  MethodPtr child = Resolve(host.get(), "child", "m");
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(Call(child.get(), "kid", r), JN_OK);
  EXPECT_EQ(r.response(), "kid");
}

// jn_host_free from inside a handler (sync on the caller's thread, async on
// a worker) is refused with JN_FAILED_PRECONDITION and frees nothing.
TEST_F(LifetimeTest, HostFreeFromInsideHandlerRefused) {
  Reentrant x;
  DoneRecord done;
  HostPtr host = NewHost();
  x.host = host.get();
  ASSERT_EQ(Register(host.get(), "svc",
                     {{"free", &Reentrant::Free, nullptr, &x},
                      {"async_free", nullptr, &Reentrant::AsyncFree, &x},
                      {"echo", &EchoHandler, nullptr, nullptr}},
                     &x.probe, &Probe::Destroy),
            JN_OK);
  MethodPtr free_m = Resolve(host.get(), "svc", "free");
  MethodPtr async_free = Resolve(host.get(), "svc", "async_free");
  MethodPtr echo = Resolve(host.get(), "svc", "echo");
  ScopedResult r;
  EXPECT_EQ(Call(free_m.get(), "", r), JN_OK);
  EXPECT_EQ(r.response(), "alive");
  EXPECT_EQ(x.rc.load(), JN_FAILED_PRECONDITION);

  x.rc.store(-1);
  ASSERT_EQ(
      jn_call_async(async_free.get(), nullptr, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr),
      JN_OK);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_OK);
  EXPECT_EQ(x.rc.load(), JN_FAILED_PRECONDITION);

  EXPECT_EQ(Call(echo.get(), "still usable", r), JN_OK);
  EXPECT_EQ(r.response(), "still usable");
  EXPECT_EQ(x.probe.destroyed.load(), 0);
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts + 1);
  host.reset();
  EXPECT_EQ(x.probe.destroyed.load(), 1);
}

// Hosts can be created and freed in quick succession, each with workers
// that have run calls.
TEST_F(LifetimeTest, ManyHostsCreatedAndFreed) {
  for (int i = 0; i < 50; ++i) {
    DoneRecord done;
    HostPtr host = NewHost(static_cast<uint32_t>(i % 3));
    ASSERT_NE(host, nullptr);
    ASSERT_EQ(Register(host.get(), "s", {{"m", &EchoHandler, nullptr, nullptr}}), JN_OK);
    MethodPtr m = Resolve(host.get(), "s", "m");
    ASSERT_EQ(jn_call_async(m.get(), nullptr, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr),
              JN_OK);
    ASSERT_TRUE(done.Wait());
    host.reset();
    EXPECT_EQ(done.count.load(), 1);
  }
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts);
}

// Many handles on one method are counted live and freed independently.
TEST_F(LifetimeTest, ManyHandlesOnOneMethod) {
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "svc", {{"m", &EchoHandler, nullptr, nullptr}}), JN_OK);
  std::vector<MethodPtr> handles;
  handles.reserve(100);
  for (int i = 0; i < 100; ++i) handles.push_back(Resolve(host.get(), "svc", "m"));
  EXPECT_EQ(LiveCounts().methods, baseline_.methods + 100);
  handles.erase(handles.begin(), handles.begin() + 50);
  EXPECT_EQ(LiveCounts().methods, baseline_.methods + 50);
  ScopedResult r;
  EXPECT_EQ(Call(handles.back().get(), "ok", r), JN_OK);
}

}  // namespace
}  // namespace jntest
