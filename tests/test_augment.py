"""Video-consistent ADA: identity at p=0, per-clip consistency, each op, gradients, controller."""

import math

import pytest
import torch
import torch.nn.functional as F
from stand_ins import TinyD

from svlib import augment as A
from svlib.augment import COLOR_OPS, GEOM_OPS, AdaController, AugmentPipe, grid_sample2
from svlib.config import AugmentConfig
from svlib.losses import r1_penalty

ALL_OPS = GEOM_OPS + COLOR_OPS


def only(op):
    """A pipe with only `op` enabled, at p = 1."""
    return AugmentPipe(AugmentConfig(**{k: float(k == op) for k in ALL_OPS}, p=1.0))


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def clips(B=8, Fn=3, C=3, H=16, W=16, seed=0, dtype=torch.float32):
    return torch.rand(B, Fn, C, H, W, generator=gen(seed), dtype=dtype) * 2 - 1


def test_p0_is_exact_identity():
    x = clips()
    pipe = AugmentPipe()  # p defaults to 0
    assert float(pipe.p) == 0 and pipe(x) is x
    pipe.p.fill_(1.0)
    assert not torch.equal(pipe(x, generator=gen()), x)


def test_same_transform_for_every_frame_of_a_clip():
    frame = clips(B=8, Fn=1)
    x = frame.expand(8, 4, 3, 16, 16).contiguous()  # every frame of a clip identical
    y = AugmentPipe(AugmentConfig(p=1.0))(x, generator=gen(1))
    assert torch.equal(y, y[:, :1].expand_as(y))  # frames stay identical within each clip
    per_clip = (y - x).flatten(1).abs().mean(1)
    assert len(set(per_clip.tolist())) > 1  # but different clips got different transforms


def test_distinct_frames_get_the_transform_of_single_frame_clips():
    x = clips(B=6, Fn=3, seed=2)
    pipe = AugmentPipe(AugmentConfig(p=1.0))
    y = pipe(x, generator=gen(5))
    for f in range(
        3
    ):  # parameters are drawn per clip, so a one-frame clip with the same seed matches
        torch.testing.assert_close(
            y[:, f : f + 1], pipe(x[:, f : f + 1].contiguous(), generator=gen(5)), atol=1e-5, rtol=0
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shape_dtype_device_preserved(dtype):
    x = clips(B=3, Fn=2, H=12, W=20, dtype=torch.float32).to(dtype)
    y = AugmentPipe(AugmentConfig(p=0.7))(x, generator=gen(3))
    assert (
        y.shape == x.shape and y.dtype == dtype and y.device == x.device and torch.isfinite(y).all()
    )


def test_xflip_is_torch_flip_or_nothing():
    x = clips(B=16)
    y = only("xflip")(x, generator=gen(4))
    flipped = [torch.allclose(y[b], x[b].flip(-1), atol=1e-6) for b in range(16)]
    kept = [torch.equal(y[b], x[b]) for b in range(16)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)


def test_rotate90_is_a_quarter_turn():
    x = clips(B=16)
    y = only("rotate90")(x, generator=gen(5))
    ks = []
    for b in range(16):
        k = [
            k
            for k in range(4)
            if torch.allclose(y[b], torch.rot90(x[b], k, dims=(-2, -1)), atol=1e-6)
        ]
        assert len(k) == 1
        ks += k
    assert len(set(ks)) >= 3


def test_xint_is_an_integer_shift():
    x = clips(B=8, H=16, W=16)
    y = only("xint")(x, generator=gen(6))
    shifts = set()
    for b in range(8):  # look for (dx, dy), |d| <= 0.125·16 = 2, matching on the overlap
        hits = [
            (dx, dy)
            for dx in range(-2, 3)
            for dy in range(-2, 3)
            if torch.allclose(
                y[b, ..., 2:-2, 2:-2], x[b, ..., 2 + dy : 14 + dy, 2 + dx : 14 + dx], atol=1e-6
            )
        ]
        assert len(hits) == 1
        shifts.add(hits[0])
    assert len(shifts) > 1


@pytest.mark.parametrize("op", ["scale", "rotate", "aniso", "xfrac"])
def test_resampled_geometric_ops_move_content_and_keep_flat_fields(op):
    x = clips(B=4)
    y = only(op)(x, generator=gen(7))
    assert ((y - x).flatten(1).abs().mean(1) > 0.05).all()
    flat = torch.full((4, 2, 3, 16, 16), 0.3)
    torch.testing.assert_close(only(op)(flat, generator=gen(7)), flat, atol=1e-5, rtol=0)


def test_resampled_warp_of_smooth_image_is_accurate():
    # a 1-pixel fractional shift of a smooth pattern matches the analytically shifted pattern
    H = W = 32
    yy, xx = torch.meshgrid(torch.arange(H) / H, torch.arange(W) / W, indexing="ij")
    pattern = lambda dx: torch.sin(2 * math.pi * (xx + dx / W)) * torch.cos(2 * math.pi * yy)
    pipe = AugmentPipe(AugmentConfig(p=1.0))
    geom = torch.eye(3)[None].clone()
    geom[0, 0, 2] = 0.5  # sample input at x + 0.5 px
    out = pipe._warp_resampled(pattern(0)[None, None], geom)[0, 0]
    assert (out - pattern(0.5))[4:-4, 4:-4].abs().max() < 5e-3


@pytest.mark.parametrize("H, W", [(32, 32), (16, 24)])
def test_resampling_matrices_are_the_filter_ops(H, W):
    # the warp resamples by matmuls; they must be the padded zero-insertion upsampler and the
    # stride-2 lowpass they stand for, on square and non-square rasters
    h = A._lowpass().double()
    cpu = torch.device("cpu")
    (up_h, down_h), (up_w, down_w) = (
        A._resampling_matrices(n, h.numel(), torch.float64, cpu) for n in (H, W)
    )
    x = torch.randn(2, 3, H, W, generator=gen(1), dtype=torch.float64)
    torch.testing.assert_close(up_h @ x @ up_w.T, A._upsample2x(x, h), atol=1e-12, rtol=0)
    m = h.numel() // 2 - 1
    y = torch.randn(2, 3, 2 * H + 2 * m, 2 * W + 2 * m, generator=gen(2), dtype=torch.float64)
    down = A._fir(A._fir(y, h, -1, stride=2), h, -2, stride=2)
    torch.testing.assert_close(down_h @ y @ down_w.T, down, atol=1e-12, rtol=0)
    assert up_h.sum(1).sub(1).abs().max() < 1e-6  # flat stays flat: every row sums to one


def luma(x):
    return x.mean(2)  # [B, F, H, W]


def test_brightness_adds_one_offset_per_clip():
    x = clips()
    d = only("brightness")(x, generator=gen(8)) - x
    assert torch.allclose(d, d.flatten(1).mean(1).view(-1, 1, 1, 1, 1).expand_as(d), atol=1e-6)
    assert d.flatten(1).mean(1).abs().max() > 0.05  # the mean changes


def test_contrast_scales_around_zero():
    x = clips()
    y = only("contrast")(x, generator=gen(9))
    c = (y / x).flatten(1)
    assert torch.allclose(c, c.median(1, keepdim=True).values.expand_as(c), rtol=1e-4)
    assert (c[:, 0] - 1).abs().max() > 0.05


def test_lumaflip_hue_saturation_act_on_luma_and_chroma():
    x = clips(B=16)
    grey = x[:, :, :1].expand_as(x).contiguous()
    # lumaflip negates grey pixels or leaves them; hue and saturation leave grey untouched
    yg = only("lumaflip")(grey, generator=gen(10))
    signs = [torch.allclose(yg[b], s * grey[b], atol=1e-6) for b in range(16) for s in (1, -1)]
    assert all(signs[0::2][b] or signs[1::2][b] for b in range(16)) and any(signs[1::2])
    for op in ("hue", "saturation"):
        torch.testing.assert_close(only(op)(grey, generator=gen(11)), grey, atol=1e-5, rtol=0)
    chroma = lambda v: v - v.mean(2, keepdim=True)
    # hue: rotation of the chroma plane -> same luma, same chroma norm, different colours
    y = only("hue")(x, generator=gen(12))
    torch.testing.assert_close(luma(y), luma(x), atol=1e-5, rtol=0)
    torch.testing.assert_close(chroma(y).norm(dim=2), chroma(x).norm(dim=2), atol=1e-5, rtol=0)
    assert (y - x).abs().max() > 0.1
    # saturation: same luma, chroma scaled by one factor per clip
    y = only("saturation")(x, generator=gen(13))
    torch.testing.assert_close(luma(y), luma(x), atol=1e-5, rtol=0)
    s = (chroma(y) / chroma(x)).flatten(1)
    assert torch.allclose(s, s.median(1, keepdim=True).values.expand_as(s), rtol=1e-3)
    assert (s[:, 0] - 1).abs().max() > 0.05


def test_from_spec_and_disable():
    pipe = AugmentPipe.from_spec("bgc", disable=("rotate90", "xflip"))
    assert (
        pipe.strength["rotate90"] == 0 and pipe.strength["xflip"] == 0 and pipe.strength["hue"] == 1
    )
    assert all(AugmentPipe.from_spec("bg").strength[k] == 0 for k in COLOR_OPS)
    with pytest.raises(ValueError, match="disable"):
        AugmentPipe.from_spec("bgc", disable=("spin",))
    with pytest.raises(ValueError, match="augment pipe must be one of"):
        AugmentPipe(AugmentConfig(pipe="xyz"))
    with pytest.raises(ValueError, match="strength hue=-1"):
        AugmentPipe(AugmentConfig(hue=-1.0))
    assert AugmentPipe(AugmentConfig(hue=0.5, disable=("xflip",))).strength["hue"] == 0.5
    with pytest.raises(ValueError, match="x must be"):
        AugmentPipe(AugmentConfig(p=1.0))(torch.zeros(2, 3, 8, 8))


def test_gradient_flows_and_matches_finite_differences():
    x = clips(B=3, Fn=2, H=8, W=8, dtype=torch.float64).requires_grad_(True)
    pipe = AugmentPipe(AugmentConfig(p=1.0))
    f = lambda v: pipe(v, generator=gen(14))
    w = torch.randn_like(x)
    (g,) = torch.autograd.grad((f(x) * w).sum(), x)
    assert g.abs().sum() > 0
    v, eps = torch.randn_like(x), 1e-6
    with torch.no_grad():
        fd = ((f(x + eps * v) - f(x - eps * v)) * w).sum() / (2 * eps)
    assert torch.allclose((g * v).sum(), fd, rtol=1e-6)


def test_r1_double_backward_through_augment():
    torch.manual_seed(0)
    D = TinyD().double()
    x = clips(B=4, H=8, W=8, dtype=torch.float64)
    t = torch.tensor([[0.0, 1.0, 3.0]]).repeat(4, 1).double()
    pipe = AugmentPipe(AugmentConfig(p=1.0))
    pen = lambda: r1_penalty(D, x, t, augment=lambda v: pipe(v, generator=gen(15))).sum()
    (gw,) = torch.autograd.grad(pen(), D.conv.weight)  # needs grid_sample's double backward
    assert gw.abs().sum() > 0
    v, eps = torch.randn_like(gw), 1e-6
    with torch.no_grad():
        w0 = D.conv.weight.clone()
        D.conv.weight.copy_(w0 + eps * v)
    hi = pen().detach()
    with torch.no_grad():
        D.conv.weight.copy_(w0 - eps * v)
    lo = pen().detach()
    assert torch.allclose((gw * v).sum(), (hi - lo) / (2 * eps), rtol=1e-5)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
def test_grid_sample2_matches_grid_sample_to_second_order(mode, device):
    # Reference: grid_sample with a fixed grid is a matrix S (columns = samples of the unit images),
    # and y = S x as a matmul is differentiable to any order on any device, unlike CUDA's native
    # grid_sample.
    torch.manual_seed(0)
    N, C, H, W = 2, 3, 8, 8
    x = torch.randn(N, C, H, W, dtype=torch.float64)
    theta = torch.tensor([[0.9, 0.2, 0.1], [-0.15, 1.1, -0.05]], dtype=torch.float64)
    theta = torch.stack([theta, theta.flip(0)])
    grid = F.affine_grid(theta, [N, C, H, W], align_corners=False)
    w = torch.randn(N, C, H, W, dtype=torch.float64)
    unit = torch.eye(H * W, dtype=torch.float64).view(H * W, 1, H, W)
    S = torch.stack(
        [
            F.grid_sample(
                unit,
                grid[n : n + 1].expand(H * W, -1, -1, -1),
                mode=mode,
                padding_mode="reflection",
                align_corners=False,
            )
            .view(H * W, H * W)
            .T
            for n in range(N)
        ]
    )  # [N, HW_out, HW_in]

    def r1_like(sample, dev):
        xi, wi = x.to(dev).requires_grad_(), w.to(dev).requires_grad_()
        y = sample(xi * wi, dev)
        (gx,) = torch.autograd.grad((y.sin() * 3).sum(), xi, create_graph=True)
        (gw,) = torch.autograd.grad(gx.square().sum(), wi)
        return y.detach().cpu(), gx.detach().cpu(), gw.cpu()

    dense = lambda v, dev: torch.einsum("noi,nci->nco", S.to(dev), v.flatten(2)).view(N, C, H, W)
    ref = r1_like(dense, "cpu")
    got = r1_like(lambda v, dev: grid_sample2(v, grid.to(dev), mode=mode), device)
    for a, b in zip(ref, got):
        assert torch.allclose(a, b, atol=1e-10), (a - b).abs().max()
    assert got[2].abs().sum() > 0


def test_ada_controller_moves_p_and_roundtrips():
    pipe = AugmentPipe()
    ctl = AdaController(pipe, 64, AugmentConfig(target=0.6, interval=4, kimg=100))
    step = 64 * 4 / 100_000
    real_confident = torch.full((64,), 2.0)  # sign mean 1 > 0.6: D overfits -> p up
    for _ in range(3):
        ctl.update(real_confident)
        assert float(pipe.p) == 0  # only every `interval` steps
    ctl.update(real_confident)
    assert math.isclose(float(pipe.p), step, rel_tol=1e-6) and ctl.rt == 1.0
    for _ in range(4 * 3):
        ctl.update(real_confident)
    assert math.isclose(float(pipe.p), 4 * step, rel_tol=1e-5)
    mixed = torch.tensor([1.0] * 32 + [-1.0] * 32)  # sign mean 0 < 0.6 -> p down
    for _ in range(4):
        ctl.update(mixed)
    assert math.isclose(float(pipe.p), 3 * step, rel_tol=1e-5) and ctl.rt == 0.0
    for _ in range(4 * 10):  # clamped at 0
        ctl.update(mixed)
    assert float(pipe.p) == 0
    big = AdaController(pipe, 64, AugmentConfig(kimg=0.01))  # huge steps: clamped at 1
    for _ in range(8):
        big.update(real_confident)
    assert float(pipe.p) == 1
    # state dict restores p and the half-filled accumulator
    ctl.update(real_confident)
    sd = ctl.state_dict()
    pipe2 = AugmentPipe()
    ctl2 = AdaController(pipe2, batch_size=64)
    ctl2.load_state_dict(sd)
    assert float(pipe2.p) == 1 and ctl2.steps == ctl.steps and torch.equal(ctl2.stats, ctl.stats)
    for c in (ctl, ctl2):
        for _ in range(3):
            c.update(mixed)
    assert float(pipe.p) == float(pipe2.p) < 1


@pytest.mark.parametrize(
    "op", ["scale", "rotate", "aniso", "xfrac", "brightness", "contrast", "hue", "saturation"]
)
def test_each_op_fires_for_a_fraction_p_of_clips(op):
    n, p = 2000, 0.3
    x = clips(B=n, Fn=1, H=8, W=8)
    pipe = only(op)
    pipe.p.fill_(p)
    changed = (
        ((pipe(x, generator=gen(16)) - x).flatten(1).abs().amax(1) > 1e-4).float().mean().item()
    )
    assert abs(changed - p) < 4 * math.sqrt(p * (1 - p) / n)
