"""Motion path: grid length, continuity of v(t) across anchors, long-horizon definition,
motion_z reuse."""

import math

import pytest
import torch

from svlib.config import MotionConfig, get_preset
from svlib.generator import Generator
from svlib.motion import MotionNetwork, log_spaced_periods, motion_z_length

CFG = MotionConfig(
    z_dim=16, code_dim=16, time_dim=8, min_period=4.0, max_period=64.0, kernel_size=5
)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return MotionNetwork(CFG).eval()


def draw(t_max, B=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, motion_z_length(CFG, t_max), CFG.z_dim, generator=g)


def test_periods_geometric_and_frequencies_ascend():
    p = log_spaced_periods(16, 1024, 256)
    assert float(p[0]) == pytest.approx(1024) and float(p[-1]) == pytest.approx(16)
    ratios = p[:-1] / p[1:]
    assert torch.allclose(ratios, ratios[0].expand_as(ratios))  # geometric spacing
    assert torch.all(p[1:] < p[:-1])  # periods descend -> ω = 2π/P ascend


def test_grid_length_formula():
    # 86, as in the official code
    assert motion_z_length(MotionConfig(), 1023) == math.ceil(1023 / 16) + 2 + 20
    assert motion_z_length(CFG, 0) == 2 + 2 * 4
    with pytest.raises(ValueError):
        motion_z_length(CFG, -1)


@torch.no_grad()
def test_embedding_continuous_across_anchors(net):
    mz = draw(40.0)
    dz, eps = CFG.grid_spacing, 1e-4
    for k in range(1, 8):
        t = torch.tensor([[k * dz - eps, k * dz, k * dz + eps]] * 2)
        v = net(t, mz)  # [2, 3, 2K]
        assert torch.allclose(v[:, 0], v[:, 1], atol=2e-3) and torch.allclose(
            v[:, 2], v[:, 1], atol=2e-3
        )
    # dense sweep: no jumps bigger than the local slope allows
    t = torch.linspace(0, 39.9, 4000)[None].expand(2, -1)
    v = net(t, mz)
    steps = (v[:, 1:] - v[:, :-1]).norm(dim=-1)
    assert float(steps.max()) < 0.2


@torch.no_grad()
def test_embedding_at_anchor_equals_aligner(net):
    mz = draw(20.0)
    u = net.mapping(mz)  # [B, Lu, D]
    t = torch.tensor([[0.0, 4.0, 12.0]] * 2)
    v = net(t, mz)
    a = net.time_encoder.aligner_fc(u[:, [0, 1, 3]])
    # v(t_L) = a(u_L): the sinusoid is removed exactly at anchors
    assert torch.allclose(v, a, atol=1e-4)
    mid = net(torch.tensor([[2.0]] * 2), mz)
    # but not between anchors
    assert not torch.allclose(mid[:, 0], 0.5 * (a[:, 0] + a[:, 1]), atol=1e-3)


@torch.no_grad()
def test_defined_far_in_time_and_bounds_checked(net):
    t = torch.tensor([[0.0, 9999.5, 10000.0]] * 2)
    mz = draw(10000.0)
    v = net(t, mz)
    assert v.shape == (2, 3, 2 * CFG.time_dim) and torch.isfinite(v).all()
    with pytest.raises(ValueError, match="t_max"):
        net(torch.tensor([[0.0, 10000.0]] * 2), draw(100.0))
    with pytest.raises(ValueError):
        net(torch.tensor([[-1.0]] * 2), mz)


@torch.no_grad()
def test_longer_motion_z_gives_identical_embedding(net):
    short, long = draw(30.0), draw(300.0)
    long[:, : short.shape[1]] = short
    t = torch.rand(2, 9) * 30
    assert torch.equal(net(t, short), net(t, long))


@torch.no_grad()
def test_window_of_motion_z_with_first_code_gives_identical_embedding(net):
    mz = draw(2000.0)
    dz, rf = CFG.grid_spacing, net.mapping.receptive_field
    t = 1500.0 + torch.rand(2, 9) * 40  # a chunk far into the video
    lo, hi = int(torch.floor(t.min() / dz)), int(torch.floor(t.max() / dz))
    window = mz[:, lo : hi + 1 + rf]  # the noise this chunk reads, nothing more
    assert torch.allclose(net(t, window, first_code=lo), net(t, mz), atol=1e-5)
    with pytest.raises(ValueError, match="first_code"):  # the window does not reach t = 1400
        net(torch.full((2, 1), 1400.0), window, first_code=lo)


def test_embedding_fp32_under_bf16_autocast(net):
    mz, t = draw(5000.0), torch.tensor([[4999.3, 12.25]] * 2)
    with torch.no_grad():
        ref = net(t, mz)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            v = net(t, mz)
    assert v.dtype == torch.float32 and torch.allclose(v, ref)


def test_sample_motion_z_prefix_consistent_with_generator():
    torch.manual_seed(0)
    G = Generator(get_preset("cpu").G)
    a = G.sample_motion_z(3, 40.0, generator=torch.Generator().manual_seed(7))
    b = G.sample_motion_z(3, 400.0, generator=torch.Generator().manual_seed(7))
    assert a.shape == (3, motion_z_length(G.cfg.motion, 40.0), G.cfg.motion.z_dim)
    # time-major draw: a longer draw extends every video's noise
    assert torch.equal(b[:, : a.shape[1]], a)
    c = G.sample_motion_z(3, 40.0, generator=torch.Generator().manual_seed(8))
    assert not torch.equal(a, c)
