#!/usr/bin/env bash
# The Warcraft-like shortest-path study (paper section 4.3) through gss's PyTorch layer; resumable.
# Arguments go to run.py, e.g. `examples/warcraft-paths/run.sh --steps 300 --seeds 3`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f .build/release/libGSS.so ]; then swift build -c release; fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD/python"  # a given PYTHONPATH (e.g. a snapshot of the package) first
export GSS_LIBRARY="${GSS_LIBRARY:-$PWD/.build/release/libGSS.so}"
export GSS_PLUGIN_PATH="${GSS_PLUGIN_PATH:-$PWD/.build/release}"
export OMP_NUM_THREADS=1
PY="${PYTHON:-$PWD/.venv/bin/python}"
exec "$PY" examples/warcraft-paths/run.py "$@"
