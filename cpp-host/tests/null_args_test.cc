// NULL for every pointer parameter of every ABI function: JN_INVALID_ARGUMENT
// (or a documented no-op), status/result written where the header says, and
// nothing started, allocated or taken.
#include "test_support.h"

namespace jntest {
namespace {

class NullArgsTest : public LeakCheckedTest {
 protected:
  void SetUp() override {
    LeakCheckedTest::SetUp();
    host_ = NewHost();
    ASSERT_NE(host_, nullptr);
    ASSERT_EQ(Register(host_.get(), "svc", {{"echo", &Probe::Echo, nullptr, &probe_}}, &probe_,
                       &Probe::Destroy),
              JN_OK);
    method_ = Resolve(host_.get(), "svc", "echo");
    ASSERT_NE(method_, nullptr);
  }
  void TearDown() override {
    method_.reset();
    host_.reset();
    LeakCheckedTest::TearDown();
  }

  CountingProducer producer_;
  Probe probe_;
  HostPtr host_;
  MethodPtr method_;
};

// Buffers: the out buffer is required; data may be NULL only with len 0.
TEST_F(NullArgsTest, BufferFunctions) {
  uint8_t* data = nullptr;
  EXPECT_EQ(jn_buffer_new(8, &data, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_buffer_copy(reinterpret_cast<const uint8_t*>("a"), 1, nullptr), JN_INVALID_ARGUMENT);
  jn_buffer b{};
  EXPECT_EQ(jn_buffer_copy(nullptr, 1, &b), JN_INVALID_ARGUMENT);
  EXPECT_EQ(b.release, nullptr);
  jn_buffer_release(nullptr);  // no-op
}

// Status/result helpers and the live-object query.
TEST_F(NullArgsTest, StatusFunctions) {
  EXPECT_EQ(jn_status_set(nullptr, JN_OK, nullptr), JN_INVALID_ARGUMENT);
  jn_status_release(nullptr);  // no-op
  jn_result_release(nullptr);  // no-op
  EXPECT_EQ(jn_live_objects(nullptr), JN_INVALID_ARGUMENT);
}

// jn_host_new needs an out pointer; the failure reason goes into status.
TEST_F(NullArgsTest, HostNew) {
  EXPECT_EQ(jn_host_new(nullptr, nullptr, nullptr), JN_INVALID_ARGUMENT);
  ScopedStatus st;
  st.s.code = -1;
  EXPECT_EQ(jn_host_new(nullptr, nullptr, st.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  // options and status are optional.
  jn_host* h = nullptr;
  ASSERT_EQ(jn_host_new(nullptr, &h, nullptr), JN_OK);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(jn_host_free(h), JN_OK);
}

// jn_host_free(NULL) is a no-op returning OK.
TEST_F(NullArgsTest, HostFreeNull) { EXPECT_EQ(jn_host_free(nullptr), JN_OK); }

// jn_host_register: host and descriptor are required.
TEST_F(NullArgsTest, HostRegister) {
  const jn_method_desc m = {"echo", &Probe::Echo, nullptr, &probe_};
  const jn_service_desc d = Desc("other", &m, 1, &probe_, &Probe::Destroy);
  ScopedStatus st;
  st.s.code = -1;
  EXPECT_EQ(jn_host_register(nullptr, &d, st.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_register(nullptr, &d, nullptr), JN_INVALID_ARGUMENT);
  ScopedStatus st2;
  st2.s.code = -1;
  EXPECT_EQ(jn_host_register(host_.get(), nullptr, st2.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st2.s.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_register(host_.get(), nullptr, nullptr), JN_INVALID_ARGUMENT);
  host_.reset();
  EXPECT_EQ(probe_.destroyed.load(), 1) << "only the SetUp registration is destroyed";
}

// jn_host_unregister: host and name are required.
TEST_F(NullArgsTest, HostUnregister) {
  ScopedStatus st;
  st.s.code = -1;
  EXPECT_EQ(jn_host_unregister(nullptr, "svc", st.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  ScopedStatus st2;
  st2.s.code = -1;
  EXPECT_EQ(jn_host_unregister(host_.get(), nullptr, st2.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st2.s.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_unregister(host_.get(), nullptr, nullptr), JN_INVALID_ARGUMENT);
  // The service is still there.
  ScopedResult r;
  EXPECT_EQ(Call(method_.get(), "still", r), JN_OK);
}

// jn_host_resolve: every pointer is required.
TEST_F(NullArgsTest, HostResolve) {
  jn_method* m = nullptr;
  struct Case {
    jn_host* host;
    const char* service;
    const char* method;
    jn_method** out;
  };
  const Case cases[] = {{nullptr, "svc", "echo", &m},
                        {host_.get(), nullptr, "echo", &m},
                        {host_.get(), "svc", nullptr, &m},
                        {host_.get(), "svc", "echo", nullptr}};
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(i++);
    ScopedStatus st;
    st.s.code = -1;
    EXPECT_EQ(jn_host_resolve(c.host, c.service, c.method, c.out, st.get()), JN_INVALID_ARGUMENT);
    EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
    EXPECT_EQ(jn_host_resolve(c.host, c.service, c.method, c.out, nullptr), JN_INVALID_ARGUMENT);
  }
  EXPECT_EQ(m, nullptr);
}

// jn_host_list_services: a NULL host or visit is refused, and nothing is
// visited.
TEST_F(NullArgsTest, HostListServices) {
  int visits = 0;
  const auto count = [](void* user_data, const jn_service_info*) {
    ++*static_cast<int*>(user_data);
  };
  EXPECT_EQ(jn_host_list_services(nullptr, count, &visits), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_list_services(host_.get(), nullptr, &visits), JN_INVALID_ARGUMENT);
  EXPECT_EQ(visits, 0);
  EXPECT_EQ(jn_host_list_services(host_.get(), count, &visits), JN_OK);
  EXPECT_EQ(visits, 1) << "the fixture's host has one service";
}

// jn_method_free(NULL) is a no-op.
TEST_F(NullArgsTest, MethodFreeNull) { jn_method_free(nullptr); }

// jn_call: a NULL method is refused with the result written; a NULL result
// is refused; NULL data with a length is refused. The handler never runs.
TEST_F(NullArgsTest, Call) {
  ScopedResult r;
  r.r.status.code = -1;
  EXPECT_EQ(jn_call(nullptr, View("x"), JN_NO_DEADLINE, r.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(r.code(), JN_INVALID_ARGUMENT);
  EXPECT_EQ(r.r.response.release, nullptr);
  EXPECT_EQ(jn_call(method_.get(), View("x"), JN_NO_DEADLINE, nullptr), JN_INVALID_ARGUMENT);
  ScopedResult r2;
  r2.r.status.code = -1;
  EXPECT_EQ(jn_call(method_.get(), jn_bytes{nullptr, 5}, JN_NO_DEADLINE, r2.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(r2.code(), JN_INVALID_ARGUMENT);
  EXPECT_EQ(r2.r.response.release, nullptr);
  EXPECT_EQ(probe_.calls.load(), 0);
  // NULL data with len 0 is a valid empty request.
  ScopedResult r3;
  EXPECT_EQ(jn_call(method_.get(), jn_bytes{nullptr, 0}, JN_NO_DEADLINE, r3.get()), JN_OK);
  EXPECT_EQ(probe_.calls.load(), 1);
  EXPECT_EQ(r3.r.response.len, 0u);
}

// jn_call_async: NULL method or done is refused, the request stays the
// caller's and done is never called; a NULL request means empty.
TEST_F(NullArgsTest, CallAsync) {
  DoneRecord& done = *NewDone();
  jn_buffer req = producer_.Make("mine");
  ScopedStatus st;
  st.s.code = -1;
  EXPECT_EQ(jn_call_async(nullptr, &req, JN_NO_DEADLINE, &DoneRecord::Fn, &done, st.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  ScopedStatus st2;
  st2.s.code = -1;
  EXPECT_EQ(jn_call_async(method_.get(), &req, JN_NO_DEADLINE, nullptr, &done, st2.get()),
            JN_INVALID_ARGUMENT);
  EXPECT_EQ(st2.s.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_call_async(method_.get(), &req, JN_NO_DEADLINE, nullptr, nullptr, nullptr),
            JN_INVALID_ARGUMENT);
  EXPECT_NE(req.release, nullptr) << "request taken by a refused call";
  EXPECT_EQ(Text(req), "mine");
  EXPECT_EQ(producer_.released(), 0);
  EXPECT_EQ(done.count.load(), 0);
  EXPECT_EQ(probe_.calls.load(), 0);
  jn_buffer_release(&req);
  EXPECT_EQ(producer_.releases_of(0), 1);

  // A request buffer with NULL data but a length is refused, not taken.
  jn_buffer bad = producer_.Make("12345");
  const uint8_t* real_data = bad.data;
  bad.data = nullptr;
  EXPECT_EQ(jn_call_async(method_.get(), &bad, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr),
            JN_INVALID_ARGUMENT);
  EXPECT_NE(bad.release, nullptr);
  EXPECT_EQ(producer_.releases_of(1), 0);
  bad.data = real_data;
  jn_buffer_release(&bad);
  EXPECT_EQ(producer_.releases_of(1), 1);

  // NULL request: an empty request, and done runs once.
  ASSERT_EQ(jn_call_async(method_.get(), nullptr, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr),
            JN_OK);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Code(), JN_OK);
  EXPECT_EQ(done.Response(), "");
  EXPECT_EQ(probe_.last_len.load(), 0u);
}

// jn_complete: a NULL result is refused and does not consume the completion.
TEST_F(NullArgsTest, Complete) {
  EXPECT_EQ(jn_complete(jn_completion{~uint64_t{0}, 0}, nullptr), JN_INVALID_ARGUMENT);

  Parking parking;
  ASSERT_EQ(Register(host_.get(), "parked", {{"wait", nullptr, &Parking::Handler, &parking}}),
            JN_OK);
  MethodPtr m = Resolve(host_.get(), "parked", "wait");
  ASSERT_NE(m, nullptr);
  DoneRecord& done = *NewDone();
  ASSERT_EQ(jn_call_async(m.get(), nullptr, JN_NO_DEADLINE, &DoneRecord::Fn, &done, nullptr),
            JN_OK);
  ASSERT_TRUE(parking.WaitInvoked(1));
  jn_completion c{};
  jn_bytes req{};
  ASSERT_TRUE(parking.Take(&c, &req));
  EXPECT_EQ(jn_complete(c, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(done.count.load(), 0);
  EXPECT_EQ(CompleteWith(c, "late"), JN_OK);
  ASSERT_TRUE(done.Wait());
  EXPECT_EQ(done.Response(), "late");
  EXPECT_EQ(jn_host_unregister(host_.get(), "parked", nullptr), JN_OK);
}

// jn_method_stats_get: method and stats are required.
TEST_F(NullArgsTest, MethodStats) {
  jn_method_stats s{};
  EXPECT_EQ(jn_method_stats_get(nullptr, &s), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_method_stats_get(method_.get(), nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_method_stats_get(method_.get(), &s), JN_OK);
}

// jn_host_load_module: host and path are required; a path that cannot be
// loaded is JN_NOT_FOUND with a status naming it.
TEST_F(NullArgsTest, HostLoadModule) {
  ScopedStatus st;
  st.s.code = -1;
  EXPECT_EQ(jn_host_load_module(nullptr, "/nonexistent/mod.so", st.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  ScopedStatus st2;
  st2.s.code = -1;
  EXPECT_EQ(jn_host_load_module(host_.get(), nullptr, st2.get()), JN_INVALID_ARGUMENT);
  EXPECT_EQ(st2.s.code, JN_INVALID_ARGUMENT);
  EXPECT_EQ(jn_host_load_module(host_.get(), nullptr, nullptr), JN_INVALID_ARGUMENT);
  ScopedStatus st3;
  EXPECT_EQ(jn_host_load_module(host_.get(), "/nonexistent/junction-mod.so", st3.get()),
            JN_NOT_FOUND);
  EXPECT_TRUE(Contains(st3.message(), "/nonexistent/junction-mod.so")) << st3.message();
}

// Malformed descriptors with NULL inside are refused, and destroy never runs.
TEST_F(NullArgsTest, NullInsideDescriptors) {
  Probe p;
  const jn_method_desc good = {"m", &Probe::Echo, nullptr, &p};
  const jn_method_desc null_name = {nullptr, &Probe::Echo, nullptr, &p};
  struct Case {
    const char* name;
    const jn_method_desc* methods;
    uint32_t count;
  };
  const Case cases[] = {{nullptr, &good, 1}, {"a", nullptr, 1}, {"b", &null_name, 1}};
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(i++);
    const jn_service_desc d = Desc(c.name, c.methods, c.count, &p, &Probe::Destroy);
    ScopedStatus st;
    st.s.code = -1;
    EXPECT_EQ(jn_host_register(host_.get(), &d, st.get()), JN_INVALID_ARGUMENT);
    EXPECT_EQ(st.s.code, JN_INVALID_ARGUMENT);
  }
  host_.reset();
  EXPECT_EQ(p.destroyed.load(), 0);
}

}  // namespace
}  // namespace jntest
