#!/usr/bin/env bash
# The side-by-side benchmark (BENCHMARKS.md): builds gss in release mode, installs the Python peers
# (NumPy, JAX + optax, pinned in bench/peers/requirements.txt) into a throwaway virtual environment,
# and runs bench/run.py. gss itself never needs Python.
#
#   bench/run.sh                 # the full run; writes BENCHMARKS.md
#   bench/run.sh --quick         # a smoke test: small sizes, one round, nothing written
#   bench/run.sh --no-peers      # gss only (no network, no virtual environment)
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/bootstrap.sh
swift build -c release >/dev/null

python_args=()
if [[ " $* " != *" --no-peers "* ]]; then
    venv=.venv-bench
    if ! "$venv/bin/python" -c "import numpy, scipy, jax, optax" 2>/dev/null; then
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q -r bench/peers/requirements.txt
    fi
    python_args=(--python "$venv/bin/python")
fi
args=()
for arg in "$@"; do [[ "$arg" == "--no-peers" ]] || args+=("$arg"); done
exec python3 bench/run.py --command "bench/run.sh $*" "${python_args[@]}" "${args[@]}"
