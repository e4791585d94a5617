"""Losses, R1, lazy-regularisation Adam rescaling and EMA helpers."""

import copy
import math

import torch
from stand_ins import TinyD
from torch import nn

from svlib.augment import AugmentPipe
from svlib.config import AugmentConfig
from svlib.losses import (
    auto_r1_gamma,
    d_loss,
    ema_beta,
    ema_update,
    g_loss,
    lazy_adam_params,
    r1_penalty,
)


class LinearD(nn.Module):
    """D(x) = <w, x> + a·gap: its input gradient is exactly w."""

    def __init__(self, shape):
        super().__init__()
        self.w = nn.Parameter(torch.randn(shape))

    def forward(self, x, t, c=None):
        return (x * self.w).flatten(1).sum(1) + 0.1 * (t[:, -1] - t[:, 0])


def softplus(v):
    return math.log1p(math.exp(v))


def data(B=4, Fn=3, H=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(B, Fn, 3, H, H, generator=g) * 2 - 1
    t = torch.sort(torch.randint(0, 20, (B, Fn), generator=g).float(), dim=1).values
    return x, t


def test_d_and_g_loss_match_formula_and_detach_fakes():
    torch.manual_seed(0)
    D = LinearD((3, 3, 8, 8))
    real, t_real = data(seed=1)
    fake, t_fake = data(seed=2)
    fake.requires_grad_(True)
    lr = D(real, t_real).tolist()
    lf = D(fake, t_fake).tolist()
    loss, logits_real = d_loss(D, real, fake, t_real, t_fake)
    want = sum(softplus(v) for v in lf) / 4 + sum(softplus(-v) for v in lr) / 4
    assert math.isclose(loss.item(), want, rel_tol=1e-5)
    assert torch.allclose(logits_real, torch.tensor(lr))
    loss.backward()
    assert fake.grad is None and D.w.grad is not None  # fakes detached, D trained
    gl = g_loss(D, fake, t_fake)
    assert math.isclose(gl.item(), sum(softplus(-v) for v in lf) / 4, rel_tol=1e-5)
    gl.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


def test_losses_pass_through_augment_and_labels():
    calls = []
    D = lambda x, t, c: calls.append(c) or x.flatten(1).mean(1)
    real, t = data()
    aug = lambda v: v + 1.0
    loss, lr = d_loss(D, real, real, t, t, c_real="cr", c_fake="cf", augment=aug)
    assert torch.allclose(lr, real.flatten(1).mean(1) + 1) and calls == ["cf", "cr"]
    assert torch.isclose(
        g_loss(D, real, t, augment=aug), torch.nn.functional.softplus(-(lr)).mean()
    )


def test_r1_penalty_linear_D_is_mean_over_frames_of_frame_norms():
    torch.manual_seed(0)
    D = LinearD((3, 3, 8, 8))
    real, t = data()
    pen = r1_penalty(D, real, t)
    want = sum(D.w[f].square().sum() for f in range(3)) / 3  # ∇x = w for every video
    assert pen.shape == (4,) and torch.allclose(pen, want.expand(4))


def test_r1_penalty_matches_explicit_per_frame_autograd():
    torch.manual_seed(0)
    D = TinyD()
    real, t = data()
    pipe = AugmentPipe(AugmentConfig(p=1.0))
    for augment in (None, lambda v: pipe(v, generator=torch.Generator().manual_seed(3))):
        pen = r1_penalty(D, real, t, augment=augment)
        want = []
        for b in range(4):  # the gradient of video b's own logit, then frame by frame
            xb = real.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(D(augment(xb) if augment else xb, t)[b], xb)
            assert g[torch.arange(4) != b].abs().max() == 0  # D scores each video on its own
            want.append(sum((g[b, f] ** 2).sum() for f in range(3)) / 3)
        assert torch.allclose(pen, torch.stack(want), rtol=1e-5)
    assert pen.requires_grad  # create_graph: the penalty trains D
    pen.sum().backward()
    assert D.conv.weight.grad.abs().sum() > 0


def test_auto_gamma_lazy_adam_and_ema_beta():
    assert math.isclose(auto_r1_gamma(256, 64), 0.2048)
    assert math.isclose(auto_r1_gamma(1024, 16), 13.1072)
    lr, betas = lazy_adam_params(0.0025, (0.0, 0.99), 16)
    assert (
        math.isclose(lr, 0.0025 * 16 / 17)
        and betas[0] == 0
        and math.isclose(betas[1], 0.99 ** (16 / 17))
    )
    assert lazy_adam_params(0.002, (0.0, 0.99), 4)[0] == 0.002 * 0.8
    assert lazy_adam_params(0.002, (0.0, 0.99), None) == (0.002, (0.0, 0.99))
    beta = ema_beta(64, 20)
    assert math.isclose(beta, 0.5 ** (64 / 20000))
    assert math.isclose(beta ** (20000 / 64), 0.5)  # half-life of ema_kimg thousand videos
    assert ema_beta(64, 20, ema_rampup=0.05, cur_nimg=6400) < beta  # ramp-up shortens the half-life


def test_ema_update_moves_params_by_beta_and_copies_buffers():
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))
    G_ema = copy.deepcopy(G)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p))
        G[1].running_mean.fill_(0.7)
    before = [p.clone() for p in G_ema.parameters()]
    ema_update(G_ema, G, 0.9)
    for p0, pe, pg in zip(before, G_ema.parameters(), G.parameters()):
        assert torch.allclose(pe, 0.9 * p0 + 0.1 * pg, atol=1e-6)
    assert torch.equal(G_ema[1].running_mean, G[1].running_mean)
    ema_update(G_ema, G, 0.0)  # beta 0 copies G
    assert all(torch.equal(pe, pg) for pe, pg in zip(G_ema.parameters(), G.parameters()))
