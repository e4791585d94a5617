"""Explicit configuration: dataclasses with documented defaults, and named presets.

Defaults reproduce the paper's 256² configuration (Skorokhodov et al., CVPR 2022, official `auto`
config as described in the design spec). Every departure is a named option with a comment.
Modules receive only their own sub-config, never the whole `Config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class MotionConfig:
    """The motion path: noise on a coarse time grid -> conv1d -> aligned sinusoidal embedding v(t)."""

    z_dim: int = 512  # motion noise dimensionality (motion_z ~ N(0, I))
    code_dim: int = 512  # motion code u dimensionality (conv1d output channels)
    time_dim: int = 256  # K sinusoids; v(t) = [sin, cos] has 2K dims
    min_period: float = (
        16.0  # shortest period P_min; also the grid spacing δz (linked in the official code)
    )
    max_period: float = 1024.0  # longest period P_max; phases are scaled by ρ = P_max / P_k
    kernel_size: int = (
        11  # padding-free conv1d kernel; each u_j sees num_layers*(k-1)+1 noise vectors
    )
    num_layers: int = 2  # conv1d layers in the motion mapping network
    lr_multiplier: float = (
        0.01  # equalized-lr multiplier of the conv1d layers (as the StyleGAN2 mapping)
    )

    @property
    def grid_spacing(self) -> float:
        """δz: distance between motion codes on the time axis."""
        return self.min_period


@dataclass
class GeneratorConfig:
    resolution: int = 256  # output frames are resolution × resolution
    img_channels: int = 3
    z_dim: int = 512  # content code z
    w_dim: int = 512  # intermediate latent w
    c_dim: int = 0  # class-label dimensionality (0 = unconditional)
    mapping_layers: int = 2  # the paper's `auto` config uses 2 FC layers, not StyleGAN2's 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = (
        16384  # channels at res r = min(channel_base / r, channel_max); fmaps 0.5 × 32768
    )
    channel_max: int = 512
    conv_clamp: float | None = 256.0  # clamp conv outputs (keeps mixed precision stable)
    w_avg_beta: float = 0.995  # EMA of w for truncation
    # None turns the network into a plain StyleGAN2 image generator (learned 4×4 constant, no motion path),
    # used for cost comparisons and the StyleGAN2 chapter.
    motion: MotionConfig | None = field(default_factory=MotionConfig)


@dataclass
class DiscriminatorConfig:
    resolution: int = 256
    img_channels: int = 3
    c_dim: int = 0  # class-label dimensionality (0 = unconditional)
    num_frames: int = 3  # F frames per clip; fixes the in-channels after concatenation
    channel_base: int = 16384
    channel_max: int = 512
    concat_res: int = (
        16  # frames are processed independently down to this resolution, then concatenated
    )
    num_frames_div_factor: int = (
        2  # out-channels of the block producing concat_res are divided by this
    )
    mbstd_group_size: int = 4  # minibatch-stddev group (0 or 1 disables it)
    mbstd_num_channels: int = 1
    cmap_dim: int = 512  # projection-conditioning dimensionality
    mapping_layers: int = 2  # layers of the conditioning mapping network
    max_time_gap: int = 1024  # size of the learned embedding table of rounded time gaps δ
    gap_embed_dim: int = 256  # learned gap-embedding dimensionality
    gap_num_freqs: int = (
        10  # fixed Fourier features sin/cos(π 2^k δ / max_time_gap), k < gap_num_freqs
    )
    conv_clamp: float | None = 256.0
    # False gives the plain StyleGAN2 image discriminator (one logit per frame, no time conditioning),
    # used for cost comparisons.
    holistic: bool = True


@dataclass
class SamplingConfig:
    """Sparse clip sampling (paper §3.3, `random_frame_sampling`)."""

    num_frames: int = 3  # F frames per training clip (2 also works)
    max_dist: int = 32  # largest total span T between the first and the last frame
    max_num_frames: int = 1024  # longer videos are cut to a random window of this many frames


@dataclass
class TrainConfig:
    batch_size: int = 64  # videos per step, over all devices (paper: 4 GPUs × 16)
    total_kimg: float = (
        25000.0  # length in thousands of *frames* shown to D, as the official code counts
    )
    lr_g: float = 0.0025
    lr_d: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    eps: float = 1e-8
    r1_gamma: float | None = None  # None -> the `auto` heuristic 0.0002 · res² / batch_size
    r1_interval: int = 16  # lazy R1 every this many D steps (applied with gain r1_interval)
    g_reg_interval: int = 4  # only rescales G's Adam hyper-parameters, as in the official code
    ema_kimg: float | None = (
        None  # EMA half-life in thousands of videos; None -> batch_size · 10 / 32
    )
    ema_rampup: float | None = None  # the official code disables the ramp-up for fresh runs
    augment: str = "ada"  # "ada" (adaptive p), "fixed" (p = augment_p), "none"
    augment_p: float = 0.0  # initial (or fixed) augmentation probability
    augment_pipe: str = "bgc"  # ADA op set: blit + geometric + colour, as the paper
    augment_disable: tuple[
        str, ...
    ] = ()  # ops to leave out, e.g. ("rotate90",): on small datasets it can leak into G
    ada_target: float = 0.6  # target of E[sign(D(real))]
    ada_interval: int = 4  # adjust p every this many steps
    ada_kimg: float = (
        100.0  # p can go 0 -> 1 in this many thousand videos (official fresh-run value)
    )
    mirror: bool = True  # dataset x-flips (whole videos)
    amp: str = "auto"  # "auto" (bf16 autocast where supported), "bf16", "fp16", "off"
    compile: bool = False  # torch.compile G and D
    seed: int = 0
    log_every: int = 10  # steps between JSONL log lines
    sample_every: int = 500  # steps between sample-video grids
    checkpoint_every: int = 500  # steps between checkpoints
    num_workers: int = 3  # data-loader workers per process


@dataclass
class Config:
    name: str = "paper256"
    G: GeneratorConfig = field(default_factory=GeneratorConfig)
    D: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of Python scalars/lists (safe for `torch.load(weights_only=True)` and JSON)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        d = dict(d)
        g = dict(d.get("G", {}))
        motion = g.pop("motion", {})
        gcfg = GeneratorConfig(**g, motion=None if motion is None else MotionConfig(**motion))
        tr = dict(d.get("train", {}))
        for key in ("betas", "augment_disable"):
            if key in tr:
                tr[key] = tuple(tr[key])
        return cls(
            name=d.get("name", "custom"),
            G=gcfg,
            D=DiscriminatorConfig(**d.get("D", {})),
            sampling=SamplingConfig(**d.get("sampling", {})),
            train=TrainConfig(**tr),
        )


def _to_plain(x):
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_plain(v) for v in x]
    return x


# ----------------------------------------------------------------------------------------------
# Presets


def _paper256() -> Config:
    return Config(name="paper256")


def _paper1024() -> Config:
    # MEAD 1024²: fmaps 1 (channel_base 32768), lr 0.002, batch 16 and F=2 ("highres" experiment).
    c = Config(name="paper1024")
    c.G.resolution = c.D.resolution = 1024
    c.G.channel_base = c.D.channel_base = 32768
    c.D.num_frames = c.sampling.num_frames = 2
    c.train.batch_size = 16
    c.train.lr_g = c.train.lr_d = 0.002
    return c


def _colab() -> Config:
    # One 16 GB GPU (Colab T4/L4): 128², half the channels above 16², batch 32.
    # Departure from the paper: smaller width and batch so a run fits a free GPU session.
    c = Config(name="colab")
    c.G.resolution = c.D.resolution = 128
    c.G.channel_base = c.D.channel_base = 8192
    c.G.channel_max = c.D.channel_max = 256
    c.train.batch_size = 32
    c.train.num_workers = 2
    c.train.sample_every = c.train.checkpoint_every = 1000
    return c


def _cpu() -> Config:
    # Two CPU cores, 32²: narrow network, small latents, short periods so the motion of the
    # synthetic datasets (a few dozen frames per cycle) is reachable. Departures: all widths, batch 8.
    c = Config(name="cpu")
    c.G.resolution = c.D.resolution = 32
    c.G.z_dim = c.G.w_dim = 128
    c.G.channel_base = c.D.channel_base = (
        1024  # 64 channels up to 16², 32 at 32²: ~5× faster than 128
    )
    c.G.channel_max = c.D.channel_max = 64
    c.G.motion = MotionConfig(
        z_dim=128, code_dim=128, time_dim=64, min_period=8.0, max_period=256.0
    )
    c.D.cmap_dim = 128
    c.D.gap_embed_dim = 64
    c.D.max_time_gap = 256
    c.sampling.max_dist = 16
    c.sampling.max_num_frames = 256
    c.train.batch_size = 8
    c.train.total_kimg = 100.0
    c.train.num_workers = 0
    c.train.log_every = 10
    c.train.sample_every = c.train.checkpoint_every = 200
    return c


PRESETS = {"paper256": _paper256, "paper1024": _paper1024, "colab": _colab, "cpu": _cpu}


def get_preset(name: str, **overrides: Any) -> Config:
    """A fresh `Config` for a named preset. `resolution=` overrides G and D together.

    >>> get_preset("cpu", resolution=64).G.resolution
    64
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    res = overrides.pop("resolution", None)
    if res is not None:
        if res < 8 or res & (res - 1):
            raise ValueError(f"resolution must be a power of two >= 8, got {res}")
        cfg.G.resolution = cfg.D.resolution = res
    nf = overrides.pop("num_frames", None)
    if nf is not None:
        cfg.D.num_frames = cfg.sampling.num_frames = nf
    for k, v in overrides.items():
        if not hasattr(cfg.train, k):
            raise ValueError(f"unknown override {k!r} for preset {name!r}")
        setattr(cfg.train, k, v)
    return cfg
