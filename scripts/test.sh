#!/usr/bin/env bash
# Every test: the Swift build and tests, then the Python package's tests against the package as
# `pip install ./python` installs it, in a virtual environment (.venv, made when missing and reused
# when it already has the pinned versions).
#
#   ./scripts/test.sh              # everything
#   GSS_VENV=/path ./scripts/test.sh    # another virtual environment
#   ./scripts/test.sh -k torch     # arguments go to pytest
#   GSS_TEST_PYTHON_ONLY=1 ./scripts/test.sh   # skip `swift test` (still builds, via pip)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ -z "${GSS_TEST_PYTHON_ONLY:-}" ]; then
    ./scripts/bootstrap.sh && swift build -c release && swift test
fi

# The Python side: pinned versions (torch resolves to the CPU-only build where pip's find-links
# offers one, as on the CI machines).
venv="${GSS_VENV:-$root/.venv}"
pins=(numpy==2.4.6 pytest==9.2.0 torch==2.13.0 jax==0.10.2 jaxlib==0.10.2)
if [ ! -x "$venv/bin/python" ]; then
    echo "test.sh: creating the virtual environment $venv" >&2
    python3 -m venv "$venv"
fi
py="$venv/bin/python"
if ! "$py" - "${pins[@]}" <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(1)
    if have.split("+")[0] != wanted:
        sys.exit(1)
PY
then
    echo "test.sh: installing ${pins[*]} into $venv" >&2
    "$py" -m pip install -q --upgrade pip
    "$py" -m pip install -q "${pins[@]}"
fi

# The README's promise: `pip install ./python` builds libgss (swift build -c release, a no-op
# after the build above) and installs the package with libgss.so and the bundled plugins.
"$py" -m pip install -q --force-reinstall --no-deps ./python

# pytest from outside the source tree, so that `import gss` is the installed package, which
# loads its own libgss.so and finds the bundled plugins beside it.
unset GSS_LIBRARY GSS_PLUGIN_PATH
cd "$(mktemp -d)"
"$py" -m pytest "$root/python/tests" -q -p no:cacheprovider "$@"
