#!/usr/bin/env bash
# Runs the teapot camera-pose experiment (appendix D of the paper) and writes docs/teapot-pose/.
# Arguments go to the program, e.g. `examples/teapot-pose/run.sh --seeds 8 --out /tmp/pose`.
# Finished runs are kept in <out>/runs.jsonl, so an interrupted run resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/bootstrap.sh
swift build -c release  # builds the renderer plugin next to the program as well
exec .build/release/teapot-pose "$@"
