#!/usr/bin/env bash
# Builds gss in release mode and installs it under a prefix, for machines without the Swift
# toolchain (the executable links the Swift standard library and FoundationEssentials statically):
#
#   DIR/bin/gss                      the command
#   DIR/lib/gss/libgss-<id>.so       the bundled plugins (found by gss through ../lib/gss)
#   DIR/lib/libgss.so                the C library (include/gss.h)
#   DIR/include/gss.h, gss_plugin.h  the C API and the plugin ABI
#   DIR/share/man/man1/gss.1         the manual (by swift-argument-parser's generate-manual)
#   DIR/share/bash-completion/completions/gss, DIR/share/zsh/site-functions/_gss,
#   DIR/share/fish/vendor_completions.d/gss.fish
#
#   scripts/install.sh --prefix DIR
#
# Everything is built and staged first; DIR is written only once all of it exists.
set -euo pipefail

usage="usage: scripts/install.sh --prefix DIR"
prefix=""
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder; $usage" >&2; exit 2; }; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) echo "install.sh: unknown argument '$1'; $usage" >&2; exit 2 ;;
    esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required; $usage" >&2; exit 2; }
if [ -e "$prefix" ] && [ ! -d "$prefix" ]; then
    echo "install.sh: --prefix '$prefix' exists and is not a folder" >&2
    exit 2
fi

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
plugins=(sorter shortest-path tem renderer)

# One configuration for every product, so that no module is built twice. Executables are linked
# position-dependent: the loader then has no relative relocations to apply to gss's Swift metadata
# (0.8 ms of every start, BENCHMARKS.md); only with the runtime linked in statically, since
# against the shared libswiftCore.so ld.so warns about its protected symbols on every run. And
# they export no symbols (swiftc's -static-stdlib asks for --export-dynamic): nothing loads
# against gss, and the runtime's dladdr at start-up and the plugin locator's walk every symbol
# an executable exports (5,100 of them).
build=(swift build -c release --static-swift-stdlib -Xswiftc -Xclang-linker -Xswiftc -no-pie -Xlinker --no-export-dynamic)

staging="$(mktemp -d "${TMPDIR:-/tmp}/gss-install-XXXXXX")"
cxx="$(mktemp -d "${TMPDIR:-/tmp}/gss-install-libstdc++-XXXXXX")"
trap 'rm -rf "$staging" "$cxx"' EXIT

# gss also links the C++ library that the Swift runtime uses (libstdc++) statically: as a shared
# library, ld.so binds its ~3,300 symbol relocations on every start (0.6 ms, BENCHMARKS.md).
# swiftc's -static-stdlib asks for -lstdc++ itself, so a folder holding only libstdc++.a, searched
# before the compiler's own, makes that one static. The plugins are linked the same way: being C,
# they take nothing from the archive and so no longer name libstdc++.so.6 as a dependency, which
# dlopen would otherwise load. Not libgss.so: it needs libstdc++ (the Swift runtime inside it),
# and a shared object cannot take the archive's position-dependent code. gss takes libgcc's
# unwinder statically as well (-static-libgcc), one shared library fewer to load.
static_cxx=()
archive="$(clang -print-file-name=libstdc++.a 2>/dev/null || true)"
if [ -f "$archive" ]; then
    ln -s "$archive" "$cxx/libstdc++.a"
    static_cxx=(-Xlinker -L"$cxx")
else
    echo "install.sh: no libstdc++.a found (clang -print-file-name), so gss links the shared libstdc++" >&2
fi
"${build[@]}" "${static_cxx[@]}" -Xswiftc -Xclang-linker -Xswiftc -static-libgcc --product gss
"${build[@]}" --product GSS
for id in "${plugins[@]}"; do "${build[@]}" "${static_cxx[@]}" --product "gss-$id"; done
products="$("${build[@]}" --show-bin-path)"

mkdir -p "$staging/bin" "$staging/lib/gss" "$staging/include" "$staging/share/man/man1" \
    "$staging/share/bash-completion/completions" "$staging/share/zsh/site-functions" "$staging/share/fish/vendor_completions.d"
install -m 755 "$products/gss" "$staging/bin/gss"
# Debug information is a tenth of the file; the symbols stay, for backtraces.
if command -v strip >/dev/null; then strip --strip-debug "$staging/bin/gss"; fi
for id in "${plugins[@]}"; do install -m 755 "$products/libgss-$id.so" "$staging/lib/gss/"; done
install -m 755 "$products/libGSS.so" "$staging/lib/libgss.so"
install -m 644 include/gss.h include/gss_plugin.h "$staging/include/"

gss="$staging/bin/gss"
# The manual by the tool behind swift-argument-parser's generate-manual plugin, run directly on
# the built gss (the plugin would build every product of the package in another configuration).
"${build[@]}" --product generate-manual
"$products/generate-manual" "$gss" --output-directory "$staging/share/man/man1" >/dev/null
"$gss" --generate-completion-script bash >"$staging/share/bash-completion/completions/gss"
"$gss" --generate-completion-script zsh >"$staging/share/zsh/site-functions/_gss"
"$gss" --generate-completion-script fish >"$staging/share/fish/vendor_completions.d/gss.fish"

mkdir -p "$prefix"
cp -R "$staging"/. "$prefix"/
echo "installed gss $("$prefix/bin/gss" --version | sed 's/^gss //') into $prefix" >&2
