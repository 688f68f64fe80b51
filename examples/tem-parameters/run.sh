#!/usr/bin/env bash
# Runs the TEM microscope-parameter experiment (section 4.5 and appendix D of the paper) and
# writes docs/tem-parameters/. Arguments go to the program, e.g.
# `examples/tem-parameters/run.sh --seeds 2 --steps 20 --out /tmp/tem`.
# Finished runs are kept in <out>/runs.jsonl, so an interrupted run resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
./scripts/bootstrap.sh
swift build -c release  # builds the tem plugin next to the program as well
exec .build/release/tem-parameters "$@"
