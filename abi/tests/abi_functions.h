/*
 * abi_functions.h - the frozen signature of every JN_API function in
 * junction.h, as an X-macro table X(return type, name, parameter list)
 * shared by the C99 and C++ header checks. Changing an entry is an ABI
 * break; a function added to the header is added here.
 */
#ifndef JUNCTION_ABI_TESTS_ABI_FUNCTIONS_H
#define JUNCTION_ABI_TESTS_ABI_FUNCTIONS_H

#define ABI_FUNCTIONS(X)                                                                          \
  X(uint32_t, jn_abi_version, (void))                                                             \
  X(const char*, jn_status_name, (int32_t))                                                       \
  X(int64_t, jn_now_ns, (void))                                                                   \
  X(int32_t, jn_buffer_new, (uint64_t, uint8_t**, jn_buffer*))                                    \
  X(int32_t, jn_buffer_copy, (const uint8_t*, uint64_t, jn_buffer*))                              \
  X(void, jn_buffer_release, (jn_buffer*))                                                        \
  X(int32_t, jn_status_set, (jn_status*, int32_t, const char*))                                   \
  X(void, jn_status_release, (jn_status*))                                                        \
  X(void, jn_result_release, (jn_result*))                                                        \
  X(int32_t, jn_live_objects, (jn_live_counts*))                                                  \
  X(int32_t, jn_host_new, (const jn_host_options*, jn_host**, jn_status*))                        \
  X(int32_t, jn_host_free, (jn_host*))                                                            \
  X(int32_t, jn_host_register, (jn_host*, const jn_service_desc*, jn_status*))                    \
  X(int32_t, jn_host_unregister, (jn_host*, const char*, jn_status*))                             \
  X(int32_t, jn_host_resolve, (jn_host*, const char*, const char*, jn_method**, jn_status*))      \
  X(void, jn_method_free, (jn_method*))                                                           \
  X(int32_t, jn_call, (const jn_method*, jn_bytes, int64_t, jn_result*))                          \
  X(int32_t, jn_call_async,                                                                       \
    (const jn_method*, jn_buffer*, int64_t, jn_done_fn, void*, jn_status*))                       \
  X(int32_t, jn_complete, (jn_completion, jn_result*))                                            \
  X(int32_t, jn_method_stats_get, (const jn_method*, jn_method_stats*))                           \
  X(int32_t, jn_host_load_module, (jn_host*, const char*, jn_status*))                            \
  X(int32_t, jn_call_into, (const jn_method*, jn_bytes, int64_t, uint8_t*, uint64_t, jn_result*)) \
  X(int32_t, jn_respond, (jn_result*, const uint8_t*, uint64_t))                                  \
  X(int32_t, jn_host_listen,                                                                      \
    (jn_host*, const char*, const jn_listen_options*, jn_listener**, jn_status*))                 \
  X(const char*, jn_listener_url, (const jn_listener*))                                           \
  X(int32_t, jn_listener_stats_get, (const jn_listener*, jn_listener_stats*))                     \
  X(int32_t, jn_listener_drain, (jn_listener*, int64_t))                                          \
  X(int32_t, jn_listener_set_curve_client_keys,                                                   \
    (jn_listener*, const char* const*, uint32_t, jn_status*))                                     \
  X(int32_t, jn_listener_close, (jn_listener*, int64_t))                                          \
  X(int32_t, jn_host_route,                                                                       \
    (jn_host*, const char*, const char*, const jn_route_options*, jn_status*))                    \
  X(int32_t, jn_host_list_services, (jn_host*, jn_service_visit_fn, void*))                       \
  X(int32_t, jn_host_route_stats, (jn_host*, const char*, jn_route_stats*))                       \
  X(int32_t, jn_curve_keypair, (char*, char*, jn_status*))                                        \
  X(int32_t, jn_curve_public_key, (const char*, char*, jn_status*))                               \
  X(int32_t, jn_cancel_new, (jn_cancel**))                                                        \
  X(void, jn_cancel_signal, (jn_cancel*))                                                         \
  X(void, jn_cancel_free, (jn_cancel*))                                                           \
  X(int32_t, jn_call_cancellable,                                                                 \
    (const jn_method*, jn_bytes, int64_t, jn_cancel*, uint8_t*, uint64_t, jn_result*))            \
  X(int32_t, jn_method_waits, (const jn_method*))                                                 \
  X(int32_t, jn_call_async_cancellable,                                                           \
    (const jn_method*, jn_buffer*, int64_t, jn_cancel*, jn_done_fn, void*, jn_status*))           \
  X(uint64_t, jn_live_cancels, (void))                                                            \
  X(int32_t, jn_host_free_check, (const jn_host*))                                                \
  X(jn_cancel*, jn_call_cancel, (void))                                                           \
  X(int32_t, jn_cancel_signalled, (const jn_cancel*))                                             \
  X(int32_t, jn_cancel_watch_new, (jn_cancel*, void (*)(void*), void*, jn_cancel_watch**))        \
  X(void, jn_cancel_unwatch, (jn_cancel_watch*))

/* X(type name, function type): the callback types, and the types of the
 * two functions a module exports. */
#define ABI_CALLBACKS(X)                                                    \
  X(jn_handler_fn, void (*)(void*, jn_bytes, int64_t, jn_result*))          \
  X(jn_async_handler_fn, void (*)(void*, jn_bytes, int64_t, jn_completion)) \
  X(jn_done_fn, void (*)(void*, jn_result*))                                \
  X(jn_module_abi_version_fn, uint32_t (*)(void))                           \
  X(jn_module_init_fn, int32_t (*)(jn_host*, jn_status*))                   \
  X(jn_service_visit_fn, void (*)(void*, const jn_service_info*))

#endif /* JUNCTION_ABI_TESTS_ABI_FUNCTIONS_H */
