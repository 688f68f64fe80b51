#!/usr/bin/env bash
# Checks scripts/install.sh: installs into a fresh prefix, then checks that the installed gss
# needs no Swift toolchain (ldd: no libswift*, no libFoundation*), finds its plugins in
# PREFIX/lib/gss from any folder with an empty environment, and that every file is in place.
#
#   scripts/test-install.sh            # a temporary prefix, removed afterwards
#   scripts/test-install.sh DIR        # install into DIR and keep it
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-}"
if [ -z "$prefix" ]; then
    prefix="$(mktemp -d "${TMPDIR:-/tmp}/gss-prefix-XXXXXX")"
    trap 'rm -rf "$prefix"' EXIT
fi
"$root/scripts/install.sh" --prefix "$prefix"

fail() { echo "test-install.sh: FAILED: $*" >&2; exit 1; }

for file in bin/gss lib/libgss.so include/gss.h include/gss_plugin.h share/man/man1/gss.1 \
    share/bash-completion/completions/gss share/zsh/site-functions/_gss share/fish/vendor_completions.d/gss.fish \
    lib/gss/libgss-sorter.so lib/gss/libgss-shortest-path.so lib/gss/libgss-tem.so lib/gss/libgss-renderer.so; do
    [ -s "$prefix/$file" ] || fail "$file is missing or empty"
done
if ls "$prefix/lib/gss" | grep -q gssfixture; then fail "test fixtures were installed"; fi

libraries="$(ldd "$prefix/bin/gss")"
if grep -Eq 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime' <<<"$libraries"; then
    fail "the installed gss needs the Swift runtime: $libraries"
fi
if grep -q 'not found' <<<"$libraries"; then fail "a library of the installed gss is missing: $libraries"; fi
for library in "$prefix"/lib/libgss.so "$prefix"/lib/gss/*.so; do
    if ldd "$library" | grep -Eq 'libswift|libFoundation'; then fail "$library needs the Swift runtime"; fi
done

# From an unrelated folder, without PATH or GSS_PLUGIN_PATH: the plugins come from ../lib/gss.
cd /
output="$(env -i "$prefix/bin/gss" grad sorter --samples 64 --seed 1 --format json)" || fail "gss grad sorter failed"
grep -q '"jacobian"' <<<"$output" || fail "gss grad sorter printed no Jacobian: $output"
env -i "$prefix/bin/gss" list | grep -q renderer || fail "gss list does not show the installed plugins"
grep -q '^\.Dt GSS 1' "$prefix/share/man/man1/gss.1" || fail "gss.1 is not a manual page"
grep -q 'grad' "$prefix/share/bash-completion/completions/gss" || fail "the bash completion lacks the subcommands"
echo "test-install.sh: ok ($(du -h "$prefix/bin/gss" | cut -f1) gss, $(ldd "$prefix/bin/gss" | wc -l) shared libraries)" >&2
