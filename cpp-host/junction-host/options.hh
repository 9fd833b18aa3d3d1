// junction-host's settings: its command line and its config file, read into
// one Options value (README.md in this directory describes both).
#pragma once

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace junction::daemon {

// Default for --drain-timeout.
inline constexpr std::int64_t kDefaultDrainTimeoutNs = 30'000'000'000;

// Everything junction-host runs with, the config file's values and the
// command line's combined: lists hold the config file's entries first, then
// the command line's; a value set on the command line wins over the config
// file's.
struct Options {
  std::vector<std::string> modules;   // loaded in this order
  std::vector<std::string> listens;   // URLs, bound in this order
  std::vector<std::string> services;  // empty: every service the host has
  std::uint32_t threads = 0;          // per listener; 0: the library's default
  std::int64_t drain_timeout_ns = kDefaultDrainTimeoutNs;
  // jn_host_options.thread_slice_ns: 0 for the library's default.
  std::uint64_t thread_slice_ns = 0;
  // jn_listen_options' limits, per listener: 0 for the library's defaults.
  std::uint32_t max_in_flight = 0;
  std::uint64_t max_payload_bytes = 0;
  std::uint64_t max_unread_answers = 0;
  std::uint64_t max_unread_answer_bytes = 0;
  // CURVE, read from --curve-secret-key-file and --curve-client-keys-file:
  // the listeners' secret key and its public key (empty: no CURVE), and
  // the public keys of the clients let in (empty: any client).
  std::string curve_secret_key;
  std::string curve_public_key;
  std::vector<std::string> curve_client_keys;
  // The file the client keys came from (empty: none), read again on SIGHUP.
  std::string curve_client_keys_file;
  bool help = false;  // --help: print the usage, do nothing else
  // --curve-keygen FILE: write a new secret key to FILE, print its public
  // key, do nothing else.
  std::string curve_keygen_file;
  // --list: load the modules, print their methods and exit, serving
  // nothing (no --listen needed).
  bool list = false;
};

// A usage or configuration error; what() names the option, or the file and
// line, and what is wrong with it.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The public keys a CURVE client keys file lists (one per line, '#'
// comments, blank lines). Throws UsageError naming the file (and line) when
// it cannot be read, holds anything else, or lists no key.
[[nodiscard]] std::vector<std::string> read_curve_client_keys(const std::string& path);

// The --help text.
extern const char* const kUsage;

// Reads the arguments after the program name, and the config file they
// name. Throws UsageError on anything it cannot use, including a missing
// --module or --listen (unless help is asked for; --list needs no
// --listen; --curve-keygen needs neither, and ends the arguments read).
[[nodiscard]] Options parse_options(std::span<const char* const> args);

}  // namespace junction::daemon
