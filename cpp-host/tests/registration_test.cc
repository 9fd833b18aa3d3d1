// Service registration and resolution: lookups, duplicates, ABI version
// checks, descriptor validation, and that a refused registration leaves the
// ctx with the caller (destroy never runs) and registers nothing.
#include <string>
#include <vector>

#include "test_support.h"

namespace jntest {
namespace {

class RegistrationTest : public LeakCheckedTest {};

int32_t ResolveCode(jn_host* host, const char* service, const char* method) {
  jn_method* m = nullptr;
  ScopedStatus st;
  st.s.code = -1;
  const int32_t rc = jn_host_resolve(host, service, method, &m, st.get());
  EXPECT_EQ(st.s.code, rc) << "status written with the returned code";
  jn_method_free(m);
  return rc;
}

// Register, resolve, call; the status out-parameter is written on success.
TEST_F(RegistrationTest, RegisterResolveCall) {
  Probe p;
  HostPtr host = NewHost();
  ScopedStatus st;
  st.s.code = -1;
  ASSERT_EQ(Register(host.get(), "svc", {{"echo", &Probe::Echo, nullptr, &p}}, &p, &Probe::Destroy,
                     st.get()),
            JN_OK);
  EXPECT_EQ(st.s.code, JN_OK);
  EXPECT_EQ(LiveCounts().services, baseline_.services + 1);
  MethodPtr m = Resolve(host.get(), "svc", "echo");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(LiveCounts().methods, baseline_.methods + 1);
  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "hi", r), JN_OK);
  EXPECT_EQ(r.code(), JN_OK);
  EXPECT_EQ(r.response(), "hi");
  EXPECT_EQ(p.calls.load(), 1);
}

// Unknown services and methods are JN_NOT_FOUND, as is unregistering an
// unknown name.
TEST_F(RegistrationTest, UnknownServiceAndMethodNotFound) {
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "svc", {{"echo", &EchoHandler, nullptr, nullptr}}), JN_OK);
  EXPECT_EQ(ResolveCode(host.get(), "nope", "echo"), JN_NOT_FOUND);
  EXPECT_EQ(ResolveCode(host.get(), "svc", "nope"), JN_NOT_FOUND);
  EXPECT_EQ(ResolveCode(host.get(), "SVC", "echo"), JN_NOT_FOUND) << "names are exact";
  EXPECT_EQ(ResolveCode(host.get(), "sv", "echo"), JN_NOT_FOUND) << "no prefix match";
  EXPECT_EQ(ResolveCode(host.get(), "svc", "ech"), JN_NOT_FOUND) << "no prefix match";
  EXPECT_EQ(ResolveCode(host.get(), "svc", "echo2"), JN_NOT_FOUND);
  EXPECT_EQ(ResolveCode(host.get(), "", ""), JN_NOT_FOUND);
  EXPECT_EQ(ResolveCode(host.get(), "svc", "echo"), JN_OK);
  ScopedStatus st;
  EXPECT_EQ(jn_host_unregister(host.get(), "nope", st.get()), JN_NOT_FOUND);
  EXPECT_EQ(st.s.code, JN_NOT_FOUND);
}

// A second registration of a name fails with JN_ALREADY_EXISTS, never calls
// its destroy, leaves its ctx alone, and does not disturb the first.
TEST_F(RegistrationTest, DuplicateRegistration) {
  Probe first;
  Probe second;
  {
    HostPtr host = NewHost();
    ASSERT_EQ(Register(host.get(), "dup", {{"echo", &Probe::Echo, nullptr, &first}}, &first,
                       &Probe::Destroy),
              JN_OK);
    ScopedStatus st;
    EXPECT_EQ(Register(host.get(), "dup", {{"echo", &Probe::Echo, nullptr, &second}}, &second,
                       &Probe::Destroy, st.get()),
              JN_ALREADY_EXISTS);
    EXPECT_EQ(st.s.code, JN_ALREADY_EXISTS);
    EXPECT_EQ(LiveCounts().services, baseline_.services + 1);
    MethodPtr m = Resolve(host.get(), "dup", "echo");
    ScopedResult r;
    EXPECT_EQ(Call(m.get(), "x", r), JN_OK);
    EXPECT_EQ(first.calls.load(), 1);
    EXPECT_EQ(second.calls.load(), 0);
  }
  EXPECT_EQ(first.destroyed.load(), 1);
  EXPECT_EQ(second.destroyed.load(), 0);
}

// A descriptor built for another ABI major is refused with
// JN_FAILED_PRECONDITION and a message naming both versions.
TEST_F(RegistrationTest, AbiMajorMismatch) {
  Probe p;
  {
    HostPtr host = NewHost();
    const jn_method_desc m = {"echo", &Probe::Echo, nullptr, &p};
    jn_service_desc d = Desc("versioned", &m, 1, &p, &Probe::Destroy);
    d.abi_version = (2u << 16) | 0u;
    ScopedStatus st;
    EXPECT_EQ(jn_host_register(host.get(), &d, st.get()), JN_FAILED_PRECONDITION);
    EXPECT_EQ(st.s.code, JN_FAILED_PRECONDITION);
    EXPECT_TRUE(Contains(st.message(), "2.0")) << st.message();
    EXPECT_TRUE(Contains(st.message(), std::to_string(JN_ABI_VERSION_MAJOR) + "." +
                                           std::to_string(JN_ABI_VERSION_MINOR)))
        << st.message();

    d.abi_version = (0u << 16) | 9u;
    ScopedStatus st0;
    EXPECT_EQ(jn_host_register(host.get(), &d, st0.get()), JN_FAILED_PRECONDITION);
    EXPECT_TRUE(Contains(st0.message(), "0.9")) << st0.message();

    EXPECT_EQ(ResolveCode(host.get(), "versioned", "echo"), JN_NOT_FOUND);
    d.abi_version = JN_ABI_VERSION;
    EXPECT_EQ(jn_host_register(host.get(), &d, nullptr), JN_OK) << "the name stayed free";
  }
  EXPECT_EQ(p.destroyed.load(), 1);
}

// A descriptor from a newer minor than the host's is refused.
TEST_F(RegistrationTest, NewerMinorRefused) {
  Probe p;
  {
    HostPtr host = NewHost();
    const jn_method_desc m = {"echo", &Probe::Echo, nullptr, &p};
    jn_service_desc d = Desc("newer", &m, 1, &p, &Probe::Destroy);
    d.abi_version = JN_ABI_VERSION + 1;
    ScopedStatus st;
    EXPECT_EQ(jn_host_register(host.get(), &d, st.get()), JN_FAILED_PRECONDITION);
    EXPECT_EQ(st.s.code, JN_FAILED_PRECONDITION);
    EXPECT_FALSE(st.message().empty());
    EXPECT_EQ(ResolveCode(host.get(), "newer", "echo"), JN_NOT_FOUND);
  }
  EXPECT_EQ(p.destroyed.load(), 0);
}

// Malformed descriptors are JN_INVALID_ARGUMENT; none is registered or
// destroyed, and the name can be registered properly afterwards.
TEST_F(RegistrationTest, MalformedDescriptorsRefused) {
  const std::string long_name(256, 'n');
  const std::string max_name(255, 'n');
  const jn_method_desc echo = {"echo", &EchoHandler, nullptr, nullptr};
  const jn_method_desc async_echo = {"echo", nullptr, &Probe::AsyncEcho, nullptr};
  const jn_method_desc other = {"other", &EchoHandler, nullptr, nullptr};
  const jn_method_desc both = {"both", &EchoHandler, &Probe::AsyncEcho, nullptr};
  const jn_method_desc neither = {"neither", nullptr, nullptr, nullptr};
  const jn_method_desc empty_name = {"", &EchoHandler, nullptr, nullptr};
  const jn_method_desc long_method = {long_name.c_str(), &EchoHandler, nullptr, nullptr};
  const jn_method_desc dup_pair[] = {echo, async_echo};
  const jn_method_desc ok_then_both[] = {other, both};

  struct Case {
    const char* what;
    const char* name;
    const jn_method_desc* methods;
    uint32_t count;
  };
  const Case cases[] = {
      {"empty service name", "", &echo, 1},
      {"256-byte service name", long_name.c_str(), &echo, 1},
      {"zero methods", "svc", &echo, 0},
      {"zero methods, NULL array", "svc", nullptr, 0},
      {"duplicate method names", "svc", dup_pair, 2},
      {"both handlers", "svc", &both, 1},
      {"neither handler", "svc", &neither, 1},
      {"second method has both handlers", "svc", ok_then_both, 2},
      {"empty method name", "svc", &empty_name, 1},
      {"256-byte method name", "svc", &long_method, 1},
  };
  Probe p;
  {
    HostPtr host = NewHost();
    for (const Case& c : cases) {
      SCOPED_TRACE(c.what);
      const jn_service_desc d = Desc(c.name, c.methods, c.count, &p, &Probe::Destroy);
      ScopedStatus st;
      st.s.code = -1;
      EXPECT_EQ(jn_host_register(host.get(), &d, st.get()), JN_INVALID_ARGUMENT);
      EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
      EXPECT_FALSE(st.message().empty()) << "a reason is given";
      EXPECT_EQ(ResolveCode(host.get(), "svc", "echo"), JN_NOT_FOUND);
    }
    EXPECT_EQ(LiveCounts().services, baseline_.services);
    EXPECT_EQ(p.destroyed.load(), 0);
    EXPECT_EQ(Register(host.get(), "svc", {echo}), JN_OK);
  }
  EXPECT_EQ(p.destroyed.load(), 0);
}

// Names of exactly 255 bytes are accepted and resolvable.
TEST_F(RegistrationTest, MaximumLengthNames) {
  const std::string service(255, 's');
  const std::string method(255, 'm');
  HostPtr host = NewHost();
  ASSERT_EQ(
      Register(host.get(), service.c_str(), {{method.c_str(), &EchoHandler, nullptr, nullptr}}),
      JN_OK);
  MethodPtr m = Resolve(host.get(), service.c_str(), method.c_str());
  ASSERT_NE(m, nullptr);
  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "long", r), JN_OK);
  EXPECT_EQ(r.response(), "long");
}

// Everything but ctx is copied at registration: the caller may overwrite
// names and the method array right after.
TEST_F(RegistrationTest, DescriptorCopiedAtRegistration) {
  Probe p;
  HostPtr host = NewHost();
  std::string service = "copied";
  std::string method = "echo";
  auto methods = std::make_unique<std::vector<jn_method_desc>>(
      std::vector<jn_method_desc>{{method.c_str(), &Probe::Echo, nullptr, &p}});
  jn_service_desc d =
      Desc(service.c_str(), methods->data(), static_cast<uint32_t>(methods->size()));
  ASSERT_EQ(jn_host_register(host.get(), &d, nullptr), JN_OK);
  service.assign(service.size(), 'X');
  method.assign(method.size(), 'Y');
  (*methods)[0] = jn_method_desc{"zzz", nullptr, nullptr, nullptr};
  methods.reset();
  d = jn_service_desc{};

  MethodPtr m = Resolve(host.get(), "copied", "echo");
  ASSERT_NE(m, nullptr);
  ScopedResult r;
  EXPECT_EQ(Call(m.get(), "still here", r), JN_OK);
  EXPECT_EQ(r.response(), "still here");
  EXPECT_EQ(p.calls.load(), 1);
}

// Each method dispatches to its own handler with its own ctx.
TEST_F(RegistrationTest, MethodsKeepTheirOwnCtx) {
  Probe a;
  Probe b;
  Probe c;
  HostPtr host = NewHost();
  ASSERT_EQ(Register(host.get(), "multi",
                     {{"a", &Probe::Echo, nullptr, &a},
                      {"b", &Probe::Echo, nullptr, &b},
                      {"c", nullptr, &Probe::AsyncEcho, &c}}),
            JN_OK);
  MethodPtr ma = Resolve(host.get(), "multi", "a");
  MethodPtr mb = Resolve(host.get(), "multi", "b");
  MethodPtr mc = Resolve(host.get(), "multi", "c");
  ASSERT_TRUE(ma && mb && mc);
  ScopedResult r;
  EXPECT_EQ(Call(mb.get(), "1", r), JN_OK);
  EXPECT_EQ(Call(mb.get(), "2", r), JN_OK);
  EXPECT_EQ(Call(mc.get(), "3", r), JN_OK);
  EXPECT_EQ(r.response(), "3");
  EXPECT_EQ(a.calls.load(), 0);
  EXPECT_EQ(b.calls.load(), 2);
  EXPECT_EQ(c.calls.load(), 1);
}

// The same service name lives independently in two hosts.
TEST_F(RegistrationTest, HostsAreIndependent) {
  Probe p1;
  Probe p2;
  HostPtr h1 = NewHost();
  HostPtr h2 = NewHost();
  EXPECT_EQ(LiveCounts().hosts, baseline_.hosts + 2);
  ASSERT_EQ(Register(h1.get(), "svc", {{"m", &Probe::Echo, nullptr, &p1}}, &p1, &Probe::Destroy),
            JN_OK);
  ASSERT_EQ(Register(h2.get(), "svc", {{"m", &Probe::Echo, nullptr, &p2}}, &p2, &Probe::Destroy),
            JN_OK);
  MethodPtr m2 = Resolve(h2.get(), "svc", "m");
  h1.reset();
  EXPECT_EQ(p1.destroyed.load(), 1);
  EXPECT_EQ(p2.destroyed.load(), 0);
  ScopedResult r;
  EXPECT_EQ(Call(m2.get(), "x", r), JN_OK);
  EXPECT_EQ(p2.calls.load(), 1);
}

// Host options: explicit worker counts work; struct_size is honoured.
TEST_F(RegistrationTest, HostOptions) {
  for (uint32_t workers : {0u, 1u, 4u}) {
    SCOPED_TRACE(workers);
    Probe p;
    DoneRecord done;
    HostPtr host = NewHost(workers);
    ASSERT_NE(host, nullptr);
    ASSERT_EQ(Register(host.get(), "s", {{"m", nullptr, &Probe::AsyncEcho, &p}}), JN_OK);
    MethodPtr m = Resolve(host.get(), "s", "m");
    jn_buffer req{};
    ASSERT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>("w"), 1, &req), JN_OK);
    ASSERT_EQ(jn_call_async(m.get(), &req, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr), JN_OK);
    ASSERT_TRUE(done.Wait());
    EXPECT_EQ(done.Response(), "w");
    m.reset();
    host.reset();
  }
}

}  // namespace
}  // namespace jntest
