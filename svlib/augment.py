"""Video-consistent adaptive discriminator augmentation (ADA, Karras et al. 2020), `bgc` pipe.

Every op fires independently per *clip* with probability `p` (times its strength), and one set of
parameters is drawn per clip, so all F frames of a clip get the identical geometric warp and colour
matrix (StyleGAN-V's `video_consistent_aug`; without it temporal coherence is no longer something
D can check). Parameterisations follow ADA: x-flip, 90° rotations, integer translation, isotropic
scale (log-normal), rotation (split into pre/post parts around the anisotropic scale), anisotropic
scale, fractional translation; brightness, contrast (log-normal), luma flip, hue rotation around
the luma axis, saturation (log-normal).

Geometric ops are one 3×3 matrix `geom` per clip mapping *output* pixel coordinates to *input*
coordinates (centred, in pixels). Clips whose `geom` only moves whole pixels (flips, 90° rotations,
integer shifts) are fetched losslessly; the others are warped with 2× oversampling (lowpass
upsample → bilinear `grid_sample` with reflection → lowpass downsample) to limit aliasing.
R1 through the pipe needs the derivative of grid_sample's input-gradient; CUDA's grid_sampler
backward has none, so `grid_sample2` below supplies it (the same code on every device, so CPU tests
cover it).
Clips whose drawn transform is the identity, and the whole batch when p = 0, pass through untouched.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import AUTO_ADA_KIMG, AugmentConfig

GEOM_OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOR_OPS = ("brightness", "contrast", "lumaflip", "hue", "saturation")
# ADA's named pipes: b(lit), g(eometric), c(olour).
PIPE_SPECS = {"b": GEOM_OPS[:3], "bg": GEOM_OPS, "bgc": GEOM_OPS + COLOR_OPS, "c": COLOR_OPS}


class _GridSample(torch.autograd.Function):
    """y = S x, grid_sample with a fixed grid: a linear map of x. Its input-gradient is Sᵀ gy."""

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode):
        ctx.save_for_backward(grid)
        ctx.conf, ctx.x_meta = (mode, padding_mode), (x.shape, x.dtype)
        return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)

    @staticmethod
    def backward(ctx, gy):
        (grid,) = ctx.saved_tensors
        return _GridSampleT.apply(gy, grid, ctx.x_meta, *ctx.conf), None, None, None


class _GridSampleT(torch.autograd.Function):
    """gx = Sᵀ gy; also linear, and its own gradient is S again: derivatives of any order exist."""

    @staticmethod
    def forward(ctx, gy, grid, x_meta, mode, padding_mode):
        ctx.save_for_backward(grid)
        ctx.conf = (mode, padding_mode)
        shape, dtype = x_meta
        with (
            torch.enable_grad()
        ):  # Sᵀ gy as the vector-Jacobian product of S at any x (S is linear)
            x0 = torch.zeros(shape, dtype=gy.dtype, device=gy.device, requires_grad=True)
            y = F.grid_sample(
                x0, grid.to(gy.dtype), mode=mode, padding_mode=padding_mode, align_corners=False
            )
            (gx,) = torch.autograd.grad(y, x0, gy)
        return gx.to(dtype)

    @staticmethod
    def backward(ctx, ggx):
        (grid,) = ctx.saved_tensors
        return _GridSample.apply(ggx, grid, *ctx.conf), None, None, None, None


def grid_sample2(
    x: torch.Tensor, grid: torch.Tensor, mode: str = "bilinear", padding_mode: str = "reflection"
) -> torch.Tensor:
    """`F.grid_sample` (align_corners=False) that is differentiable twice w.r.t. x on every device.

    The grid gets no gradient (augmentation parameters are not learned).
    """
    if not (torch.is_grad_enabled() and x.requires_grad):
        return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)
    return _GridSample.apply(x, grid.detach(), mode, padding_mode)


def _mat(rows, ref):  # rows: nested lists of [B] tensors / floats -> [B, n, n]
    b = ref.shape[0]
    return torch.stack(
        [
            torch.stack(
                [torch.as_tensor(v, dtype=ref.dtype, device=ref.device).expand(b) for v in row], -1
            )
            for row in rows
        ],
        -2,
    )


def _translate2d(tx, ty):
    return _mat([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def _scale2d(sx, sy):
    return _mat([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def _rotate2d(theta, cos=None, sin=None):
    c, s = (theta.cos(), theta.sin()) if cos is None else (cos, sin)
    return _mat([[c, -s, 0], [s, c, 0], [0, 0, 1]], c)


RESAMPLING_TAPS = 12  # length of the 2× resampling lowpass of the warp


def _lowpass(taps: int = RESAMPLING_TAPS, beta: float = 4.0) -> torch.Tensor:
    """Even-length Kaiser-windowed sinc with cutoff at half the band: the 2× resampling filter.

    Its even and odd taps each sum to 1/2, so zero-insertion upsampling keeps flat areas flat."""
    n = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    h = torch.sinc(n / 2) * torch.kaiser_window(
        taps, periodic=False, beta=beta, dtype=torch.float64
    )
    return (h / h.sum()).float()


def _fir(x, h, dim, stride=1):  # valid depthwise correlation of x [N, K, H, W] along dim (-1 or -2)
    k = h.view(1, 1, 1, -1) if dim == -1 else h.view(1, 1, -1, 1)
    st = (1, stride) if dim == -1 else (stride, 1)
    return F.conv2d(x, k.expand(x.shape[1], 1, *k.shape[2:]), stride=st, groups=x.shape[1])


def _upsample2x(x, h):
    """[N, K, H, W] -> [N, K, 2H, 2W]; output pixel j sits at input position j/2 − 1/4."""
    # symmetric padding (edge repeated, as grid_sample's reflection mode), zero insertion, then
    # lowpass with gain 2; the axes are independent, so one after the other
    return _upsample2x_along(_upsample2x_along(x, h, -1), h, -2)


@functools.lru_cache(maxsize=32)
def _resampling_matrices(size: int, taps: int, dtype: torch.dtype, device: torch.device):
    """The two 1-D resampling steps of `_warp_resampled` along an axis of `size` pixels, as dense
    matrices: up [2·size, size] (= `_upsample2x`) and down [size, 2·size + 2m] (= stride-2 `_fir`
    over a raster with margin m). At 32² a [64, 32] matmul per axis beats the padded copies,
    zero insertion and depthwise convs it replaces, and its derivatives of every order are again
    matmuls. Built in float64 by pushing the identity through the reference ops."""
    h = _lowpass(taps).double()
    eye = torch.eye(size, dtype=torch.float64).view(size, 1, 1, size)  # basis rows as images
    up = _upsample2x_along(eye, h, -1).view(size, 2 * size).T
    m = taps // 2 - 1
    eye = torch.eye(2 * size + 2 * m, dtype=torch.float64).view(2 * size + 2 * m, 1, 1, -1)
    down = _fir(eye, h, -1, stride=2).view(2 * size + 2 * m, size).T
    return up.to(device, dtype).contiguous(), down.to(device, dtype).contiguous()


def _upsample2x_along(x, h, dim):  # one axis of `_upsample2x`
    p = h.numel() // 4
    x = torch.cat(
        [x.narrow(dim, 0, p).flip(dim), x, x.narrow(dim, x.shape[dim] - p, p).flip(dim)], dim
    )
    x = torch.stack([x, torch.zeros_like(x)], dim=dim)
    x = x.flatten(-2) if dim == -1 else x.flatten(-3, -2)
    return _fir(x, 2 * h, dim).narrow(dim, 0, x.shape[dim] - 4 * p)


def _grid(geom, H, W, up: int, margin: int):
    """Sampling grid [n, H', W', 2] for output pixels of a (up×)-resolution raster with `margin`
    extra pixels each side, mapped through geom [n, 3, 3] (centred pixel units) to grid_sample
    coordinates."""

    def axis(size):  # centred original-pixel coordinates of the output raster
        j = torch.arange(-margin, up * size + margin, device=geom.device, dtype=geom.dtype)
        return (j + 0.5) / up - size / 2

    ys, xs = torch.meshgrid(axis(H), axis(W), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(-1, 3)  # [P, 3]
    src = torch.einsum("nij,pj->npi", geom[:, :2, :], pts)  # [n, P, 2]
    src = src * torch.tensor(
        [2 / W, 2 / H], device=geom.device, dtype=geom.dtype
    )  # align_corners=False
    return src.view(geom.shape[0], ys.shape[0], ys.shape[1], 2)


class AugmentPipe(nn.Module):
    """ADA pipe for clips x [B, F, C, H, W] (float, ~[-1, 1]), built from an `AugmentConfig`.

    `p` (buffer, 0-dim) is the per-op probability; set it directly or let `AdaController` tune
    it."""

    def __init__(self, cfg: AugmentConfig | None = None):
        super().__init__()
        cfg = AugmentConfig() if cfg is None else cfg
        if cfg.pipe not in PIPE_SPECS:
            raise ValueError(f"augment pipe must be one of {sorted(PIPE_SPECS)}, got {cfg.pipe!r}")
        bad = set(cfg.disable) - set(GEOM_OPS + COLOR_OPS)
        if bad:
            raise ValueError(f"augment disable: unknown ops {sorted(bad)}")
        on = lambda op: op in PIPE_SPECS[cfg.pipe] and op not in cfg.disable
        self.strength = {op: getattr(cfg, op) if on(op) else 0 for op in GEOM_OPS + COLOR_OPS}
        for k, v in self.strength.items():
            if not 0 <= float(v):
                raise ValueError(f"AugmentPipe: strength {k}={v} must be >= 0")
        self.cfg = cfg  # the ranges (xint_max, scale_std, ...) are read from it
        if not 0 <= cfg.p <= 1:
            raise ValueError(f"AugmentPipe: p={cfg.p} must be in [0, 1]")
        self.register_buffer("p", torch.tensor(float(cfg.p)))

    @classmethod
    def from_spec(cls, spec: str = "bgc", disable=(), p: float = 0.0) -> AugmentPipe:
        """A named ADA pipe ('b', 'bg', 'bgc', 'c'), minus the ops in `disable` (e.g. ('rotate90',)
        for small datasets, where rotations can leak into the generator at high p)."""
        return cls(AugmentConfig(pipe=spec, disable=tuple(disable), p=p))

    def extra_repr(self) -> str:
        on = [k for k, v in self.strength.items() if v]
        return f"p={float(self.p):.4f}, ops={','.join(on)}"

    # ------------------------------------------------------------------ parameter sampling
    def sample_params(self, B: int, H: int, W: int, generator=None, device=None):
        """One geometric matrix `geom` [B, 3, 3] and colour matrix Cm [B, 4, 4] per clip."""
        dev = generator.device if generator is not None else (device or self.p.device)
        rand = lambda *s: torch.rand(s, generator=generator, device=dev)
        randn = lambda *s: torch.randn(s, generator=generator, device=dev)
        p, st = self.p.to(dev), self.strength

        def gate(
            name, value, neutral, prob=None
        ):  # per clip: value with prob strength·p, else neutral
            keep = rand(B) < (st[name] * p if prob is None else prob)
            return torch.where(
                keep.view(-1, *[1] * (value.ndim - 1)), value, torch.full_like(value, neutral)
            )

        geom = torch.eye(3, device=dev).repeat(B, 1, 1)
        if st["xflip"]:
            i = gate("xflip", torch.floor(rand(B) * 2), 0)
            geom = geom @ _scale2d(1 - 2 * i, torch.ones_like(i))
        if st["rotate90"]:  # exact cos/sin so these stay whole-pixel moves
            i = gate("rotate90", torch.floor(rand(B) * 4), 0).long()
            cs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], device=dev)[i]
            geom = geom @ _rotate2d(None, cs[:, 0], cs[:, 1])
        if st["xint"]:
            t = gate("xint", (rand(B, 2) * 2 - 1) * self.cfg.xint_max, 0)
            geom = geom @ _translate2d(torch.round(t[:, 0] * W), torch.round(t[:, 1] * H))
        if st["scale"]:
            s = gate("scale", torch.exp2(randn(B) * self.cfg.scale_std), 1)
            geom = geom @ _scale2d(s, s)
        # rotation is split around the anisotropic scale; P(pre or post) = strength·p
        p_rot = 1 - torch.sqrt((1 - st["rotate"] * p).clamp(0, 1))
        if st["rotate"]:
            geom = geom @ _rotate2d(
                -gate("rotate", (rand(B) * 2 - 1) * math.pi * self.cfg.rotate_max, 0, p_rot)
            )
        if st["aniso"]:
            s = gate("aniso", torch.exp2(randn(B) * self.cfg.aniso_std), 1)
            geom = geom @ _scale2d(s, 1 / s)
        if st["rotate"]:
            geom = geom @ _rotate2d(
                -gate("rotate", (rand(B) * 2 - 1) * math.pi * self.cfg.rotate_max, 0, p_rot)
            )
        if st["xfrac"]:
            t = gate("xfrac", randn(B, 2) * self.cfg.xfrac_std, 0)
            geom = geom @ _translate2d(t[:, 0] * W, t[:, 1] * H)

        I4 = torch.eye(4, device=dev)
        Cm = I4.repeat(B, 1, 1)
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev) / math.sqrt(
            3
        )  # luma axis (homogeneous RGB)
        vv = torch.outer(v, v)
        E = torch.diag(torch.tensor([1.0, 1.0, 1.0, 0.0], device=dev))  # the RGB block of I4
        P = E - vv  # projector onto the chroma plane
        if st["brightness"]:
            b = gate("brightness", randn(B) * self.cfg.brightness_std, 0)
            T = I4.repeat(B, 1, 1)
            T[:, :3, 3] = b.view(B, 1)
            Cm = T @ Cm
        if st["contrast"]:
            c = gate("contrast", torch.exp2(randn(B) * self.cfg.contrast_std), 1).view(B, 1, 1)
            Cm = (I4 + (c - 1) * E) @ Cm
        if st["lumaflip"]:  # Householder reflection of the luma component
            i = gate("lumaflip", torch.floor(rand(B) * 2), 0).view(B, 1, 1)
            Cm = (I4 - 2 * vv * i) @ Cm
        if st["hue"]:  # Rodrigues rotation of the chroma plane around the luma axis
            th = gate("hue", (rand(B) * 2 - 1) * math.pi * self.cfg.hue_max, 0).view(B, 1, 1)
            K = torch.zeros(4, 4, device=dev)  # cross-product matrix [v]x
            K[0, 1], K[0, 2], K[1, 2] = -v[2], v[1], -v[0]
            K = K - K.T
            Cm = (I4 - P + th.cos() * P + th.sin() * K) @ Cm
        if st["saturation"]:  # scale the chroma plane
            s = gate("saturation", torch.exp2(randn(B) * self.cfg.saturation_std), 1).view(B, 1, 1)
            Cm = (I4 - P + s * P) @ Cm
        return geom, Cm

    # ------------------------------------------------------------------ application
    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x [B, F, C, H, W] -> augmented [B, F, C, H, W] (same dtype, device); differentiable."""
        if x.ndim != 5:
            raise ValueError(f"AugmentPipe: x must be [B, F, C, H, W], got shape {tuple(x.shape)}")
        if float(self.p) == 0:  # exact identity, and no random draws
            return x
        B, Fn, C, H, W = x.shape
        geom, Cm = self.sample_params(B, H, W, generator, x.device)
        wdt = torch.promote_types(
            x.dtype, torch.float32
        )  # fp32 math for half inputs; fp64 stays fp64
        geom, Cm = geom.to(x.device, wdt), Cm.to(x.device, wdt)
        with torch.autocast(x.device.type, enabled=False):
            y = x.to(wdt).reshape(B, Fn * C, H, W)  # frames stacked as channels: one warp per clip
            eye3 = torch.eye(3, device=x.device, dtype=wdt)
            moved = (geom - eye3).abs().flatten(1).amax(1) > 1e-6
            whole = ((geom[:, :2] - geom[:, :2].round()).abs().flatten(1).amax(1) < 1e-6) & moved
            for sel, warp in (
                (whole, self._warp_whole_pixels),
                (moved & ~whole, self._warp_resampled),
            ):
                idx = sel.nonzero()[:, 0]
                if len(idx):
                    y = y.index_copy(
                        0, idx, warp(y.index_select(0, idx), geom.index_select(0, idx))
                    )
            y = y.view(B, Fn, C, H * W)
            idx = (
                (Cm[:, :3] - torch.eye(4, device=x.device, dtype=wdt)[:3]).abs().flatten(1).amax(1)
                > 1e-6
            ).nonzero()[:, 0]
            if len(idx):
                y = y.index_copy(
                    0, idx, self._recolor(y.index_select(0, idx), Cm.index_select(0, idx))
                )
        return y.view(B, Fn, C, H, W).to(x.dtype)

    @staticmethod
    def _warp_whole_pixels(
        x, geom
    ):  # x [n, K, H, W]; flips/90° turns/integer shifts: a lossless fetch
        grid = _grid(geom, x.shape[2], x.shape[3], up=1, margin=0)
        return grid_sample2(x, grid, mode="nearest")

    def _warp_resampled(self, x, geom):  # x [n, K, H, W]; 2× oversampled bilinear warp
        m = RESAMPLING_TAPS // 2 - 1  # margin the downsampling filter reads beyond the raster
        H, W = x.shape[2], x.shape[3]
        up_h, down_h = _resampling_matrices(H, RESAMPLING_TAPS, x.dtype, x.device)
        up_w, down_w = _resampling_matrices(W, RESAMPLING_TAPS, x.dtype, x.device)
        grid = _grid(geom, H, W, up=2, margin=m)
        y = grid_sample2(up_h @ x @ up_w.T, grid, mode="bilinear")  # [n, K, 2H+2m, 2W+2m]
        return down_h @ y @ down_w.T  # [n, K, H, W]

    @staticmethod
    def _recolor(x, Cm):  # x [n, F, C, H*W], Cm [n, 4, 4] applied to every frame's RGB
        C = x.shape[2]
        if C == 3:
            return torch.einsum("nij,nfjk->nfik", Cm[:, :3, :3], x) + Cm[:, None, :3, 3:]
        if C == 1:  # ADA's grey rule: average the RGB rows
            m = Cm[:, :3].mean(1)  # [n, 4]
            return x * m[:, None, None, :3].sum(-1, keepdim=True) + m[:, None, None, 3:]
        raise ValueError(
            f"AugmentPipe: colour ops need 1 or 3 channels, got C={C} (set colour strengths to 0)"
        )


class AdaController:
    """Adaptive p (ADA): every `interval` steps, p += sign(E[sign D(real)] − target) · B·interval /
    (kimg·1000), with target, interval and kimg from an `AugmentConfig` (kimg None: 100).

    Call `update(logits_real)` once per D step; `batch_size` counts videos over all processes."""

    def __init__(self, pipe: AugmentPipe, batch_size: int, cfg: AugmentConfig | None = None):
        cfg = AugmentConfig() if cfg is None else cfg
        kimg = AUTO_ADA_KIMG if cfg.kimg is None else cfg.kimg
        if batch_size <= 0 or cfg.interval <= 0 or kimg <= 0:
            raise ValueError("AdaController: batch_size, interval and kimg must be positive")
        self.pipe, self.batch_size = pipe, batch_size
        self.target, self.interval, self.kimg = cfg.target, cfg.interval, kimg
        self.stats = torch.zeros(
            2, device=pipe.p.device
        )  # [sum of signs, count] since last adjustment
        self.steps = 0
        self.last_rt = torch.full(
            [], float("nan"), device=pipe.p.device
        )  # r_t of the last adjustment

    @property
    def rt(self) -> float:
        return float(self.last_rt)

    @torch.no_grad()
    def update(self, logits_real: torch.Tensor) -> None:
        s = logits_real.detach().float().sign()
        self.stats = self.stats.to(s.device) + torch.stack(
            [s.sum(), torch.tensor(float(s.numel()), device=s.device)]
        )
        self.steps += 1
        if self.steps % self.interval:
            return
        stats = self.stats.clone()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)
        self.last_rt = stats[0] / stats[1].clamp(min=1)
        adjust = (
            torch.sign(self.last_rt - self.target)
            * (self.batch_size * self.interval)
            / (self.kimg * 1000)
        )
        p = self.pipe.p
        p.copy_((p + adjust.to(p.device)).clamp(0, 1))
        self.stats = torch.zeros_like(self.stats)

    def state_dict(self) -> dict:
        return {
            "p": self.pipe.p.detach().cpu(),
            "stats": self.stats.detach().cpu(),
            "steps": self.steps,
            "last_rt": self.last_rt.detach().cpu(),
        }

    def load_state_dict(self, sd: dict) -> None:
        self.pipe.p.copy_(sd["p"])
        self.stats = sd["stats"].to(self.pipe.p.device).clone()
        self.steps = int(sd["steps"])
        self.last_rt = sd["last_rt"].to(self.pipe.p.device).clone()
