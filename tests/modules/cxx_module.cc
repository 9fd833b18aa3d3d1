// A junction module written with the C++ API: service "cxx.text" with
// "upper" (ASCII upper-case of the request) and "fail" (answers the code
// given as the request's first byte, with a message). Other languages'
// tests load it to call a C++ service.
#include <algorithm>
#include <cctype>
#include <junction/junction.hpp>
#include <vector>

extern "C" __attribute__((visibility("default"))) std::uint32_t jn_module_abi_version() {
  return JN_ABI_VERSION;
}

extern "C" __attribute__((visibility("default"))) std::int32_t jn_module_init(jn_host* host,
                                                                              jn_status* status) {
  try {
    junction::register_service(
        host,
        junction::Service("cxx.text")
            .method("upper",
                    [](std::span<const std::uint8_t> request, junction::Deadline) {
                      std::vector<std::uint8_t> upper(request.begin(), request.end());
                      std::transform(upper.begin(), upper.end(), upper.begin(), [](std::uint8_t c) {
                        return static_cast<std::uint8_t>(std::toupper(c));
                      });
                      return junction::Buffer::from_vector(std::move(upper));
                    })
            .method(
                "fail",
                [](std::span<const std::uint8_t> request, junction::Deadline) -> junction::Buffer {
                  const auto code = request.empty() ? junction::Code::unknown
                                                    : static_cast<junction::Code>(request[0]);
                  throw junction::Error(code, "cxx.text/fail was asked to fail");
                }));
    return JN_OK;
  } catch (const junction::Error& e) {
    jn_status_set(status, static_cast<std::int32_t>(e.code()), e.what());
    return static_cast<std::int32_t>(e.code());
  }
}
