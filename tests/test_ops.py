"""Low-level ops and shared layers: FIR resampling, bias_act, modulated convolution, equalized-lr
layers, the mapping network."""

import math

import pytest
import torch
import torch.nn.functional as F

from svlib.layers import Conv2dLayer, FullyConnectedLayer, MappingNetwork
from svlib.ops import (
    ACT_GAIN,
    bias_act,
    conv2d_resample,
    downsample2d,
    fir_filter,
    modulated_conv2d,
    modulated_weight,
    upfirdn2d,
    upsample2d,
)


def naive_upfirdn1d(x, taps, up, down, p0, p1, gain):
    """Reference 1-D upfirdn with explicit Python loops."""
    z = [0.0] * (len(x) * up)
    for i, v in enumerate(x):
        z[i * up] = v
    z = [0.0] * p0 + z + [0.0] * p1
    k = len(taps)
    # convolution
    y = [sum(z[j + m] * taps[k - 1 - m] * gain for m in range(k)) for j in range(len(z) - k + 1)]
    return y[::down]


@pytest.mark.parametrize(
    "up,down,pad", [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (1, 2)), (2, 1, (1, 1))]
)
def test_upfirdn2d_matches_separable_loop_reference(up, down, pad):
    torch.manual_seed(0)
    # a single row: the 2D filter acts as 1-D taps / sum
    x = torch.randn(1, 1, 1, 7, dtype=torch.float64)
    taps = [1.0, 2.0, 5.0, 1.0]  # asymmetric: catches a missing flip
    f2 = torch.tensor(taps, dtype=torch.float64)
    f2 = f2[:, None] * f2[None, :]
    # 2D filter on a 1-row image with zero vertical padding needs kh = 1: use the row filter
    # explicitly
    f_row = torch.tensor([taps], dtype=torch.float64)
    y = upfirdn2d(x, f_row, up=up, down=down, padding=(pad[0], pad[1], 0, 0), gain=1.0)
    # vertical zero insertion adds rows; row 0 holds the data
    ref = naive_upfirdn1d(x[0, 0, 0].tolist(), taps, up, down, pad[0], pad[1], 1.0)
    assert torch.allclose(y[0, 0, 0], torch.tensor(ref, dtype=torch.float64))
    # and the 2D separable filter on a 2D image equals applying the 1D reference along rows,
    # then columns
    X = torch.randn(1, 1, 6, 5, dtype=torch.float64)
    Y = upfirdn2d(X, f2, up=up, down=down, padding=(pad[0], pad[1], pad[0], pad[1]))
    rows = [naive_upfirdn1d(r, taps, up, down, pad[0], pad[1], 1.0) for r in X[0, 0].tolist()]
    cols = [naive_upfirdn1d(list(c), taps, up, down, pad[0], pad[1], 1.0) for c in zip(*rows)]
    assert torch.allclose(Y[0, 0], torch.tensor(cols, dtype=torch.float64).t())


def test_fir_filter_normalised_separable():
    f = fir_filter()
    assert f.shape == (4, 4) and abs(float(f.sum()) - 1) < 1e-6
    assert torch.allclose(f, torch.outer(f.sum(1), f.sum(0)))
    with pytest.raises(ValueError):
        fir_filter([])


def test_resampling_keeps_constant_image_constant_away_from_borders():
    # zero padding (as upfirdn2d) darkens only a 1-2 pixel border; the interior keeps the
    # constant exactly
    f = fir_filter()
    x = torch.full((2, 3, 16, 16), 0.7)
    u = upsample2d(x, f)
    d = downsample2d(x, f)
    assert u.shape == (2, 3, 32, 32) and d.shape == (2, 3, 8, 8)
    assert torch.allclose(u[..., 2:-2, 2:-2], torch.full_like(u[..., 2:-2, 2:-2], 0.7), atol=1e-6)
    assert torch.allclose(d[..., 1:-1, 1:-1], torch.full_like(d[..., 1:-1, 1:-1], 0.7), atol=1e-6)
    # the border does see the padding
    assert not torch.allclose(u[..., 0, :], torch.full_like(u[..., 0, :], 0.7))


def test_conv2d_resample_equals_resample_then_conv_in_interior():
    torch.manual_seed(0)
    f = fir_filter()
    x = torch.randn(2, 4, 12, 12, dtype=torch.float64)
    w = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    up = conv2d_resample(x, w, f=f.double(), up=2, padding=1)
    ref = F.conv2d(upsample2d(x, f.double()), w, padding=1)
    assert up.shape == ref.shape == (2, 5, 24, 24)
    assert torch.allclose(up[..., 3:-3, 3:-3], ref[..., 3:-3, 3:-3], atol=1e-10)
    down = conv2d_resample(x, w, f=f.double(), down=2, padding=1)
    ref = downsample2d(F.conv2d(x, w, padding=1), f.double())
    assert down.shape == ref.shape == (2, 5, 6, 6)
    # padding order differs at borders
    assert torch.allclose(down[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-10)
    w1 = torch.randn(5, 4, 1, 1, dtype=torch.float64)
    assert torch.allclose(
        conv2d_resample(x, w1, f=f.double(), down=2), F.conv2d(downsample2d(x, f.double()), w1)
    )


def test_bias_act_gain_and_clamp():
    x = torch.tensor([[-2.0, 0.5, 300.0]])
    y = bias_act(x, torch.zeros(3), act="lrelu", clamp=256)
    assert torch.allclose(y, torch.tensor([[-0.4 * math.sqrt(2), 0.5 * math.sqrt(2), 256.0]]))
    assert torch.allclose(bias_act(x, torch.ones(3)), x + 1)
    with pytest.raises(ValueError):
        bias_act(x, act="swish")


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def reference_upfirdn2d(x, f, up, down, pad, gain):
    """The direct formulation: explicit zero insertion, a padded copy, a depthwise conv with the
    flipped filter over every pixel, then every down-th output kept."""
    N, C, H, W = x.shape
    x0, x1, y0, y1 = pad
    z = x.new_zeros(N, C, H * up, W * up)
    z[:, :, ::up, ::up] = x
    z = F.pad(z, [x0, x1, y0, y1])
    w = (f * gain).flip([0, 1])[None, None].expand(C, 1, *f.shape)
    return F.conv2d(z, w, groups=C)[:, :, ::down, ::down]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2), (3, 1), (2, 2), (1, 3)])
@pytest.mark.parametrize(
    "pad", [(0, 0, 0, 0), (1, 1, 1, 1), (2, 1, 2, 1), (1, 3, 0, 2), (-1, 2, 1, -1)]
)
def test_upfirdn2d_fast_path_matches_direct_formulation(device, up, down, pad):
    # the conv's own padding, its stride and the transposed conv for up > 1 are the same linear
    # map as the direct formulation, so values and gradients (of any order) agree
    torch.manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, device=device, requires_grad=True)
    f = torch.randn(4, 3, dtype=torch.float64, device=device)  # asymmetric, kh != kw
    y = upfirdn2d(x, f, up=up, down=down, padding=pad, gain=1.7)
    ref = reference_upfirdn2d(x, f, up, down, pad, 1.7)
    assert y.shape == ref.shape
    assert torch.allclose(y, ref, atol=1e-12)
    gy = torch.randn_like(y)
    (gx,) = torch.autograd.grad(y, x, gy)
    (gx_ref,) = torch.autograd.grad(ref, x, gy)
    assert torch.allclose(gx, gx_ref, atol=1e-12)
    # channels-last input: the same values
    y_cl = upfirdn2d(x.contiguous(memory_format=torch.channels_last), f, up, down, pad, 1.7)
    assert torch.allclose(y_cl, ref, atol=1e-12)


@pytest.mark.parametrize(
    "kw", [{"up": 2, "padding": (2, 1, 2, 1), "gain": 4}, {"down": 2, "padding": 1}]
)
def test_upfirdn2d_is_twice_differentiable(kw):
    # R1 differentiates D's input gradient again
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    f = fir_filter().double()

    def squared(x):  # nonlinear in x, so the second derivative is not trivially zero
        return upfirdn2d(x, f, **kw).square()

    assert torch.autograd.gradgradcheck(squared, (x,))


def reference_bias_act(x, b, act, gain, clamp):
    """clamp(act(x + b) * gain, ±clamp), composed as written."""
    x = x + b.reshape(1, -1, 1, 1)
    x = {"linear": x, "lrelu": F.leaky_relu(x, 0.2), "relu": F.relu(x)}[act]
    x = x * (ACT_GAIN[act] if gain is None else gain)
    return x if clamp is None else x.clamp(-clamp, clamp)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("act", ["linear", "lrelu", "relu"])
@pytest.mark.parametrize("gain,clamp", [(None, None), (None, 1.5), (0.5, 1.5), (3.0, None)])
def test_bias_act_matches_composition_values_and_gradients(device, act, gain, clamp):
    torch.manual_seed(0)
    x = (2 * torch.randn(3, 4, 5, 5, dtype=torch.float64, device=device)).requires_grad_()
    b = torch.randn(4, dtype=torch.float64, device=device, requires_grad=True)
    # the gradient that flows in depends on p, as D's input gradient in R1 depends on D's weights
    p = torch.randn(4, dtype=torch.float64, device=device, requires_grad=True)
    r = torch.randn(3, 4, 5, 5, dtype=torch.float64, device=device)
    out = []
    for fn in (bias_act, reference_bias_act):
        y = fn(x, b, act=act, gain=gain, clamp=clamp)
        gx, gb = torch.autograd.grad(y, (x, b), p[:, None, None] * r, create_graph=True)
        (gp,) = torch.autograd.grad((gx * x.detach()).sum() + gb.sum(), p)
        out.append((y, gx, gb, gp))
    for new, ref in zip(*out):
        assert torch.allclose(new, ref, atol=1e-12)


@pytest.mark.parametrize("up,down,k", [(1, 1, 3), (2, 1, 3), (1, 2, 3), (1, 2, 1)])
def test_conv2d_resample_bias_is_added_to_the_output(up, down, k):
    torch.manual_seed(0)
    x, w = (
        torch.randn(2, 4, 8, 8, dtype=torch.float64),
        torch.randn(5, 4, k, k, dtype=torch.float64),
    )
    b, f = torch.randn(5, dtype=torch.float64), fir_filter().double()
    kw = {"f": f, "up": up, "down": down, "padding": k // 2}
    y = conv2d_resample(x, w, bias=b, **kw)
    assert torch.allclose(y, conv2d_resample(x, w, **kw) + b[:, None, None], atol=1e-12)


@pytest.mark.parametrize("down,k,act", [(1, 3, "lrelu"), (2, 3, "lrelu"), (2, 1, "linear")])
def test_conv2d_layer_matches_unfolded_gains(down, k, act):
    # the layer folds the activation gain and `gain` into its weight and bias
    torch.manual_seed(0)
    layer = Conv2dLayer(4, 6, k, activation=act, down=down, conv_clamp=2.0).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    w = layer.weight * layer.weight_gain
    y = conv2d_resample(x, w, f=layer.resample_filter.double(), down=down, padding=k // 2)
    ref = reference_bias_act(y, layer.bias, act, ACT_GAIN[act] * 0.7, 2.0 * 0.7)
    assert torch.allclose(layer(x, gain=0.7), ref, atol=1e-12)


def loop_modconv(x, weight, styles, demodulate, up=0, f=None):
    """Reference: explicit per-sample modulated/demodulated weight and a plain F.conv2d."""
    out = []
    for n in range(x.shape[0]):
        w = weight * styles[n][None, :, None, None]  # [O, I, k, k]
        if demodulate:
            w = w / w.flatten(1).norm(dim=1)[:, None, None, None]
        if up:
            out.append(F.conv2d(upsample2d(x[n : n + 1], f), w, padding=weight.shape[-1] // 2))
        else:
            out.append(F.conv2d(x[n : n + 1], w, padding=weight.shape[-1] // 2))
    return torch.cat(out)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_loop(fused, demodulate):
    torch.manual_seed(1)
    x, weight, styles = torch.randn(3, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(3, 4)
    y = modulated_conv2d(x, weight, styles, demodulate=demodulate, padding=1, fused=fused)
    assert torch.allclose(y, loop_modconv(x, weight, styles, demodulate), atol=1e-4)
    # upsampling variant (transposed conv + FIR), compared away from borders with upsample -> conv
    f = fir_filter()
    y = modulated_conv2d(
        x, weight, styles, demodulate=demodulate, up=2, padding=1, f=f, fused=fused
    )
    ref = loop_modconv(x, weight, styles, demodulate, up=2, f=f)
    assert y.shape == ref.shape == (3, 6, 16, 16)
    assert torch.allclose(y[..., 3:-3, 3:-3], ref[..., 3:-3, 3:-3], atol=1e-4)


def test_demodulated_weights_have_unit_norm_and_unit_output_variance():
    torch.manual_seed(2)
    weight, styles = torch.randn(16, 32, 3, 3), torch.rand(5, 32) * 3
    w = modulated_weight(weight, styles)  # [N, O, I, k, k]
    assert torch.allclose(w.flatten(2).norm(dim=2), torch.ones(5, 16), atol=1e-5)
    y = modulated_conv2d(torch.randn(5, 32, 32, 32), weight, styles, padding=1)
    # unit-variance in -> about unit-variance out
    assert abs(float(y[..., 1:-1, 1:-1].std()) - 1) < 0.1


def test_modulated_conv_rejects_bad_shapes():
    with pytest.raises(ValueError):
        modulated_conv2d(torch.randn(2, 4, 8, 8), torch.randn(6, 4, 3, 3), torch.randn(3, 4))


def test_equalized_lr_scaling():
    torch.manual_seed(0)
    fc = FullyConnectedLayer(256, 128, lr_multiplier=0.01, bias_init=0.5)
    # stored weight is N(0, 1)/lr, effective weight N(0, 1/fan_in): output ~ unit variance for
    # unit input
    assert abs(float(fc.weight.detach().std()) - 100) < 5
    y = fc(torch.randn(512, 256)).detach()
    assert abs(float(y.std()) - 1) < 0.1 and abs(float(y.mean()) - 0.005) < 0.1
    conv = Conv2dLayer(64, 32, 3, activation="lrelu", conv_clamp=0.1)
    y = conv(torch.randn(2, 64, 8, 8)).detach()
    assert y.abs().max() <= 0.1 + 1e-6


def test_mapping_network_normalises_and_truncates():
    torch.manual_seed(0)
    m = MappingNetwork(8, 3, 16, num_layers=2)
    z, c = torch.randn(4, 8), torch.eye(3)[[0, 1, 2, 0]]
    w = m(z, c)
    # 2nd-moment normalisation: scale of z is irrelevant
    assert torch.allclose(m(10 * z, c), w, atol=1e-5)
    m(z, c, update_w_avg=True)
    assert torch.allclose(m.w_avg, 0.005 * w.mean(0), atol=1e-6)
    assert torch.allclose(m(z, c, truncation_psi=0.0), m.w_avg.expand(4, -1))
    with pytest.raises(ValueError):
        m(z)  # c missing
