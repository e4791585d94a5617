"""bench/bench_official.py against a checkout of the official StyleGAN-V code.

Skipped unless SVLIB_OFFICIAL_REPO names that checkout (CI has none); omegaconf must then be
importable (see bench/results/official/README.md).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REPO = os.environ.get("SVLIB_OFFICIAL_REPO")

pytestmark = pytest.mark.skipif(
    not REPO, reason="SVLIB_OFFICIAL_REPO (a stylegan-v checkout) is not set"
)


def _run(tmp_path, *args):
    out = tmp_path / "out.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_official.py"), *args, "--json", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return json.loads(out.read_text())


def test_parameter_counts_match(tmp_path):
    res = _run(tmp_path, "--counts", "--count-presets", "cpu", "paper256")["presets"]
    for preset in ("cpu", "paper256"):
        row = res[preset]
        assert row["official_as_is_G"] == row["svlib_G"]
        assert row["official_time_gap_matched_D"] == row["svlib_D"]
    assert res["paper256"]["official_as_is_D"] == res["paper256"]["svlib_D"]


def test_side_by_side_iterations(tmp_path):
    res = _run(
        tmp_path,
        *("--preset", "tiny", "--resolution", "32", "--batch", "2"),
        *("--iters", "2", "--warmup", "1", "--device", "cpu"),
    )
    p = res["params"]
    assert p["official_G"] == p["svlib_G"] and p["official_D"] == p["svlib_D"]
    for side in ("official", "svlib"):
        r = res[side]
        assert r["iters"] == 2 and r["r1_iters"] == 1  # the first timed iteration has R1
        assert r["ms_per_iter"] > 0 and r["frames_per_s"] > 0
    assert res["official_ops"] == {"bias_act": "ref", "upfirdn2d": "ref"}
    assert res["official_over_svlib"] > 0
    for side in ("official", "svlib"):
        assert res["trained"][side]["finite"] and res["trained"][side]["changed"] > 0
