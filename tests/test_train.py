"""The training loop end to end on tiny synthetic data: losses, files, resume, DDP, bad input."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import svlib
from svlib.checkpoint import CheckpointError, latest_checkpoint, list_snapshots, load_checkpoint
from svlib.checks import UsageError
from svlib.config import resolve_auto
from svlib.training import train

DATA = "synthetic:shapes?n=16&length=48"


def _params(module):
    return torch.cat(
        [p.detach().flatten() for p in module.state_dict().values() if p.is_floating_point()]
    )


def test_short_run_writes_log_checkpoint_and_samples(tmp_path):
    cfg = svlib.get_preset("tiny", {"train.sample_every": 6, "train.checkpoint_every": 6})
    res = train(cfg, DATA, tmp_path, steps=12, progress=False, sample_frames=8, num_preview=4)
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 13))
    for r in log:
        assert np.isfinite([r["loss_G"], r["loss_D"], r["D_real"]]).all()
    assert any("r1" in r for r in log) and all(np.isfinite(r["r1"]) for r in log if "r1" in r)
    assert (
        0 <= log[-1]["augment_p"] <= 1 and log[-1]["augment_p"] != cfg.train.augment.p
    )  # ADA moved p
    assert [p.name for p in list_snapshots(tmp_path)] == [
        "checkpoint-0000006.pt",
        "checkpoint-0000012.pt",
    ]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step-0000006.mp4",
        "step-0000012.mp4",
    ]
    assert (tmp_path / "samples" / "step-0000012.mp4").stat().st_size > 1000
    ck = load_checkpoint(tmp_path / "checkpoint-0000012.pt")
    assert ck["state"]["step"] == 12 and ck["state"]["cur_nimg"] == 12 * 4 * 3
    # checkpoints are plain data: loadable without trusting code, and G_ema rebuilds from them
    G, cfg2 = svlib.checkpoint.load_generator(tmp_path / "checkpoint-0000012.pt")
    assert cfg2.to_dict() == resolve_auto(cfg).to_dict()  # the config as trained: autos resolved
    assert json.loads((tmp_path / "config.json").read_text()) == cfg2.to_dict()
    assert torch.equal(_params(G), _params(res["G_ema"]))


def test_missing_ffmpeg_writes_png_samples_and_keeps_training(tmp_path, monkeypatch):
    import svlib.video_io

    def no_ffmpeg():
        raise RuntimeError("ffmpeg not found: install it on PATH or `pip install imageio-ffmpeg`")

    monkeypatch.setattr(svlib.video_io, "ffmpeg_exe", no_ffmpeg)
    with pytest.warns(UserWarning, match="PNG frames instead"):
        train(
            svlib.get_preset("tiny", {"train.sample_every": 2, "train.checkpoint_every": 4}),
            DATA,
            tmp_path,
            steps=4,
            progress=False,
            sample_frames=3,
            num_preview=4,
        )
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == [
        "step-0000002",
        "step-0000004",
    ]
    assert len(list((tmp_path / "samples" / "step-0000004").glob("*.png"))) == 3
    assert [p.name for p in list_snapshots(tmp_path)] == ["checkpoint-0000004.pt"]


def test_resume_continues_exactly(tmp_path):
    cfg = svlib.get_preset("tiny")
    a, b = tmp_path / "a", tmp_path / "b"
    full = train(cfg, DATA, a, steps=6, progress=False, sample_frames=4, num_preview=2)
    train(cfg, DATA, b, steps=3, progress=False, sample_frames=4, num_preview=2)
    resumed = train(
        cfg, DATA, b, steps=6, resume=True, progress=False, sample_frames=4, num_preview=2
    )
    for name in ("G", "D", "G_ema"):
        x, y = (
            load_checkpoint(a / "checkpoint-0000006.pt")[name],
            load_checkpoint(b / "checkpoint-0000006.pt")[name],
        )
        for k in x:
            assert torch.equal(x[k], y[k]), f"{name}.{k} differs after resume"
    assert torch.equal(
        load_checkpoint(a / "checkpoint-0000006.pt")["augment_p"],
        load_checkpoint(b / "checkpoint-0000006.pt")["augment_p"],
    )
    la = [json.loads(s) for s in (a / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(s) for s in (b / "log.jsonl").read_text().splitlines()]
    assert [r["loss_D"] for r in la] == [r["loss_D"] for r in lb]
    assert full["step"] == resumed["step"] == 6


def test_truncated_checkpoint_is_skipped_and_named(tmp_path):
    cfg = svlib.get_preset("tiny", {"train.checkpoint_every": 2})
    train(cfg, DATA, tmp_path, steps=4, progress=False, sample_frames=4, num_preview=2)
    newest = tmp_path / "checkpoint-0000004.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # a run killed mid-copy
    with pytest.raises(CheckpointError, match="checkpoint-0000004.pt"):
        load_checkpoint(newest)
    with pytest.warns(UserWarning, match="checkpoint-0000004.pt"):
        path, _ = latest_checkpoint(tmp_path)
    assert path.name == "checkpoint-0000002.pt"  # the previous good one is still there
    with pytest.warns(UserWarning):
        res = train(
            cfg,
            DATA,
            tmp_path,
            steps=6,
            resume=True,
            progress=False,
            sample_frames=4,
            num_preview=2,
        )
    assert res["step"] == 6


def test_foreign_checkpoint_rejected(tmp_path):
    p = tmp_path / "other.pt"
    torch.save({"model": torch.zeros(3)}, p)
    with pytest.raises(CheckpointError, match="not an svlib checkpoint"):
        load_checkpoint(p)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="junk.pt"):
        load_checkpoint(tmp_path / "junk.pt")


def test_bf16_autocast_steps_are_finite(tmp_path):
    cfg = svlib.get_preset("tiny", {"train.amp": "bf16"})
    res = train(cfg, DATA, tmp_path, steps=2, progress=False, sample_frames=4, num_preview=2)
    assert np.isfinite([res["loss_G"], res["loss_D"]]).all()


def test_compiled_training_steps(tmp_path):
    cfg = svlib.get_preset("tiny", {"train.compile": True})
    try:
        res = train(cfg, DATA, tmp_path, steps=2, progress=False, sample_frames=4, num_preview=2)
    except Exception as e:  # no C++ compiler for inductor on this machine
        if "compiler" in str(e).lower() or "InductorError" in type(e).__name__:
            pytest.skip(f"torch.compile toolchain unavailable: {e}")
        raise
    assert np.isfinite([res["loss_G"], res["loss_D"]]).all()


def _cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "svlib", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=300,
    )


def test_cli_bad_inputs_name_the_culprit(tmp_path):
    empty = tmp_path / "empty_dataset"
    empty.mkdir()
    r = _cli("train", "--preset", "cpu", "--data", str(empty), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "empty_dataset" in r.stderr
    r = _cli("train", "--preset", "nope", "--data", DATA, "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "unknown preset 'nope'" in r.stderr
    r = _cli(
        "train", "--preset", "cpu", "--data", "synthetic:clouds", "--out", str(tmp_path / "run")
    )
    assert r.returncode == 2 and "clouds" in r.stderr
    r = _cli(
        "train",
        "--preset",
        "cpu",
        "--data",
        str(tmp_path / "missing"),
        "--out",
        str(tmp_path / "run"),
    )
    assert r.returncode == 2 and "missing" in r.stderr


def test_too_short_videos_are_reported(tmp_path):
    cfg = svlib.get_preset("tiny")
    with pytest.raises(ValueError, match="shorter than num_frames"):
        train(cfg, "synthetic:shapes?n=4&length=2", tmp_path, steps=1, progress=False)


DDP_SCRIPT = textwrap.dedent("""
    import sys, torch
    sys.path.insert(0, {tests!r})
    from test_train import DATA
    import svlib
    from svlib.training import train
    import torch.distributed as dist
    cfg = svlib.get_preset("tiny")
    res = train(cfg, DATA, {out!r}, steps=3, progress=False, sample_frames=4, num_preview=2)
    rank = dist.get_rank()
    G_ema = {{k: v for k, v in res["G_ema"].state_dict().items()}}
    torch.save(G_ema, {out!r} + f"/G_ema_rank{{rank}}.pt")
""")


def test_torchrun_two_gloo_processes_stay_in_sync(tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(tmp_path)))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--standalone",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(tmp_path / "G_ema_rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "G_ema_rank1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    ck = load_checkpoint(tmp_path / "checkpoint-0000003.pt")
    assert all(torch.equal(a[k], ck["G_ema"][k]) for k in a)


def test_export_generator_is_small_and_loads(tmp_path):
    from svlib.checkpoint import export_generator, load_generator

    cfg = svlib.get_preset("tiny")
    train(cfg, DATA, tmp_path / "run", steps=2, progress=False, sample_frames=4, num_preview=2)
    src = tmp_path / "run" / "checkpoint-0000002.pt"
    dst = export_generator(src, tmp_path / "g.pt")
    assert dst.stat().st_size < src.stat().st_size / 2
    G1, _ = load_generator(src)
    G2, cfg2 = load_generator(dst)
    assert cfg2.to_dict() == resolve_auto(cfg).to_dict()
    z, t = torch.randn(2, cfg.G.z_dim), torch.tensor([[0.0, 1.5], [7.0, 100.0]])
    mz = G1.sample_motion_z(2, 100.0, generator=torch.Generator().manual_seed(0))
    assert torch.equal(G1(z, t, motion_z=mz), G2(z, t, motion_z=mz))
    r = _cli(
        "export", str(tmp_path / "run"), str(tmp_path / "g2.pt")
    )  # a run folder: its newest checkpoint
    assert r.returncode == 0, r.stderr
    assert torch.equal(
        load_checkpoint(tmp_path / "g2.pt")["G_ema"]["const"],
        load_checkpoint(dst)["G_ema"]["const"],
    )


def test_export_with_discriminator_keeps_d_and_the_data_spec(tmp_path):
    from svlib.checkpoint import export_generator, load_discriminator

    cfg = svlib.get_preset("tiny")
    train(cfg, DATA, tmp_path / "run", steps=2, progress=False, sample_frames=4, num_preview=2)
    src = tmp_path / "run" / "checkpoint-0000002.pt"
    assert load_checkpoint(src)["data"] == DATA  # the run records what it was trained on
    plain = export_generator(src, tmp_path / "g.pt")
    assert "D" not in load_checkpoint(plain) and load_checkpoint(plain)["data"] == DATA
    with pytest.raises(UsageError, match="holds no discriminator"):
        load_discriminator(plain)
    r = _cli("export", str(src), str(tmp_path / "gd.pt"), "--with-d", "--data", "synthetic:x")
    assert r.returncode == 0, r.stderr
    ck = load_checkpoint(tmp_path / "gd.pt")
    assert ck["data"] == "synthetic:x" and "opt_D" not in ck
    D, _ = load_discriminator(tmp_path / "gd.pt")
    trained = load_checkpoint(src)["D"]
    assert not D.training and all(torch.equal(v, trained[k]) for k, v in D.state_dict().items())
    x = torch.rand(2, cfg.D.num_frames, 3, cfg.D.resolution, cfg.D.resolution) * 2 - 1
    t = torch.arange(cfg.D.num_frames, dtype=torch.float32).expand(2, -1) * 2
    assert D(x, t).shape == (2,)  # one logit per video
    with pytest.raises(UsageError, match="holds no discriminator"):
        export_generator(plain, tmp_path / "gd2.pt", with_d=True)


def test_training_tracks_w_avg(tmp_path):
    """Truncation needs the running mean of w: training must update it (G and, through the EMA
    copy, G_ema)."""
    res = train(
        svlib.get_preset("tiny"),
        DATA,
        tmp_path,
        steps=2,
        progress=False,
        sample_frames=4,
        num_preview=2,
    )
    assert res["G_ema"].w_avg.abs().sum() > 0


def _batches(cfg, steps):
    from svlib.data import StepBatches, open_dataset

    ds = StepBatches(open_dataset(DATA, resolution=16), cfg, cfg.train.batch_size)
    return [ds[s] for s in steps]


def test_train_step_and_state_round_trip():
    from svlib.training import TrainingState, step_generator, train_step

    cfg = svlib.get_preset("tiny")
    state = TrainingState.create(cfg)
    assert state.cfg.train.r1_gamma == resolve_auto(cfg).train.r1_gamma  # autos resolved
    batches = _batches(cfg, range(3))
    stats = [train_step(state, b, step_generator(0, i)) for i, b in enumerate(batches[:2])]
    assert set(stats[0]) == {"loss_G", "loss_D", "D_real", "r1"} and "r1" not in stats[1]
    assert (state.step, state.cur_nimg) == (2, 2 * 4 * 3)
    copy_ = TrainingState.create(cfg)
    copy_.load_state_dict(state.state_dict())
    assert float(copy_.augment.p) == float(state.augment.p) and copy_.ada.steps == 2
    a = train_step(state, batches[2], step_generator(0, 2))
    b = train_step(copy_, batches[2], step_generator(0, 2))
    assert a == b and copy_.step == 3
    for name in ("G", "D", "G_ema"):
        assert torch.equal(_params(getattr(state, name)), _params(getattr(copy_, name)))
    with pytest.raises(ValueError, match=r"batch\['t'\]"):
        train_step(state, {**batches[0], "t": batches[0]["t"][:, :2]}, step_generator(0, 3))


def test_train_step_without_augmentation_or_motion():
    from svlib.training import TrainingState, step_generator, train_step

    cfg = svlib.get_preset("tiny", ["train.augment.mode=none", "G.motion=none"])
    state = TrainingState.create(cfg)
    assert state.augment is None and state.ada is None
    stats = train_step(state, _batches(cfg, [0])[0], step_generator(0, 0))
    assert np.isfinite(list(stats.values())).all() and "augment_p" not in state.state_dict()


def test_resume_names_every_differing_field(tmp_path):
    cfg = svlib.get_preset("tiny")
    train(cfg, DATA, tmp_path, steps=1, progress=False, sample_frames=2, num_preview=1)
    changed = svlib.get_preset("tiny", ["train.lr_g=0.002", "train.r1_interval=4"])
    apply = {"train.log_every": 5, "train.num_workers": 1, "train.total_kimg": 1.0}
    svlib.config.apply_overrides(changed, apply)  # allowed to differ on resume
    with pytest.raises(ValueError, match="checkpoint-0000001.pt") as e:
        train(changed, DATA, tmp_path, steps=2, resume=True, progress=False)
    msg = str(e.value)
    assert "train.lr_g: 0.0025 -> 0.002" in msg and "train.r1_interval: 2 -> 4" in msg
    assert "log_every" not in msg and "num_workers" not in msg and "total_kimg" not in msg
    ok = svlib.config.apply_overrides(svlib.get_preset("tiny"), apply)
    assert train(ok, DATA, tmp_path, steps=2, resume=True, progress=False)["step"] == 2
