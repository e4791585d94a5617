#!/usr/bin/env bash
# The main job: set up, then build the whole book with every chapter executed (profile "book" on CPU,
# "gpu" when CUDA is present; override with SVLIB_PROFILE=fast|book|gpu). Output: _build/html/index.html
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}   # see tools/test.sh
start=$(date +%s)
.venv/bin/jupyter-book build --all -W --keep-going . "$@"
echo "[book] built in $(( $(date +%s) - start )) s -> $(pwd)/_build/html/index.html"
