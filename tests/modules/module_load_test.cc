// jn_host_load_module: a real module is loaded and served; everything that is
// not a loadable module of this ABI is refused with a clear status.
#include <gtest/gtest.h>

#include <junction/junction.hpp>
#include <string>

namespace {

struct Loaded {
  std::int32_t code;
  std::string message;
};

Loaded load(jn_host* host, const char* path) {
  jn_status status{};
  const std::int32_t code = jn_host_load_module(host, path, &status);
  std::string message(reinterpret_cast<const char*>(status.message.data),
                      static_cast<std::size_t>(status.message.len));
  jn_status_release(&status);
  return {code, message};
}

class ModuleLoadTest : public ::testing::Test {
 protected:
  void SetUp() override { jn_live_objects(&baseline_); }
  void TearDown() override {
    host_ = junction::Host();
    jn_live_counts now{};
    jn_live_objects(&now);
    EXPECT_EQ(now.buffers, baseline_.buffers);
    EXPECT_EQ(now.hosts, baseline_.hosts);
    EXPECT_EQ(now.methods, baseline_.methods);
    EXPECT_EQ(now.services, baseline_.services);
  }
  junction::Host host_;
  jn_live_counts baseline_{};
};

TEST_F(ModuleLoadTest, LoadsAModuleAndCallsItsService) {
  const Loaded loaded = load(host_.raw(), JN_TEST_GREETER_MODULE);
  ASSERT_EQ(loaded.code, JN_OK) << loaded.message;
  const junction::Buffer response = host_.resolve("greeter", "hello").call("junction");
  EXPECT_EQ(response.text(), "hello, junction");
}

TEST_F(ModuleLoadTest, LoadsACxxModuleAndMapsItsErrors) {
  const Loaded loaded = load(host_.raw(), JN_TEST_CXX_MODULE);
  ASSERT_EQ(loaded.code, JN_OK) << loaded.message;
  EXPECT_EQ(host_.resolve("cxx.text", "upper").call("junction").text(), "JUNCTION");
  const std::uint8_t permission_denied[] = {JN_PERMISSION_DENIED};
  try {
    (void)host_.resolve("cxx.text", "fail").call(permission_denied);
    ADD_FAILURE() << "fail answered OK";
  } catch (const junction::Error& e) {
    EXPECT_EQ(e.code(), junction::Code::permission_denied);
    EXPECT_STREQ(e.what(), "cxx.text/fail was asked to fail");
  }
}

TEST_F(ModuleLoadTest, SecondLoadOfTheSameModuleIsRefusedAsDuplicate) {
  ASSERT_EQ(load(host_.raw(), JN_TEST_GREETER_MODULE).code, JN_OK);
  const Loaded again = load(host_.raw(), JN_TEST_GREETER_MODULE);
  EXPECT_EQ(again.code, JN_ALREADY_EXISTS);
  EXPECT_NE(again.message.find("greeter"), std::string::npos) << again.message;
}

TEST_F(ModuleLoadTest, MismatchedMajorIsRefusedNamingBothVersions) {
  const Loaded loaded = load(host_.raw(), JN_TEST_MISMATCHED_MODULE);
  EXPECT_EQ(loaded.code, JN_FAILED_PRECONDITION);
  EXPECT_NE(loaded.message.find("ABI 2.0"), std::string::npos) << loaded.message;
  EXPECT_NE(loaded.message.find("ABI " + std::to_string(JN_ABI_VERSION_MAJOR) + "." +
                                std::to_string(JN_ABI_VERSION_MINOR)),
            std::string::npos)
      << loaded.message;
  jn_method* method = nullptr;
  EXPECT_EQ(jn_host_resolve(host_.raw(), "greeter", "hello", &method, nullptr), JN_NOT_FOUND);
}

TEST_F(ModuleLoadTest, NewerMinorIsRefused) {
  const Loaded loaded = load(host_.raw(), JN_TEST_NEWER_MINOR_MODULE);
  EXPECT_EQ(loaded.code, JN_FAILED_PRECONDITION);
  EXPECT_NE(loaded.message.find("ABI 1.99"), std::string::npos) << loaded.message;
}

TEST_F(ModuleLoadTest, LibraryWithoutEntryPointsIsRefused) {
  const Loaded loaded = load(host_.raw(), JN_TEST_NOT_A_MODULE);
  EXPECT_EQ(loaded.code, JN_FAILED_PRECONDITION);
  EXPECT_NE(loaded.message.find("not a junction module"), std::string::npos) << loaded.message;
}

TEST_F(ModuleLoadTest, MissingFileIsNotFound) {
  const Loaded loaded = load(host_.raw(), "/nonexistent/libnothing.so");
  EXPECT_EQ(loaded.code, JN_NOT_FOUND);
  EXPECT_NE(loaded.message.find("/nonexistent/libnothing.so"), std::string::npos) << loaded.message;
}

// The failing init registered its service first: the failed load leaves
// it unregistered, so a second try fails for the same reason, not for a
// name taken by the first.
TEST_F(ModuleLoadTest, FailingInitReportsItsCodeAndReasonAndLeavesNothingRegistered) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    const Loaded loaded = load(host_.raw(), JN_TEST_FAILING_MODULE);
    EXPECT_EQ(loaded.code, JN_UNAVAILABLE) << "attempt " << attempt;
    EXPECT_NE(loaded.message.find("configuration missing"), std::string::npos) << loaded.message;
    jn_method* method = nullptr;
    EXPECT_EQ(jn_host_resolve(host_.raw(), "greeter", "hello", &method, nullptr), JN_NOT_FOUND)
        << "attempt " << attempt << ": the failed init's service stayed registered";
    jn_method_free(method);
  }
}

TEST_F(ModuleLoadTest, FailingInitWithoutAReasonIsNamedByItsCode) {
  const Loaded loaded = load(host_.raw(), JN_TEST_SILENTLY_FAILING_MODULE);
  EXPECT_EQ(loaded.code, JN_INTERNAL);
  EXPECT_NE(loaded.message.find("failed to initialise: INTERNAL, with no reason given"),
            std::string::npos)
      << loaded.message;
}

TEST_F(ModuleLoadTest, NullArgumentsAreInvalid) {
  EXPECT_EQ(jn_host_load_module(nullptr, JN_TEST_GREETER_MODULE, nullptr), JN_INVALID_ARGUMENT);
  EXPECT_EQ(load(host_.raw(), nullptr).code, JN_INVALID_ARGUMENT);
}

}  // namespace
