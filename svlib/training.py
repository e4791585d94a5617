"""The StyleGAN-V training loop: sparse clips, holistic D, lazy R1, video-consistent ADA, EMA of G.

One step, `train_step(state, batch, generator)` (the official StyleGAN2-ADA/StyleGAN-V phases):
  Gmain  G <- softplus(-D(aug(G(z, t_fake))))
  Dmain  D <- softplus(D(aug(G(z', t_fake)))) + softplus(-D(aug(x_real)))
  Dreg   D <- γ/2 · mean_frames ||∇_x D(aug(x_real))||² · r1_interval      (every r1_interval steps)
  EMA    G_ema <- lerp(G, G_ema, β)
  ADA    p <- p ± ... toward E[sign D(real)] = target                 (every augment.interval steps)

Everything random in a step is drawn from generators seeded by (seed, step, rank), so a run that is
stopped and resumed continues exactly as the uninterrupted run would. `TrainingState` holds what a
step changes; `train()` is the loop around it (data, logging, previews, checkpoints, resume).
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from . import dist as sdist
from .augment import AdaController, AugmentPipe
from .checkpoint import latest_checkpoint, load_checkpoint, prune_snapshots, save_checkpoint
from .config import RESUMABLE_FIELDS, Config, config_diff, resolve_auto
from .datasets import ClipDataset, VideoDataset, open_dataset
from .discriminator import Discriminator
from .generator import Generator
from .losses import (
    d_loss,
    ema_beta,
    ema_update,
    g_loss,
    lazy_adam_params,
    r1_penalty,
)
from .models import build_models
from .sampling import sample_fake_times
from .utils import amp_dtype, autocast, check_shape

# ----------------------------------------------------------------------------------------------
# Data: one deterministic batch per (step, rank)


class StepBatches(torch.utils.data.Dataset):
    """Item `step` is this rank's batch of real clips and fake timestamps for that training step.

    Indexing by step (not by video) makes the data stream a pure function of (seed, step, rank):
    DataLoader workers can prefetch it, and a resumed run sees the same batches as an uninterrupted one.
    """

    def __init__(self, videos: VideoDataset, cfg: Config, batch: int, rank: int = 0):
        self.clips = ClipDataset(videos, cfg.sampling, mirror=cfg.train.mirror, seed=cfg.train.seed)
        self.s, self.batch, self.rank, self.seed = cfg.sampling, batch, rank, cfg.train.seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        items = [
            self.clips.clip(int(k), rng) for k in rng.integers(0, len(self.clips), size=self.batch)
        ]
        fake_t = sample_fake_times(self.batch, self.clips.clip_lengths, self.s, rng)
        return {
            "frames": torch.stack([it["frames"] for it in items]),  # [b, F, 3, H, W] uint8
            "t": torch.stack([it["t"] for it in items]),  # [b, F]
            "t_fake": torch.as_tensor(fake_t, dtype=torch.float32),
        }  # [b, F]


def _loader(ds: StepBatches, start_step: int, num_workers: int):
    return torch.utils.data.DataLoader(
        ds,
        batch_size=None,
        sampler=range(start_step, 2**62),
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
    )


# ----------------------------------------------------------------------------------------------
# The training state and one step


@dataclass(eq=False)
class TrainingState:
    """Everything a run changes as it trains: G, D, G_ema, both optimisers, the augmentation
    probability with its ADA controller, and the counters; `cfg` is the resolved config it was
    built from.

    `state_dict()` is what a checkpoint stores next to the config and `load_state_dict()` restores
    it, so saving and resuming mirror one structure. The losses call `G_fwd` / `D_fwd` (compiled
    when `cfg.train.compile`); R1 uses the eager `D`, since compiled graphs have no double backward.
    """

    cfg: Config
    G: Generator
    D: Discriminator
    G_ema: Generator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer
    augment: AugmentPipe | None  # None when cfg.train.augment.mode is "none"
    ada: AdaController | None  # None unless the mode is "ada"
    G_fwd: torch.nn.Module
    D_fwd: torch.nn.Module
    step: int = 0
    cur_nimg: int = 0  # frames shown to D (the official `kimg` counts frames)
    wall_time: float = 0.0  # seconds of training, summed over resumes

    @classmethod
    def create(cls, cfg: Config, device: str | torch.device = "cpu") -> TrainingState:
        """A fresh state: networks initialised from `cfg.train.seed`, Adam rescaled for the lazy
        regularisation intervals, the augmentation pipe at its initial p. `auto` values of `cfg`
        are resolved first."""
        cfg = resolve_auto(cfg)
        tc, aug = cfg.train, cfg.train.augment
        torch.manual_seed(tc.seed)
        G, D = build_models(cfg)
        G, D = G.to(device).train(), D.to(device).train()
        G_ema = copy.deepcopy(G).eval().requires_grad_(False)
        lr_g, betas_g = lazy_adam_params(tc.lr_g, tc.betas, tc.g_reg_interval)
        lr_d, betas_d = lazy_adam_params(tc.lr_d, tc.betas, tc.r1_interval)
        # fused: one kernel per parameter instead of a dozen ops (3.6x faster steps on CPU)
        opt_G = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas_g, eps=tc.eps, fused=True)
        opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas_d, eps=tc.eps, fused=True)
        augment = AugmentPipe(aug).to(device) if aug.mode != "none" else None
        ada = AdaController(augment, tc.batch_size, aug) if aug.mode == "ada" else None
        G_fwd, D_fwd = (torch.compile(G), torch.compile(D)) if tc.compile else (G, D)
        return cls(cfg, G, D, G_ema, opt_G, opt_D, augment, ada, G_fwd, D_fwd)

    @property
    def device(self) -> torch.device:
        return next(self.G.parameters()).device

    def state_dict(self) -> dict[str, Any]:
        sd = {name: getattr(self, name).state_dict() for name in _MODULES}
        sd["state"] = {"step": self.step, "cur_nimg": self.cur_nimg, "wall_time": self.wall_time}
        if self.augment is not None:
            sd["augment_p"] = self.augment.p.detach().cpu()
        if self.ada is not None:
            sd["ada"] = self.ada.state_dict()
        return sd

    def load_state_dict(self, sd: dict[str, Any]) -> None:
        for name in _MODULES:
            # Optimisers keep the tensors they are given: a copy, so that `sd` may be another live
            # state's `state_dict()` without the two sharing Adam moments.
            getattr(self, name).load_state_dict(copy.deepcopy(sd[name]))
        if self.augment is not None:
            self.augment.p.copy_(sd["augment_p"])
        if self.ada is not None:
            self.ada.load_state_dict(sd["ada"])
        self.step, self.cur_nimg, self.wall_time = (
            sd["state"][k] for k in ("step", "cur_nimg", "wall_time")
        )


_MODULES = ("G", "D", "G_ema", "opt_G", "opt_D")  # the parts of a state that have a state_dict


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The random stream of one training step: a pure function of (seed, step, rank)."""
    g = torch.Generator(device="cpu")
    g.manual_seed(int(np.random.default_rng([seed, step, rank, 2]).integers(2**62)))
    return g


def _nan_to_num_grads(module: torch.nn.Module) -> None:
    for p in module.parameters():
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)


def _adam_step(opt, module: torch.nn.Module, loss: torch.Tensor, world_size: int) -> None:
    """Backward, average the gradients over processes, drop non-finite entries, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    sdist.all_reduce_grads(module.parameters(), world_size)
    _nan_to_num_grads(module)
    opt.step()


def _g_main(state: TrainingState, z, motion_z, t_fake, dtype, world_size) -> torch.Tensor:
    """Gmain: G <- softplus(-D(aug(G(z, t_fake)))), with D frozen."""
    dev = state.device
    state.D.requires_grad_(False)
    with autocast(dev, dtype):
        fake = state.G_fwd(z, t_fake, motion_z=motion_z, update_w_avg=True)  # [b, F, 3, H, W]
        loss = g_loss(state.D_fwd, fake, t_fake, augment=state.augment)
    sdist.all_reduce_buffers(state.G, world_size)  # w_avg was updated from this rank's batch only
    _adam_step(state.opt_G, state.G, loss, world_size)
    state.D.requires_grad_(True)
    return loss


def _d_main(state: TrainingState, real, t_real, z, motion_z, t_fake, dtype, world_size):
    """Dmain: D <- softplus(D(aug(G(z', t_fake)))) + softplus(-D(aug(x_real)))."""
    dev = state.device
    with torch.no_grad(), autocast(dev, dtype):
        fake = state.G_fwd(z, t_fake, motion_z=motion_z)  # [b, F, 3, H, W]
    with autocast(dev, dtype):
        loss, logits_real = d_loss(
            state.D_fwd, real, fake.float(), t_real, t_fake, augment=state.augment
        )
    _adam_step(state.opt_D, state.D, loss, world_size)
    return loss, logits_real


def _d_reg(state: TrainingState, real, t_real, world_size) -> torch.Tensor:
    """Dreg: lazy R1 with gain r1_interval (eager D, full precision: the double backward is
    sensitive)."""
    tc = state.cfg.train
    r1 = r1_penalty(state.D, real, t_real, augment=state.augment).mean()
    _adam_step(state.opt_D, state.D, r1 * (tc.r1_gamma / 2) * tc.r1_interval, world_size)
    return r1


def train_step(
    state: TrainingState,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    *,
    dtype: torch.dtype | None = None,
    world_size: int = 1,
) -> dict[str, float]:
    """One full training step: Gmain, Dmain, lazy R1 (every r1_interval steps), the EMA of G and the
    ADA update of p. Advances `state.step` and `state.cur_nimg`.

    batch:      this process's real clips and fake times, as `StepBatches` yields them:
                frames [b, F, 3, H, W] uint8, t [b, F], t_fake [b, F] (moved to the state's device).
    generator:  the step's random stream (`step_generator(seed, step, rank)`): it seeds the
                augmentation and draws z and the motion noise.
    dtype:      autocast dtype of the G and D passes (None: full precision; R1 always is).
    world_size: processes training together; gradients, w_avg and the ADA statistics are averaged
                over them (nothing is communicated when 1). The global batch is b · world_size.
    Returns loss_G, loss_D, D_real (mean real logit) and, on R1 steps, r1.
    """
    cfg, dev = state.cfg, state.device
    C, R = cfg.G.img_channels, cfg.G.resolution
    check_shape(batch["frames"], ["b", "F", C, R, R], "batch['frames']")
    real = batch["frames"].to(dev, non_blocking=True).float() / 127.5 - 1  # [b, F, 3, H, W]
    t_real, t_fake = batch["t"].to(dev), batch["t_fake"].to(dev)  # [b, F]
    check_shape(t_real, real.shape[:2], "batch['t']")
    check_shape(t_fake, real.shape[:2], "batch['t_fake']")
    b, num_frames = real.shape[:2]
    torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))  # augmentation draws
    z = torch.randn(2, b, cfg.G.z_dim, generator=generator).to(dev)  # [2, b, z_dim]
    mz = [
        state.G.sample_motion_z(b, float(t_fake.max()), generator=generator).to(dev)
        if cfg.G.motion
        else None
        for _ in range(2)
    ]
    loss_g = _g_main(state, z[0], mz[0], t_fake, dtype, world_size)
    loss_d, logits_real = _d_main(state, real, t_real, z[1], mz[1], t_fake, dtype, world_size)
    tc = cfg.train
    lazy_r1 = tc.r1_interval > 0 and tc.r1_gamma > 0 and state.step % tc.r1_interval == 0
    r1 = _d_reg(state, real, t_real, world_size) if lazy_r1 else None

    videos = b * world_size
    ema_update(state.G_ema, state.G, ema_beta(videos, tc.ema_kimg, tc.ema_rampup, state.cur_nimg))
    if state.ada is not None:
        state.ada.update(logits_real)  # all-reduces its statistics over ranks
    state.step += 1
    state.cur_nimg += videos * num_frames
    stats = {"loss_G": loss_g.item(), "loss_D": loss_d.item()}
    stats["D_real"] = logits_real.float().mean().item()
    if r1 is not None:
        stats["r1"] = r1.item()
    return stats


@torch.no_grad()
def sample_grid(G, z, motion_z, num_frames: int, fps_factor: float = 1.0, chunk: int = 16):
    """Frames of fixed preview videos: `[B, T, 3, H, W]` in [-1, 1]."""
    t_all = torch.arange(num_frames, device=z.device, dtype=torch.float32) / fps_factor
    outs = []
    for s in range(0, num_frames, chunk):
        t = t_all[s : s + chunk].expand(z.shape[0], -1)
        outs.append(G(z, t, motion_z=motion_z).float().cpu())
    return torch.cat(outs, dim=1)


def train(
    cfg: Config,
    data: str | VideoDataset,
    out_dir: str | os.PathLike,
    *,
    steps: int | None = None,
    max_minutes: float | None = None,
    resume: bool | str = False,
    device: str | torch.device | None = None,
    progress: bool = True,
    sample_frames: int = 32,
    num_preview: int = 9,
    callback: Callable[[int, dict], None] | None = None,
) -> dict[str, Any]:
    """Train StyleGAN-V: `train_step` in a loop, with logging, previews and checkpoints.
    Returns the last logged statistics.

    cfg:         the full configuration (`svlib.get_preset(...)`); its `auto` values are resolved
                 once here, and the resolved config is what config.json and checkpoints store.
    data:        a dataset spec (folder, .zip, folder of videos, "synthetic:NAME?...") or a
                 `VideoDataset`.
    out_dir:     run folder: `log.jsonl`, `config.json`, `checkpoint-<step>.pt`,
                 `samples/step-<step>.mp4`.
    steps:       stop after this many steps (default: `cfg.train.total_kimg` thousand frames).
    max_minutes: also stop after this much wall time (a checkpoint is written on stop).
    resume:      True = continue from the newest readable checkpoint in `out_dir` (if any);
                 a path = continue from that checkpoint. The config must match the checkpoint's
                 except for `RESUMABLE_FIELDS` (length, intervals, workers, compile).
    callback:    called as `callback(step, stats)` at every log line (e.g. a live plot).
    """
    info = sdist.init_distributed(device)
    dev, cfg = info.device, resolve_auto(cfg)
    tc, out = cfg.train, Path(out_dir)
    if tc.batch_size % info.world_size:
        raise ValueError(
            f"batch_size {tc.batch_size} is not divisible by the number of processes "
            f"{info.world_size}"
        )
    batch = tc.batch_size // info.world_size
    videos = _open_videos(data, cfg)
    state = TrainingState.create(cfg, dev)
    found = _find_checkpoint(resume, out, dev)
    if found is not None:
        _check_resumable(found[0], found[1]["config"], cfg)
        state.load_state_dict(found[1])
    for module in (state.G, state.D, state.G_ema):
        sdist.broadcast_module(module, info.world_size)
    dtype = amp_dtype(dev, tc.amp)

    total_steps = (
        steps
        if steps is not None
        else math.ceil(tc.total_kimg * 1000 / (tc.batch_size * cfg.sampling.num_frames))
    )
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "samples").mkdir(exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    G, G_ema = state.G, state.G_ema
    gen = torch.Generator().manual_seed(tc.seed + 12345)  # fixed preview latents
    prev_z = torch.randn(num_preview, cfg.G.z_dim, generator=gen).to(dev)
    prev_mz = (
        G.sample_motion_z(num_preview, sample_frames, generator=gen).to(dev)
        if cfg.G.motion
        else None
    )

    def checkpoint() -> None:
        if not info.is_main:
            return
        payload = {"config": cfg.to_dict(), **state.state_dict()}
        save_checkpoint(out / f"checkpoint-{state.step:07d}.pt", payload)
        prune_snapshots(out, keep=3)

    def write_samples() -> None:
        if not info.is_main:
            return
        from .video_io import ffmpeg_exe, write_frames, write_video
        from .viz import video_grid

        grid = video_grid(sample_grid(G_ema, prev_z, prev_mz, sample_frames))  # [T, H, W, 3] uint8
        try:
            ffmpeg_exe()
        except (
            RuntimeError
        ) as e:  # a bare GPU box without ffmpeg must not lose the run over a preview
            warnings.warn(
                f"{e}; sample videos are written as PNG frames instead"
            )  # shown once (same text)
            write_frames(out / "samples" / f"step-{state.step:07d}", grid)
            return
        write_video(out / "samples" / f"step-{state.step:07d}.mp4", grid, fps=12)

    # --- the loop -------------------------------------------------------------------------------
    loader = iter(_loader(StepBatches(videos, cfg, batch, info.rank), state.step, tc.num_workers))
    bar = tqdm(
        total=total_steps,
        initial=state.step,
        disable=not (progress and info.is_main),
        desc="train",
        unit="step",
        dynamic_ncols=True,
    )
    stats: dict[str, Any] = {}
    acc: dict[str, list[float]] = {}
    t_start, t_log, steps_since_log = time.time(), time.time(), 0
    wall0 = state.wall_time
    log_f = open(out / "log.jsonl", "a") if info.is_main else None
    try:
        while state.step < total_steps:
            if max_minutes is not None and (time.time() - t_start) > max_minutes * 60:
                break
            g = step_generator(tc.seed, state.step, info.rank)
            step_stats = train_step(state, next(loader), g, dtype=dtype, world_size=info.world_size)
            for k, v in step_stats.items():
                acc.setdefault(k, []).append(v)
            steps_since_log += 1

            if state.step % tc.log_every == 0 or state.step == total_steps:
                now = time.time()
                stats = _log_stats(
                    state, acc, (now - t_log) / steps_since_log, wall0 + now - t_start
                )
                if log_f:
                    log_f.write(json.dumps(stats) + "\n")
                    log_f.flush()
                shown = ("loss_G", "loss_D", "augment_p", "videos_per_sec")
                bar.set_postfix({k: f"{stats[k]:.3g}" for k in shown})
                if callback is not None and info.is_main:
                    callback(state.step, stats)
                acc, t_log, steps_since_log = {}, now, 0
            bar.update(1)
            state.wall_time = wall0 + time.time() - t_start
            if state.step % tc.sample_every == 0:
                write_samples()
            if state.step % tc.checkpoint_every == 0:
                checkpoint()
    finally:
        bar.close()
        if log_f:
            log_f.close()
    # a final snapshot unless the loop just wrote one
    state.wall_time = wall0 + time.time() - t_start
    if not (state.step % tc.checkpoint_every == 0 and state.step > 0):
        checkpoint()
    if not state.step % tc.sample_every == 0:
        write_samples()
    sdist.barrier(info.world_size)
    return {**stats, "step": state.step, "out_dir": str(out), "G_ema": G_ema}


def _open_videos(data: str | os.PathLike | VideoDataset, cfg: Config) -> VideoDataset:
    videos = (
        open_dataset(data, resolution=cfg.G.resolution)
        if isinstance(data, (str, os.PathLike))
        else data
    )
    if videos.resolution != cfg.G.resolution:
        raise ValueError(
            f"dataset {videos.name!r} has resolution {videos.resolution}, the config expects "
            f"{cfg.G.resolution}"
        )
    return videos


def _find_checkpoint(resume: bool | str | os.PathLike, out: Path, device):
    """(path, checkpoint) to resume from, or None for a fresh run."""
    if isinstance(resume, (str, os.PathLike)) and not isinstance(resume, bool):
        return Path(resume), load_checkpoint(resume, map_location=device)
    return latest_checkpoint(out, map_location=device) if resume else None


def _check_resumable(path: Path, saved: dict[str, Any], cfg: Config) -> None:
    """The requested config must be the checkpoint's, up to the fields a resume may change."""
    diff = config_diff(resolve_auto(Config.from_dict(saved)), cfg, ignore=RESUMABLE_FIELDS)
    if diff:
        raise ValueError(
            f"cannot resume from {path}: the config differs from the checkpoint's in "
            f"{'; '.join(diff)} (resume with the checkpoint's settings, or use a new run folder)"
        )


def _log_stats(state: TrainingState, acc: dict[str, list[float]], sec_per_step, wall_time):
    """One log line: the step's counters, the window's mean losses, p and the speed."""
    videos = state.cfg.train.batch_size
    frames = videos * state.cfg.sampling.num_frames
    return {
        "step": state.step,
        "kimg": state.cur_nimg / 1000,
        **{k: float(np.mean(v)) for k, v in acc.items()},
        "augment_p": float(state.augment.p) if state.augment is not None else 0.0,
        "sec_per_step": sec_per_step,
        "videos_per_sec": videos / sec_per_step,
        "sec_per_kframes": sec_per_step * 1000 / frames,
        "wall_time": wall_time,
    }
