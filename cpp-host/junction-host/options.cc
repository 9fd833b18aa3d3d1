#include "options.hh"

#include <junction.h>
#include <sys/stat.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

namespace junction::daemon {

const char* const kUsage =
    "Usage: junction-host [--config FILE] [--module PATH]... [--listen URL]...\n"
    "                     [--serve SERVICE]... [--threads N] [--drain-timeout SECONDS]\n"
    "                     [--thread-slice MILLISECONDS|inherit] [--max-in-flight N]\n"
    "                     [--max-payload BYTES] [--max-unread-answers N]\n"
    "                     [--max-unread-bytes BYTES] [--curve-secret-key-file FILE]\n"
    "                     [--curve-client-keys-file FILE] [--list] [--help]\n"
    "       junction-host --curve-keygen FILE\n"
    "\n"
    "Loads junction modules and serves their services to other processes until\n"
    "SIGTERM or SIGINT; then lets the calls in flight finish and exits.\n"
    "\n"
    "  --config FILE            read settings from FILE: lines 'key = value' with the\n"
    "                           option names below as keys (module, listen, serve,\n"
    "                           threads, drain-timeout, thread-slice, max-in-flight,\n"
    "                           max-payload, max-unread-answers, max-unread-bytes,\n"
    "                           curve-secret-key-file, curve-client-keys-file),\n"
    "                           blank lines and '#' comments (to the line's end, from a\n"
    "                           '#' that begins the line or follows a blank); relative\n"
    "                           module and key file paths are relative to FILE's\n"
    "                           directory\n"
    "  --module PATH            load the module at PATH (at least one; repeatable)\n"
    "  --listen URL             serve on URL (at least one; repeatable):\n"
    "                           zmq+tcp://HOST:PORT (PORT 0: one the system picks),\n"
    "                           zmq+tcp://[IPV6]:PORT or zmq+ipc:///PATH\n"
    "  --serve SERVICE          serve only the services named, each one a module\n"
    "                           registered (repeatable; default: all)\n"
    "  --threads N              threads per listener receiving and running calls\n"
    "                           (1 to 1024; default 4)\n"
    "  --drain-timeout SECONDS  how long calls in flight may run on after the signal\n"
    "                           (0 to 86400; default 30)\n"
    "  --thread-slice MILLISECONDS|inherit\n"
    "                           the scheduler slice the threads running calls ask the\n"
    "                           kernel for (0.1 to 100; default 0.5), or 'inherit' to\n"
    "                           ask for none\n"
    "  --max-in-flight N        calls each listener serves at once, each on a thread\n"
    "                           (1 to 65536; default 1024)\n"
    "  --max-payload BYTES      larger requests are answered RESOURCE_EXHAUSTED\n"
    "                           (at least 1; default 67108864, 64 MiB)\n"
    "  --max-unread-answers N   answers a client's connection may leave unread before\n"
    "                           its calls are refused (1 to 1048576; default 1024)\n"
    "  --max-unread-bytes BYTES bytes of answers a connection may leave unread before\n"
    "                           its calls are refused (at least 1; default 268435456)\n"
    "  --curve-secret-key-file FILE\n"
    "                           encrypt every connection with CURVE (tcp and ipc):\n"
    "                           FILE holds the listeners' secret key (40 Z85\n"
    "                           characters) and may be readable by its owner only;\n"
    "                           clients route with the public key, which the daemon\n"
    "                           logs\n"
    "  --curve-client-keys-file FILE\n"
    "                           let in only the clients whose CURVE public keys FILE\n"
    "                           lists, one per line ('#' comments, blank lines),\n"
    "                           read again on SIGHUP; needs --curve-secret-key-file\n"
    "  --curve-keygen FILE      write a new CURVE secret key to FILE (created, owner\n"
    "                           only), print its public key on standard output and\n"
    "                           exit; the options before it are checked, those after\n"
    "                           it not read\n"
    "  --list                   load the modules, print each method they registered as\n"
    "                           a line SERVICE/METHOD on standard output and exit,\n"
    "                           serving nothing (no --listen needed)\n"
    "  --help                   print this text and exit\n"
    "\n"
    "Command-line values add to the config file's lists and override its single\n"
    "values. Once every listener is bound, standard output carries one line\n"
    "  junction-host: serving SERVICES on URL\n"
    "per listener (SERVICES: 'all services' or the names, comma-separated; URL: the\n"
    "address bound, with the port the system picked), then\n"
    "  junction-host: ready\n"
    "Standard error logs each module's services and methods as it is loaded, and\n"
    "on SIGUSR1 what each listener and each method has done so far (calls, errors,\n"
    "sampled latency); the daemon keeps serving. SIGHUP reads the\n"
    "--curve-client-keys-file again and lets in its keys only, from then on, the\n"
    "connections already made included (a file it cannot use changes nothing).\n"
    "Exit status: 0 after a complete drain; 1 when a module cannot be loaded, an\n"
    "address cannot be bound, the drain timeout cut calls short or what --help,\n"
    "--list or --curve-keygen prints cannot be written; 2 for a usage or\n"
    "configuration error, a URL junction cannot read or a --serve name no module\n"
    "registered included.\n";

namespace {

constexpr std::uint32_t kMaxThreads = 1024;
constexpr std::uint32_t kMaxInFlight = 65536;
constexpr double kMaxDrainSeconds = 86400;

// The values one source set: the command line, or the config files.
struct Settings {
  std::vector<std::string> modules;
  std::vector<std::string> listens;
  std::vector<std::string> services;
  std::optional<std::uint32_t> threads;
  std::optional<std::int64_t> drain_timeout_ns;
  std::optional<std::uint64_t> thread_slice_ns;
  std::optional<std::uint32_t> max_in_flight;
  std::optional<std::uint64_t> max_payload_bytes;
  std::optional<std::uint64_t> max_unread_answers;
  std::optional<std::uint64_t> max_unread_answer_bytes;
  std::optional<std::string> curve_secret_key_file;
  std::optional<std::string> curve_client_keys_file;
};

// Z85's alphabet (ZeroMQ RFC 32), in which CURVE keys are written.
constexpr std::string_view kZ85 =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

bool is_z85_key(std::string_view text) {
  return text.size() == JN_CURVE_KEY_LENGTH && text.find_first_not_of(kZ85) == std::string::npos;
}

constexpr std::string_view kBlank = " \t\r";

std::string_view trim(std::string_view text) {
  const std::size_t first = text.find_first_not_of(kBlank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(kBlank) - first + 1);
}

// A config line without its comment: from a '#' that begins the line or
// follows a blank to the line's end. A '#' within a word stays.
std::string_view without_comment(std::string_view line) {
  for (std::size_t at = line.find('#'); at != std::string_view::npos; at = line.find('#', at + 1)) {
    if (at == 0 || kBlank.find(line[at - 1]) != std::string_view::npos) return line.substr(0, at);
  }
  return line;
}

// A whole number from 1 to most.
std::uint64_t parse_count(std::string_view text, const std::string& where, std::uint64_t most) {
  std::uint64_t value = 0;
  const char* const end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc{} || stop != end || value < 1 || value > most) {
    throw UsageError(where + " wants a whole number from 1 to " + std::to_string(most) + ", got '" +
                     std::string(text) + "'");
  }
  return value;
}

std::int64_t parse_drain_timeout(std::string_view text, const std::string& where) {
  double seconds = 0;
  const char* const end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, seconds);
  // The negated test also refuses NaN.
  if (error != std::errc{} || stop != end || !(seconds >= 0 && seconds <= kMaxDrainSeconds)) {
    throw UsageError(where + " wants seconds from 0 to 86400, got '" + std::string(text) + "'");
  }
  return std::llround(seconds * 1e9);
}

std::uint64_t parse_thread_slice(std::string_view text, const std::string& where) {
  if (text == "inherit") {
    return JN_THREAD_SLICE_INHERITED;
  }
  constexpr double kNsPerMs = 1e6;
  double milliseconds = 0;
  const char* const end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, milliseconds);
  const double nanoseconds = std::round(milliseconds * kNsPerMs);
  // The negated test also refuses NaN.
  if (error != std::errc{} || stop != end ||
      !(nanoseconds >= static_cast<double>(JN_THREAD_SLICE_MIN_NS) &&
        nanoseconds <= static_cast<double>(JN_THREAD_SLICE_MAX_NS))) {
    throw UsageError(where + " wants milliseconds from 0.1 to 100 or 'inherit', got '" +
                     std::string(text) + "'");
  }
  return static_cast<std::uint64_t>(nanoseconds);
}

// An inproc listener would reach this process only, which calls nothing.
void check_listen_url(std::string_view url, const std::string& where) {
  if (url.starts_with("zmq+inproc://")) {
    throw UsageError(where + " " + std::string(url) +
                     ": an inproc URL reaches this process only; junction-host serves other "
                     "processes (zmq+tcp or zmq+ipc)");
  }
}

// The settings: option names without their dashes, and config file keys.
bool is_setting(std::string_view key) {
  return key == "module" || key == "listen" || key == "serve" || key == "threads" ||
         key == "drain-timeout" || key == "thread-slice" || key == "max-in-flight" ||
         key == "max-payload" || key == "max-unread-answers" || key == "max-unread-bytes" ||
         key == "curve-secret-key-file" || key == "curve-client-keys-file";
}

// The settings whose value is a path, relative to a config file's directory
// when given there, and to the working directory on the command line.
bool is_path_setting(std::string_view key) {
  return key == "module" || key == "curve-secret-key-file" || key == "curve-client-keys-file";
}

// path made absolute against base (empty: the working directory), so that
// a module given as a bare file name is the file of that name there, never
// a library of that name that dlopen would search for elsewhere.
std::string absolute_path(const std::string& path, const std::filesystem::path& base) {
  if (std::filesystem::path(path).is_absolute()) return path;
  if (!base.empty()) return (base / path).string();
  std::error_code error;
  std::filesystem::path made = std::filesystem::absolute(path, error);
  if (error) throw UsageError("cannot make " + path + " absolute: " + error.message());
  return made.string();
}

// Whether path is a directory; a path that cannot be looked at (no
// permission, a loop of links, too long) is a configuration error.
bool is_directory_at(const std::string& path, std::string_view what) {
  std::error_code error;
  const bool directory = std::filesystem::is_directory(path, error);
  if (error && error != std::errc::no_such_file_or_directory) {
    throw UsageError("cannot read " + std::string(what) + " " + path + ": " + error.message());
  }
  return directory;
}

// The lines of path without blanks around them, except blank lines and
// '#' comment lines, each with its "path:line:".
std::vector<std::pair<std::string, std::string>> meaningful_lines(const std::string& path,
                                                                  std::string_view what) {
  if (is_directory_at(path, what)) {
    throw UsageError("cannot read " + std::string(what) + " " + path + ": it is a directory");
  }
  std::ifstream file(path);
  if (!file) {
    throw UsageError("cannot read " + std::string(what) + " " + path + ": " +
                     std::generic_category().message(errno));
  }
  std::vector<std::pair<std::string, std::string>> lines;
  std::string text;
  for (int number = 1; std::getline(file, text); ++number) {
    const std::string_view line = trim(text);
    if (line.empty() || line.front() == '#') continue;
    lines.emplace_back(path + ":" + std::to_string(number) + ":", std::string(line));
  }
  if (file.bad()) {
    throw UsageError("cannot read " + std::string(what) + " " + path + ": " +
                     std::generic_category().message(errno));
  }
  return lines;
}

// Reads the secret key in path into options, with its public key. The file
// must be readable by its owner only, as ssh asks of its keys: a secret
// key others can read is no longer secret.
void read_curve_secret_key(const std::string& path, Options& options) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    std::array<char, 8> mode{};
    std::snprintf(mode.data(), mode.size(), "%04o", static_cast<unsigned>(info.st_mode & 07777));
    throw UsageError("--curve-secret-key-file " + path + " may be read by other users (mode " +
                     mode.data() + "): chmod 600 it");
  }
  const auto lines = meaningful_lines(path, "the CURVE secret key file");
  if (lines.size() != 1 || !is_z85_key(lines.front().second)) {
    throw UsageError("--curve-secret-key-file " + path +
                     " must hold one CURVE secret key, 40 Z85 characters on a line "
                     "(junction-host --curve-keygen FILE makes one)");
  }
  std::array<char, JN_CURVE_KEY_LENGTH + 1> public_key{};
  jn_status status{};
  const std::int32_t code =
      jn_curve_public_key(lines.front().second.c_str(), public_key.data(), &status);
  const std::string message(reinterpret_cast<const char*>(status.message.data),
                            static_cast<std::size_t>(status.message.len));
  jn_status_release(&status);
  if (code != JN_OK) {
    throw UsageError("--curve-secret-key-file " + path + ": " + message);
  }
  options.curve_secret_key = lines.front().second;
  options.curve_public_key = public_key.data();
}

// Applies key (a setting) = value; where names the setting in messages.
void apply(Settings& settings, std::string_view key, std::string value, const std::string& where) {
  if (value.empty()) throw UsageError(where + " needs a value");
  if (key == "module") {
    settings.modules.push_back(std::move(value));
  } else if (key == "listen") {
    check_listen_url(value, where);
    settings.listens.push_back(std::move(value));
  } else if (key == "serve") {
    settings.services.push_back(std::move(value));
  } else if (key == "threads") {
    settings.threads = static_cast<std::uint32_t>(parse_count(value, where, kMaxThreads));
  } else if (key == "max-in-flight") {
    settings.max_in_flight = static_cast<std::uint32_t>(parse_count(value, where, kMaxInFlight));
  } else if (key == "max-payload") {
    settings.max_payload_bytes = parse_count(value, where, UINT64_MAX);
  } else if (key == "max-unread-answers") {
    settings.max_unread_answers = parse_count(value, where, JN_MAX_UNREAD_ANSWERS);
  } else if (key == "max-unread-bytes") {
    settings.max_unread_answer_bytes = parse_count(value, where, UINT64_MAX);
  } else if (key == "thread-slice") {
    settings.thread_slice_ns = parse_thread_slice(value, where);
  } else if (key == "curve-secret-key-file") {
    settings.curve_secret_key_file = std::move(value);
  } else if (key == "curve-client-keys-file") {
    settings.curve_client_keys_file = std::move(value);
  } else {
    settings.drain_timeout_ns = parse_drain_timeout(value, where);
  }
}

// Reads a config file into settings. A relative path is made absolute
// against the file's directory, so that it means the same from any working
// directory.
void read_config(const std::string& path, Settings& settings) {
  if (is_directory_at(path, "config file")) {
    throw UsageError("cannot read config file " + path + ": it is a directory");
  }
  std::ifstream file(path);
  if (!file) {
    throw UsageError("cannot read config file " + path + ": " +
                     std::generic_category().message(errno));
  }
  const std::filesystem::path directory = std::filesystem::absolute(path).parent_path();
  std::string text;
  for (int number = 1; std::getline(file, text); ++number) {
    const std::string where = path + ":" + std::to_string(number) + ":";
    // A UTF-8 byte order mark, which some editors write, begins no key.
    constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";
    if (number == 1 && text.starts_with(kByteOrderMark)) text.erase(0, kByteOrderMark.size());
    const std::string_view line = trim(without_comment(text));
    if (line.empty()) continue;
    const std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      throw UsageError(where + " expected 'key = value', got '" + std::string(line) + "'");
    }
    const std::string_view key = trim(line.substr(0, equals));
    std::string value(trim(line.substr(equals + 1)));
    if (is_path_setting(key) && !value.empty()) {
      value = absolute_path(value, directory);
    }
    if (!is_setting(key)) {
      throw UsageError(where + " unknown key '" + std::string(key) +
                       "' (keys: module, listen, serve, threads, drain-timeout, thread-slice, "
                       "max-in-flight, max-payload, max-unread-answers, max-unread-bytes, "
                       "curve-secret-key-file, curve-client-keys-file)");
    }
    apply(settings, key, std::move(value), where + " " + std::string(key));
  }
  if (file.bad()) {
    throw UsageError("cannot read config file " + path + ": " +
                     std::generic_category().message(errno));
  }
}

void append(std::vector<std::string>& to, std::vector<std::string>&& from) {
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

}  // namespace

Options parse_options(std::span<const char* const> args) {
  Settings command_line;
  std::vector<std::string> configs;
  bool list = false;
  std::optional<std::string> keygen_file;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      Options help;
      help.help = true;
      return help;
    }
    if (arg == "--list") {
      list = true;
      continue;
    }
    if (arg.starts_with("--help=") || arg.starts_with("--list=")) {
      throw UsageError(std::string(arg.substr(0, arg.find('='))) + " takes no value");
    }
    if (!arg.starts_with("--")) {
      throw UsageError("unexpected argument '" + std::string(arg) + "'");
    }
    std::string_view name = arg.substr(2);
    std::optional<std::string> value;
    if (const std::size_t equals = name.find('='); equals != std::string_view::npos) {
      value = std::string(name.substr(equals + 1));
      name = name.substr(0, equals);
    }
    const std::string option = "--" + std::string(name);
    if (name != "config" && name != "curve-keygen" && !is_setting(name)) {
      throw UsageError("unknown option '" + option + "'");
    }
    if (!value) {
      if (i + 1 == args.size()) throw UsageError(option + " needs a value");
      value = args[++i];
    }
    if (name == "curve-keygen") {
      if (value->empty()) throw UsageError("--curve-keygen needs a value");
      keygen_file = std::move(*value);
      break;  // the options after it are not read
    }
    if (is_path_setting(name) && !value->empty()) {
      *value = absolute_path(*value, "");
    }
    if (name != "config") {
      apply(command_line, name, std::move(*value), option);
    } else if (value->empty()) {
      throw UsageError("--config needs a value");
    } else {
      configs.push_back(std::move(*value));
    }
  }

  Settings from_files;
  for (const std::string& config : configs) read_config(config, from_files);

  Options options;
  options.modules = std::move(from_files.modules);
  append(options.modules, std::move(command_line.modules));
  options.listens = std::move(from_files.listens);
  append(options.listens, std::move(command_line.listens));
  options.services = std::move(from_files.services);
  append(options.services, std::move(command_line.services));
  options.threads = command_line.threads.value_or(from_files.threads.value_or(0));
  options.drain_timeout_ns = command_line.drain_timeout_ns.value_or(
      from_files.drain_timeout_ns.value_or(kDefaultDrainTimeoutNs));
  options.thread_slice_ns =
      command_line.thread_slice_ns.value_or(from_files.thread_slice_ns.value_or(0));
  options.max_in_flight = command_line.max_in_flight.value_or(from_files.max_in_flight.value_or(0));
  options.max_payload_bytes =
      command_line.max_payload_bytes.value_or(from_files.max_payload_bytes.value_or(0));
  options.max_unread_answers =
      command_line.max_unread_answers.value_or(from_files.max_unread_answers.value_or(0));
  options.max_unread_answer_bytes =
      command_line.max_unread_answer_bytes.value_or(from_files.max_unread_answer_bytes.value_or(0));
  const std::optional<std::string> secret_key_file = command_line.curve_secret_key_file
                                                         ? command_line.curve_secret_key_file
                                                         : from_files.curve_secret_key_file;
  const std::optional<std::string> client_keys_file = command_line.curve_client_keys_file
                                                          ? command_line.curve_client_keys_file
                                                          : from_files.curve_client_keys_file;
  if (client_keys_file && !secret_key_file) {
    throw UsageError("--curve-client-keys-file needs --curve-secret-key-file");
  }
  if (secret_key_file) read_curve_secret_key(*secret_key_file, options);
  if (client_keys_file) {
    options.curve_client_keys = read_curve_client_keys(*client_keys_file);
    options.curve_client_keys_file = *client_keys_file;
  }
  // The options before --curve-keygen were checked as for serving, but
  // making a key needs no module or URL.
  if (keygen_file) {
    Options keygen;
    keygen.curve_keygen_file = std::move(*keygen_file);
    return keygen;
  }
  if (options.modules.empty()) {
    throw UsageError("no module to load: give --module PATH (or 'module = PATH' in a config file)");
  }
  options.list = list;
  if (options.listens.empty() && !list) {
    throw UsageError("no URL to listen on: give --listen URL (or 'listen = URL' in a config file)");
  }
  return options;
}

std::vector<std::string> read_curve_client_keys(const std::string& path) {
  std::vector<std::string> keys;
  for (auto& [where, key] : meaningful_lines(path, "the CURVE client keys file")) {
    if (!is_z85_key(key)) {
      std::string message = where;
      message += " not a CURVE public key (40 Z85 characters): '";
      message += key;
      message += "'";
      throw UsageError(message);
    }
    keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    throw UsageError("--curve-client-keys-file " + path +
                     " lists no key, which would let no client in");
  }
  return keys;
}

}  // namespace junction::daemon
