"""Model construction helpers: build the (G, D) pair of a config, count parameters."""

from __future__ import annotations

import torch.nn as nn

from .checks import UsageError
from .config import Config
from .discriminator import Discriminator
from .generator import Generator
from .video_d import DualDiscriminator


def build_models(cfg: Config) -> tuple[Generator, Discriminator | DualDiscriminator]:
    """(G, D) for a config. Deterministic given the global torch seed (G is built first, then D).

    D is the holistic `Discriminator`, or the image + video pair for D.kind="image+video"."""
    if cfg.G.resolution != cfg.D.resolution:
        raise ValueError(f"G and D resolutions differ: {cfg.G.resolution} vs {cfg.D.resolution}")
    if cfg.D.kind == "image+video":
        if cfg.D.video.num_frames > cfg.sampling.max_num_frames:  # no window holds a dense clip
            raise UsageError(
                f"D.video.num_frames={cfg.D.video.num_frames} is longer than the window of "
                f"sampling.max_num_frames={cfg.sampling.max_num_frames} frames"
            )
    elif cfg.D.holistic and cfg.D.num_frames != cfg.sampling.num_frames:
        raise ValueError(
            f"D.num_frames={cfg.D.num_frames} differs from "
            f"sampling.num_frames={cfg.sampling.num_frames}"
        )
    return Generator(cfg.G), build_discriminator(cfg)


def build_discriminator(cfg: Config) -> Discriminator | DualDiscriminator:
    """D alone: the holistic `Discriminator`, or the image + video pair for D.kind="image+video"."""
    return DualDiscriminator(cfg.D) if cfg.D.kind == "image+video" else Discriminator(cfg.D)


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (buffers excluded)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
