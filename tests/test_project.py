"""Projection of images and clips into a generator (svlib.project) and the `project` command."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import svlib
from svlib.__main__ import main
from svlib.checkpoint import save_checkpoint
from svlib.generate import seed_latents
from svlib.project import (
    extend_motion_z,
    load_projection,
    motion_noise_penalty,
    project,
    psnr,
    reconstruction_loss,
    render_projection,
)
from svlib.video_io import write_video
from svlib.viz import to_uint8

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    G, _ = svlib.build_models(svlib.get_preset("tiny"))
    G.eval().requires_grad_(False)
    # w̄ as training's running mean would leave it (an untrained generator's is all zeros)
    G.mapping.w_avg.copy_(G.mapping(torch.randn(4096, G.z_dim)).mean(0))
    return G


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory, G):
    cfg = svlib.get_preset("tiny")
    path = tmp_path_factory.mktemp("ckpt") / "g.pt"
    return save_checkpoint(path, {"config": cfg.to_dict(), "G_ema": G.state_dict()})


def _known_video(G, num_frames, content_seed=123, motion_seed=0):
    """A video G made from a known w: (frames [F, C, H, W], w [w_dim]).

    Halfway to w̄ (ψ = 0.5): an untrained generator is rough far from w̄, a trained one is not.
    """
    z, _ = seed_latents(G, [content_seed], 0.0)
    _, mz = seed_latents(G, [motion_seed], float(num_frames - 1))
    w = G.mapping(z, truncation_psi=0.5)
    t = torch.arange(num_frames, dtype=torch.float32)[None]
    return G.synthesis(w, t, motion_z=mz)[0], w[0]


def test_projecting_a_generated_frame_recovers_it(G):
    target, w_true = _known_video(G, 1)  # [1, C, H, W]
    proj = project(G, target, steps=150, lr=0.1)  # the untrained G wants small steps
    mz = seed_latents(G, [0], 0.0)[1]
    w_avg_frame = G.synthesis(G.w_avg[None], torch.zeros(1, 1), motion_z=mz)[0]
    base = float(psnr(w_avg_frame, target).mean())
    assert proj.w.shape == (G.cfg.w_dim,) and len(proj.psnr) == 1
    assert proj.mean_psnr > 28 and proj.mean_psnr > base + 10, (proj.mean_psnr, base)
    # the reconstruction is the frame of the found w, and w moved toward the true one
    again = render_projection(G, proj)
    assert float(psnr(again, target).mean()) == pytest.approx(proj.mean_psnr, abs=1e-3)
    assert (proj.w - w_true).norm() < (G.w_avg - w_true).norm()
    assert proj.loss[-1] < proj.loss[0] / 10


def test_clip_projection_fits_the_motion_noise(G):
    target, _ = _known_video(G, 4, motion_seed=5)  # motion of another seed than the start's
    w_only = project(G, target, steps=60, lr=0.1, optimize_motion=False)
    both = project(G, target, steps=60, lr=0.1)
    assert both.meta["optimize_motion"] and not w_only.meta["optimize_motion"]
    assert both.motion_z.shape == w_only.motion_z.shape
    assert not torch.equal(both.motion_z, w_only.motion_z)
    # renormalised after each step: still unit-variance noise
    assert (
        abs(float(both.motion_z.std(correction=0)) - 1) < 1e-3
        and abs(float(both.motion_z.mean())) < 1e-3
    )
    assert both.mean_psnr > w_only.mean_psnr


def test_motion_noise_penalty_flags_correlated_noise():
    g = torch.Generator().manual_seed(0)
    white = torch.randn(8, 64, 16, generator=g)  # 8 draws: the penalty of white noise is small
    trend = torch.linspace(-1, 1, 64)[None, :, None].expand(1, 64, 16) * 1.7  # unit variance
    assert float(motion_noise_penalty(trend)[0]) > 50 * float(motion_noise_penalty(white).max())


def test_reconstruction_loss_is_zero_only_for_equal_frames():
    x = torch.rand(2, 3, 3, 16, 16)
    assert torch.equal(reconstruction_loss(x, x), torch.zeros(2))
    y = x.clone()
    y[1] += 0.1
    loss = reconstruction_loss(x, y)
    assert loss[0] == 0 and loss[1] == pytest.approx(3 * 0.01, rel=1e-4)  # three scales


def test_extension_keeps_the_projected_frames(G):
    target, _ = _known_video(G, 3)
    proj = project(G, target, steps=5)
    longer = render_projection(G, proj, torch.arange(40, dtype=torch.float64))
    assert longer.shape[0] == 40
    assert torch.allclose(longer[:3], render_projection(G, proj), atol=1e-5)
    other = render_projection(G, proj, torch.arange(40.0), extend_seed=1)
    assert torch.allclose(other[:3], longer[:3], atol=1e-5)
    assert not torch.allclose(other[-5:], longer[-5:], atol=1e-3)  # a different continuation
    mz = extend_motion_z(G, proj.motion_z, 39.0)
    assert torch.equal(mz[: len(proj.motion_z)], proj.motion_z)


def _image(path, frame):
    Image.fromarray(to_uint8(frame)).save(path)
    return path


def test_cli_image_writes_reloadable_files(G, tiny_ckpt, tmp_path, capsys):
    target, _ = _known_video(G, 1)
    png = _image(tmp_path / "frame.png", target[0])
    out = tmp_path / "proj"
    rc = main(
        ["project", "--ckpt", str(tiny_ckpt), "--target", str(png), "--out", str(out)]
        + ["--steps", "40", "--device", "cpu"]
    )
    assert rc == 0, capsys.readouterr().err
    res = json.loads((out / "psnr.json").read_text())
    assert res["mode"] == "image" and len(res["psnr"]) == 1 and not res["resized"]
    proj = load_projection(out / "projection.pt")
    assert proj.mean_psnr == pytest.approx(res["mean_psnr"])
    rec = np.asarray(Image.open(out / "reconstruction.png"))
    assert rec.shape == (16, 33, 3)  # target | gap | reconstruction
    assert np.array_equal(rec[:, :16], np.asarray(Image.open(png)))
    again = render_projection(G, proj)
    assert float(psnr(again, target).mean()) == pytest.approx(res["mean_psnr"], abs=0.5)


def test_cli_clip_resizes_with_a_note(G, tiny_ckpt, tmp_path, capsys):
    frames = to_uint8(_known_video(G, 4)[0])  # [4, 16, 16, 3]
    big = frames.repeat(2, axis=1).repeat(2, axis=2)  # 32², resized back to 16² with a note
    mp4 = write_video(tmp_path / "clip.mp4", big, fps=8)
    out = tmp_path / "proj"
    argv = ["project", "--ckpt", str(tiny_ckpt), "--target", str(mp4), "--out", str(out)]
    rc = main(argv + ["--steps", "10", "--frames", "3", "--start", "1", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 0, err
    notes = [line for line in err.splitlines() if "warning" in line]
    assert len(notes) == 1 and "32x32 resized to the generator's 16x16" in notes[0]
    res = json.loads((out / "psnr.json").read_text())
    assert res["mode"] == "clip" and res["frames"] == 3 and res["resized"]
    proj = load_projection(out / "projection.pt")
    assert proj.t.tolist() == [0.0, 1.0, 2.0] and proj.motion_z is not None
    assert (out / "reconstruction.mp4").stat().st_size > 0


def test_cli_bad_inputs_give_one_line(tiny_ckpt, tmp_path, capsys):
    png = _image(tmp_path / "x.png", torch.zeros(3, 16, 16))
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 20)
    no_g = save_checkpoint(tmp_path / "no_g.pt", {"config": svlib.get_preset("tiny").to_dict()})
    cases = {
        "file not found": ["--ckpt", str(tiny_ckpt), "--target", str(tmp_path / "none.png")],
        "cannot read the video": ["--ckpt", str(tiny_ckpt), "--target", str(junk)],
        "lacks the 'G_ema' entry": ["--ckpt", str(no_g), "--target", str(png)],
        "checkpoint not found": ["--ckpt", str(tmp_path / "none.pt"), "--target", str(png)],
        "unknown type .txt": ["--ckpt", str(tiny_ckpt), "--target", str(tmp_path / "a.txt")],
        "--steps must be >= 0": ["--ckpt", str(tiny_ckpt), "--target", str(png), "--steps", "-1"],
    }
    (tmp_path / "a.txt").write_text("x")
    for expected, args in cases.items():
        out = tmp_path / "out"
        steps = [] if "--steps" in args else ["--steps", "2"]
        rc = main(["project", *args, *steps, "--out", str(out), "--device", "cpu"])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and expected in err and len(err.splitlines()) == 1, (expected, err)
        assert not (out / "projection.pt").exists()


def test_load_projection_refuses_other_files(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"w": torch.zeros(3)}, bad)
    with pytest.raises(svlib.checks.UsageError, match="not an svlib projection"):
        load_projection(bad)
    with pytest.raises(svlib.checks.UsageError, match="not found"):
        load_projection(tmp_path / "none.pt")


@pytest.mark.slow
def test_quality_bench_runs_on_tiny_inputs(tiny_ckpt, tmp_path):
    out = tmp_path / "q.json"
    argv = ["--ckpt", str(tiny_ckpt), "--data", "synthetic:shapes?n=4", "--targets", "1"]
    argv += ["--frames", "2", "--steps", "2", "--out", str(out)]
    r = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "projection_quality.py"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-1500:]
    res = json.loads(out.read_text())
    assert set(res["summary"]) == {"image", "clip"} and res["held_out"].endswith("seed=1")
    assert "| image |" in r.stdout
