"""Equalized-lr layers shared by the generator, the discriminator and the motion path.

- `FullyConnectedLayer`, `Conv2dLayer` (with FIR up/down-sampling) and `EqLRConv1d` (the motion
  mapping's padding-free conv1d);
- `MappingNetwork`: z (and/or a condition c) -> w for G, the condition -> cmap for D;
- `channels_at` and `resolution_log2`: the channel rule and resolution check both networks use.

The network-specific blocks live beside their networks: synthesis blocks in `svlib.generator`,
discriminator blocks in `svlib.discriminator`; the functional ops are in `svlib.ops`.

Equalized lr: weights are stored as N(0, 1)/lr_multiplier and scaled at run time by
lr_multiplier/sqrt(fan_in), so Adam's per-parameter step is the same for every layer and
`lr_multiplier` slows a layer down (0.01 for mappings).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import ACT_GAIN, bias_act, conv2d_resample, fir_filter, normalize_2nd_moment
from .utils import check_shape


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature channels at a resolution: min(channel_base / r, channel_max), as in StyleGAN2.

    Capped at channel_max at low resolutions; below the cap, every doubling of r halves them.
    """
    return min(channel_base // resolution, channel_max)


def resolution_log2(resolution: int, name: str, minimum: int = 4) -> int:
    """log2 of `resolution`, which must be a power of two >= `minimum`; `name` labels the error."""
    if not isinstance(resolution, int) or resolution < minimum or resolution & (resolution - 1):
        raise ValueError(
            f"{name}: resolution must be a power of two >= {minimum}, got {resolution!r}"
        )
    return resolution.bit_length() - 1


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
        # the activation's gain rides on the weights and bias: act(g·v) = g·act(v) for g >= 0
        g = ACT_GAIN[self.activation]
        w = self.weight * (self.weight_gain * g)
        b = None if self.bias is None else self.bias * (self.bias_gain * g)
        return bias_act(F.linear(x, w, b), act=self.activation, gain=1)

    def extra_repr(self):
        return f"in={self.in_features}, out={self.out_features}, act={self.activation}"


class Conv2dLayer(nn.Module):
    """Equalized-lr conv with optional FIR up/down-sampling, bias, activation and clamp.

    The activation carries its variance-preserving gain (√2 for lrelu).
    """

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

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        # x: [N, I, H, W] -> [N, O, H', W']
        if gain < 0:
            raise ValueError(f"Conv2dLayer: gain must be >= 0, got {gain}")
        # the gains ride on the weights and bias (the conv adds it): act(g·v) = g·act(v), g >= 0
        g = ACT_GAIN[self.activation] * gain
        w = self.weight * (self.weight_gain * g)
        b = None if self.bias is None else self.bias * (self.bias_gain * g)
        x = conv2d_resample(
            x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding, bias=b
        )
        clamp = None if self.conv_clamp is None else self.conv_clamp * gain
        return bias_act(x, act=self.activation, gain=1, clamp=clamp)

    def extra_repr(self):
        return (
            f"{self.in_channels}->{self.out_channels}, k={self.weight.shape[-1]}, "
            f"act={self.activation}, up={self.up}, down={self.down}"
        )


class EqLRConv1d(nn.Module):
    """Padding-free equalized-lr conv1d with a *plain* leaky ReLU (no √2 gain).

    As in the official motion mapping network.

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
    """z [N, z_dim] (and/or c [N, c_dim]) -> w [N, w_dim]: 2nd-moment norm, `num_layers` FC lrelu.

    With c_dim > 0, c is embedded by an FC to `embed_features` dims, normalised and concatenated
    to z.
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
            check_shape(z, ["N", self.z_dim], "MappingNetwork: z")
            parts.append(normalize_2nd_moment(z.float()))
        if self.c_dim > 0:
            check_shape(c, ["N", self.c_dim], "MappingNetwork: c")
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
