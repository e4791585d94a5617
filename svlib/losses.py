"""StyleGAN-V objectives: non-saturating logistic loss, R1 on reals, lazy-regularisation Adam
rescaling, and the EMA of G (as in the official StyleGAN-V code).

D is any callable D(x [B, F, C, H, W], t [B, F], c) -> logits ([B] for the holistic video D,
[B, F] for the per-frame image D). `augment` (an `AugmentPipe` or None) is applied to reals and
fakes alike; G receives gradients through it. The `*_pair` functions are the same objectives for
the image + video discriminator pair that StyleGAN-V replaces (`svlib.video_d`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _run_D(D, x, t, c, augment):
    return D(augment(x) if augment is not None else x, t, c)


def g_loss(D, fake: torch.Tensor, t: torch.Tensor, c=None, augment=None) -> torch.Tensor:
    """Non-saturating G loss: softplus(−D(aug(G(z, t)))), mean over videos."""
    return F.softplus(-_run_D(D, fake, t, c, augment)).mean()


def d_loss(
    D,
    real: torch.Tensor,
    fake: torch.Tensor,
    t_real: torch.Tensor,
    t_fake: torch.Tensor,
    c_real=None,
    c_fake=None,
    augment=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logistic D loss softplus(D(fake)) + softplus(−D(real)) (each a mean over videos).

    Fakes are detached. Returns (loss, logits_real); the latter feeds the ADA controller.
    Reals and fakes go through D in separate calls, so minibatch-stddev groups never mix them."""
    logits_fake = _run_D(D, fake.detach(), t_fake, c_fake, augment)
    logits_real = _run_D(D, real, t_real, c_real, augment)
    return F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean(), logits_real


def r1_penalty(D, real: torch.Tensor, t: torch.Tensor, c=None, augment=None) -> torch.Tensor:
    """Per-video R1 [B]: ‖∇_x D(aug(x))‖² summed over C, H, W of each frame, averaged over frames.

    The gradient is taken w.r.t. the reals *before* augmentation (as the official code), with
    create_graph so the penalty trains D. The caller scales by γ/2 and the lazy interval."""
    if real.ndim != 5:
        raise ValueError(f"r1_penalty: real must be [B, F, C, H, W], got shape {tuple(real.shape)}")
    x = real.detach().requires_grad_(True)
    logits = _run_D(D, x, t, c, augment)
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # [B, F, C, H, W]
    grad = grad.to(torch.promote_types(grad.dtype, torch.float32))  # half -> fp32; fp64 stays
    return grad.square().sum(dim=(2, 3, 4)).mean(dim=1)


# ----------------------------------------------------------------------------------------------
# The image + video discriminator pair (D.kind="image+video"): D(x, t, clip) -> (logits [B, F],
# video logits [B]). Each D gets the logistic loss on its own input; the video D's is weighted.


def _run_pair(D, x, t, clip, augment):
    if augment is not None:  # one transform per video and input: each D sees its own draw
        x, clip = augment(x), augment(clip)
    return D(x, t, clip)


def g_loss_pair(D, fake, t, clip, video_weight: float = 1.0, augment=None):
    """Non-saturating G loss against both Ds: image + video_weight · video, each a mean.

    fake [B, F, C, H, W] (the image D's frames), clip [B, L, C, H, W] (the video D's dense clip).
    Returns (loss, image part, video part)."""
    logits, logits_video = _run_pair(D, fake, t, clip, augment)
    loss_image, loss_video = F.softplus(-logits).mean(), F.softplus(-logits_video).mean()
    return loss_image + video_weight * loss_video, loss_image, loss_video


def d_loss_pair(
    D, real, fake, t_real, t_fake, clip_real, clip_fake, video_weight: float = 1.0, augment=None
):
    """Logistic loss of both Ds: softplus(D(fake)) + softplus(−D(real)) for each, the video D's
    weighted by `video_weight`. Fakes are detached; reals and fakes go through separate calls (the
    minibatch-std groups never mix them).

    Returns (loss, image part, video part, image logits of the reals, video logits of the reals).
    """
    fake_logits, fake_video = _run_pair(D, fake.detach(), t_fake, clip_fake.detach(), augment)
    real_logits, real_video = _run_pair(D, real, t_real, clip_real, augment)
    loss_image = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
    loss_video = F.softplus(fake_video).mean() + F.softplus(-real_video).mean()
    return loss_image + video_weight * loss_video, loss_image, loss_video, real_logits, real_video


def r1_penalty_pair(D, real, t, clip, augment=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-video R1 of both Ds, each on its own input: ([B] image, [B] video).

    Each is ‖∇ D‖² summed over C, H, W of a frame and averaged over frames (of the sparse frames
    for the image D, of the dense clip for the video D), as `r1_penalty`. One double backward
    serves both: the two Ds share neither inputs nor parameters."""
    x, c = real.detach().requires_grad_(True), clip.detach().requires_grad_(True)
    logits, logits_video = _run_pair(D, x, t, c, augment)
    gx, gc = torch.autograd.grad(logits.sum() + logits_video.sum(), [x, c], create_graph=True)
    # [B, F, C, H, W], [B, L, C, H, W]; half -> fp32, fp64 stays
    return tuple(
        g.to(torch.promote_types(g.dtype, torch.float32)).square().sum(dim=(2, 3, 4)).mean(dim=1)
        for g in (gx, gc)
    )


def auto_r1_gamma(resolution: int, batch_size: int) -> float:
    """The `auto` R1 weight 0.0002 · res² / batch (0.2048 at 256², batch 64)."""
    if resolution <= 0 or batch_size <= 0:
        raise ValueError("auto_r1_gamma: resolution and batch_size must be positive")
    return 0.0002 * resolution**2 / batch_size


def auto_ema_kimg(batch_size: int) -> float:
    """The `auto` EMA half-life batch · 10 / 32 thousand videos (20 at batch 64: ~312 steps)."""
    if batch_size <= 0:
        raise ValueError("auto_ema_kimg: batch_size must be positive")
    return batch_size * 10 / 32


def lazy_adam_params(lr: float, betas: tuple[float, float], interval: int | None):
    """Adam (lr, betas) rescaled for lazy regularisation every `interval` steps (StyleGAN2):
    c = interval / (interval + 1); lr·c, (β1^c, β2^c). interval None/0 -> unchanged."""
    if not interval:
        return lr, tuple(betas)
    c = interval / (interval + 1)
    return lr * c, (betas[0] ** c, betas[1] ** c)


def ema_beta(
    batch_size: int, ema_kimg: float, ema_rampup: float | None = None, cur_nimg: int = 0
) -> float:
    """Per-step EMA decay, half-life `ema_kimg` thousand videos: 0.5 ** (B / (ema_kimg·1000)).

    With `ema_rampup`, the half-life is capped at cur_nimg · ema_rampup (off for fresh runs in
    StyleGAN-V)."""
    ema_nimg = ema_kimg * 1000
    if ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)
    return 0.5 ** (batch_size / max(ema_nimg, 1e-8))


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema ← β·G_ema + (1−β)·G for parameters; buffers (e.g. w_avg) are copied from G."""
    src = dict(G.named_parameters())
    ema, new = [], []
    for name, p_ema in G_ema.named_parameters():
        if name not in src:
            raise ValueError(f"ema_update: G has no parameter {name!r}; G_ema must be a copy of G")
        ema.append(p_ema)
        new.append(src[name].to(p_ema.dtype))
    torch._foreach_lerp_(ema, new, 1 - beta)  # one kernel launch for all parameters
    src = dict(G.named_buffers())
    for name, b_ema in G_ema.named_buffers():
        if name not in src:
            raise ValueError(f"ema_update: G has no buffer {name!r}; G_ema must be a copy of G")
        b_ema.copy_(src[name])
