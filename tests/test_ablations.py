"""bench/ablations.py: its measures on small models, and one experiment end to end (train in legs,
score once, write the JSON and the table)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import svlib
from svlib.data import ClipDataset, open_dataset
from svlib.metrics.clips import generate_clips

ROOT = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("ablations", ROOT / "bench" / "ablations.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


abl = _load()


def _table(results) -> str:
    """stdout of `ablations.py table` over the JSON files in `results`."""
    cmd = [sys.executable, str(ROOT / "bench" / "ablations.py"), "table", "--results", str(results)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT).stdout


def _tiny_g(*sets, seed=0):
    cfg = svlib.apply_overrides(svlib.get_preset("tiny"), list(sets))
    torch.manual_seed(seed)
    return svlib.Generator(cfg.G).eval(), cfg


def test_every_experiment_names_known_variants_and_measures():
    for name, (claim, variants, measures) in abl.EXPERIMENTS.items():
        assert variants[0] == "paper" and claim, name
        assert set(variants) <= set(abl.VARIANTS) and set(measures) <= set(abl.MEASURES), name
    for sets in abl.VARIANTS.values():  # every variant builds its model pair
        svlib.build_models(svlib.apply_overrides(svlib.get_preset("tiny"), sets))


def test_frame_rate_renders_between_frames_and_blend_interpolates():
    ds = open_dataset("synthetic:shapes?n=4&length=16&resolution=16")
    fast = abl.FrameRate(ds, 4)
    assert fast.video_length(0) == 61 and len(fast) == 4
    np.testing.assert_array_equal(fast.read_frames(1, [0, 8, 60]), ds.read_frames(1, [0, 2, 15]))
    assert not np.array_equal(fast.read_frames(1, [1]), ds.read_frames(1, [0]))

    G, _ = _tiny_g()
    t = np.arange(9, dtype=np.float64)  # 4x: key frames at 0, 4, 8
    blend = abl.blended(G, 4)(2, t, 5).int()  # [2, 9, H, W, 3]
    keys = generate_clips(G, 2, np.arange(3.0), seed=0, start=5).int()
    assert torch.equal(blend[:, ::4], keys)
    mid = (keys[:, 0] + keys[:, 1]).float() / 2
    assert (blend[:, 2].float() - mid).abs().max() <= 0.5


def test_grid_jitter_sees_the_raw_embeddings_kinks():
    aligned = abl.grid_jitter(_tiny_g()[0], n=4, cells=4)
    raw = abl.grid_jitter(_tiny_g("G.motion.embedding=raw")[0], n=4, cells=4)
    for r in (aligned, raw):
        assert r["first_ratio"] == pytest.approx(r["first_at_grid"] / r["first_inside"])
        assert r["second_inside"] > 0
    # the raw sinusoids change phase speed at every grid point: a kink the chord subtraction damps
    assert raw["second_ratio"] > 1.5 * aligned["second_ratio"]


def test_self_similarity_tells_loops_from_change():
    rng = np.random.default_rng(0)
    loop = np.tile(rng.integers(0, 255, (32, 8, 8, 3)), (8, 1, 1, 1))  # period 32, 256 frames
    assert abl.self_similarity(loop, min_lag=32) > 0.99
    noise = rng.integers(0, 255, (256, 8, 8, 3))
    assert abl.self_similarity(noise, min_lag=32) < 0.2


def test_long_video_summaries():
    G, _ = _tiny_g()
    r = abl.long_video(G, n=1, length=300)
    assert set(r) == {f"{k}@300" for k in ("mean_shift", "std_log_ratio", "motion_log_ratio")} | {
        "self_similarity@300"
    }
    assert all(np.isfinite(v) for v in r.values())


@pytest.mark.parametrize("gap_conditioning", [True, False])
def test_gap_probe_sees_gaps_only_with_gap_conditioning(gap_conditioning):
    cfg = svlib.apply_overrides(
        svlib.get_preset("tiny"), [f"D.gap_conditioning={str(gap_conditioning).lower()}"]
    )
    torch.manual_seed(0)
    D = svlib.Discriminator(cfg.D).eval()
    if not gap_conditioning:  # its learned cmap starts at 0; any trained value must be ignored too
        for p in D.parameters():
            p.data.normal_()
    ds = open_dataset(f"synthetic:shapes?n=8&length=64&resolution={cfg.D.resolution}")
    r = abl.gap_probe(D, ClipDataset(ds, cfg.sampling, seed=1), n=8)
    assert abs(r["drop shuffled"]) > 0 and abs(r["drop reversed"]) > 0
    gap_drops = [abs(r["drop gaps doubled"]), abs(r["drop gaps all 1"])]
    assert (min(gap_drops) > 0) if gap_conditioning else (max(gap_drops) == 0)


@pytest.mark.slow
def test_experiment_trains_in_legs_scores_once_and_tabulates(tmp_path):
    runs, res = tmp_path / "runs", tmp_path / "res"
    base = [sys.executable, str(ROOT / "bench" / "ablations.py"), "embedding", "--preset", "tiny"]
    base += ["--seeds", "0", "--n", "4", "--no-fvd", "--runs", str(runs), "--results", str(res)]

    def run(*extra):
        r = subprocess.run(base + list(extra), capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    out = run("--minutes", "0.06", "--leg-minutes", "0.03")  # one leg of two
    assert "budget not yet spent" in out and not (res / "embedding.json").exists()
    run("--minutes", "0.06", "--leg-minutes", "0.03")
    got = json.loads((res / "embedding.json").read_text())
    assert list(got["variants"]) == ["paper", "raw_embedding"] and got["seeds"] == [0]
    for v in got["variants"].values():
        assert len(v["per_seed"]) == 1
        assert v["grid_jitter"]["second_ratio"]["values"][0] > 0
        assert "W1/σ motion" in v["quality"]
    assert got["overrides"]["raw_embedding"] == ["G.motion.embedding=raw"]
    walls = [abl.wall_minutes(runs / v / "seed0") for v in got["variants"]]
    assert all(w >= 0.05 for w in walls), walls  # both legs were trained
    out = run("--minutes", "0.06")  # spent and scored: nothing is trained or measured again
    assert "svlib train" not in out and ": quality" not in out
    table = _table(res)
    assert "### embedding" in table and "| raw_embedding |" in table


def test_upsampling_scores_a_given_checkpoint_per_scoring_seed(tmp_path):
    from svlib.checkpoint import save_checkpoint

    cfg = svlib.get_preset("tiny")
    torch.manual_seed(0)
    G, D = svlib.build_models(cfg)
    state = {"step": 7, "cur_nimg": 0, "wall_time": 90.0}
    payload = {"config": cfg.to_dict(), "G_ema": G.state_dict(), "D": D.state_dict()}
    ck = save_checkpoint(tmp_path / "model.pt", {**payload, "state": state})
    runs, res = tmp_path / "runs", tmp_path / "res"
    cmd = [sys.executable, str(ROOT / "bench" / "ablations.py"), "upsampling", "--checkpoint"]
    cmd += [str(ck), "--seeds", "0", "1", "--n", "4", "--no-fvd", "--data"]
    cmd += [f"synthetic:shapes?n=8&length=32&resolution={cfg.G.resolution}"]
    cmd += ["--runs", str(runs), "--results", str(res)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    got = json.loads((res / "upsampling.json").read_text())
    assert got["step"] == 7 and got["train_minutes"] == pytest.approx(1.5)
    assert got["seeds"] == [0, 1] and got["seeds_are"].startswith("scoring seeds")
    up = got["variants"]["paper"]["upsampling"]
    methods = ("continuous t", "linear blend", "frame repeat")
    assert {k.split(":")[0] for k in up} == set(methods)
    acc = up["frame repeat: W1/σ accel"]["values"]
    assert len(acc) == 2 and acc[0] != acc[1]  # the scoring seed draws other clips and videos
    assert (res / "upsampling" / "model.mp4").stat().st_size > 0
    assert sorted(p.name for p in (runs / "checkpoints").iterdir()) == [
        "model_seed0.json",
        "model_seed1.json",
    ]
    table = _table(res)
    assert "One trained model" in table and "step 7" in table


def test_bad_arguments_fail_in_one_line(capsys):
    with pytest.raises(SystemExit):
        abl.main(["no_such_experiment"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "unknown experiment 'no_such_experiment'" in err
    with pytest.raises(SystemExit):
        abl.main(["embedding", "--minutes", "0"])
    assert "--minutes" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # two trained variants cannot come from one checkpoint
        abl.main(["embedding", "--checkpoint", str(ROOT / "svlib" / "assets" / "demo32.pt")])
    assert "needs its own runs" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        abl.main(["upsampling", "--checkpoint", "no/such.pt"])
    assert "no such file no/such.pt" in capsys.readouterr().err
