"""The checkpoint shipped for the book loads as data, generates videos and judges clips."""

import torch

from svlib import book
from svlib.checkpoint import load_checkpoint, load_discriminator
from svlib.data import ClipDataset, open_dataset
from svlib.generate import generate_frames


def test_shipped_checkpoint_generates_videos():
    data = load_checkpoint(book.PRETRAINED)
    assert set(data) >= {"config", "G_ema", "state", "D", "data"} and "opt_G" not in data
    assert data["state"]["step"] > 0
    G, cfg = book.load_pretrained()
    assert cfg.name == "cpu" and cfg.G.resolution == 32
    v = generate_frames(G, 8, fps_factor=2.0, num_videos=2, seed=3)
    assert v.shape == (2, 8, 3, 32, 32) and torch.isfinite(v).all()
    assert (v[:, 1:] - v[:, :-1]).abs().mean() > 0  # it moves
    assert G.w_avg.abs().sum() > 0  # trained with w_avg tracking (truncation works)


def test_shipped_discriminator_and_data_spec():
    # chapter 5 judges real clips with the shipped D, on videos of the shipped model's own data
    spec = book.pretrained_data(n=4, length=64, seed=1)
    assert spec.startswith("synthetic:shapes?") and "seed=1" in spec and "n=4" in spec
    assert load_checkpoint(book.PRETRAINED)["data"] in book.pretrained_data()
    D, cfg = load_discriminator(book.PRETRAINED)
    clips = ClipDataset(open_dataset(spec, resolution=cfg.D.resolution), cfg.sampling, seed=0)
    batch = [clips[k] for k in range(4)]
    x = torch.stack([b["frames"] for b in batch]).float() / 127.5 - 1  # [4, F, 3, R, R]
    t = torch.stack([b["t"] for b in batch])  # [4, F]
    with torch.no_grad():
        real, rev = D(x, t), D(x.flip(1), t)
    assert real.shape == (4,) and torch.isfinite(real).all()
    assert (real - rev).abs().max() > 1e-3  # the frames' order reaches the logit


def test_cached_upsampling_result_is_of_the_shipped_model():
    # chapter 7 reads this cache instead of scoring for an hour; a re-trained model needs a re-run
    import json
    from pathlib import Path

    cached = json.loads((book.ASSETS / "demo32_upsampling.json").read_text())
    assert cached["step"] == load_checkpoint(book.PRETRAINED)["state"]["step"]
    assert cached["data"] == load_checkpoint(book.PRETRAINED)["data"] and cached["n"] >= 256
    up = cached["variants"]["paper"]["upsampling"]
    for method in ("continuous t", "linear blend", "frame repeat"):
        for measure in ("fvd16", "W1/σ speed", "W1/σ accel"):
            stat = up[f"{method}: {measure}"]
            assert len(stat["values"]) == len(cached["seeds"]) >= 2
    results = Path(__file__).resolve().parents[1] / "bench" / "results" / "ablations"
    if (
        results / "upsampling.json"
    ).exists():  # the repository's copy (absent in an installed svlib)
        assert json.loads((results / "upsampling.json").read_text()) == cached
