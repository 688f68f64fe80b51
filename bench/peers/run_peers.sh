#!/usr/bin/env bash
# Reproduces bench/peers/results.jsonl and checks.jsonl: every peer measurement of README.md, one
# at a time, each started only when the CPU is idle (run_when_idle.py), then the --check runs.
# Usage: bash bench/peers/run_peers.sh [python]   (default /tmp/venv-peers/bin/python)
# Output: $OUT (default results-new.jsonl) and $CHECKS (default checks-new.jsonl) in bench/peers.
set -euo pipefail
cd "$(dirname "$0")"
export PEERS_PYTHON=${1:-/tmp/venv-peers/bin/python}
OUT=${OUT:-results-new.jsonl}
CHECKS=${CHECKS:-checks-new.jsonl}
runs=()
for dist in logistic gaussian; do
  for s in 1024 32768 1048576; do
    runs+=("--impl numpy --dist $dist --samples $s --repeats 5"
           "--impl optax --dist $dist --samples $s --repeats 5")
  done
done
# variants at 2^20: i.i.d. uniforms in the NumPy peer; optax with a user-written logistic noise
# (the same target as gss), in float64, and with forward-mode jacfwd
runs+=("--impl numpy --sampler mc --samples 1048576 --repeats 5"
       "--impl optax --optax-noise logistic --samples 1048576 --repeats 5"
       "--impl optax --x64 --samples 1048576 --repeats 5"
       "--impl optax --mode jacfwd --samples 1048576 --repeats 5")
python3 run_when_idle.py "$OUT" "${runs[@]}"
OPENBLAS_NUM_THREADS=1 python3 run_when_idle.py "$OUT" \
  "--impl numpy --samples 1048576 --repeats 5" "--impl numpy --samples 32768 --repeats 5"
# correctness checks (not timed): exact smoothed Jacobian by quadrature
for a in "--impl numpy --samples 32768 --repeats 5 --check" \
         "--impl numpy --dist gaussian --samples 32768 --repeats 5 --check" \
         "--impl numpy --samples 1048576 --repeats 1 --check" \
         "--impl optax --samples 32768 --repeats 30 --check" \
         "--impl optax --dist gaussian --samples 32768 --repeats 30 --check" \
         "--impl optax --optax-noise logistic --samples 32768 --repeats 30 --check"; do
  # shellcheck disable=SC2086
  "$PEERS_PYTHON" sorter_peers.py $a >> "$CHECKS"
done
