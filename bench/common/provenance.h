// What a benchmark report records of where its figures come from, so that
// runs on other machines, builds or commits are not taken for comparable:
// the CPU, the kernel, the compiler, the command line and the source tree's
// commit. Each value reads "unknown" where it cannot be found.
//
// JN_BENCH_SOURCE_DIR (set by CMake) is the source tree the bench was built
// from; its commit is read when the bench runs, which names the build's
// commit as long as the build is current (scripts/run.sh builds first).
#pragma once

#include <sys/utsname.h>

#include <array>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#ifndef JN_BENCH_SOURCE_DIR
#error "JN_BENCH_SOURCE_DIR must name the source tree (junction_bench_provenance sets it)"
#endif

namespace junction::bench {

// A file's whole text; empty if it cannot be read.
inline std::string file_text(const char* path) {
  const std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of the first "key: value" line of text that starts with key
// (tabs and spaces around the colon dropped), or "unknown".
inline std::string text_field(const std::string& text, std::string_view key) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (!line.starts_with(key) || colon == std::string::npos) continue;
    const auto begin = line.find_first_not_of(" \t", colon + 1);
    return begin == std::string::npos ? "" : line.substr(begin);
  }
  return "unknown";
}

// "MODEL (family F, model M, MHz MHz)", from /proc/cpuinfo's first CPU.
inline std::string cpu_model() {
  const std::string info = file_text("/proc/cpuinfo");
  return text_field(info, "model name") + " (family " + text_field(info, "cpu family") +
         ", model " + text_field(info, "model\t") + ", " + text_field(info, "cpu MHz") + " MHz)";
}

// "Linux RELEASE MACHINE", from uname.
inline std::string kernel() {
  utsname names{};
  if (uname(&names) != 0) return "unknown";
  return std::string(names.sysname) + " " + names.release + " " + names.machine;
}

// The compiler that built the bench, and its version.
inline std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#else
  return "unknown";
#endif
}

// The command line as given, its arguments joined by spaces. Read it
// before benchmark::Initialize, which takes its own flags out of argv.
inline std::string command_line(int argc, char** argv) {
  std::string command;
  for (int i = 0; i < argc; ++i) {
    command.append(i == 0 ? "" : " ").append(argv[i]);
  }
  return command;
}

// The first line that the shell command prints, without its newline (empty
// if it prints nothing); nothing if it cannot be run or fails.
inline std::optional<std::string> first_line_of(const std::string& command) {
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  std::string output;
  std::array<char, 256> chunk{};
  for (std::size_t n = 0; (n = std::fread(chunk.data(), 1, chunk.size(), pipe)) > 0;) {
    output.append(chunk.data(), n);
  }
  if (pclose(pipe) != 0) return std::nullopt;
  return output.substr(0, output.find('\n'));
}

// JN_BENCH_SOURCE_DIR's commit, `git rev-parse --short HEAD`, with "-dirty"
// when a tracked file differs from it, or "-status-unknown" when `git
// status` fails (an index it cannot read, say): never taken for clean;
// "unknown" without git or a repository it will read.
inline std::string source_commit() {
  std::string dir;  // single-quoted for the shell
  for (const char ch : std::string_view(JN_BENCH_SOURCE_DIR)) {
    dir += ch == '\'' ? std::string(R"('\'')") : std::string(1, ch);
  }
  const std::string git = "git -C '" + dir + "' ";
  const std::optional<std::string> commit =
      first_line_of(git + "rev-parse --short HEAD 2>/dev/null");
  if (!commit || commit->empty()) return "unknown";
  // --no-optional-locks: reading the status writes nothing to the index.
  const std::optional<std::string> changed = first_line_of(
      git + "--no-optional-locks status --porcelain --untracked-files=no 2>/dev/null");
  if (!changed) return *commit + "-status-unknown";
  return changed->empty() ? *commit : *commit + "-dirty";
}

}  // namespace junction::bench
