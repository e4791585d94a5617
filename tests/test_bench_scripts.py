"""The bench scripts the closing notes quote, run end to end on tiny inputs.

Their numbers are not checked here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ROOT / "svlib" / "assets" / "shapes32.pt"


@pytest.mark.skipif(not SHAPES.exists(), reason="shipped checkpoint missing")
def test_learning_evidence_rows(tmp_path):
    out = tmp_path / "evidence.json"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "learning_evidence.py"),
            "--ckpt",
            str(SHAPES),
            "--data",
            "synthetic:shapes?n=16",
            "--no-fvd",
            "--n-proxy",
            "4",
            "--proxy-frames",
            "16",
            "--diagnose",
            "--device",
            "cpu",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert (
        res["step"] == 16_791 and res["seed"] == 0 and res["n_proxy"] == 4
    )  # the shipped run's last step
    rows = res["rows"]
    assert list(rows) == [
        "trained G",
        "untrained G",
        "still first frames",
        "trained G held still",
        "other real clips",
    ]
    # no motion at all: the two still rows are equally far from the real motion, whatever their
    # content
    assert rows["still first frames"]["W1/σ motion"] == rows["trained G held still"]["W1/σ motion"]
    # the shipped generator learned the data's look; a seeded untrained one did not
    assert rows["trained G"]["W1/σ appearance"] * 3 < rows["untrained G"]["W1/σ appearance"]
    assert (
        "continuity slope" in rows["trained G"]
        and "continuity slope" not in rows["still first frames"]
    )
    assert "FVD16/KVD16 skipped" in r.stdout
