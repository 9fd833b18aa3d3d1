/*
 * abi_layout.h - the frozen LP64 layout of every struct in junction.h, as
 * X-macro tables shared by the C99 and C++ layout checks, so both languages
 * assert the same numbers and the run-time test can compare what each
 * compiler computed. Changing a number here is an ABI break.
 */
#ifndef JUNCTION_ABI_TESTS_ABI_LAYOUT_H
#define JUNCTION_ABI_TESTS_ABI_LAYOUT_H

/* X(type, size, alignment) */
#define ABI_LAYOUT_STRUCTS(X)  \
  X(jn_bytes, 16, 8)           \
  X(jn_buffer, 32, 8)          \
  X(jn_status, 40, 8)          \
  X(jn_result, 72, 8)          \
  X(jn_live_counts, 48, 8)     \
  X(jn_completion, 16, 8)      \
  X(jn_method_desc, 32, 8)     \
  X(jn_service_desc, 40, 8)    \
  X(jn_host_options, 16, 8)    \
  X(jn_method_stats, 56, 8)    \
  X(jn_listen_options, 72, 8)  \
  X(jn_listener_stats, 104, 8) \
  X(jn_route_options, 48, 8)   \
  X(jn_service_info, 32, 8)    \
  X(jn_route_stats, 24, 8)

/* X(type, field, offset, size) */
#define ABI_LAYOUT_FIELDS(X)                           \
  X(jn_bytes, data, 0, 8)                              \
  X(jn_bytes, len, 8, 8)                               \
  X(jn_buffer, data, 0, 8)                             \
  X(jn_buffer, len, 8, 8)                              \
  X(jn_buffer, release, 16, 8)                         \
  X(jn_buffer, private_data, 24, 8)                    \
  X(jn_status, code, 0, 4)                             \
  X(jn_status, reserved, 4, 4)                         \
  X(jn_status, message, 8, 32)                         \
  X(jn_result, status, 0, 40)                          \
  X(jn_result, response, 40, 32)                       \
  X(jn_live_counts, buffers, 0, 8)                     \
  X(jn_live_counts, buffer_bytes, 8, 8)                \
  X(jn_live_counts, hosts, 16, 8)                      \
  X(jn_live_counts, methods, 24, 8)                    \
  X(jn_live_counts, services, 32, 8)                   \
  X(jn_live_counts, pending_calls, 40, 8)              \
  X(jn_completion, call_id, 0, 8)                      \
  X(jn_completion, reserved, 8, 8)                     \
  X(jn_method_desc, name, 0, 8)                        \
  X(jn_method_desc, handler, 8, 8)                     \
  X(jn_method_desc, async_handler, 16, 8)              \
  X(jn_method_desc, ctx, 24, 8)                        \
  X(jn_service_desc, abi_version, 0, 4)                \
  X(jn_service_desc, method_count, 4, 4)               \
  X(jn_service_desc, name, 8, 8)                       \
  X(jn_service_desc, methods, 16, 8)                   \
  X(jn_service_desc, ctx, 24, 8)                       \
  X(jn_service_desc, destroy, 32, 8)                   \
  X(jn_host_options, struct_size, 0, 4)                \
  X(jn_host_options, worker_threads, 4, 4)             \
  X(jn_host_options, thread_slice_ns, 8, 8)            \
  X(jn_method_stats, calls, 0, 8)                      \
  X(jn_method_stats, errors, 8, 8)                     \
  X(jn_method_stats, latency_samples, 16, 8)           \
  X(jn_method_stats, latency_mean_ns, 24, 8)           \
  X(jn_method_stats, latency_p50_ns, 32, 8)            \
  X(jn_method_stats, latency_p99_ns, 40, 8)            \
  X(jn_method_stats, latency_max_ns, 48, 8)            \
  X(jn_listen_options, struct_size, 0, 4)              \
  X(jn_listen_options, threads, 4, 4)                  \
  X(jn_listen_options, services, 8, 8)                 \
  X(jn_listen_options, service_count, 16, 4)           \
  X(jn_listen_options, max_in_flight, 20, 4)           \
  X(jn_listen_options, max_payload_bytes, 24, 8)       \
  X(jn_listen_options, max_unread_answers, 32, 8)      \
  X(jn_listen_options, max_unread_answer_bytes, 40, 8) \
  X(jn_listen_options, curve_secret_key, 48, 8)        \
  X(jn_listen_options, curve_client_keys, 56, 8)       \
  X(jn_listen_options, curve_client_key_count, 64, 4)  \
  X(jn_listen_options, reserved, 68, 4)                \
  X(jn_listener_stats, struct_size, 0, 4)              \
  X(jn_listener_stats, reserved, 4, 4)                 \
  X(jn_listener_stats, requests, 8, 8)                 \
  X(jn_listener_stats, answers, 16, 8)                 \
  X(jn_listener_stats, refused_unread, 24, 8)          \
  X(jn_listener_stats, dropped_unread, 32, 8)          \
  X(jn_listener_stats, unreadable, 40, 8)              \
  X(jn_listener_stats, refused_too_large, 48, 8)       \
  X(jn_listener_stats, in_flight, 56, 8)               \
  X(jn_listener_stats, threads, 64, 8)                 \
  X(jn_listener_stats, refused_handshakes, 72, 8)      \
  X(jn_listener_stats, refused_client_key, 80, 8)      \
  X(jn_listener_stats, queued, 88, 8)                  \
  X(jn_listener_stats, answered_unrun, 96, 8)          \
  X(jn_route_options, struct_size, 0, 4)               \
  X(jn_route_options, reserved, 4, 4)                  \
  X(jn_route_options, connect_timeout_ns, 8, 8)        \
  X(jn_route_options, max_payload_bytes, 16, 8)        \
  X(jn_route_options, curve_server_key, 24, 8)         \
  X(jn_route_options, curve_public_key, 32, 8)         \
  X(jn_route_options, curve_secret_key, 40, 8)         \
  X(jn_service_info, struct_size, 0, 4)                \
  X(jn_service_info, method_count, 4, 4)               \
  X(jn_service_info, name, 8, 8)                       \
  X(jn_service_info, methods, 16, 8)                   \
  X(jn_service_info, route_url, 24, 8)                 \
  X(jn_route_stats, struct_size, 0, 4)                 \
  X(jn_route_stats, state, 4, 4)                       \
  X(jn_route_stats, connections_lost, 8, 8)            \
  X(jn_route_stats, in_flight, 16, 8)

/* X(constant, gRPC number): the status codes. */
#define ABI_LAYOUT_CODES(X)    \
  X(JN_OK, 0)                  \
  X(JN_CANCELLED, 1)           \
  X(JN_UNKNOWN, 2)             \
  X(JN_INVALID_ARGUMENT, 3)    \
  X(JN_DEADLINE_EXCEEDED, 4)   \
  X(JN_NOT_FOUND, 5)           \
  X(JN_ALREADY_EXISTS, 6)      \
  X(JN_PERMISSION_DENIED, 7)   \
  X(JN_RESOURCE_EXHAUSTED, 8)  \
  X(JN_FAILED_PRECONDITION, 9) \
  X(JN_ABORTED, 10)            \
  X(JN_OUT_OF_RANGE, 11)       \
  X(JN_UNIMPLEMENTED, 12)      \
  X(JN_INTERNAL, 13)           \
  X(JN_UNAVAILABLE, 14)        \
  X(JN_DATA_LOSS, 15)          \
  X(JN_UNAUTHENTICATED, 16)

/* One measurement, as computed by one compiler. */
struct abi_layout_entry {
  const char* what; /* "jn_buffer" or "jn_buffer.release" */
  unsigned long size;
  unsigned long offset_or_alignment;
};

#endif /* JUNCTION_ABI_TESTS_ABI_LAYOUT_H */
