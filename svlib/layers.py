"""StyleGAN2 layers with equalized learning rate (pure PyTorch).

Equalized lr: weights are stored as N(0, 1)/lr_multiplier and scaled at run time by lr_multiplier/sqrt(fan_in), so
Adam's per-parameter step is the same for every layer and `lr_multiplier` slows a layer down (0.01 for mappings).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import (
    ACT_GAIN,
    bias_act,
    conv2d_resample,
    fir_filter,
    modulated_conv2d,
    normalize_2nd_moment,
    upsample2d,
)


class FullyConnectedLayer(nn.Module):
    """y = act(x W^T·gain + b·lr_mult). x: [N, in] -> [N, out]."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = None if self.bias is None else self.bias * self.bias_gain
        if self.activation == "linear":
            return F.linear(x, w, b)
        return bias_act(F.linear(x, w), b, act=self.activation)

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """Equalized-lr conv with optional FIR up/down-sampling, bias, activation (gain √2 for lrelu) and clamp."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        conv_clamp: float | None = None,
        lr_multiplier: float = 1.0,
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.activation = in_channels, out_channels, activation
        self.up, self.down, self.conv_clamp, self.padding = up, down, conv_clamp, kernel_size // 2
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size, kernel_size) / lr_multiplier
        )
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * kernel_size**2)
        self.bias_gain = lr_multiplier
        self.register_buffer("resample_filter", fir_filter(), persistent=False)

    def forward(
        self, x: torch.Tensor, gain: float = 1.0
    ) -> torch.Tensor:  # [N, I, H, W] -> [N, O, H', W']
        w = self.weight * self.weight_gain
        x = conv2d_resample(
            x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding
        )
        b = None if self.bias is None else self.bias * self.bias_gain
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(
            x, b, act=self.activation, gain=ACT_GAIN[self.activation] * gain, clamp=clamp
        )

    def extra_repr(self):
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.weight.shape[-1]}, act={self.activation}, "
            f"up={self.up}, down={self.down}"
        )


class EqLRConv1d(nn.Module):
    """Padding-free equalized-lr conv1d with a *plain* leaky ReLU (no √2 gain), as in the motion mapping network.

    x: [B, I, L] -> [B, O, L - k + 1]; output j depends on inputs j..j+k-1 only.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        activation: str = "lrelu",
        lr_multiplier: float = 1.0,
        alpha: float = 0.2,
    ):
        super().__init__()
        if activation not in ("lrelu", "linear"):
            raise ValueError(f"EqLRConv1d: activation must be lrelu|linear, got {activation!r}")
        self.activation, self.alpha = activation, alpha
        self.weight = nn.Parameter(
            torch.randn(out_channels, in_channels, kernel_size) / lr_multiplier
        )
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = lr_multiplier / math.sqrt(in_channels * kernel_size)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv1d(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, self.alpha) if self.activation == "lrelu" else x


class MappingNetwork(nn.Module):
    """z [N, z_dim] (and/or c [N, c_dim]) -> w [N, w_dim]: 2nd-moment norm, then `num_layers` FC lrelu layers.

    With c_dim > 0, c is embedded by an FC to `embed_features` dims, normalised and concatenated to z.
    With z_dim = 0 it maps only c (the discriminator's conditioning network).
    `w_avg` (an EMA of w, β = w_avg_beta) supports truncation: w' = w_avg + ψ (w - w_avg).
    """

    def __init__(
        self,
        z_dim: int,
        c_dim: int,
        w_dim: int,
        num_layers: int = 2,
        lr_multiplier: float = 0.01,
        w_avg_beta: float | None = 0.995,
        embed_features: int | None = None,
    ):
        super().__init__()
        if z_dim + c_dim <= 0:
            raise ValueError("MappingNetwork: z_dim + c_dim must be > 0")
        self.z_dim, self.c_dim, self.w_dim, self.w_avg_beta = z_dim, c_dim, w_dim, w_avg_beta
        embed_features = (w_dim if embed_features is None else embed_features) if c_dim > 0 else 0
        self.embed = FullyConnectedLayer(c_dim, embed_features) if c_dim > 0 else None
        feats = [z_dim + embed_features] + [w_dim] * num_layers
        self.layers = nn.ModuleList(
            FullyConnectedLayer(a, b, activation="lrelu", lr_multiplier=lr_multiplier)
            for a, b in zip(feats[:-1], feats[1:])
        )
        if w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self,
        z: torch.Tensor | None,
        c: torch.Tensor | None = None,
        truncation_psi: float = 1.0,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            if z is None or z.ndim != 2 or z.shape[1] != self.z_dim:
                raise ValueError(
                    f"MappingNetwork: z must be [N, {self.z_dim}], got "
                    f"{None if z is None else tuple(z.shape)}"
                )
            parts.append(normalize_2nd_moment(z.float()))
        if self.c_dim > 0:
            if c is None or c.ndim != 2 or c.shape[1] != self.c_dim:
                raise ValueError(
                    f"MappingNetwork: c must be [N, {self.c_dim}], got "
                    f"{None if c is None else tuple(c.shape)}"
                )
            parts.append(normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for layer in self.layers:
            x = layer(x)
        if self.w_avg_beta is not None:
            if update_w_avg:
                with torch.no_grad():
                    self.w_avg.copy_(x.detach().float().mean(0).lerp(self.w_avg, self.w_avg_beta))
            if truncation_psi != 1:
                x = self.w_avg.to(x.dtype).lerp(x, truncation_psi)
        elif truncation_psi != 1:
            raise ValueError("MappingNetwork: truncation needs w_avg (w_avg_beta is None)")
        return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally ×2 upsampling), bias, lrelu·√2, clamp. No noise (as StyleGAN-V)."""

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
    """One resolution of the 'skip' generator: [conv0 (↑2)] -> conv1 -> ToRGB, image = upsample(image) + rgb.

    The 4x4 block (in_channels=0 -> no conv0) takes its input from the caller (learned constant, possibly with the
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

    def forward(
        self, x, img, w, fused: bool = False
    ):  # x: [N, C, r/2, r/2] (or the 4x4 input), w: [N, w_dim]
        if self.conv0 is not None:
            x = self.conv0(x, w, fused)
        x = self.conv1(x, w, fused)
        y = self.torgb(x, w, fused)
        img = y if img is None else upsample2d(img, self.resample_filter).to(y.dtype) + y
        return x, img


class DiscriminatorBlock(nn.Module):
    """ResNet D block at resolution r: [fromRGB] -> conv0 3x3 -> conv1 3x3 ↓2, plus a 1x1 ↓2 skip, gain √½ each.

    conv0 and the skip take `in_channels` (which differs from `tmp_channels` right after frame concatenation).
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
    """Effective minibatch-std group: the largest divisor of n that is <= group_size (1 means disabled)."""
    g = max(1, min(group_size, n))
    while n % g:
        g -= 1
    return g


class MinibatchStdLayer(nn.Module):
    """Appends `num_channels` feature maps holding the std over groups of samples (averaged over channels and pixels).

    Samples n, n + N/G, n + 2N/G, ... form a group. The group is the largest divisor of N not above `group_size`,
    so any batch works; if that divisor is 1 the std is 0 and the channel is the constant sqrt(eps).
    """

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(
        self, x: torch.Tensor
    ) -> torch.Tensor:  # [N, C, H, W] -> [N, C + num_channels, H, W]
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
    """4x4 head: [mbstd] -> conv 3x3 -> FC -> out FC (1 logit, or cmap_dim features projected onto cmap)."""

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

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None = None) -> torch.Tensor:  # -> [N]
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1))).float()  # [N, cmap_dim or 1]
        if self.cmap_dim > 0:
            x = (x * cmap.float()).sum(dim=1, keepdim=True) / math.sqrt(
                self.cmap_dim
            )  # projection conditioning
        return x[:, 0]
