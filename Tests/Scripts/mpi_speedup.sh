#!/usr/bin/env bash
# A measurement, not a test (README, "Across machines with MPI"): gss grad across MPI ranks and
# threads on a black box that costs a fixed wall time per row without using the CPU (the Sleeper
# fixture), and what coordinating costs.
#
#   Tests/Scripts/mpi_speedup.sh PLAIN_GSS MPI_GSS SLEEPER_SO
#
# PLAIN_GSS: the default build's gss; MPI_GSS: gss built with --traits MPI (release builds, for the
# overheads); SLEEPER_SO: libgssfixture-sleeper.so. Prints Markdown tables.
set -euo pipefail
plain=$1
mpi=$2
sleeper=$3
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
row=0.01       # seconds per row
samples=4096   # 64 chunks of 64 rows: 0.64 s a chunk, 41 s on one worker

wall() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
ranks() {
    local k=$1
    shift
    "${MPIRUN[@]}" -np "$k" "$mpi" "$@"
}
fmt() { printf "%.${2:-2}f" "$1"; }

grad=(grad "$sleeper" -o "seconds=$row" --x 0.5,0.25 --samples "$samples" --seed 1 --format json)
chunks=64
echo "Sleeper: $row s a row, s = $samples ($chunks chunks of 64 rows); wall time of the whole command."
echo
echo "| ranks × threads | evaluations at once | wall s | speed-up | ideal |"
echo "|---|---|---|---|---|"
base=$(wall "$plain" "${grad[@]}" --threads 1)
echo "| 1 process × 1 (plain build) | 1 | $(fmt "$base") | 1.00 | 1.00 |"
for config in 1x2 2x1 1x4 2x2 4x1 1x8 2x4 4x2 8x1 1x16 2x8 4x4 8x2 16x1; do
    k=${config%x*}
    t=${config#*x}
    w=$((k * t))
    seconds=$(wall ranks "$k" "${grad[@]}" --threads "$t")
    rounds=$(((chunks + w - 1) / w))
    # The ideal: sample 0 alone, then rounds of whole chunks on w workers.
    ideal=$(echo "($samples * $row + $row) / ($row + $rounds * 64 * $row)" | bc -l)
    echo "| $k × $t | $w | $(fmt "$seconds") | $(fmt "$(echo "$base / $seconds" | bc -l)") | $(fmt "$ideal") |"
done

echo
echo "Start-up (a 2-sample estimate, no sleeping): plain $(fmt "$(wall "$plain" grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)") s;" \
    "mpirun -np 1: $(fmt "$(wall ranks 1 grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)") s," \
    "-np 4: $(fmt "$(wall ranks 4 grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)") s," \
    "-np 16: $(fmt "$(wall ranks 16 grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)") s."

# Coordinating: a black box that costs nothing, so that what remains is the estimator and the messages.
echo
many=(grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 33554432 --seed 1 --format json)
plain2=$(wall "$plain" "${many[@]}" --threads 2)
mpi2=$(wall ranks 2 "${many[@]}" --threads 1)
start1=$(wall "$plain" grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)
echo "A free black box, s = 2^25 (8,192 chunks of 4,096 rows), start-up included: one process × 2 threads" \
    "$(fmt "$plain2") s, 2 ranks × 1 thread $(fmt "$mpi2") s."
steps=200
opt=(optimize "$sleeper" -o seconds=0 --x0 0.5,0.25 --target-x 0.1,0.2 --samples 16 --steps "$steps" --seed 1 --quiet --format json)
plainopt=$(wall "$plain" "${opt[@]}" --threads 1)
for k in 2 4; do
    mpiopt=$(wall ranks "$k" "${opt[@]}" --threads 1)
    startk=$(wall ranks "$k" grad "$sleeper" -o seconds=0 --x 0.5,0.25 --samples 2 --seed 1 --threads 1)
    per=$(echo "(($mpiopt - $startk) - ($plainopt - $start1)) / $steps * 1000" | bc -l)
    echo "Per estimate (optimize, $steps steps of 16 samples, 8 chunks each), $k ranks: $(fmt "$mpiopt") s against $(fmt "$plainopt") s; $(fmt "$per") ms an estimate."
done
