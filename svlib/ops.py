"""Low-level StyleGAN2 operations in pure PyTorch: functions only, no parameters.

- `upfirdn2d`: upsample (zero insertion) -> pad -> FIR filter -> downsample, the general
  resampling op; `upsample2d` / `downsample2d` are its ×2 uses with the separable [1,3,3,1]
  low-pass filter.
- `bias_act`: bias + activation + gain + clamp in one function (StyleGAN2 `bias_act` semantics).
- `conv2d_resample`: a conv combined with FIR up/down-sampling, arranged so the conv runs at the
  lower resolution.
- `modulated_conv2d`: style modulation + weight demodulation, in grouped ("fused") or
  activation-scaling form.

The layers built from them are in `svlib.layers`, `svlib.generator` and `svlib.discriminator`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .utils import check_shape

ACT_GAIN = {"linear": 1.0, "lrelu": math.sqrt(2.0), "relu": math.sqrt(2.0)}


def fir_filter(taps=(1, 3, 3, 1), device=None) -> torch.Tensor:
    """Separable 2D FIR filter, the outer product of `taps`, normalised to sum 1.  # [k, k]"""
    f = torch.as_tensor(taps, dtype=torch.float32, device=device)
    check_shape(f, ["k"], "fir_filter: taps")
    if f.numel() < 1:
        raise ValueError("fir_filter: taps must be non-empty")
    f = f[:, None] * f[None, :]
    return f / f.sum()


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """x [N, C, H, W], same values, stored channels-last (NHWC).

    The networks keep their feature maps in this order: oneDNN (CPU) and cuDNN convolutions skip
    a layout conversion per call, strided and transposed convolutions run up to 2.5x faster on
    CPU, and elementwise ops and padding keep the order.
    """
    return x.contiguous(memory_format=torch.channels_last)


def _pad4(padding) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, a pair (x, y) or a quadruple."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    if len(padding) == 4:
        return tuple(padding)
    raise ValueError(f"padding must be an int, (px, py) or (x0, x1, y0, y1), got {padding!r}")


def upfirdn2d(
    x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, padding=0, gain: float = 1.0
):
    """Zero-insertion upsampling by `up`, zero padding, FIR convolution with `f` (scaled by `gain`),
    decimation by `down`.

    x: [N, C, H, W]; f: [kh, kw] (2D). Output size: (H*up + y0 + y1 - kh) // down + 1 (same for W).
    Pure torch, so it runs on any device and under autocast: a depthwise conv2d (groups=C), or for
    up > 1 a depthwise stride-`up` transposed conv, which skips the products with inserted zeros.
    The symmetric part of the padding (or crop) is left to the conv, which then reads no padded
    copy of x, and decimation is the conv's stride.
    """
    check_shape(x, ["N", "C", "H", "W"], "upfirdn2d: x")
    C = x.shape[1]
    kh, kw = f.shape
    x0, x1, y0, y1 = _pad4(padding)
    w = (f * gain).to(x.dtype)[None, None].expand(C, 1, kh, kw)  # [C, 1, kh, kw]
    if up > 1:
        # transposed conv = zero insertion + true convolution with w, over the span
        # [-(k-1), H*up - up + k - 1) of the zero-inserted signal; pad (or crop) to [-p0, H*up + p1)
        x0, x1, y0, y1 = x0 - (kw - 1), x1 + up - kw, y0 - (kh - 1), y1 + up - kh
        cx, cy = max(-max(x0, x1), 0), max(-max(y0, y1), 0)  # symmetric crop: the conv's padding
        x = F.conv_transpose2d(x, w, stride=up, padding=(cy, cx), groups=C)
        x = _pad_rest(x, x0 + cx, x1 + cx, y0 + cy, y1 + cy)
        return x[:, :, ::down, ::down] if down > 1 else x
    px, py = max(min(x0, x1), 0), max(min(y0, y1), 0)  # symmetric padding: the conv's own
    x = _pad_rest(x, x0 - px, x1 - px, y0 - py, y1 - py)
    # cross-correlation with the flipped filter = true convolution ([1,3,3,1] is symmetric anyway)
    return F.conv2d(x, w.flip([2, 3]), padding=(py, px), stride=down, groups=C)


def _pad_rest(x: torch.Tensor, x0: int, x1: int, y0: int, y1: int) -> torch.Tensor:
    """F.pad by (x0, x1, y0, y1) (negative values crop), skipped when all are zero."""
    return F.pad(x, [x0, x1, y0, y1]) if (x0, x1, y0, y1) != (0, 0, 0, 0) else x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H*up, W*up].

    The gain up² keeps the mean: a constant stays constant away from the borders.
    """
    k = f.shape[-1]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up**2)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, H/down, W/down] (low-pass then decimate)."""
    k = f.shape[-1]
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    act: str = "linear",
    alpha: float = 0.2,
    gain: float | None = None,
    clamp: float | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """y = clamp(act(x + b) * gain, ±clamp).

    gain defaults to √2 for (l)relu (keeps the variance), 1 for linear. Computed as
    clamp(act(gain·x + gain·b)) (the activations commute with a gain >= 0) in three passes over x,
    with `hardtanh` as the clamp, whose backward is one pass too.
    """
    if act not in ACT_GAIN:
        raise ValueError(f"bias_act: unknown activation {act!r}; choose one of {sorted(ACT_GAIN)}")
    gain = ACT_GAIN[act] if gain is None else gain
    if gain < 0:
        raise ValueError(f"bias_act: gain must be >= 0, got {gain}")
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = torch.add(b.to(x.dtype).reshape(shape) * gain, x, alpha=gain)  # gain·x + gain·b
    elif gain != 1:
        x = x * gain
    if act != "linear":
        x = F.leaky_relu(x, alpha if act == "lrelu" else 0.0)  # relu: slope 0
    if clamp is not None and clamp >= 0:
        x = F.hardtanh(x, -clamp, clamp)
    return x


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """conv2d with FIR resampling: upsample2d -> conv or conv -> downsample2d, up to borders.

    up=2: a stride-2 transposed conv at the low resolution, then the FIR filter with gain 4 (4x
    fewer MACs than convolving the upsampled image). down=2: the FIR filter, then a stride-2 conv
    (1x1 convs: decimate first). `bias` is added to the output, by the conv itself unless the FIR
    filter comes last.
    x: [N, groups*I, H, W]; w: [groups*O, I, kh, kw]; bias: [groups*O].
    """
    if up > 1 and down > 1:
        raise ValueError("conv2d_resample: up and down together are not supported")
    kw = w.shape[-1]
    w = w.to(x.dtype)
    b = None if bias is None else bias.to(x.dtype)
    if up == 1 and down == 1:
        return F.conv2d(x, w, b, padding=padding, groups=groups)
    if f is None:
        raise ValueError("conv2d_resample: a resampling filter f is required when up or down > 1")
    fk = f.shape[-1]
    if down > 1:
        p0 = padding + (fk - down + 1) // 2
        p1 = padding + (fk - down) // 2
        if kw == 1:  # 1x1: low-pass + decimate first, then the cheap conv at low resolution
            x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
            return F.conv2d(x, w, b, groups=groups)
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, b, stride=down, groups=groups)
    # up > 1: transposed conv does the zero insertion and the conv in one op
    p0 = padding + (fk + up - 1) // 2 - (kw - 1)
    p1 = padding + (fk - up) // 2 - (kw - up)
    O, I = w.shape[0] // groups, w.shape[1]
    # transposed conv = zero insertion + true convolution; flip so it matches the
    # cross-correlation of F.conv2d with w
    wt = w.flip([2, 3]).reshape(groups, O, I, kw, kw).transpose(1, 2)  # [g, I, O, k, k]
    wt = wt.reshape(groups * I, O, kw, kw)  # [g*I, O, k, k]
    x = F.conv_transpose2d(x, wt, stride=up, groups=groups)
    x = upfirdn2d(x, f, padding=(p0, p1, p0, p1), gain=up**2)
    return x if b is None else x + b[:, None, None]


def modulated_weight(
    weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True, eps: float = 1e-8
) -> torch.Tensor:
    """Per-sample weights w'_{n,o,i,k} = weight_{o,i,k} · s_{n,i}.

    With `demodulate`, each output channel's weights are scaled to unit norm.

    weight: [O, I, kh, kw]; styles: [N, I] -> [N, O, I, kh, kw] (fp32).
    """
    w = weight.float()[None] * styles.float()[:, None, :, None, None]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + eps).rsqrt()
    return w


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    up: int = 1,
    padding: int = 0,
    f: torch.Tensor | None = None,
    fused: bool = True,
    eps: float = 1e-8,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution.

    x: [N, I, H, W]; weight: [O, I, k, k]; styles: [N, I] -> [N, O, H', W'].
    Demodulation divides by sqrt(Σ_{ik} w'² + eps), giving unit output variance for unit-variance
    input. fused=True: one grouped conv (groups=N) with the per-sample weights of
    `modulated_weight`. fused=False: the same function by scaling activations, conv(x·s, W)·d,
    i.e. one shared-weight conv over the batch (faster when N is large, e.g. many frames).
    """
    check_shape(x, ["N", "I", "H", "W"], "modulated_conv2d: x")
    N, I, H, W = x.shape
    check_shape(weight, ["O", I, "k", "k"], "modulated_conv2d: weight")
    check_shape(styles, [N, I], "modulated_conv2d: styles")
    O, _, kh, kw = weight.shape
    if fused:
        wm = modulated_weight(weight, styles, demodulate, eps)  # [N, O, I, k, k]
        x = x.reshape(1, N * I, H, W)
        x = conv2d_resample(x, wm.reshape(N * O, I, kh, kw), f=f, up=up, padding=padding, groups=N)
        return x.reshape(N, O, *x.shape[2:])
    styles = styles.float()  # demodulation statistics in fp32 even under autocast
    x = x * styles.to(x.dtype)[:, :, None, None]
    x = conv2d_resample(x, weight, f=f, up=up, padding=padding)
    if demodulate:  # Σ_{ik} (W_oik s_ni)² = (s²) @ (Σ_k W²)ᵀ
        with torch.autocast(device_type=x.device.type, enabled=False):  # keep the matmul in fp32
            w_sq = weight.float().square().sum(dim=[2, 3])  # [O, I]
            dcoefs = (styles.square() @ w_sq.t() + eps).rsqrt()  # [N, O]
        x = x * dcoefs.to(x.dtype)[:, :, None, None]
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """x / sqrt(mean(x²)) along `dim` (StyleGAN's pixel norm of latents)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
