#!/usr/bin/env bash
# The tests: set up, then run the unit tests and execute every chapter through nbmake (fast profile).
# SVLIB_KEEP_OUTPUTS=1 writes the executed outputs back into the notebooks (CI builds the book from them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
extra=()
[ "${SVLIB_KEEP_OUTPUTS:-0}" = "1" ] && extra+=(--overwrite)
export SVLIB_PROFILE=${SVLIB_PROFILE:-fast}
# OpenMP threads that busy-wait make small torch ops 50-100x slower whenever another process shares the cores
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
exec .venv/bin/pytest --durations=15 "${extra[@]}" "$@"
