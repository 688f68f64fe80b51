#!/usr/bin/env bash
# The cost of --isolate: `gss grad sorter --samples 1048576` with and without it (release build),
# runs alternated so that load from elsewhere hits both alike, medians side by side, and their ratio.
# Then the per-batch view: one sorter batch in-process vs. through shared memory (what --isolate
# does) vs. through a socket (the alternative), from bench/ipc_transport.c.
#
#   bench/isolation_overhead.sh            # 7 runs each
#   RUNS=11 THREADS=4 bench/isolation_overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-7}
threads=${THREADS:-$(nproc)}
swift build -c release >/dev/null
gss=.build/release/gss
command=(grad sorter --samples 1048576 --seed 1 --threads "$threads" --format json)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# "wall cpu" seconds of one run (cpu: user + system of gss and the workers it reaped), with its
# output kept for the comparison below.
time_run() {
    local output=$1
    shift
    /usr/bin/time -f "%e %U %S" -o "$scratch/time" "$gss" "${command[@]}" "$@" >"$output"
    awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' "$scratch/time"
}

median() { sort -g | awk '{ values[NR] = $1 } END { print (NR % 2) ? values[(NR + 1) / 2] : (values[NR / 2] + values[NR / 2 + 1]) / 2 }'; }

"$gss" "${command[@]}" >/dev/null  # warm the page cache
: >"$scratch/plain.times"
: >"$scratch/isolated.times"
for _ in $(seq "$runs"); do
    time_run "$scratch/plain.json" >>"$scratch/plain.times"
    time_run "$scratch/isolated.json" --isolate >>"$scratch/isolated.times"
done
cmp -s "$scratch/plain.json" "$scratch/isolated.json" || { echo "isolated output differs from in-process output" >&2; exit 1; }

column() { awk -v c="$1" '{ print $c }' "$2"; }
echo "gss ${command[*]}  ($runs runs each, alternated; outputs bit-identical)"
for kind in wall cpu; do
    c=$([ "$kind" = wall ] && echo 1 || echo 2)
    plain=$(column "$c" "$scratch/plain.times" | median)
    isolated=$(column "$c" "$scratch/isolated.times" | median)
    printf '  %-4s in-process: %s s\n' "$kind" "$(column "$c" "$scratch/plain.times" | sort -g | xargs)"
    printf '  %-4s --isolate:  %s s\n' "$kind" "$(column "$c" "$scratch/isolated.times" | sort -g | xargs)"
    printf '  %-4s medians: in-process %.3f s, --isolate %.3f s, ratio %.2f\n' "$kind" "$plain" "$isolated" "$(echo "$isolated / $plain" | bc -l)"
done

cc -O2 -Iinclude bench/ipc_transport.c -o "$scratch/ipc_transport" -ldl
for rows in 1024 2048; do
    "$scratch/ipc_transport" .build/release/libgss-sorter.so --rows "$rows" --batches 2000
done
