"""The discriminator pair StyleGAN-V replaces: an image D on single frames + a 3D-conv video D.

MoCoGAN, MoCoGAN-HD, DIGAN and the paper's MoCoGAN+SG2 baseline judge videos with two networks:
an image discriminator that scores every frame on its own (appearance) and a video discriminator
that scores a dense clip of consecutive frames with 3D convolutions (motion). StyleGAN-V's holistic
D (`svlib.discriminator`) replaces both with one network on a few sparse frames; `D.kind =
"image+video"` builds the pair instead, so the two designs can be trained against each other at an
equal budget.

`VideoDiscriminator` is written in svlib's StyleGAN2 style, so the two pairs differ in what they
see rather than in how they are built: equalized learning rate, residual blocks with √½ gains,
leaky ReLU, a minibatch-std layer over videos, the channel rule `channels_at`. It departs from the
official baseline's video D (a DCGAN-style stack with BatchNorm and input noise, time shrunk by
unpadded 4×4×4 convs); the baseline's ×0.1 video-D learning rate is kept, as `lr_multiplier`.
The baseline's image D scores the 16 frames of its dense clip; here it scores the F sparse frames
the holistic D would see, so an ablation changes how videos are judged and nothing else (G, the
sparse sampling and the image path stay as they are).

`DualDiscriminator` holds `Discriminator(holistic=False)` as the image D and the video D:
D(x [B, F, C, H, W], t [B, F], clip [B, L, C, H, W]) -> (image logits [B, F], video logits [B]).
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import UsageError
from .config import DiscriminatorConfig
from .discriminator import Discriminator, mbstd_group
from .layers import FullyConnectedLayer, channels_at, resolution_log2
from .ops import ACT_GAIN, bias_act
from .utils import check_shape


class Conv3dLayer(nn.Module):
    """Equalized-lr 3D conv ('same' padding), optional average-pool downsampling, bias, activation.

    down = (dt, ds): average-pool dt frames × ds × ds pixels before the convolution, which then
    runs at the lower resolution: a box low-pass and subsampling, the 3D counterpart of StyleGAN2's
    FIR blur before its strided down-sampling convs (and as cheap). The activation carries its
    variance-preserving gain (√2 for lrelu).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        down: tuple[int, int] = (1, 1),
        conv_clamp: float | None = None,
        lr_multiplier: float = 1.0,
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.activation = in_channels, out_channels, activation
        self.down, self.conv_clamp, self.padding = tuple(down), conv_clamp, kernel_size // 2
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size, kernel_size)
            / lr_multiplier
        )
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * kernel_size**3)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        # x: [N, I, T, H, W] -> [N, O, T/dt, H/ds, W/ds]
        dt, ds = self.down
        if dt > 1 or ds > 1:
            x = F.avg_pool3d(x, (dt, ds, ds))
        g = ACT_GAIN[self.activation] * gain  # rides on the weights: act(g·v) = g·act(v), g >= 0
        x = F.conv3d(x, self.weight * (self.weight_gain * g), padding=self.padding)
        b = None if self.bias is None else self.bias * (self.bias_gain * g)
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, b, act=self.activation, gain=1, clamp=clamp)

    def extra_repr(self):
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.weight.shape[-1]}, "
            f"act={self.activation}, down={self.down}"
        )


class VideoDiscriminatorBlock(nn.Module):
    """Residual 3D block at resolution r: [fromRGB 1³] -> conv 3³ -> pool + conv 3³, plus a pooled
    1³ skip; both branches scaled by √½. Time is pooled by 2 too when `down_time`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        img_channels: int = 0,
        down_time: bool = True,
        conv_clamp: float | None = None,
        lr_multiplier: float = 1.0,
    ):
        super().__init__()
        kw = dict(conv_clamp=conv_clamp, lr_multiplier=lr_multiplier)
        self.fromrgb = (
            Conv3dLayer(img_channels, in_channels, 1, activation="lrelu", **kw)
            if img_channels > 0
            else None
        )
        down = (2 if down_time else 1, 2)
        self.conv0 = Conv3dLayer(in_channels, in_channels, 3, activation="lrelu", **kw)
        self.conv1 = Conv3dLayer(in_channels, out_channels, 3, activation="lrelu", down=down, **kw)
        self.skip = Conv3dLayer(
            in_channels, out_channels, 1, bias=False, down=down, lr_multiplier=lr_multiplier
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, T, r, r] -> [N, O, T', r/2, r/2]
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        y = self.skip(x, gain=math.sqrt(0.5))
        return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class VideoMinibatchStd(nn.Module):
    """Appends one channel per `num_channels` group: the std over groups of *videos*, averaged over
    channels, frames and pixels (StyleGAN2's minibatch std, one axis more)."""

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, C, T, H, W] -> [N, C + num_channels, T, H, W]
        N, C, T, H, W = x.shape
        G, Fc = mbstd_group(self.group_size, N), self.num_channels
        y = x.float().reshape(G, -1, Fc, C // Fc, T, H, W)  # [G, n, Fc, c, T, H, W]
        y = (y - y.mean(0)).square().mean(0)  # variance over the group
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4, 5])  # [n, Fc]
        y = y.reshape(-1, Fc, 1, 1, 1).repeat(G, 1, T, H, W)  # [N, Fc, T, H, W]
        return torch.cat([x, y.to(x.dtype)], dim=1)


def video_d_channels(cfg: DiscriminatorConfig):
    """The video D's channel rule r -> channels (its own base and cap, or the image D's)."""
    v = cfg.video
    base = cfg.channel_base if v.channel_base is None else v.channel_base
    cap = cfg.channel_max if v.channel_max is None else v.channel_max
    return lambda r: channels_at(r, base, cap)


def time_halvings(cfg: DiscriminatorConfig) -> int:
    """How many blocks halve the time axis: log2(num_frames / epilogue_frames), checked.

    Raises a `UsageError` naming the field when the clip cannot be halved down to the epilogue."""
    v, name = cfg.video, "D.video"
    for field_name, value in (("num_frames", v.num_frames), ("epilogue_frames", v.epilogue_frames)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{name}.{field_name} must be an integer >= 1, got {value!r}")
    blocks = resolution_log2(cfg.resolution, "DiscriminatorConfig", minimum=8) - 2
    ratio = v.num_frames // v.epilogue_frames
    if v.num_frames % v.epilogue_frames or ratio & (ratio - 1):
        raise UsageError(
            f"{name}.num_frames={v.num_frames} cannot be halved down to {name}.epilogue_frames="
            f"{v.epilogue_frames}: use epilogue_frames · 2^k frames"
        )
    k = ratio.bit_length() - 1
    if k > blocks:
        raise UsageError(
            f"{name}.num_frames={v.num_frames} needs {k} time halvings to reach "
            f"epilogue_frames={v.epilogue_frames}, but a {cfg.resolution}² D has {blocks} blocks: "
            f"use at most {v.epilogue_frames * 2**blocks} frames or raise epilogue_frames"
        )
    return k


def check_video_d_config(cfg: DiscriminatorConfig) -> None:
    """Refuse a `D.video` that cannot be built or trained, with one line naming the field."""
    v = cfg.video
    time_halvings(cfg)
    for field_name, value in (("channel_base", v.channel_base), ("channel_max", v.channel_max)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise UsageError(f"D.video.{field_name} must be None or an integer >= 1, got {value!r}")
    ch = video_d_channels(cfg)
    if ch(cfg.resolution) < 1:
        raise UsageError(f"D.video: channel_base leaves no channels at {cfg.resolution}²")
    if not v.lr_multiplier > 0:
        raise UsageError(f"D.video.lr_multiplier must be > 0, got {v.lr_multiplier!r}")
    for field_name in ("loss_weight", "r1_weight"):
        if not getattr(v, field_name) >= 0:
            raise UsageError(f"D.video.{field_name} must be >= 0, got {getattr(v, field_name)!r}")
    if cfg.c_dim:
        raise UsageError(
            f"D.kind=image+video trains unconditional models only: D.c_dim must be 0, got "
            f"{cfg.c_dim}"
        )


class VideoDiscriminator(nn.Module):
    """3D-conv video D: clip [B, L, C, H, W] of consecutive frames -> one logit per video [B].

    Blocks at R, R/2, ..., 8 halve the space (and, the first log2(L / epilogue_frames) of them,
    time); a 4×4 epilogue with a minibatch std over videos, a 3³ conv and two FC layers gives the
    logit. Every layer has the equalized-lr multiplier `cfg.video.lr_multiplier`.
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        check_video_d_config(cfg)
        self.cfg, v = cfg, cfg.video
        log2 = resolution_log2(cfg.resolution, "DiscriminatorConfig", minimum=8)
        halvings, ch = time_halvings(cfg), video_d_channels(cfg)
        kw = dict(conv_clamp=cfg.conv_clamp, lr_multiplier=v.lr_multiplier)
        self.blocks = nn.ModuleList(
            VideoDiscriminatorBlock(
                ch(2**i),
                ch(2 ** (i - 1)),
                img_channels=cfg.img_channels if i == log2 else 0,
                down_time=log2 - i < halvings,
                **kw,
            )
            for i in range(log2, 2, -1)
        )
        use_mbstd = cfg.mbstd_group_size > 1 and cfg.mbstd_num_channels > 0
        nc = cfg.mbstd_num_channels if use_mbstd else 0
        self.mbstd = VideoMinibatchStd(cfg.mbstd_group_size, nc) if use_mbstd else None
        self.conv = Conv3dLayer(ch(4) + nc, ch(4), 3, activation="lrelu", **kw)
        self.fc = FullyConnectedLayer(
            ch(4) * v.epilogue_frames * 16, ch(4), activation="lrelu", lr_multiplier=v.lr_multiplier
        )
        self.out = FullyConnectedLayer(ch(4), 1, lr_multiplier=v.lr_multiplier)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        cfg, R = self.cfg, self.cfg.resolution
        name = f"VideoDiscriminator (built for D.video.num_frames={cfg.video.num_frames}): clip"
        check_shape(clip, ["B", cfg.video.num_frames, cfg.img_channels, R, R], name)
        h = clip.transpose(1, 2)  # [B, C, L, H, W]: conv3d wants channels before time
        for block in self.blocks:
            h = block(h)  # ... -> [B, ch(4), epilogue_frames, 4, 4]
        if self.mbstd is not None:
            h = self.mbstd(h)
        h = self.conv(h)
        return self.out(self.fc(h.flatten(1))).float()[:, 0]  # [B]


class DualDiscriminator(nn.Module):
    """Image D on single frames + video D on dense clips (`D.kind = "image+video"`).

    D(x [B, F, C, H, W], t [B, F], clip [B, L, C, H, W]) -> (logits [B, F], video logits [B]).
    The image D is svlib's `Discriminator` with holistic=False (a StyleGAN2 D scoring each frame;
    `t` is not used by it); the video D is `VideoDiscriminator`. Call `image_d` or `video_d` alone
    to score one input.
    """

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        check_video_d_config(cfg)
        self.cfg = cfg
        self.image_d = Discriminator(dataclasses.replace(cfg, holistic=False))
        self.video_d = VideoDiscriminator(cfg)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | None, clip: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return self.image_d(x, t), self.video_d(clip)
