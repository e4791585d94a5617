"""The bench scripts the closing notes quote, run end to end on tiny inputs.

Their numbers are not checked here.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "svlib" / "assets" / "demo32.pt"


@pytest.mark.skipif(not DEMO.exists(), reason="shipped checkpoint missing")
def test_learning_evidence_rows(tmp_path):
    out = tmp_path / "evidence.json"
    r = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "learning_evidence.py"),
            "--ckpt",
            str(DEMO),
            "--data",
            "synthetic:shapes?n=16&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26",
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
    shipped_step = torch.load(DEMO, weights_only=True)["state"]["step"]
    assert (res["step"], res["seed"], res["n_proxy"]) == (shipped_step, 0, 4)
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


# the bench scripts import svlib from this tree, not from wherever it is installed
_ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _bench_train_full():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_train_full", ROOT / "bench" / "bench_train_full.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_train_full_tiny_reports_consistent_numbers(tmp_path):
    out = tmp_path / "full.json"
    cmd = [sys.executable, str(ROOT / "bench" / "bench_train_full.py"), "--preset", "tiny"]
    cmd += ["--steps", "4", "--warmup", "1", "--phases", "--workers", "0", "--device", "cpu"]
    cmd += ["--peak-tflops", "2.5", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300, env=_ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert (res["preset"], res["resolution"], res["batch"], res["num_frames"]) == ("tiny", 16, 4, 3)
    t, interval = res["throughput"], res["r1_interval"]
    assert interval == 2 and t["steps"] == 4 and t["windows"] == 2 and t["steps_per_window"] == 2
    mean_s = t["mean_step_ms"] / 1e3
    assert t["frames_per_s"] == pytest.approx(res["batch"] * res["num_frames"] / mean_s)
    assert t["videos_per_s"] == pytest.approx(res["batch"] / mean_s)
    # equal windows: the mean step is the mean of the window means, which lie inside the spread
    assert t["mean_step_ms"] == pytest.approx(np.mean(t["window_mean_step_ms"]), rel=1e-3)
    assert t["spread_ms"][0] <= t["mean_step_ms"] <= t["spread_ms"][1]
    p = res["phases"]["ms"]
    assert res["phases"]["r1_steps"] == 2  # phases pass starts on an R1 step; 4 steps, interval 2
    assert p["Dreg_amortised"] == pytest.approx(p["Dreg_per_r1_step"] / interval)
    assert all(p[k] > 0 for k in ("Gmain", "Dmain", "Dreg_per_r1_step", "EMA", "ADA"))
    f = res["flops"]
    assert f["r1_step"] > f["plain_step"] > 0  # R1's double backward costs extra
    assert f["per_iteration"] == pytest.approx(
        f["plain_step"] + (f["r1_step"] - f["plain_step"]) / interval
    )
    assert f["achieved_tflops"] == pytest.approx(f["per_iteration"] / mean_s / 1e12)
    assert f["peak_tflops"] == 2.5
    assert f["fraction_of_peak"] == pytest.approx(f["achieved_tflops"] / 2.5)
    assert res["memory"]["peak_rss_gib"] > 0.05
    assert t["graphs_traced"] == {"warmup": 0, "timed": 0}  # eager
    assert "frames/s to D" in r.stdout and "phases (synchronised" in r.stdout


def test_bench_train_full_refuses_bad_arguments(tmp_path, capsys):
    mod = _bench_train_full()
    (tmp_path / "file").write_text("")
    for argv, culprit in [
        (["--steps", "0"], "--steps"),
        (["--peak-tflops", "-1"], "--peak-tflops"),
        (["--out", str(tmp_path / "file" / "r.json")], "--out"),  # checked before the run
    ]:
        assert mod.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert culprit in err and len(err.splitlines()) == 1, err


def test_flop_count_matches_flop_counter_mode():
    from torch.utils.flop_counter import FlopCounterMode

    import svlib
    from svlib.models import build_models

    mod = _bench_train_full()
    torch.manual_seed(0)
    G, D = build_models(svlib.get_preset("tiny"))
    z, t = torch.randn(2, 32), torch.tensor([[0.0, 1.0, 3.0]] * 2)

    def step():
        D(G(z, t), t).sum().backward()

    with FlopCounterMode(display=False) as ref:
        step()
    with mod.FlopCount() as ours:
        step()
    assert ours.total == ref.get_total_flops() > 0


def test_device_peaks(monkeypatch):
    mod = _bench_train_full()
    cuda = torch.device("cuda")
    cases = [
        ("NVIDIA H200", torch.bfloat16, 989.0),
        ("NVIDIA H100 PCIe", torch.bfloat16, 756.0),  # not the SXM row
        ("NVIDIA H100 80GB HBM3", torch.bfloat16, 989.0),
        ("NVIDIA A100-SXM4-80GB", None, 156.0),  # fp32 training: cuDNN convolutions in TF32
        ("NVIDIA L4", torch.float16, 121.0),
        ("Tesla T4", torch.float16, 65.0),
        ("Tesla T4", None, 8.1),  # no TF32 units
        ("Tesla T4", torch.bfloat16, None),  # no bf16 units
        ("Some Future GPU", torch.bfloat16, None),
    ]
    for name, dtype, peak in cases:
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda *_, n=name: n)
        assert mod.device_peak(cuda, dtype, None)[0] == peak, name
    assert mod.device_peak(torch.device("cpu"), None, None)[0] is None
    assert mod.device_peak(torch.device("cpu"), None, 3.0) == (3.0, "--peak-tflops")


def _bench_module(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not DEMO.exists(), reason="shipped checkpoint missing")
def test_sample_strips_rows_are_the_seeds_videos(tmp_path):
    pytest.importorskip("matplotlib")  # the figure needs the book's plotting extras
    from svlib.checkpoint import load_generator
    from svlib.generate import generate_frames

    mod = _bench_module("sample_strips")
    idx = np.arange(4) * 2
    rows, labels, data = mod.strips([DEMO], [0, 3], idx)
    step = torch.load(DEMO, weights_only=True)["state"]["step"]
    assert labels == [f"step {step:,}, seed 0", f"step {step:,}, seed 3"]
    assert data == book_data() and rows[0].shape == (4, 32, 32, 3) and rows[0].dtype == np.uint8
    G, _ = load_generator(DEMO, device="cpu")
    seed3 = generate_frames(G, 7, seed=3, uint8=True)[0, idx].permute(0, 2, 3, 1).numpy()
    assert np.array_equal(rows[1], seed3) and not np.array_equal(rows[0], rows[1])
    out = tmp_path / "strips.png"
    mod.main(
        ["--ckpts", str(DEMO), "--seeds", "0", "--frames", "3", "--real", "1", "--out", str(out)]
    )
    assert out.stat().st_size > 1000
    with pytest.raises(SystemExit, match="no such file"):
        mod.main(["--ckpts", str(tmp_path / "missing.pt"), "--out", str(out)])


def book_data() -> str:
    from svlib import book

    return book.pretrained_data()


def test_learning_curve_summary_keeps_points_and_baselines(tmp_path):
    pytest.importorskip("matplotlib")  # the figure needs the book's plotting extras

    def result(step, seed, rows):
        return {"n": 16, "data": "synthetic:x", "step": step, "seed": seed, "rows": rows}

    files = []
    for k, r in enumerate(
        [
            result(500, 0, {"trained G": {"fvd16": 300.0, "W1/σ accel": 9.0}}),
            result(100, 0, {"trained G": {"fvd16": 900.0, "W1/σ accel": 20.0}}),
            result(
                0, 0, {"untrained G": {"fvd16": 1000.0}, "still first frames": {"fvd16": 200.0}}
            ),
            result(0, 1, {"still first frames": {"fvd16": 210.0}}),
        ]
    ):
        files.append(tmp_path / f"r{k}.json")
        files[-1].write_text(json.dumps(r))
    out, summary = tmp_path / "c.png", tmp_path / "c.json"
    cmd = [sys.executable, str(ROOT / "bench" / "plot_learning_curve.py"), *map(str, files)]
    r = subprocess.run(
        cmd + ["--out", str(out), "--summary", str(summary)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr[-2000:]
    s = json.loads(summary.read_text())
    trained = [p for p in s["points"] if "fvd16" in p and p["step"] > 0]
    assert [(p["step"], p["fvd16"], p["W1/σ accel"]) for p in trained] == [
        (100, 900.0, 20.0),
        (500, 300.0, 9.0),
    ]  # sorted by step
    assert s["baselines"] == {
        "untrained G": {"fvd16": [1000.0]},
        "still first frames": {"fvd16": [200.0, 210.0]},
    }
    assert s["n"] == 16 and out.stat().st_size > 1000


def test_bench_train_compare_runs_both_trees_at_a_given_augment_p(tmp_path):
    # the side-by-side benchmark against a commit (here HEAD), started at an ADA probability
    if subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True
    ).returncode:
        pytest.skip("not a git checkout")
    out = tmp_path / "cmp.json"
    cmd = [sys.executable, str(ROOT / "bench" / "bench_train_compare.py"), "--compare", "HEAD"]
    cmd += ["--preset", "tiny", "--data", "synthetic:shapes?n=16", "--steps", "3", "--warmup", "1"]
    cmd += ["--augment-p", "0.5", "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["augment_p"] == 0.5 and res["old_rev"] == "HEAD"
    assert res["old"]["steps"] == res["new"]["steps"] == 3
    assert res["speedup"] > 0 and res["speedup_ci95"][0] <= res["speedup_ci95"][1]
