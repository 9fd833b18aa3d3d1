// header_cxx.cc - junction.h compiles as C++20 (-Wall -Wextra -Wpedantic
// -Werror), declares its functions with the exact types abi_functions.h
// freezes, its callback typedefs are the frozen function-pointer types and
// its opaque handles stay incomplete. Compiled, never run.
#include <cstdint>
#include <type_traits>

#include "abi_functions.h"
#include "junction.h"

namespace {

// ret and params are spelled into a function type, where parentheses
// cannot go.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define ABI_ASSERT_FUNCTION(ret, name, params)                  \
  static_assert(std::is_same_v<decltype(&name), ret(*) params>, \
                #name " does not have its frozen signature");
// NOLINTEND(bugprone-macro-parentheses)
ABI_FUNCTIONS(ABI_ASSERT_FUNCTION)

#define ABI_ASSERT_CALLBACK(name, type) \
  static_assert(std::is_same_v<name, type>, #name " is not its frozen function-pointer type");
ABI_CALLBACKS(ABI_ASSERT_CALLBACK)

static_assert(std::is_same_v<decltype(jn_buffer::release), void (*)(jn_buffer*)>);
static_assert(std::is_same_v<decltype(jn_service_desc::destroy), void (*)(void*)>);
static_assert(std::is_same_v<decltype(jn_method_desc::handler), jn_handler_fn>);
static_assert(std::is_same_v<decltype(jn_method_desc::async_handler), jn_async_handler_fn>);

// Opaque handles stay incomplete: only pointers to them cross the ABI.
template <typename T, typename = void>
constexpr bool is_complete = false;
template <typename T>
constexpr bool is_complete<T, std::void_t<decltype(sizeof(T))>> = true;
static_assert(!is_complete<jn_host> && !is_complete<jn_method> && !is_complete<jn_cancel> &&
              !is_complete<jn_cancel_watch>);

// Designated initialisers in declaration order: what C++ users write.
[[maybe_unused]] constexpr jn_method_desc method{
    .name = "Echo", .handler = nullptr, .async_handler = nullptr, .ctx = nullptr};
[[maybe_unused]] constexpr jn_service_desc service{.abi_version = JN_ABI_VERSION,
                                                   .method_count = 1,
                                                   .name = "cxx.Echo",
                                                   .methods = &method,
                                                   .ctx = nullptr,
                                                   .destroy = nullptr};
[[maybe_unused]] constexpr jn_host_options options{.struct_size = sizeof(jn_host_options),
                                                   .worker_threads = 0,
                                                   .thread_slice_ns = JN_THREAD_SLICE_MIN_NS};
[[maybe_unused]] constexpr jn_listen_options listen_options{
    .struct_size = sizeof(jn_listen_options),
    .threads = 0,
    .services = nullptr,
    .service_count = 0,
    .max_in_flight = 0,
    .max_payload_bytes = 0,
    .max_unread_answers = JN_MAX_UNREAD_ANSWERS,
    .max_unread_answer_bytes = 0,
    .curve_secret_key = nullptr,
    .curve_client_keys = nullptr,
    .curve_client_key_count = 0,
    .reserved = 0};
[[maybe_unused]] constexpr jn_route_options route_options{.struct_size = sizeof(jn_route_options),
                                                          .reserved = 0,
                                                          .connect_timeout_ns = 0,
                                                          .max_payload_bytes = 0,
                                                          .curve_server_key = nullptr,
                                                          .curve_public_key = nullptr,
                                                          .curve_secret_key = nullptr};
[[maybe_unused]] constexpr jn_service_info service_info{.struct_size = sizeof(jn_service_info),
                                                        .method_count = 0,
                                                        .name = "cxx.Echo",
                                                        .methods = nullptr,
                                                        .route_url = "zmq+inproc://cxx"};
[[maybe_unused]] constexpr jn_route_stats route_stats{.struct_size = sizeof(jn_route_stats),
                                                      .state = JN_ROUTE_READY,
                                                      .connections_lost = 0,
                                                      .in_flight = 0};
[[maybe_unused]] constexpr jn_listener_stats listener_stats{
    .struct_size = sizeof(jn_listener_stats),
    .reserved = 0,
    .requests = 0,
    .answers = 0,
    .refused_unread = 0,
    .dropped_unread = 0,
    .unreadable = 0,
    .refused_too_large = 0,
    .in_flight = 0,
    .threads = 0,
    .refused_handshakes = 0,
    .refused_client_key = 0,
    .queued = 0,
    .answered_unrun = 0};
[[maybe_unused]] constexpr jn_result result{};
[[maybe_unused]] constexpr jn_completion completion{};
[[maybe_unused]] constexpr jn_live_counts counts{};
[[maybe_unused]] constexpr jn_method_stats stats{};
[[maybe_unused]] constexpr jn_bytes bytes{.data = nullptr, .len = 0};
[[maybe_unused]] constexpr std::int64_t deadline = JN_NO_DEADLINE;

}  // namespace
