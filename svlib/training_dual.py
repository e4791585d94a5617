"""One training step with the image + video discriminator pair (`D.kind = "image+video"`).

`training.train_step` hands a step to `train_step_dual` when the config asks for the pair that
StyleGAN-V replaces (`svlib.video_d.DualDiscriminator`). The phases are those of the holistic step,
with two Ds judging each video:
  Gmain  G <- softplus(-D_img(aug(x_F))) + λ softplus(-D_vid(aug(x_L)))       x = G(z, [t_F, t_L])
  Dmain  D <- softplus(D_img(aug(x_F))) + softplus(-D_img(aug(r_F)))
              + λ [softplus(D_vid(aug(x_L))) + softplus(-D_vid(aug(r_L)))]
  Dreg   D <- γ/2 · (R1_img(r_F) + ρ R1_vid(r_L)) · r1_interval     (every r1_interval steps)
with λ = D.video.loss_weight and ρ = D.video.r1_weight. x_F are the F sparse frames at the fake
times t_F (what the holistic D would see), x_L a dense clip of L consecutive frames at t_L =
o, o+1, ..., o+L-1 with a fractional offset o, both rendered in one G call from the same content
and motion codes; r_F and r_L are the real sparse frames and a dense real clip of the same video.

One Adam optimises both Ds (as the official baseline, which gives the video D a ×0.1 learning
rate; here the video D's equalized-lr multiplier does that), so `TrainingState` and its
checkpoints hold the pair like any D. ADA follows the image D's real logits, as the baseline's
statistics do. The random stream is drawn in the holistic step's order, so resumed runs continue
exactly.
"""

from __future__ import annotations

import torch

from . import dist as sdist
from .checks import UsageError
from .losses import d_loss_pair, ema_beta, ema_update, g_loss_pair, r1_penalty, r1_penalty_pair
from .utils import autocast, check_shape


def _adam_step(opt, module: torch.nn.Module, loss: torch.Tensor, world_size: int) -> None:
    # imported here: svlib.training imports this module, and its step is the one to share
    from .training import _adam_step as step

    step(opt, module, loss, world_size)


def _render(state, z, motion_z, t_fake, t_clip, **kw):
    """Both fake inputs of a video from one G call: frames [b, F, ...] and clip [b, L, ...]."""
    fake = state.G_fwd(z, torch.cat([t_fake, t_clip], dim=1), motion_z=motion_z, **kw)
    return fake[:, : t_fake.shape[1]], fake[:, t_fake.shape[1] :]


def _g_main(state, z, motion_z, t_fake, t_clip, dtype, world_size):
    """Gmain against both Ds (frozen)."""
    state.D.requires_grad_(False)
    with autocast(state.device, dtype):
        fake, clip = _render(state, z, motion_z, t_fake, t_clip, update_w_avg=True)
        loss, _, loss_video = g_loss_pair(
            state.D_fwd, fake, t_fake, clip, state.cfg.D.video.loss_weight, state.augment
        )
    sdist.all_reduce_buffers(state.G, world_size)  # w_avg was updated from this rank's batch only
    _adam_step(state.opt_G, state.G, loss, world_size)
    state.D.requires_grad_(True)
    return loss, loss_video


def _d_main(state, real, t_real, clip_real, z, motion_z, t_fake, t_clip, dtype, world_size):
    """Dmain of both Ds."""
    with torch.no_grad(), autocast(state.device, dtype):
        fake, clip = _render(state, z, motion_z, t_fake, t_clip)
    with autocast(state.device, dtype):
        loss, _, loss_video, logits_real, video_real = d_loss_pair(
            state.D_fwd,
            real,
            fake.float(),
            t_real,
            t_fake,
            clip_real,
            clip.float(),
            state.cfg.D.video.loss_weight,
            state.augment,
        )
    _adam_step(state.opt_D, state.D, loss, world_size)
    return loss, loss_video, logits_real, video_real


def _d_reg(state, real, t_real, clip_real, world_size):
    """Dreg: lazy R1 of both Ds on their own real inputs (eager D, full precision)."""
    tc, rho = state.cfg.train, state.cfg.D.video.r1_weight
    if rho > 0:
        r1, r1_video = (
            r.mean() for r in r1_penalty_pair(state.D, real, t_real, clip_real, state.augment)
        )
    else:  # the baseline's choice: only the image D is regularised, the video D not even run
        r1, r1_video = r1_penalty(state.D.image_d, real, t_real, augment=state.augment).mean(), None
    # r1_weight 0: a zero term still gives the video D (zero) gradients, so Adam steps it as it
    # does with several processes, whose all-reduce turns missing gradients into zeros
    total = r1 + (rho * r1_video if r1_video is not None else _zero(state.D.video_d))
    _adam_step(state.opt_D, state.D, total * (tc.r1_gamma / 2) * tc.r1_interval, world_size)
    return r1, r1_video


def _zero(module: torch.nn.Module) -> torch.Tensor:
    return sum(p.sum() for p in module.parameters()) * 0


def train_step_dual(
    state,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    *,
    dtype: torch.dtype | None = None,
    world_size: int = 1,
) -> dict[str, float]:
    """`train_step` for `D.kind = "image+video"`: Gmain, Dmain, lazy R1, EMA and ADA with the image
    D on the sparse frames and the video D on dense clips.

    batch: as `StepBatches` yields it for this kind: frames [b, F, 3, H, W] uint8, t [b, F],
           t_fake [b, F], clip [b, L, 3, H, W] uint8 (L consecutive real frames of the same
           videos) and t_clip_fake [b, L] (consecutive fake times).
    Returns loss_G and loss_D (the sums of both Ds' terms), their video parts loss_G_video and
    loss_D_video, the mean real logits D_real (image D) and D_real_video, and on R1 steps r1 and
    r1_video (absent when D.video.r1_weight is 0). `state.cur_nimg` counts the image D's frames,
    as the holistic step counts its D's, so a length in kimg is the same number of steps.
    """
    cfg, dev = state.cfg, state.device
    C, R, L = cfg.G.img_channels, cfg.G.resolution, cfg.D.video.num_frames
    if "clip" not in batch or "t_clip_fake" not in batch:
        raise UsageError(
            "D.kind=image+video: the batch has no dense clip ('clip', 't_clip_fake'); build it "
            "with StepBatches from this config"
        )
    check_shape(batch["frames"], ["b", "F", C, R, R], "batch['frames']")
    real = batch["frames"].to(dev, non_blocking=True).float() / 127.5 - 1  # [b, F, 3, H, W]
    b, num_frames = real.shape[:2]
    check_shape(batch["clip"], [b, L, C, R, R], "batch['clip']")
    clip_real = batch["clip"].to(dev, non_blocking=True).float() / 127.5 - 1  # [b, L, 3, H, W]
    t_real, t_fake = batch["t"].to(dev), batch["t_fake"].to(dev)  # [b, F]
    t_clip = batch["t_clip_fake"].to(dev)  # [b, L]
    check_shape(t_real, real.shape[:2], "batch['t']")
    check_shape(t_fake, real.shape[:2], "batch['t_fake']")
    check_shape(t_clip, [b, L], "batch['t_clip_fake']")
    torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))  # augmentation draws
    z = torch.randn(2, b, cfg.G.z_dim, generator=generator).to(dev)  # [2, b, z_dim]
    t_max = float(torch.maximum(t_fake.max(), t_clip.max()))  # the motion noise covers both
    mz = [
        state.G.sample_motion_z(b, t_max, generator=generator).to(dev) if cfg.G.motion else None
        for _ in range(2)
    ]
    loss_g, loss_g_video = _g_main(state, z[0], mz[0], t_fake, t_clip, dtype, world_size)
    loss_d, loss_d_video, logits_real, video_real = _d_main(
        state, real, t_real, clip_real, z[1], mz[1], t_fake, t_clip, dtype, world_size
    )
    tc = cfg.train
    lazy_r1 = tc.r1_interval > 0 and tc.r1_gamma > 0 and state.step % tc.r1_interval == 0
    r1, r1_video = _d_reg(state, real, t_real, clip_real, world_size) if lazy_r1 else (None, None)

    videos = b * world_size
    ema_update(state.G_ema, state.G, ema_beta(videos, tc.ema_kimg, tc.ema_rampup, state.cur_nimg))
    if state.ada is not None:
        state.ada.update(logits_real)  # all-reduces its statistics over ranks
    state.step += 1
    state.cur_nimg += videos * num_frames
    stats = {
        "loss_G": loss_g.item(),
        "loss_D": loss_d.item(),
        "loss_G_video": loss_g_video.item(),
        "loss_D_video": loss_d_video.item(),
        "D_real": logits_real.float().mean().item(),
        "D_real_video": video_real.float().mean().item(),
    }
    if r1 is not None:
        stats["r1"] = r1.item()
    if r1_video is not None:
        stats["r1_video"] = r1_video.item()
    return stats
