"""The StyleGAN-V training loop: sparse clips, holistic D, lazy R1, video-consistent ADA, EMA of G.

One step (per the official StyleGAN2-ADA/StyleGAN-V phases):
  Gmain  G <- softplus(-D(aug(G(z, t_fake))))
  Dmain  D <- softplus(D(aug(G(z', t_fake)))) + softplus(-D(aug(x_real)))
  Dreg   D <- γ/2 · mean_frames ||∇_x D(aug(x_real))||² · r1_interval      (every r1_interval steps)
  EMA    G_ema <- lerp(G, G_ema, β)
  ADA    p <- p ± ... toward E[sign D(real)] = target                       (every ada_interval steps)

Everything random in a step is drawn from generators seeded by (seed, step, rank), so a run that is
stopped and resumed continues exactly as the uninterrupted run would.
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
from .config import Config
from .data import ClipDataset, VideoDataset, open_dataset
from .losses import (
    auto_r1_gamma,
    d_loss,
    ema_beta,
    ema_update,
    g_loss,
    lazy_adam_params,
    r1_penalty,
)
from .models import build_models
from .sampling import sample_fake_times
from .utils import amp_dtype, autocast

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


@dataclass
class TrainState:
    step: int = 0
    cur_nimg: int = 0  # frames shown to D (the official `kimg` counts frames)
    wall_time: float = 0.0  # seconds of training, summed over resumes


def _step_generator(seed: int, step: int, rank: int, device) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(int(np.random.default_rng([seed, step, rank, 2]).integers(2**62)))
    return g


def _nan_to_num_grads(module: torch.nn.Module) -> None:
    for p in module.parameters():
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)


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
    """Train StyleGAN-V. Returns the last logged statistics.

    cfg:         the full configuration (`svlib.get_preset(...)`).
    data:        a dataset spec (folder, .zip, folder of videos, "synthetic:NAME?...") or a `VideoDataset`.
    out_dir:     run folder: `log.jsonl`, `config.json`, `checkpoint-<step>.pt`, `samples/step-<step>.mp4`.
    steps:       stop after this many steps (default: `cfg.train.total_kimg` thousand frames).
    max_minutes: also stop after this much wall time (a checkpoint is written on stop).
    resume:      True = continue from the newest readable checkpoint in `out_dir` (if any);
                 a path = continue from that checkpoint.
    callback:    called as `callback(step, stats)` at every log line (e.g. a live plot in a notebook).
    """
    info = sdist.init_distributed(device)
    dev, tc = info.device, cfg.train
    out = Path(out_dir)
    if tc.batch_size % info.world_size:
        raise ValueError(
            f"batch_size {tc.batch_size} is not divisible by the number of processes {info.world_size}"
        )
    batch = tc.batch_size // info.world_size
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

    # --- models, optimisers, augmentation --------------------------------------------------------
    torch.manual_seed(tc.seed)
    G, D = build_models(cfg)
    G, D = G.to(dev).train(), D.to(dev).train()
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    lr_g, betas_g = lazy_adam_params(tc.lr_g, tc.betas, tc.g_reg_interval)
    lr_d, betas_d = lazy_adam_params(tc.lr_d, tc.betas, tc.r1_interval)
    opt_G = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas_g, eps=tc.eps)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas_d, eps=tc.eps)
    augment = (
        AugmentPipe.from_spec(tc.augment_pipe, disable=tc.augment_disable, p=tc.augment_p).to(dev)
        if tc.augment != "none"
        else None
    )
    ada = (
        AdaController(
            augment,
            batch_size=tc.batch_size,
            target=tc.ada_target,
            interval=tc.ada_interval,
            kimg=tc.ada_kimg,
        )
        if tc.augment == "ada"
        else None
    )
    gamma = (
        tc.r1_gamma if tc.r1_gamma is not None else auto_r1_gamma(cfg.D.resolution, tc.batch_size)
    )
    ema_kimg = tc.ema_kimg if tc.ema_kimg is not None else tc.batch_size * 10 / 32
    state = TrainState()

    # --- resume ---------------------------------------------------------------------------------
    ckpt = None
    if isinstance(resume, (str, os.PathLike)) and not isinstance(resume, bool):
        ckpt = load_checkpoint(resume, map_location=dev)
    elif resume:
        found = latest_checkpoint(out, map_location=dev)
        ckpt = found[1] if found else None
    if ckpt is not None:
        if Config.from_dict(ckpt["config"]).to_dict()["G"] != cfg.to_dict()["G"]:
            raise ValueError(
                "the checkpoint's generator config differs from the requested one; "
                "resume with the same preset/options"
            )
        G.load_state_dict(ckpt["G"])
        D.load_state_dict(ckpt["D"])
        G_ema.load_state_dict(ckpt["G_ema"])
        opt_G.load_state_dict(ckpt["opt_G"])
        opt_D.load_state_dict(ckpt["opt_D"])
        if augment is not None and "augment_p" in ckpt:
            augment.p.copy_(ckpt["augment_p"])
        if ada is not None and "ada" in ckpt:
            ada.load_state_dict(ckpt["ada"])
        state = TrainState(**ckpt["state"])
    sdist.broadcast_module(G, info.world_size)
    sdist.broadcast_module(D, info.world_size)
    sdist.broadcast_module(G_ema, info.world_size)

    G_fwd, D_fwd = G, D
    if tc.compile:
        # R1 needs a double backward, which compiled graphs do not support: it uses the eager D.
        G_fwd, D_fwd = torch.compile(G), torch.compile(D)
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
        payload = {
            "config": cfg.to_dict(),
            "G": G.state_dict(),
            "D": D.state_dict(),
            "G_ema": G_ema.state_dict(),
            "opt_G": opt_G.state_dict(),
            "opt_D": opt_D.state_dict(),
            "state": vars(state).copy(),
        }
        if augment is not None:
            payload["augment_p"] = augment.p.detach().cpu()
        if ada is not None:
            payload["ada"] = ada.state_dict()
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
            b = next(loader)
            real = b["frames"].to(dev, non_blocking=True).float() / 127.5 - 1  # [b, F, 3, H, W]
            t_real, t_fake = b["t"].to(dev), b["t_fake"].to(dev)  # [b, F]
            g = _step_generator(tc.seed, state.step, info.rank, dev)
            torch.manual_seed(
                int(torch.randint(2**62, (1,), generator=g))
            )  # augmentation randomness
            z = torch.randn(2, batch, cfg.G.z_dim, generator=g).to(dev)
            mz = [
                G.sample_motion_z(batch, float(t_fake.max()), generator=g).to(dev)
                if cfg.G.motion
                else None
                for _ in range(2)
            ]

            # Gmain
            D.requires_grad_(False)
            with autocast(dev, dtype):
                loss_g = g_loss(
                    D_fwd,
                    G_fwd(z[0], t_fake, motion_z=mz[0], update_w_avg=True),
                    t_fake,
                    augment=augment,
                )
            opt_G.zero_grad(set_to_none=True)
            loss_g.backward()
            D.requires_grad_(True)
            sdist.all_reduce_grads(G.parameters(), info.world_size)
            sdist.all_reduce_buffers(
                G, info.world_size
            )  # w_avg was updated from this rank's batch only
            _nan_to_num_grads(G)
            opt_G.step()

            # Dmain
            with torch.no_grad(), autocast(dev, dtype):
                fake = G_fwd(z[1], t_fake, motion_z=mz[1])
            with autocast(dev, dtype):
                loss_d, logits_real = d_loss(
                    D_fwd, real, fake.float(), t_real, t_fake, augment=augment
                )
            opt_D.zero_grad(set_to_none=True)
            loss_d.backward()
            sdist.all_reduce_grads(D.parameters(), info.world_size)
            _nan_to_num_grads(D)
            opt_D.step()

            # Dreg: lazy R1 (eager D, full precision: the double backward is sensitive)
            r1 = None
            if tc.r1_interval > 0 and gamma > 0 and state.step % tc.r1_interval == 0:
                r1 = r1_penalty(D, real, t_real, augment=augment).mean()
                opt_D.zero_grad(set_to_none=True)
                (r1 * (gamma / 2) * tc.r1_interval).backward()
                sdist.all_reduce_grads(D.parameters(), info.world_size)
                _nan_to_num_grads(D)
                opt_D.step()

            ema_update(G_ema, G, ema_beta(tc.batch_size, ema_kimg, tc.ema_rampup, state.cur_nimg))
            if ada is not None:
                ada.update(logits_real)  # all-reduces its statistics over ranks

            state.step += 1
            state.cur_nimg += tc.batch_size * cfg.sampling.num_frames
            steps_since_log += 1
            for k, v in (
                ("loss_G", loss_g),
                ("loss_D", loss_d),
                ("D_real", logits_real.float().mean()),
            ):
                acc.setdefault(k, []).append(float(v.detach()))
            if r1 is not None:
                acc.setdefault("r1", []).append(float(r1.detach()))

            if state.step % tc.log_every == 0 or state.step == total_steps:
                now = time.time()
                dt = (now - t_log) / steps_since_log
                stats = {
                    "step": state.step,
                    "kimg": state.cur_nimg / 1000,
                    **{k: float(np.mean(v)) for k, v in acc.items()},
                    "augment_p": float(augment.p) if augment is not None else 0.0,
                    "sec_per_step": dt,
                    "videos_per_sec": tc.batch_size / dt,
                    "sec_per_kframes": dt * 1000 / (tc.batch_size * cfg.sampling.num_frames),
                    "wall_time": wall0 + now - t_start,
                }
                if log_f:
                    log_f.write(json.dumps(stats) + "\n")
                    log_f.flush()
                bar.set_postfix(
                    {
                        k: f"{stats[k]:.3g}"
                        for k in ("loss_G", "loss_D", "augment_p", "videos_per_sec")
                    }
                )
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
