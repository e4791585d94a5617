"""The checkpoint shipped for the book loads as data and generates videos."""

import torch

from svlib import book
from svlib.checkpoint import load_checkpoint
from svlib.generate import generate_frames


def test_shipped_checkpoint_generates_videos():
    data = load_checkpoint(book.PRETRAINED)
    assert set(data) >= {"config", "G_ema", "state"} and "D" not in data and "opt_G" not in data
    assert data["state"]["step"] > 0
    G, cfg = book.load_pretrained()
    assert cfg.name == "cpu" and cfg.G.resolution == 32
    v = generate_frames(G, 8, fps_factor=2.0, num_videos=2, seed=3)
    assert v.shape == (2, 8, 3, 32, 32) and torch.isfinite(v).all()
    assert (v[:, 1:] - v[:, :-1]).abs().mean() > 0  # it moves
    assert G.w_avg.abs().sum() > 0  # trained with w_avg tracking (truncation works)
