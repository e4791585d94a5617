"""StyleGAN-V holistic discriminator: one logit per video from sparse frames and their time gaps.

Frames go through the ResNet trunk independently down to `concat_res`, are concatenated along
channels in time order, and the rest of the trunk sees the whole clip. The conditioning vector cmap
comes from the time *gaps* between the frames (learned embedding of round(δ) ⊕ fixed Fourier
features), ⊕ the class label, through a mapping network; the logit is the projection
<features, cmap>/sqrt(cmap_dim). holistic=False gives a StyleGAN2 image D (one logit per frame).

This module holds the discriminator blocks (`DiscriminatorBlock`, the minibatch-std layer,
`DiscriminatorEpilogue`), the `TimeGapEncoder` and the `Discriminator` that wires them.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import DiscriminatorConfig
from .layers import Conv2dLayer, FullyConnectedLayer, MappingNetwork, channels_at, resolution_log2
from .ops import channels_last
from .utils import check_shape, needs_value_check


class DiscriminatorBlock(nn.Module):
    """ResNet D block at resolution r: [fromRGB] -> conv0 3x3 -> conv1 3x3 ↓2, plus a 1x1 ↓2 skip.

    Both branches are scaled by √½ so the sum keeps unit variance. conv0 and the skip take
    `in_channels` (which differs from `tmp_channels` right after frame concatenation).
    """

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        img_channels: int = 0,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.fromrgb = (
            Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
            if img_channels > 0
            else None
        )
        cin = tmp_channels if img_channels > 0 else in_channels
        self.conv0 = Conv2dLayer(cin, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(
            tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp
        )
        self.skip = Conv2dLayer(cin, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, r, r] -> [N, O, r/2, r/2]
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


def mbstd_group(group_size: int, n: int) -> int:
    """Effective minibatch-std group: the largest divisor of n that is <= group_size.

    1 means the layer is effectively disabled for this batch.
    """
    g = max(1, min(group_size, n))
    while n % g:
        g -= 1
    return g


class MinibatchStdLayer(nn.Module):
    """Appends `num_channels` maps holding the std over groups of samples.

    The std is averaged over channels and pixels. Samples n, n + N/G, n + 2N/G, ... form a group.
    The group is the largest divisor of N not above `group_size`, so any batch works; if that
    divisor is 1 the std is 0 and the channel is the constant sqrt(eps).
    """

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [N, C, H, W] -> [N, C + num_channels, H, W]
        N, C, H, W = x.shape
        G, Fc = mbstd_group(self.group_size, N), self.num_channels
        if C % Fc:
            raise ValueError(f"MinibatchStdLayer: channels {C} not divisible by num_channels {Fc}")
        y = x.float().reshape(G, -1, Fc, C // Fc, H, W)  # [G, n, F, c, H, W]
        y = (y - y.mean(0)).square().mean(0)  # variance over the group
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [n, F]
        y = y.reshape(-1, Fc, 1, 1).repeat(G, 1, H, W)  # [N, F, H, W]
        return torch.cat([x, y.to(x.dtype)], dim=1)


class DiscriminatorEpilogue(nn.Module):
    """4x4 head: [mbstd] -> conv 3x3 -> FC -> out FC.

    The output is 1 logit, or cmap_dim features projected onto the conditioning vector cmap.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        cmap_dim: int,
        resolution: int = 4,
        mbstd_group_size: int = 4,
        mbstd_num_channels: int = 1,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.cmap_dim = cmap_dim
        use_mbstd = mbstd_group_size > 1 and mbstd_num_channels > 0
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if use_mbstd else None
        self.conv = Conv2dLayer(
            in_channels + (mbstd_num_channels if use_mbstd else 0),
            channels,
            3,
            activation="lrelu",
            conv_clamp=conv_clamp,
        )
        self.fc = FullyConnectedLayer(channels * resolution**2, channels, activation="lrelu")
        self.out = FullyConnectedLayer(channels, cmap_dim if cmap_dim > 0 else 1)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:
        # x: [N, C, 4, 4], cmap: [N, cmap_dim] -> [N]
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1))).float()  # [N, cmap_dim or 1]
        if self.cmap_dim > 0:  # projection conditioning
            x = (x * cmap.float()).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x[:, 0]


class TimeGapEncoder(nn.Module):
    """t [B, F] -> gap code [B, (F-1)·(E + 2n)] of the gaps δ_i = t_{i+1} - t_i.

    Each gap gives Embedding[round δ] ⊕ sin/cos(π 2^k δ/M), M = max_time_gap.
    """

    def __init__(self, num_frames: int, max_time_gap: int, embed_dim: int, num_freqs: int):
        super().__init__()
        self.num_frames, self.max_time_gap = num_frames, max_time_gap
        self.embed = nn.Embedding(max_time_gap, embed_dim)
        self.register_buffer(
            "freqs",
            math.pi * 2.0 ** torch.arange(num_freqs).float() / max_time_gap,
            persistent=False,
        )  # [n]
        self.out_dim = (num_frames - 1) * (embed_dim + 2 * num_freqs)

    def check_gaps(self, t: torch.Tensor) -> None:
        """Raise ValueError unless the gaps of t [B, F] are finite, >= 0 and round below
        max_time_gap: gaps outside the table have no learned embedding, and clamping would silently
        alias them. One host sync on an accelerator; the training step runs it on its CPU times
        instead (`utils.values_checked_on_host`)."""
        d = (t[:, 1:] - t[:, :-1]).float()  # [B, F-1]
        if bool(((d < 0) | (d.round() >= self.max_time_gap) | ~torch.isfinite(d)).any()):
            raise ValueError(
                f"Discriminator: time gaps must be ascending (>= 0) and < max_time_gap="
                f"{self.max_time_gap}; got gaps {d.tolist() if d.numel() <= 32 else '...'}"
            )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        if needs_value_check(t):
            self.check_gaps(t)
        d = (t[:, 1:] - t[:, :-1]).float()  # [B, F-1]
        emb = self.embed(d.round().long())  # [B, F-1, E]
        arg = d[..., None] * self.freqs  # [B, F-1, n]
        return torch.cat([emb, arg.sin(), arg.cos()], dim=-1).flatten(1)


def concat_frames(h: torch.Tensor, batch_size: int) -> torch.Tensor:
    """[B·F, C, H, W] -> [B, F·C, H, W]: each video's frames as time-ordered channel groups."""
    N, C, H, W = h.shape
    return channels_last(h.reshape(batch_size, N // batch_size * C, H, W))


class Discriminator(nn.Module):
    """D(x [B, F, C, H, W], t [B, F], c) -> logits [B] (holistic) or [B, F] (holistic=False)."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        log2 = resolution_log2(cfg.resolution, "DiscriminatorConfig", minimum=8)
        ch = lambda r: channels_at(r, cfg.channel_base, cfg.channel_max)
        self.holistic = cfg.holistic
        nf = cfg.num_frames if cfg.holistic else 1
        if nf < 1:
            raise ValueError(f"DiscriminatorConfig.num_frames must be >= 1, got {cfg.num_frames}")
        block_res = [2**i for i in range(log2, 2, -1)]  # input resolution of each block: R, ..., 8
        # concat_at: index of the stage (block, or len(blocks) = epilogue) that receives the
        # concatenated frames
        if cfg.holistic:
            resolution_log2(cfg.concat_res, "DiscriminatorConfig.concat_res")
            self.concat_at = next(
                (k for k, r in enumerate(block_res) if r <= cfg.concat_res), len(block_res)
            )
            if ch(max(cfg.concat_res, 4)) // cfg.num_frames_div_factor < 1:
                raise ValueError(
                    "DiscriminatorConfig: num_frames_div_factor leaves no channels at concat_res"
                )
        else:
            self.concat_at = -1
        div = cfg.num_frames_div_factor
        self.blocks = nn.ModuleList()
        for k, r in enumerate(block_res):
            out = ch(r // 2) // div if self.concat_at == k + 1 else ch(r // 2)
            if k == 0:
                imgc = cfg.img_channels * (nf if self.concat_at == 0 else 1)
                self.blocks.append(
                    DiscriminatorBlock(0, ch(r), out, img_channels=imgc, conv_clamp=cfg.conv_clamp)
                )
            else:
                cin = nf * (ch(r) // div) if self.concat_at == k else ch(r)
                self.blocks.append(DiscriminatorBlock(cin, ch(r), out, conv_clamp=cfg.conv_clamp))
        epi_in = nf * (ch(4) // div) if self.concat_at == len(block_res) else ch(4)
        self.time_encoder = (
            TimeGapEncoder(nf, cfg.max_time_gap, cfg.gap_embed_dim, cfg.gap_num_freqs)
            if cfg.holistic and nf > 1
            else None
        )
        cond_dim = cfg.c_dim + (self.time_encoder.out_dim if self.time_encoder is not None else 0)
        cmap_dim = cfg.cmap_dim if cond_dim > 0 else 0
        self.mapping = (
            MappingNetwork(
                0, cond_dim, cmap_dim, cfg.mapping_layers, lr_multiplier=0.01, w_avg_beta=None
            )
            if cond_dim > 0
            else None
        )
        self.epilogue = DiscriminatorEpilogue(
            epi_in,
            ch(4),
            cmap_dim,
            4,
            cfg.mbstd_group_size,
            cfg.mbstd_num_channels,
            conv_clamp=cfg.conv_clamp,
        )

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | None = None, c: torch.Tensor | None = None
    ):
        cfg = self.cfg
        R = cfg.resolution
        if self.holistic:  # the channel groups after concatenation fix the clip length
            name = f"Discriminator (built for num_frames={cfg.num_frames}): x"
            check_shape(x, ["B", cfg.num_frames, cfg.img_channels, R, R], name)
        else:
            check_shape(x, ["B", "F", cfg.img_channels, R, R], "Discriminator: x")
        B, F_ = x.shape[:2]
        if self.time_encoder is not None:
            check_shape(t, [B, F_], "Discriminator: t")
        if cfg.c_dim > 0:
            check_shape(c, [B, cfg.c_dim], "Discriminator: c")
        h = channels_last(x.reshape(B * F_, *x.shape[2:]))  # [B·F, C, H, W] frames independent
        for k, block in enumerate(self.blocks):
            if k == self.concat_at:
                h = concat_frames(h, B)
            h = block(h)
        if self.concat_at == len(self.blocks):
            h = concat_frames(h, B)
        cmap = None
        if self.mapping is not None:
            parts = []
            if cfg.c_dim > 0:
                parts.append(c.float() if self.holistic else c.float().repeat_interleave(F_, dim=0))
            if self.time_encoder is not None:
                gaps = self.time_encoder(t)  # [B, (F-1)·(E + 2n)]
                # gap_conditioning=False: zeros of the same size (the official dummy_c), so the
                # layers stay and D learns one cmap for all clips. Unlike dummy_c, a class label
                # is kept: the switch is about the gaps only.
                parts.append(gaps if cfg.gap_conditioning else gaps * 0.0)
            cmap = self.mapping(None, torch.cat(parts, dim=1))  # [N, cmap_dim]
        out = self.epilogue(h, cmap)  # [B] or [B·F]
        return out if self.holistic else out.reshape(B, F_)
