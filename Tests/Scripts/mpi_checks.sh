#!/usr/bin/env bash
# The MPI checks (issue 18): gss built with the MPI trait, started by mpirun on 1-4 ranks with 1 or
# 2 threads, prints byte for byte what the plain build prints; failures end every rank with the
# usual sentence; a killed rank's run resumes from its journal to the same bytes.
#
#   Tests/Scripts/mpi_checks.sh [PLAIN_DIR] [MPI_DIR]
#
# PLAIN_DIR holds the default build's gss and plugins (.build/debug), MPI_DIR the gss built with
# `--traits MPI` (.build-mpi/debug; it finds the plain build's plugins through GSS_PLUGIN_PATH).
# Every command runs under a time limit; any difference fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
plain=${1:-.build/debug}
mpi=${2:-.build-mpi/debug}
G="$plain/gss"
M="$mpi/gss"
limit=120
export GSS_PLUGIN_PATH="$PWD/$plain"
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x GSS_PLUGIN_PATH)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
# Runs `mpirun -np K` on the MPI build; stdout to the file $1, stderr to $1.err.
ranks() {
    local out=$1 k=$2
    shift 2
    timeout "$limit" "${MPIRUN[@]}" -np "$k" "$M" "$@" >"$out" 2>"$out.err"
}
# The plain build's stdout to $1 (stderr to $1.err).
one_process() {
    local out=$1
    shift
    timeout "$limit" "$G" "$@" >"$out" 2>"$out.err"
}

# Neither the default build nor the README's commands need libmpi; the MPI build links it.
if ldd "$G" | grep -q libmpi; then fail "the default build links libmpi"; else pass "the default build does not link libmpi"; fi
ldd "$M" | grep -q libmpi || fail "the MPI build does not link libmpi"

# Byte-identical estimates: 1-4 ranks x 1-2 threads, three samplers (and the covariance).
for sampler in mc rqmc-latin sobol; do
    args=(grad sorter --samples 1024 --sampler "$sampler" --seed 7 --covariance --format json)
    one_process "$work/ref" "${args[@]}" --threads 1
    for k in 1 2 3 4; do
        for t in 1 2; do
            ranks "$work/out" "$k" "${args[@]}" --threads "$t" || fail "$sampler on $k ranks x $t threads exited $?"
            cmp -s "$work/ref" "$work/out" || fail "$sampler on $k ranks x $t threads differs from one process"
        done
    done
    pass "grad --sampler $sampler: 1-4 ranks x 1-2 threads give one process's bytes"
done

# More ranks than chunks (16 samples are 8 chunks); median smoothing; eval; optimize; no --seed.
one_process "$work/ref" grad sorter --samples 16 --seed 3 --format json
ranks "$work/out" 10 grad sorter --samples 16 --seed 3 --format json --threads 1 && cmp -s "$work/ref" "$work/out" \
    && pass "10 ranks for 8 chunks" || fail "10 ranks for 8 chunks"
median=(grad --symbol libm.so.6:cos --signature 'double(double)' --x 0.5 --median 3 --sampler mc --seed 2 --format json)
one_process "$work/ref" "${median[@]}"
ranks "$work/out" 3 "${median[@]}" --threads 2 && cmp -s "$work/ref" "$work/out" && pass "median on 3 ranks" || fail "median on 3 ranks"
one_process "$work/ref" eval sorter --x 3,1,2,5,4
ranks "$work/out" 3 eval sorter --x 3,1,2,5,4 && cmp -s "$work/ref" "$work/out" && pass "eval on 3 ranks" || fail "eval on 3 ranks"
for smooth in algorithm objective; do
    opt=(optimize sorter --target-x 3,1,2,5,4 --steps 4 --samples 128 --seed 4 --smooth "$smooth" --format json --quiet)
    one_process "$work/ref" "${opt[@]}" --threads 2
    ranks "$work/out" 3 "${opt[@]}" --threads 2 && cmp -s "$work/ref" "$work/out" \
        && pass "optimize --smooth $smooth on 3 ranks" || fail "optimize --smooth $smooth on 3 ranks"
done
ranks "$work/out" 3 grad sorter --samples 256 --format json
seed=$(sed -n 's/.*"seed": *\([0-9]*\).*/\1/p' "$work/out" | head -1)
one_process "$work/ref" grad sorter --samples 256 --format json --seed "$seed"
cmp -s "$work/ref" "$work/out" && pass "a random seed drawn on rank 0 serves every rank" || fail "random seed under MPI"

# The variance study: the same files whatever the ranks.
one_process "$work/ref" study variance --problem sorting --size 3 --repeats 2 --samples 64 --dist logistic,gaussian --out "$work/study1"
ranks "$work/out" 3 study variance --problem sorting --size 3 --repeats 2 --samples 64 --dist logistic,gaussian --out "$work/study2" --threads 2
for file in variance.csv summary.md variance.svg; do
    cmp -s "$work/study1/$file" "$work/study2/$file" || fail "study variance: $file differs on 3 ranks"
done
pass "study variance on 3 ranks"

# A black box that sleeps a varying time per row (calls finish out of order), and progress on stderr.
sleeper="$plain/libgssfixture-sleeper.so"
sleepy=(grad "$sleeper" -o seconds=0.0005 -o vary=1 --x 0.5,0.25 --samples 512 --seed 5 --format json)
one_process "$work/ref" "${sleepy[@]}" --threads 2
ranks "$work/out" 4 "${sleepy[@]}" --threads 2 && cmp -s "$work/ref" "$work/out" \
    && pass "a slow, uneven black box on 4 ranks x 2 threads" || fail "slow black box on 4 ranks"
# Progress (gss grad's, shown once a run passes a second) counts the samples of every rank.
slow=(grad "$sleeper" -o seconds=0.02 --x 0.5,0.25 --samples 512 --seed 5 --format json)
ranks "$work/out" 2 "${slow[@]}" --threads 2 >/dev/null
grep -q "samples 512/512" "$work/out.err" && pass "progress on rank 0's stderr" || fail "no progress on stderr"

# A failing row (an error status; a NaN; a crash under --isolate): one process's sentence, exit 1.
for fixture in "evalerror --x 3" "nanoutput --x -1.5" "segfault --x 0 --isolate"; do
    set -- $fixture
    name=$1
    shift
    status=0
    timeout "$limit" "$G" grad "$plain/libgssfixture-$name.so" "$@" --seed 1 --threads 1 >/dev/null 2>"$work/ref.err" || status=$?
    [ "$status" -eq 1 ] || fail "$name: the plain build exited $status"
    status=0
    ranks "$work/out" 3 grad "$plain/libgssfixture-$name.so" "$@" --seed 1 --threads 1 || status=$?
    [ "$status" -eq 1 ] || fail "$name on 3 ranks exited $status, not 1"
    expected=$(grep '^error:' "$work/ref.err" | sed 's/batch of [0-9]* rows/batch of N rows/')
    got=$(grep '^error:' "$work/out.err" | sed 's/batch of [0-9]* rows/batch of N rows/' | sort -u)
    [ -n "$expected" ] && [ "$expected" = "$got" ] && pass "$name: the same sentence, exit 1" || fail "$name: '$got' is not '$expected'"
done

# A bad request every rank rejects after MPI started: rank 0's one sentence, exit 2. A failure on
# one rank alone (here rank 2's own --x): that rank's sentence, the job ends, no hang.
status=0
ranks "$work/out" 3 grad sorter --median 3 --samples 64 || status=$?
[ "$status" -eq 2 ] && [ "$(grep -c '^error:' "$work/out.err")" -eq 1 ] && ! grep -q '^rank' "$work/out.err" \
    && pass "a bad request on every rank: one sentence, exit 2" || fail "a bad request on every rank (exit $status)"
status=0
timeout "$limit" "${MPIRUN[@]}" -np 2 "$M" grad sorter --seed 1 : -np 1 "$M" grad sorter --seed 1 --x 1,2,3 \
    >"$work/out" 2>"$work/out.err" || status=$?
[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && grep -q '^rank 2: error: --x needs 5 numbers' "$work/out.err" \
    && pass "a failure on one rank alone ends the job" || fail "a failure on one rank alone (exit $status)"

# A rank killed mid-run ends the job; the rerun resumes from the journal and prints the same bytes.
slow=(grad "$sleeper" -o seconds=0.002 --x 0.5,0.25 --samples 512 --seed 6 --format json --threads 1)
one_process "$work/ref" "${slow[@]}" --threads 2
timeout "$limit" "${MPIRUN[@]}" -np 3 "$M" "${slow[@]}" --journal "$work/journal" >"$work/killed" 2>"$work/killed.err" &
launcher=$!
for _ in $(seq 600); do
    merged=$(grep -c ' c ' "$work/journal" 2>/dev/null || true)
    [ "${merged:-0}" -ge 3 ] && break
    sleep 0.05
done
# timeout → mpirun → the ranks: kill the newest rank.
victim=$(pgrep -n -P "$(pgrep -P "$launcher" | tr '\n' ',' | sed 's/,$//')" gss || true)
[ -n "$victim" ] && kill -9 "$victim"
status=0
wait "$launcher" || status=$?
[ "$status" -ne 0 ] || fail "killing a rank did not fail the job"
ranks "$work/out" 2 "${slow[@]}" --journal "$work/journal" || fail "the resumed run exited $?"
cmp -s "$work/ref" "$work/out" && grep -q "resumed from the journal" "$work/out.err" \
    && pass "killed rank: $(grep -o 'resumed.*' "$work/out.err"), the same bytes" || fail "journal resume after a killed rank"

# Built with the trait but started without mpirun: one process, the same bytes.
one_process "$work/ref" grad sorter --seed 9 --format json
timeout "$limit" "$M" grad sorter --seed 9 --format json >"$work/out" && cmp -s "$work/ref" "$work/out" \
    && pass "the MPI build without mpirun" || fail "the MPI build without mpirun"

if [ "$failures" -gt 0 ]; then
    echo "$failures MPI check(s) failed" >&2
    exit 1
fi
echo "all MPI checks passed"
