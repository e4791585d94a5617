"""StyleGAN-V generator: StyleGAN2 'skip' synthesis whose 4x4 input is a learned constant ⊕ the
motion embedding v(t).

Content: z -> mapping -> w, the same w for every frame of a video. Motion: motion_z -> u codes ->
v(t) (svlib.motion), concatenated channel-wise with the constant at 4x4 and fed to the first
modulated conv. cfg.motion None gives a plain StyleGAN2 image generator (t then only sets the
number of frames F).

This module holds the synthesis blocks (`SynthesisLayer`, `ToRGB`, `SynthesisBlock`) and the
`Generator` that wires them to the mapping network and the motion path.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import GeneratorConfig
from .layers import FullyConnectedLayer, MappingNetwork, channels_at, resolution_log2
from .motion import MotionNetwork, motion_z_length
from .ops import bias_act, channels_last, fir_filter, modulated_conv2d, upsample2d
from .utils import check_shape


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally ×2 upsampling), bias, lrelu·√2, clamp.

    No noise input: StyleGAN-V drops StyleGAN2's per-pixel noise.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        up: int = 1,
        conv_clamp: float | None = None,
        kernel_size: int = 3,
    ):
        super().__init__()
        self.up, self.conv_clamp, self.padding = up, conv_clamp, kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = False) -> torch.Tensor:
        styles = self.affine(w)  # [N, I]
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            demodulate=True,
            up=self.up,
            padding=self.padding,
            f=self.resample_filter,
            fused=fused,
        )
        return bias_act(x, self.bias, act="lrelu", clamp=self.conv_clamp)


class ToRGB(nn.Module):
    """Modulated 1x1 conv to image channels, no demodulation, linear, clamp."""

    def __init__(
        self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None
    ):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = False) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False, fused=fused)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution of the 'skip' generator: [conv0 (↑2)] -> conv1 -> ToRGB.

    The image is accumulated across resolutions: image = upsample(image) + rgb. The 4x4 block
    (in_channels=0 -> no conv0) takes its input from the caller (learned constant, possibly with the
    motion embedding concatenated), so its conv1 has `conv1_in` input channels.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None = None,
        conv1_in: int | None = None,
    ):
        super().__init__()
        self.resolution = resolution
        self.conv0 = (
            SynthesisLayer(in_channels, out_channels, w_dim, up=2, conv_clamp=conv_clamp)
            if in_channels > 0
            else None
        )
        self.conv1 = SynthesisLayer(
            out_channels if conv1_in is None else conv1_in,
            out_channels,
            w_dim,
            conv_clamp=conv_clamp,
        )
        self.torgb = ToRGB(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(self, x, img, w, fused: bool = False):
        # x: [N, C, r/2, r/2] (or the 4x4 input), img: [N, C_img, r/2, r/2] or None, w: [N, w_dim]
        if self.conv0 is not None:
            x = self.conv0(x, w, fused)
        x = self.conv1(x, w, fused)
        y = self.torgb(x, w, fused)
        img = y if img is None else upsample2d(img, self.resample_filter).to(y.dtype) + y
        return x, img  # [N, C', r, r], [N, C_img, r, r]


class Generator(nn.Module):
    """G(z [B, z_dim], t [B, F]) -> frames [B, F, C, H, W] in about [-1, 1]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        log2 = resolution_log2(cfg.resolution, "GeneratorConfig")
        ch = lambda r: channels_at(r, cfg.channel_base, cfg.channel_max)
        self.mapping = MappingNetwork(
            cfg.z_dim,
            cfg.c_dim,
            cfg.w_dim,
            cfg.mapping_layers,
            cfg.mapping_lr_multiplier,
            cfg.w_avg_beta,
        )
        self.motion = MotionNetwork(cfg.motion, cfg.c_dim) if cfg.motion is not None else None
        v_dim = self.motion.out_dim if self.motion is not None else 0
        self.const = nn.Parameter(torch.randn(1, ch(4), 4, 4))  # [1, C4, 4, 4]
        self.blocks = nn.ModuleList()
        for r in (2**i for i in range(2, log2 + 1)):
            self.blocks.append(
                SynthesisBlock(
                    0 if r == 4 else ch(r // 2),
                    ch(r),
                    cfg.w_dim,
                    r,
                    cfg.img_channels,
                    conv_clamp=cfg.conv_clamp,
                    conv1_in=ch(4) + v_dim if r == 4 else None,
                )
            )
        # Modulated-conv form: False scales activations around one shared-weight conv (fast for
        # many frames); True uses per-sample weights in a grouped conv. Same function either way.
        self.fused_modconv = False

    @property
    def w_avg(self) -> torch.Tensor:  # [w_dim], EMA of w for truncation
        return self.mapping.w_avg

    @property
    def z_dim(self) -> int:
        return self.cfg.z_dim

    def _device(self, device=None) -> torch.device:
        return torch.device(device) if device is not None else self.const.device

    def sample_motion_z(
        self, batch_size: int, t_max: float, generator: torch.Generator | None = None, device=None
    ) -> torch.Tensor | None:
        """motion_z [B, L, motion.z_dim] covering every t in [0, t_max] (None in image mode).

        Drawn time-major ([L, B, z] then transposed), so with the same generator seed a longer draw
        is an extension of a shorter one for every video: frames at the covered t stay identical.
        """
        if self.motion is None:
            return None
        L = motion_z_length(self.cfg.motion, float(t_max))
        gdev = generator.device if generator is not None else self._device(device)
        z = torch.randn(L, batch_size, self.cfg.motion.z_dim, generator=generator, device=gdev)
        return z.transpose(0, 1).contiguous().to(self._device(device))

    def motion_embedding(
        self,
        t: torch.Tensor,
        motion_z: torch.Tensor,
        c: torch.Tensor | None = None,
        first_code: int = 0,
    ):
        """v(t) [B, F, 2K] (fp32, outside autocast); first_code: grid index of motion_z[:, 0]."""
        if self.motion is None:
            raise ValueError(
                "motion_embedding: this generator has no motion path (cfg.motion is None)"
            )
        return self.motion(t, motion_z, c, first_code)

    def _times(self, t, batch_size: int) -> torch.Tensor:
        t = torch.as_tensor(t, device=self.const.device)
        if t.ndim == 1:
            t = t[None].expand(batch_size, -1)
        check_shape(t, [batch_size, "F"], "t")
        if t.shape[1] < 1:
            raise ValueError("t must hold at least one frame time, got F = 0")
        return t.float()

    def synthesis(
        self,
        w: torch.Tensor,
        t: torch.Tensor,
        motion_z: torch.Tensor | None = None,
        c: torch.Tensor | None = None,
        first_code: int = 0,
    ) -> torch.Tensor:
        """w [B, w_dim], t [B, F] -> frames [B, F, C, H, W].

        motion_z None: drawn from the global RNG to cover max t. first_code: grid index of
        motion_z[:, 0] when motion_z is a window of a longer noise sequence.
        """
        check_shape(w, ["B", self.cfg.w_dim], "synthesis: w")
        B = w.shape[0]
        t = self._times(t, B)
        F_ = t.shape[1]
        # video-major: the same w for all frames of a video
        ws = w.repeat_interleave(F_, dim=0)  # [B·F, w_dim]
        x = self.const.expand(B * F_, -1, -1, -1)  # [B·F, C4, 4, 4]
        if self.motion is not None:
            if motion_z is None:
                motion_z = self.sample_motion_z(B, float(t.max()))
            v = self.motion(t, motion_z, c, first_code).reshape(B * F_, -1)  # [B·F, 2K]
            v = v[:, :, None, None].expand(-1, -1, 4, 4).to(x.dtype)  # [B·F, 2K, 4, 4]
            x = torch.cat([x, v], dim=1)  # [B·F, C4+2K, 4, 4]
        x, img = channels_last(x), None
        for block in self.blocks:
            x, img = block(x, img, ws, fused=self.fused_modconv)
        return img.float().reshape(B, F_, *img.shape[1:])  # [B, F, C, H, W]

    def forward(
        self,
        z: torch.Tensor,
        t: torch.Tensor,
        c: torch.Tensor | None = None,
        motion_z: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        w = self.mapping(z, c, truncation_psi=truncation_psi, update_w_avg=update_w_avg)
        return self.synthesis(w, t, motion_z=motion_z, c=c)
