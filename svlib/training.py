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

import contextlib
import copy
import json
import math
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

try:
    import fcntl
except ImportError:  # Windows: no run-folder lock
    fcntl = None

from . import dist as sdist
from . import video_io
from .augment import AdaController, AugmentPipe
from .checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_snapshots,
    load_checkpoint,
    prune_snapshots,
    remove_temporaries,
    resolve_checkpoint,
    save_checkpoint,
)
from .checks import (
    UsageError,
    check_device,
    check_number,
    check_writable_folder,
    write_text_atomic,
)
from .config import CLI_FLAGS, RESUMABLE_FIELDS, Config, config_diff, resolve_auto
from .data import StepBatches, VideoDataset, open_dataset, step_loader
from .data.labels import dataset_labels
from .discriminator import Discriminator
from .generate import generate_frames
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
from .motion import motion_z_length
from .training_dual import train_step_dual
from .utils import amp_dtype, autocast, check_shape, values_checked_on_host
from .video_d import DualDiscriminator
from .viz import video_grid

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
    D: Discriminator | DualDiscriminator  # the pair for cfg.D.kind == "image+video"
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
        # fused: one kernel per parameter instead of a dozen ops (3.6x faster Adam steps on CPU)
        opt_G = torch.optim.Adam(G.parameters(), lr=lr_g, betas=betas_g, eps=tc.eps, fused=True)
        opt_D = torch.optim.Adam(D.parameters(), lr=lr_d, betas=betas_d, eps=tc.eps, fused=True)
        augment = AugmentPipe(aug).to(device) if aug.mode != "none" else None
        ada = AdaController(augment, tc.batch_size, aug) if aug.mode == "ada" else None
        if tc.compile_mode not in _COMPILE_MODES:
            raise UsageError(
                f"train.compile_mode (--compile-mode) must be one of {' | '.join(_COMPILE_MODES)}, "
                f"got {tc.compile_mode!r}"
            )
        G_fwd, D_fwd = G, D
        if tc.compile:
            G_fwd = torch.compile(G, mode=tc.compile_mode)
            D_fwd = torch.compile(D, mode=tc.compile_mode)
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
_COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")


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


def _g_main(
    state: TrainingState, z, motion_z, t_fake, dtype, world_size, c_fake=None
) -> torch.Tensor:
    """Gmain: G <- softplus(-D(aug(G(z, t_fake, c)), c)), with D frozen."""
    dev = state.device
    state.D.requires_grad_(False)
    with autocast(dev, dtype):
        fake = state.G_fwd(
            z, t_fake, c_fake, motion_z=motion_z, update_w_avg=True
        )  # [b, F, 3, H, W]
        loss = g_loss(state.D_fwd, fake, t_fake, c_fake, augment=state.augment)
    sdist.all_reduce_buffers(state.G, world_size)  # w_avg was updated from this rank's batch only
    _adam_step(state.opt_G, state.G, loss, world_size)
    state.D.requires_grad_(True)
    return loss


def _d_main(
    state: TrainingState, real, t_real, z, motion_z, t_fake, dtype, world_size, c_real, c_fake
):
    """Dmain: D <- softplus(D(aug(G(z', t_fake, c')), c')) + softplus(-D(aug(x_real), c))."""
    dev = state.device
    with torch.no_grad(), autocast(dev, dtype):
        fake = state.G_fwd(z, t_fake, c_fake, motion_z=motion_z)  # [b, F, 3, H, W]
    with autocast(dev, dtype):
        loss, logits_real = d_loss(
            state.D_fwd, real, fake.float(), t_real, t_fake, c_real, c_fake, augment=state.augment
        )
    _adam_step(state.opt_D, state.D, loss, world_size)
    return loss, logits_real


def _d_reg(state: TrainingState, real, t_real, world_size, c_real=None) -> torch.Tensor:
    """Dreg: lazy R1 with gain r1_interval (eager D, full precision: the double backward is
    sensitive)."""
    tc = state.cfg.train
    r1 = r1_penalty(state.D, real, t_real, c_real, augment=state.augment).mean()
    _adam_step(state.opt_D, state.D, r1 * (tc.r1_gamma / 2) * tc.r1_interval, world_size)
    return r1


def _to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device`. To CUDA through pinned memory without waiting: a copy from
    ordinary (pageable) memory makes the host wait for every kernel queued before it."""
    if device.type != "cuda" or x.device.type != "cpu":
        return x.to(device)
    return (x if x.is_pinned() else x.pin_memory()).to(device, non_blocking=True)


def _check_times_on_host(state: TrainingState, t_real, t_fake, motion_z) -> bool:
    """The value checks of G's motion path and D's time-gap encoder, run once on the step's CPU
    times (where they cost no device synchronisation). False when the times are not on the CPU:
    then G and D check them themselves."""
    if t_real.device.type != "cpu" or t_fake.device.type != "cpu":
        return False
    encoder = state.D.time_encoder
    if encoder is not None:
        encoder.check_gaps(t_real)
        encoder.check_gaps(t_fake)
    if motion_z is not None:
        state.G.motion.check_times(t_fake, motion_z.shape[1])
    return True


def train_step(
    state: TrainingState,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator,
    *,
    dtype: torch.dtype | None = None,
    world_size: int = 1,
    sync_stats: bool = True,
) -> dict[str, float] | dict[str, torch.Tensor]:
    """One full training step: Gmain, Dmain, lazy R1 (every r1_interval steps), the EMA of G and the
    ADA update of p. Advances `state.step` and `state.cur_nimg`.

    batch:      this process's real clips and fake times, as `StepBatches` yields them:
                frames [b, F, 3, H, W] uint8, t [b, F], t_fake [b, F] (moved to the state's device;
                times on the CPU are checked there, so G and D need not read them back); for a
                conditional model also c and c_fake [b, c_dim], the labels of the real and of
                the generated clips.
    generator:  the step's random stream (`step_generator(seed, step, rank)`): it seeds the
                augmentation and draws z and the motion noise.
    dtype:      autocast dtype of the G and D passes (None: full precision; R1 always is).
    world_size: processes training together; gradients, w_avg and the ADA statistics are averaged
                over them (nothing is communicated when 1). The global batch is b · world_size.
    sync_stats: True: the statistics as Python floats (each one waits for the device). False: as
                detached 0-d tensors on the device, so that the host can queue the next step
                while this one runs; `float()` them when logging.
    Returns loss_G, loss_D, D_real (mean real logit) and, on R1 steps, r1.
    """
    if state.cfg.D.kind == "image+video":  # the image + video D pair: `svlib.training_dual`
        return train_step_dual(state, batch, generator, dtype=dtype, world_size=world_size)
    cfg, dev, tc = state.cfg, state.device, state.cfg.train
    C, R = cfg.G.img_channels, cfg.G.resolution
    check_shape(batch["frames"], ["b", "F", C, R, R], "batch['frames']")
    t_real_in, t_fake_in = batch["t"], batch["t_fake"]  # [b, F], CPU as StepBatches yields them
    check_shape(t_real_in, batch["frames"].shape[:2], "batch['t']")
    check_shape(t_fake_in, batch["frames"].shape[:2], "batch['t_fake']")
    b, num_frames = batch["frames"].shape[:2]
    if tc.compile and tc.compile_mode == "reduce-overhead" and dev.type == "cuda":
        torch.compiler.cudagraph_mark_step_begin()  # last step's CUDA-graph outputs are dead now
    torch.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))  # augmentation draws
    z = torch.randn(2, b, cfg.G.z_dim, generator=generator)  # [2, b, z_dim]
    t_max = float(t_fake_in.max())  # a host read only when the times are already on the device
    mz = [
        state.G.sample_motion_z(b, t_max, generator=generator, device="cpu")  # [b, L, z]
        if cfg.G.motion
        else None
        for _ in range(2)
    ]
    if tc.compile and cfg.G.motion:
        # One motion_z length for every step (that of the longest clip), so that compiled graphs
        # are not rebuilt for each new length. Codes past t_max are never read: same v(t).
        L = motion_z_length(cfg.G.motion, float(cfg.sampling.max_num_frames))
        mz = [F.pad(m, (0, 0, 0, L - m.shape[1])) if m.shape[1] < L else m for m in mz]
    host_checked = _check_times_on_host(state, t_real_in, t_fake_in, mz[0])
    real = _to_device(batch["frames"], dev).float() / 127.5 - 1  # [b, F, 3, H, W]
    t_real, t_fake = _to_device(t_real_in, dev), _to_device(t_fake_in, dev)  # [b, F]
    z = _to_device(z, dev)
    mz = [None if m is None else _to_device(m, dev) for m in mz]
    # class labels (conditional models only): real c from the batch, fake c drawn by StepBatches
    c_real, c_fake = _batch_labels(batch, cfg, b, dev)
    lazy_r1 = tc.r1_interval > 0 and tc.r1_gamma > 0 and state.step % tc.r1_interval == 0
    with values_checked_on_host() if host_checked else contextlib.nullcontext():
        loss_g = _g_main(state, z[0], mz[0], t_fake, dtype, world_size, c_fake)
        loss_d, logits_real = _d_main(
            state, real, t_real, z[1], mz[1], t_fake, dtype, world_size, c_real, c_fake
        )
        r1 = _d_reg(state, real, t_real, world_size, c_real) if lazy_r1 else None

    videos = b * world_size
    ema_update(state.G_ema, state.G, ema_beta(videos, tc.ema_kimg, tc.ema_rampup, state.cur_nimg))
    if state.ada is not None:
        state.ada.update(logits_real)  # all-reduces its statistics over ranks
    state.step += 1
    state.cur_nimg += videos * num_frames
    stats = {"loss_G": loss_g.detach(), "loss_D": loss_d.detach()}
    stats["D_real"] = logits_real.detach().float().mean()
    if r1 is not None:
        stats["r1"] = r1.detach()
    return {k: v.item() for k, v in stats.items()} if sync_stats else stats


def _batch_labels(batch, cfg: Config, b: int, dev):
    """(c, c_fake) [b, c_dim] of a conditional model's batch on `dev`; (None, None) otherwise."""
    if cfg.G.c_dim == 0:
        return None, None
    if "c" not in batch or "c_fake" not in batch:
        raise ValueError(
            f"G.c_dim={cfg.G.c_dim}: the batch has no labels 'c' and 'c_fake' (StepBatches adds "
            "them for a dataset with labels)"
        )
    check_shape(batch["c"], [b, cfg.G.c_dim], "batch['c']")
    check_shape(batch["c_fake"], [b, cfg.G.c_dim], "batch['c_fake']")
    return batch["c"].to(dev).float(), batch["c_fake"].to(dev).float()


def train(
    cfg: Config,
    data: str | VideoDataset,
    out_dir: str | os.PathLike,
    *,
    steps: int | None = None,
    max_minutes: float | None = None,
    resume: bool | str = False,
    force: bool = False,
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
                 `samples/step-<step>.mp4`, and with `cfg.train.metrics` `best.pt` (the checkpoint
                 of the lowest value of the first metric; its values are in the log lines of the
                 steps evaluated). A folder that already holds a run is refused unless
                 `resume` continues it or `force` deletes it first.
    steps:       stop after this many steps (default: `cfg.train.total_kimg` thousand frames).
    max_minutes: also stop after this much wall time (a checkpoint is written on stop).
    resume:      True = continue from the newest readable checkpoint in `out_dir` (a fresh start
                 when it has none yet; an error when none of its checkpoints is readable);
                 a path = continue from that checkpoint file or run folder. The config must match
                 the checkpoint's except for `RESUMABLE_FIELDS` (length, intervals, workers,
                 compile).
    force:       start afresh in a folder that holds another run, deleting its files first.
    callback:    called as `callback(step, stats)` at every log line (e.g. a live plot).

    SIGINT (Ctrl-C) and SIGTERM stop the run after the current step with a checkpoint; the result
    then has "stopped": the signal's name. A second Ctrl-C aborts at once.
    """
    _check_batch(cfg)
    cfg = resolve_auto(cfg)
    _check_train_args(cfg, steps, max_minutes, resume, force)
    info = sdist.init_distributed(check_device(device))
    tc, out = cfg.train, check_writable_folder(out_dir, "out_dir (--out)")
    if tc.batch_size % info.world_size:
        raise UsageError(
            f"batch_size {tc.batch_size} is not divisible by the number of processes "
            f"{info.world_size}"
        )
    with _RunFolderLock(out, info.is_main):
        held = _check_run_folder(out, cfg, resume, force)
        sdist.barrier(info.world_size)  # every process has looked before the main one writes
        if held and force and info.is_main:
            _clear_run(out)
        return _train_in(
            cfg,
            info,
            data,
            out,
            steps,
            max_minutes,
            resume,
            progress,
            callback,
            sample_frames,
            num_preview,
        )


def _train_in(
    cfg, info, data, out, steps, max_minutes, resume, progress, callback, sample_frames, num_preview
) -> dict[str, Any]:
    """The body of `train` once its arguments and run folder are checked."""
    dev, tc = info.device, cfg.train
    batch = tc.batch_size // info.world_size
    videos = _open_videos(data, cfg)
    data_spec = str(data) if isinstance(data, (str, os.PathLike)) else None
    # the detector is loaded before the first step: missing weights fail now, not hours later
    tracker = _training_metrics(cfg, videos, dev, progress) if info.is_main else None
    state = TrainingState.create(cfg, dev)
    found = _find_checkpoint(resume, out, dev, state)
    if found is not None:
        _check_resumable(found[0], found[1]["config"], cfg)
        state.load_state_dict(found[1])
    best = _best_so_far(found, out, cfg) if tracker is not None else None
    for module in (state.G, state.D, state.G_ema):
        sdist.broadcast_module(module, info.world_size)
    dtype = amp_dtype(dev, tc.amp)

    total_steps = (
        steps
        if steps is not None
        else math.ceil(tc.total_kimg * 1000 / (tc.batch_size * cfg.sampling.num_frames))
    )
    if total_steps <= state.step:
        return _nothing_to_train(state, total_steps, steps, out)
    if info.is_main:
        (out / "samples").mkdir(exist_ok=True)
        remove_temporaries(out)
        write_text_atomic(out / "config.json", json.dumps(cfg.to_dict(), indent=2))
        _trim_log(out / "log.jsonl", state.step)

    def checkpoint() -> None:
        if not info.is_main:
            return
        save_checkpoint(out / f"checkpoint-{state.step:07d}.pt", payload())
        prune_snapshots(out, keep=3)

    def payload() -> dict[str, Any]:
        # the best evaluation so far travels with every checkpoint, so a resumed run knows it
        extra = {"best": best} if best is not None else {}
        if data_spec is not None:  # what the model was trained on travels with it (and exports)
            extra["data"] = data_spec
        return {"config": cfg.to_dict(), **state.state_dict(), **extra}

    def evaluate(stats: dict[str, Any]) -> None:
        """The metrics of G_ema go into this step's log line; a new best writes best.pt."""
        from .metrics.monitor import is_better

        nonlocal best
        values, seconds = tracker.timed(state.G_ema)
        stats.update(values, metrics_sec=seconds)
        value = values[tracker.primary]
        if is_better(value, best):
            best = {"metric": tracker.primary, "n": tracker.n, "value": value, "step": state.step}
            save_checkpoint(out / BEST, payload())

    preview_c = _preview_labels(videos, cfg, num_preview)  # None, or [num_preview, c_dim]

    def write_samples() -> None:
        # The preview videos are those of seeds 0..num_preview-1: what
        # `svlib generate --seed 0 --num-videos N` draws from this checkpoint (a conditional
        # model's video i has class i mod c_dim).
        if not info.is_main:
            return
        frames = generate_frames(
            state.G_ema, sample_frames, seed=0, num_videos=num_preview, chunk_size=16, c=preview_c
        )  # [N, T, 3, H, W]
        grid = video_grid(frames)  # [T, H', W', 3] uint8
        name = out / "samples" / f"step-{state.step:07d}"
        try:
            video_io.ffmpeg_exe()
        except RuntimeError as e:
            # a bare GPU box without ffmpeg must not lose the run over a preview (warned once)
            warnings.warn(f"{e}; sample videos are written as PNG frames instead", stacklevel=2)
            video_io.write_frames(name, grid)
            return
        video_io.write_video(name.with_suffix(".mp4"), grid, fps=12)

    # --- the loop -------------------------------------------------------------------------------
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
    with _StopOnSignal(info.world_size, dev) as stop:
        batches = StepBatches(videos, cfg, batch, info.rank)
        loader = stop.start_workers(lambda: iter(step_loader(batches, state.step, tc.num_workers)))
        log_f = open(out / "log.jsonl", "a") if info.is_main else None
        try:
            out_of_time = False
            while state.step < total_steps and not stop.requested() and not out_of_time:
                g = step_generator(tc.seed, state.step, info.rank)
                step_stats = train_step(
                    state,
                    next(loader),
                    g,
                    dtype=dtype,
                    world_size=info.world_size,
                    sync_stats=False,
                )
                for k, v in step_stats.items():
                    acc.setdefault(k, []).append(v)
                steps_since_log += 1
                out_of_time = max_minutes is not None and time.time() - t_start > max_minutes * 60
                last = state.step == total_steps or out_of_time
                # metrics every metrics_every steps and at the end, unless a signal asks to stop
                measure = (
                    tracker is not None
                    and not stop.signum
                    and (state.step % tc.metrics_every == 0 or last)
                )

                if state.step % tc.log_every == 0 or state.step == total_steps or measure:
                    now = time.time()
                    stats = _log_stats(
                        state, acc, (now - t_log) / steps_since_log, wall0 + now - t_start
                    )
                    if measure:
                        evaluate(stats)
                    if log_f:
                        log_f.write(json.dumps(stats) + "\n")
                        log_f.flush()
                    shown = ("loss_G", "loss_D", "augment_p", "videos_per_sec")
                    postfix = {k: f"{stats[k]:.3g}" for k in shown}
                    if best is not None:
                        postfix[f"best {best['metric']}"] = f"{best['value']:.4g}"
                    bar.set_postfix(postfix)
                    if callback is not None and info.is_main:
                        callback(state.step, stats)
                    # the next window's speed leaves out the evaluation
                    acc, t_log, steps_since_log = {}, time.time(), 0
                bar.update(1)
                state.wall_time = wall0 + time.time() - t_start
                if state.step % tc.sample_every == 0 and not stop.signum:
                    write_samples()
                if state.step % tc.checkpoint_every == 0:
                    checkpoint()
        finally:
            bar.close()
            if log_f:
                log_f.close()
        # a final snapshot unless the loop just wrote one (a signal now waits for it)
        state.wall_time = wall0 + time.time() - t_start
        if not (state.step % tc.checkpoint_every == 0 and state.step > 0):
            checkpoint()
        if not state.step % tc.sample_every == 0 and not stop.signum:
            write_samples()
        sdist.barrier(info.world_size)
    res = {**stats, "step": state.step, "out_dir": str(out), "G_ema": state.G_ema}
    if best is not None:
        res["best"] = best
    if stop.signum:
        res["stopped"] = signal.Signals(stop.signum).name
    return res


BEST = "best.pt"  # the checkpoint of the best evaluation of train.metrics[0] so far (never pruned)


def _training_metrics(cfg: Config, videos: VideoDataset, device, progress: bool):
    """The evaluator of `train.metrics` (None when the list is empty), detector loaded."""
    tc = cfg.train
    if not tc.metrics:
        return None
    from .metrics.monitor import TrainingMetrics

    return TrainingMetrics(
        tc.metrics, videos, tc.metrics_n, detector=tc.metrics_i3d, device=device, progress=progress
    )


def _best_so_far(found, out: Path, cfg: Config) -> dict[str, Any] | None:
    """The best evaluation this run has seen, of the metric and N it measures now: from the
    checkpoint resumed from, or from best.pt when that holds a better one (it may be written after
    the newest checkpoint, just before a kill). A changed metric or N starts a new best."""
    tc = cfg.train
    candidates = [found[1].get("best")] if found is not None else []
    if found is not None and (out / BEST).is_file():
        try:
            candidates.append(load_checkpoint(out / BEST, map_location="cpu").get("best"))
        except CheckpointError as e:
            warnings.warn(f"ignoring {out / BEST}: {e}", stacklevel=3)
    same = [
        b
        for b in candidates
        if isinstance(b, dict) and b.get("metric") == tc.metrics[0] and b.get("n") == tc.metrics_n
    ]
    if candidates and any(candidates) and not same:
        warnings.warn(
            f"train.metrics[0] or train.metrics_n changed since the checkpoint: {BEST} will hold "
            f"the best {tc.metrics[0]} at N={tc.metrics_n} from now on",
            stacklevel=3,
        )
    return min(same, key=lambda b: b["value"]) if same else None


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
    _check_labels(videos, cfg)
    return videos


def _check_labels(videos: VideoDataset, cfg: Config) -> None:
    """A conditional model needs a label for every video, each fitting c_dim (before anything is
    written); labels on an unconditional run are ignored, with a warning."""
    if cfg.G.c_dim != cfg.D.c_dim:
        raise UsageError(
            f"G.c_dim={cfg.G.c_dim} and D.c_dim={cfg.D.c_dim} differ; set both (--c-dim N)"
        )
    if cfg.G.c_dim > 0:
        dataset_labels(videos, cfg.G.c_dim)  # raises, naming the file, when they do not fit
        return
    try:
        raw = videos.raw_labels
    except UsageError:  # a dataset.json not in the labels format means nothing to this run
        return
    if raw is not None:
        n = int(raw.max()) + 1 if raw.ndim == 1 else raw.shape[1]
        warnings.warn(
            f"dataset {videos.name!r} has labels ({videos.labels_source}); this run trains an "
            f"unconditional model (--c-dim {n} trains a conditional one)",
            stacklevel=3,
        )


def _preview_labels(videos: VideoDataset, cfg: Config, n: int) -> torch.Tensor | None:
    """The labels of the n preview videos: class i mod c_dim for video i, or for vector labels
    those of dataset videos 0, 1, ..."""
    if cfg.G.c_dim == 0:
        return None
    if videos.raw_labels.ndim == 1:
        return torch.eye(cfg.G.c_dim)[torch.arange(n) % cfg.G.c_dim]  # [n, c_dim]
    c = dataset_labels(videos, cfg.G.c_dim)
    return torch.from_numpy(c[np.arange(n) % len(c)])


def _find_checkpoint(resume: bool | str | os.PathLike, out: Path, device, state: TrainingState):
    """(path, checkpoint) to resume from, or None for a fresh run."""
    if resume is False or resume is None:
        return None
    if resume is True:
        snapshots = list_snapshots(out)
        if not snapshots:
            if (out / "config.json").exists():
                warnings.warn(f"no checkpoint in {out} yet: starting from step 0", stacklevel=3)
            return None
        found = latest_checkpoint(out, map_location=device)
        if found is None:
            raise CheckpointError(
                f"--resume: none of the {len(snapshots)} checkpoints in {out} is readable; pass "
                "--resume FILE naming a good one, or --force to start over"
            )
    else:
        found = resolve_checkpoint(resume, map_location=device)
    missing = [k for k in (*_MODULES, "state") if k not in found[1]]
    if missing:
        raise CheckpointError(
            f"--resume {found[0]}: an inference-only (exported) checkpoint without "
            f"{', '.join(missing)}; resume from a training checkpoint-*.pt"
        )
    return found


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
        # the steps' statistics are device tensors until here: one wait per log line, not per step
        **{k: float(np.mean([float(x) for x in v])) for k, v in acc.items()},
        "augment_p": float(state.augment.p) if state.augment is not None else 0.0,
        "sec_per_step": sec_per_step,
        "videos_per_sec": videos / sec_per_step,
        "sec_per_kframes": sec_per_step * 1000 / frames,
        "wall_time": wall_time,
    }


def _check_train_args(cfg: Config, steps, max_minutes, resume, force) -> None:
    """Refuse values that would train nothing, divide by zero or fail deep inside a step, before
    anything is built. `cfg` is resolved (no `auto` values)."""
    if steps is not None:
        check_number("steps (--steps)", steps, minimum=1, integer=True)
    if max_minutes is not None:
        check_number("max_minutes (--minutes)", max_minutes, above=0)
    if force and resume is not False:
        raise UsageError("--force starts the run over and --resume continues it: pass only one")
    for field, minimum in _COUNT_FIELDS:
        check_number(_field_name(field), _get(cfg, field), minimum=minimum, integer=True)
    if cfg.train.metrics:
        from .metrics.monitor import check_training_metrics

        check_training_metrics(cfg.train.metrics)
    for field, low, above, high in _RATE_FIELDS:
        check_number(_field_name(field), _get(cfg, field), minimum=low, above=above, maximum=high)


def _check_batch(cfg: Config) -> None:
    # before `resolve_auto`, whose auto values divide by the batch size
    if not isinstance(cfg.train.batch_size, str):
        check_number(_field_name("train.batch_size"), cfg.train.batch_size, minimum=1, integer=True)


# fields that count things, with their least value
_COUNT_FIELDS = (
    ("train.batch_size", 1),
    ("train.log_every", 1),
    ("train.sample_every", 1),
    ("train.checkpoint_every", 1),
    ("train.num_workers", 0),
    ("train.metrics_every", 1),
    ("train.metrics_n", 2),
)
# real-valued fields: (name, minimum, exclusive lower bound, maximum)
_RATE_FIELDS = (
    ("train.total_kimg", None, 0, None),
    ("train.lr_g", None, 0, None),
    ("train.lr_d", None, 0, None),
    ("train.r1_gamma", 0, None, None),
    ("train.augment.p", 0, None, 1),
)


def _get(cfg: Config, field: str):
    value = cfg
    for part in field.split("."):
        value = getattr(value, part)
    return value


def _field_name(field: str) -> str:
    """'FIELD (--flag)': the config field and the CLI flag that sets it."""
    flag = next((f for f, names in CLI_FLAGS.items() if field in names), None)
    return f"{field} (--{flag})" if flag else field


def _nothing_to_train(state: TrainingState, total_steps: int, steps, out: Path) -> dict[str, Any]:
    """A resumed run already at (or past) its length: finished runs are left as they are."""
    what = f"--steps {steps}" if steps is not None else f"train.total_kimg ({total_steps} steps)"
    if total_steps < state.step:
        raise UsageError(
            f"{what} is below the checkpoint's step {state.step}: pass a larger value to train on"
        )
    warnings.warn(f"{out} is already at step {state.step} ({what}): nothing to train", stacklevel=3)
    return {"step": state.step, "out_dir": str(out), "G_ema": state.G_ema}


# ----------------------------------------------------------------------------------------------
# The run folder: one run per folder, resumable after any stop


def _run_contents(out: Path) -> list[str]:
    """The files of a run that `out` holds (empty for a new folder)."""
    names = [n for n in ("config.json", "log.jsonl") if (out / n).exists()]
    return names + [p.name for p in list_snapshots(out)]


def _check_run_folder(out: Path, cfg: Config, resume, force: bool) -> list[str]:
    """A folder that holds a run is continued (resume, same config), replaced (force) or refused:
    a fresh run must never mix its checkpoints and config.json with another's. Returns the run
    files found."""
    held = _run_contents(out)
    if not held or force:
        return held
    if resume is False:
        shown = ", ".join(held[:3]) + (", ..." if len(held) > 3 else "")
        raise UsageError(
            f"--out {out} already holds a run ({shown}): add --resume to continue it, --force to "
            "delete it and start over, or choose another folder"
        )
    if list_snapshots(out):
        return held  # the checkpoint resumed from is checked against the config
    try:
        saved = json.loads((out / "config.json").read_text())
    except (OSError, ValueError):
        return held  # nothing to compare with: a fresh start
    _check_resumable(out / "config.json", saved, cfg)
    return held


def _clear_run(out: Path) -> None:
    """Delete what a run wrote into `out` (--force); files svlib did not write stay."""
    for p in [*list_snapshots(out), out / "config.json", out / "log.jsonl", out / BEST]:
        p.unlink(missing_ok=True)
    remove_temporaries(out)
    for p in (out / "samples").glob("step-*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _trim_log(path: Path, step: int) -> None:
    """Keep the log lines of steps <= `step` (the checkpoint resumed from): the steps after it are
    trained again and logged again, and a line cut by a kill is dropped."""
    if not path.exists():
        return
    lines = path.read_text().splitlines()
    kept = [line for line in lines if (s := _log_step(line)) is not None and s <= step]
    if len(kept) != len(lines):
        write_text_atomic(path, "".join(line + "\n" for line in kept))


def _log_step(line: str) -> int | None:
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


class _RunFolderLock:
    """An exclusive lock on the run folder while a run writes to it, so two runs started into one
    folder cannot interleave their checkpoints. The kernel releases it when the process dies."""

    def __init__(self, out: Path, active: bool):
        self.path, self.active, self.file = out / ".lock", active and fcntl is not None, None

    def __enter__(self):
        if self.active:
            self.file = open(self.path, "a")
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self.file.close()
                raise UsageError(
                    f"--out {self.path.parent} is in use by another svlib train process; wait for "
                    "it or choose another folder"
                ) from None
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()  # closing releases the lock


class _StopOnSignal:
    """SIGINT (Ctrl-C) and SIGTERM ask the loop to stop after the current step, which then writes a
    checkpoint; a second Ctrl-C aborts at once. Handlers exist only in the main thread (Python's
    rule) and are restored on exit. With several processes, any one's signal stops them all at the
    same step (otherwise the others would wait forever in the next all-reduce)."""

    def __init__(self, world_size: int, device: torch.device):
        self.world_size, self.device, self.signum, self.previous = world_size, device, 0, {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self.previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        if self.signum and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = self.signum or signum
        print(
            f"svlib train: {signal.Signals(signum).name} received: stopping after this step with a "
            "checkpoint (press Ctrl-C again to abort without one)",
            file=sys.stderr,
            flush=True,
        )

    def start_workers(self, make):
        """`make()` with SIGINT ignored, so that data-loader workers it forks do not die of the
        Ctrl-C that the terminal sends to every process of the job."""
        if signal.SIGINT not in self.previous:
            return make()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return make()
        finally:
            signal.signal(signal.SIGINT, self._handle)

    def requested(self) -> bool:
        if self.world_size > 1:
            flag = torch.tensor([float(self.signum)], device=self.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            self.signum = int(flag.item())
        return bool(self.signum)
