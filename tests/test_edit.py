"""Semantic directions in w (svlib.edit): fit, measure, hold an edit through long videos."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import svlib
from svlib.checkpoint import save_checkpoint
from svlib.checks import UsageError
from svlib.data import open_dataset
from svlib.edit import (
    edited_video,
    fit_directions,
    measure_effect,
    param_track,
    random_direction,
    sample_params,
)
from svlib.generate import generate_frames, seed_latents

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G, _ = svlib.build_models(svlib.get_preset("tiny"))
    G.eval().requires_grad_(False)
    G.mapping.w_avg.copy_(G.mapping(torch.randn(4096, G.z_dim)).mean(0))
    return G


@pytest.fixture(scope="module")
def brightness(G):
    return fit_directions(G, ["brightness"], num_samples=160, num_frames=4)["brightness"]


def test_sample_params_are_those_of_the_seed_videos(G):
    w, p = sample_params(G, [3, 4], num_frames=4)
    z, _ = seed_latents(G, [3, 4], 3.0)
    assert torch.allclose(w, G.mapping(z), atol=1e-6)
    video = generate_frames(G, 4, seed=3, uint8=True)  # [1, 4, C, H, W]
    assert p["brightness"][0] == pytest.approx(video.float().mean().item() / 255, abs=1e-6)


def test_fitted_direction_beats_a_random_one(G, brightness):
    d = brightness
    assert d.vector.shape == (G.cfg.w_dim,) and d.r2 > 0.3 and d.slope > 0
    seeds = range(5000, 5008)  # not among the fit's seeds
    fit = measure_effect(G, d.vector, ["brightness"], seeds=seeds, num_frames=4)
    rnd = [
        measure_effect(G, random_direction(d.vector, k), ["brightness"], seeds=seeds, num_frames=4)
        for k in range(3)
    ]
    rnd_slope = np.mean([abs(r["slope"]["brightness"]) for r in rnd])
    assert fit["slope"]["brightness"] > 0
    assert fit["slope"]["brightness"] > 2 * rnd_slope
    means = fit["mean"]["brightness"]
    assert means[-1] > means[0]  # α = 2 is brighter than α = -2


def test_random_direction_has_the_same_norm(brightness):
    r = random_direction(brightness.vector, seed=3)
    assert r.norm().item() == pytest.approx(brightness.vector.norm().item(), rel=1e-5)
    assert abs(torch.nn.functional.cosine_similarity(r, brightness.vector, dim=0)) < 0.9


def test_edit_holds_through_a_long_chunked_video(G, brightness):
    v = edited_video(G, brightness.vector, [0.0, 2.0], 300, seed=7, chunk_size=64)
    assert v.shape[:2] == (2, 300)
    assert torch.allclose(v[0], generate_frames(G, 300, seed=7)[0], atol=1e-4)  # α = 0: unedited
    z, mz = seed_latents(G, [7], 299.0)
    w = G.mapping(z) + 2.0 * brightness.vector[None]
    late = torch.tensor([[250.0, 299.0]])
    direct = G.synthesis(w, late, motion_z=mz)[0]  # the same edit, one call, late frames
    assert torch.allclose(v[1, [250, 299]], direct, atol=1e-4)
    u = edited_video(G, brightness.vector, [0.0, 2.0], 300, seed=7, chunk_size=64, uint8=True)
    track = param_track(u, "brightness", window=20)  # [2, 15]
    assert track.shape == (2, 15) and (track[1] > track[0]).all()  # brighter at every time


def test_param_track_reads_known_colours():
    ds = open_dataset("synthetic:periodic?n=2&length=32&resolution=16")
    video = torch.from_numpy(ds.read_video(0)).permute(0, 3, 1, 2)[None]  # [1, 32, 3, 16, 16]
    bright = param_track(video, "brightness", window=8)
    assert bright.shape == (1, 4)
    assert np.allclose(
        bright[0], [video[0, k : k + 8].float().mean() / 255 for k in (0, 8, 16, 24)]
    )


def test_bad_names_are_refused(G):
    with pytest.raises(UsageError, match="not among the recovered parameters"):
        fit_directions(G, ["hue"], num_samples=8, num_frames=4)
    with pytest.raises(UsageError, match="shorter than window"):
        param_track(torch.zeros(1, 4, 3, 8, 8, dtype=torch.uint8), "size", window=8)


@pytest.mark.slow
def test_directions_bench_runs_on_tiny_inputs(G, tmp_path):
    ckpt = save_checkpoint(
        tmp_path / "g.pt", {"config": svlib.get_preset("tiny").to_dict(), "G_ema": G.state_dict()}
    )
    out = tmp_path / "e.json"
    argv = ["--ckpt", str(ckpt), "--names", "brightness", "--samples", "16", "--frames", "4"]
    argv += ["--test-seeds", "2", "--random", "1", "--long", "32", "--out", str(out)]
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "edit_directions.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-1500:]
    d = json.loads(out.read_text())["directions"]["brightness"]
    assert len(d["random_slopes"]) == 1 and "| brightness |" in r.stdout
