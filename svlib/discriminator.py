"""StyleGAN-V holistic discriminator: one logit per video from sparse frames and their time gaps.

Frames go through the ResNet trunk independently down to `concat_res`, are concatenated along channels in time order,
and the rest of the trunk sees the whole clip. The conditioning vector cmap comes from the time *gaps* between the
frames (learned embedding of round(δ) ⊕ fixed Fourier features), ⊕ the class label, through a mapping network; the
logit is the projection <features, cmap>/sqrt(cmap_dim). holistic=False gives a StyleGAN2 image D (one logit per frame).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import DiscriminatorConfig
from .generator import _check_resolution
from .layers import DiscriminatorBlock, DiscriminatorEpilogue, MappingNetwork


class TimeGapEncoder(nn.Module):
    """t [B, F] -> gap code [B, (F-1)·(E + 2n)]: δ_i = t_{i+1} - t_i: Embedding[round δ] ⊕ sin/cos(π 2^k δ/M)."""

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

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        d = (t[:, 1:] - t[:, :-1]).float()  # [B, F-1]
        if (
            not torch.compiler.is_compiling() and d.device.type != "meta"
        ):  # meta: shape-only FLOP counting
            # Gaps outside the table have no learned embedding; clamping would silently alias them, so refuse.
            if bool(((d < 0) | (d.round() >= self.max_time_gap) | ~torch.isfinite(d)).any()):
                raise ValueError(
                    f"Discriminator: time gaps must be ascending (>= 0) and < max_time_gap="
                    f"{self.max_time_gap}; got gaps {d.tolist() if d.numel() <= 32 else '...'}"
                )
        emb = self.embed(d.round().long())  # [B, F-1, E]
        arg = d[..., None] * self.freqs  # [B, F-1, n]
        return torch.cat([emb, arg.sin(), arg.cos()], dim=-1).flatten(1)


class Discriminator(nn.Module):
    """D(x [B, F, C, H, W], t [B, F], c) -> logits [B] (holistic) or [B, F] (holistic=False)."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        log2 = _check_resolution(cfg.resolution, "DiscriminatorConfig", minimum=8)
        ch = lambda r: min(cfg.channel_base // r, cfg.channel_max)
        self.holistic = cfg.holistic
        nf = cfg.num_frames if cfg.holistic else 1
        if nf < 1:
            raise ValueError(f"DiscriminatorConfig.num_frames must be >= 1, got {cfg.num_frames}")
        block_res = [2**i for i in range(log2, 2, -1)]  # input resolution of each block: R, ..., 8
        # concat_at: index of the stage (block, or len(blocks) = epilogue) that receives the concatenated frames
        if cfg.holistic:
            _check_resolution(cfg.concat_res, "DiscriminatorConfig.concat_res")
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
        if (
            x.ndim != 5
            or x.shape[2] != cfg.img_channels
            or x.shape[3:] != (cfg.resolution, cfg.resolution)
        ):
            raise ValueError(
                f"Discriminator: x must be [B, F, {cfg.img_channels}, {cfg.resolution}, "
                f"{cfg.resolution}], got {tuple(x.shape)}"
            )
        B, F_ = x.shape[:2]
        if self.holistic and F_ != cfg.num_frames:
            raise ValueError(f"Discriminator: built for num_frames={cfg.num_frames}, got F={F_}")
        if self.time_encoder is not None and (t is None or tuple(t.shape) != (B, F_)):
            raise ValueError(
                f"Discriminator: t must be [B={B}, F={F_}], got {None if t is None else tuple(t.shape)}"
            )
        if cfg.c_dim > 0 and (c is None or tuple(c.shape) != (B, cfg.c_dim)):
            raise ValueError(
                f"Discriminator: c must be [B={B}, {cfg.c_dim}], got "
                f"{None if c is None else tuple(c.shape)}"
            )
        h = x.reshape(B * F_, *x.shape[2:])  # [B·F, C, H, W] frames independent
        for k, block in enumerate(self.blocks):
            if k == self.concat_at:
                h = h.reshape(
                    B, F_ * h.shape[1], *h.shape[2:]
                )  # [B, F·C', h, w], time-ordered channel groups
            h = block(h)
        if self.concat_at == len(self.blocks):
            h = h.reshape(B, F_ * h.shape[1], *h.shape[2:])
        cmap = None
        if self.mapping is not None:
            parts = []
            if cfg.c_dim > 0:
                parts.append(c.float() if self.holistic else c.float().repeat_interleave(F_, dim=0))
            if self.time_encoder is not None:
                parts.append(self.time_encoder(t))
            cmap = self.mapping(None, torch.cat(parts, dim=1))  # [N, cmap_dim]
        out = self.epilogue(h, cmap)  # [B] or [B·F]
        return out if self.holistic else out.reshape(B, F_)
