#!/usr/bin/env bash
# check_exports.sh LIBRARY HEADER
#
# Fails unless the shared library LIBRARY exports exactly the C ABI declared
# in HEADER (abi/junction.h):
#   - every defined dynamic symbol is named jn_*, and is one of the JN_API
#     functions of the header (nothing else leaks: no C++ internals, no
#     helper jn_ symbols the header does not declare);
#   - every JN_API function of the header is exported;
#   - every exported symbol carries the version node of the ABI major
#     (JUNCTION_<major>, or JUNCTION_<major>.<n> for later additions);
#   - the SONAME is libjunction.so.<major>.
# <major> is read from the header's JN_ABI_VERSION_MAJOR, and the function
# list is parsed from the header, so neither can go stale.
# Tools: GNU binutils (>= 2.35) nm and readelf, or others named by $NM and
# $READELF that accept the same options and print the same formats.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 LIBRARY HEADER" >&2
  exit 2
fi
library=$1
header=$2
nm_tool=${NM:-nm}
readelf_tool=${READELF:-readelf}

[[ -f $library ]] || { echo "check_exports: no such library: $library" >&2; exit 2; }
[[ -f $header ]] || { echo "check_exports: no such header: $header" >&2; exit 2; }

problems=0
problem() {
  echo "check_exports: $*" >&2
  problems=$((problems + 1))
}

# The ABI major, from '#define JN_ABI_VERSION_MAJOR <n>'.
major=$(sed -nE 's/^[[:space:]]*#[[:space:]]*define[[:space:]]+JN_ABI_VERSION_MAJOR[[:space:]]+([0-9]+)[[:space:]]*$/\1/p' "$header")
if [[ ! $major =~ ^[0-9]+$ ]]; then
  echo "check_exports: cannot read JN_ABI_VERSION_MAJOR from $header" >&2
  exit 2
fi

# The JN_API function names declared by the header: join continued lines,
# drop preprocessor lines, strip comments, then take the identifier before
# the first '(' of every declaration that starts with JN_API.
api_functions() {
  sed -e ':join' -e '/\\$/{N;s/\\\n/ /;b join' -e '}' "$header" |
    grep -v '^[[:space:]]*#' |
    tr '\n' ' ' |
    awk '{
      s = $0; out = ""
      while ((i = index(s, "/*")) > 0) {
        out = out substr(s, 1, i - 1) " "
        s = substr(s, i + 2)
        j = index(s, "*/")
        if (j == 0) { s = ""; break }
        s = substr(s, j + 2)
      }
      print out s
    }' |
    tr ';' '\n' |
    sed -nE 's/^[[:space:]]*JN_API[^(]*[^A-Za-z0-9_]([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*\(.*/\1/p' |
    sort -u
}
mapfile -t expected < <(api_functions)
if ((${#expected[@]} == 0)); then
  echo "check_exports: found no JN_API function in $header" >&2
  exit 2
fi

# Run every tool up front, so that a tool failing fails the check.
run() {
  "$@" || { echo "check_exports: '$*' failed" >&2; exit 2; }
}
symbol_table=$(run "$nm_tool" -D --defined-only --with-symbol-versions "$library")
version_table=$(run "$readelf_tool" -V -W "$library")
dynamic_section=$(run "$readelf_tool" -d -W "$library")

# Version nodes the library defines (not the BASE entry, which is the
# soname): the linker also emits each as an absolute symbol of that name.
mapfile -t version_nodes < <(
  sed -nE 's/.*Flags: ([^ ]+) .*Name: ([^ ]+)$/\1 \2/p' <<<"$version_table" |
    awk '$1 != "BASE" { print $2 }')
is_version_node() {
  local node
  for node in "${version_nodes[@]}"; do [[ $node == "$1" ]] && return 0; done
  return 1
}

# Defined dynamic symbols as 'type name[@@version]'.
mapfile -t symbols < <(awk 'NF >= 2 { print $(NF - 1), $NF }' <<<"$symbol_table")

declare -A exported=()
version_pattern="^JUNCTION_${major}(\\.[0-9]+)?\$"
for entry in "${symbols[@]}"; do
  type=${entry%% *}
  versioned=${entry#* }
  name=${versioned%%@*}
  version=""
  [[ $versioned == *@* ]] && version=${versioned##*@}
  if [[ $type == A ]] && is_version_node "$name"; then
    continue
  fi
  exported[$name]=1
  if [[ $name != jn_* ]]; then
    problem "exports non-jn_ symbol: $versioned"
    continue
  fi
  if [[ ! $version =~ $version_pattern ]]; then
    problem "exports $name without the version node JUNCTION_${major} (has '${version}')"
  fi
done

declare -A declared=()
for fn in "${expected[@]}"; do
  declared[$fn]=1
  [[ -n ${exported[$fn]:-} ]] || problem "does not export $fn, declared JN_API in $header"
done
for name in "${!exported[@]}"; do
  if [[ $name == jn_* && -z ${declared[$name]:-} ]]; then
    problem "exports $name, which $header does not declare JN_API"
  fi
done

soname=$(sed -nE 's/.*\(SONAME\).*\[(.*)\].*/\1/p' <<<"$dynamic_section")
if [[ $soname != "libjunction.so.${major}" ]]; then
  problem "SONAME is '${soname}', expected libjunction.so.${major} (JN_ABI_VERSION_MAJOR)"
fi

if ((problems)); then
  echo "check_exports: FAILED: $library: $problems problem(s)" >&2
  exit 1
fi
echo "check_exports: ok: $library exports the ${#expected[@]} JN_API functions of" \
  "$(basename "$header") under JUNCTION_${major}, soname ${soname}"
