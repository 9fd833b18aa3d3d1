// Uses the installed C++ API end to end: register, resolve, call.
#include <cstdio>
#include <junction/junction.hpp>

int main() {
  junction::Host host;
  host.register_service(
      junction::Service("consumer")
          .method("echo", [](std::span<const std::uint8_t> request, junction::Deadline) {
            return junction::Buffer::copy_of(request);
          }));
  const junction::Buffer response = host.resolve("consumer", "echo").call("installed");
  if (response.text() != "installed") {
    std::fprintf(stderr, "consumer: unexpected response\n");
    return 1;
  }
  std::printf("consumer: C++ API call through the installed library works\n");
  return 0;
}
