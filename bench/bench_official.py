"""Training-iteration speed of the official StyleGAN-V code against svlib, side by side in one run.

The official code (github.com/universome/stylegan-v) is not part of this repository: this script
imports it from a checkout named by the environment variable SVLIB_OFFICIAL_REPO (the folder that
holds `src/` and `configs/`), and needs `omegaconf` importable (e.g. `pip install --target DIR
omegaconf` and DIR on PYTHONPATH). Nothing of it is copied here; the few things that have to be
changed for it to run on a current PyTorch are monkeypatched at import time (`import_official`).

Both sides are built at the same configuration, from one svlib preset (resolution, channel
base/max, z/w dims, mapping depth, motion config, D time-gap encoder, F frames per clip, batch,
R1 γ and interval, EMA, ADA pipe and initial p), and take turns, one full training iteration at a
time, on the same batches of real clips (`svlib.data.StepBatches`, made before timing, so data
loading is timed on neither side):

  official  the phases of its training loop (src/training/training_loop.py): Gmain, Greg (a no-op:
            pl_weight is 0 in StyleGAN-V's config; it still runs zero_grad and Adam every 4th
            iteration), Dmain, Dreg (lazy R1 every r1_interval iterations), each followed by the
            gradient nan_to_num and its Adam step, then the EMA of G and the ADA update of p; the
            losses are its StyleGAN2Loss.accumulate_gradients.
  svlib     `svlib.training.train_step` on a `TrainingState.create(cfg, device)`.

After the warm-up iterations the iteration counters of both jump to the next multiple of
r1_interval, so the first timed iteration is an R1 iteration on both sides; the summary gives the
median of the other iterations, the mean of the R1 ones, and their amortised cost
((r1_interval - 1) · plain + R1) / r1_interval, which is what a long run averages.

    export SVLIB_OFFICIAL_REPO=/tmp/official PYTHONPATH=$PWD:/tmp/offdeps
    OMP_NUM_THREADS=1 taskset -c 0 python bench/bench_official.py --preset cpu --resolution 32 \\
        --batch 2 --iters 6 --warmup 2 --json bench/results/official/cpu32_b2.json
    python bench/bench_official.py --counts                   # parameter counts of both, no timing
    python bench/bench_official.py --write-pkl /tmp/t.pkl --preset tiny   # official-format pickle

On CPU the official code runs its reference ops (bias_act, upfirdn2d in plain PyTorch) in fp32;
on CUDA it tries to build its custom ops (`--official-ops auto`, needs nvcc and ninja), says which
it used, and runs fp16 in its 4 highest resolutions as its training config does (svlib: bf16
autocast, its `amp=auto`).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import pickle
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
ENV = "SVLIB_OFFICIAL_REPO"

# The official random sampler's allowed total spans (configs/sampling/random.yaml).
TOTAL_DISTS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]


# ----------------------------------------------------------------------------------------------
# Importing the official code, with the monkeypatches it needs here


class Official:
    """The imported official modules, and what was patched."""

    def __init__(self, repo: str | os.PathLike, ops: str = "auto"):
        repo = Path(repo).resolve()
        if not (repo / "src" / "training" / "networks.py").exists():
            raise SystemExit(f"{ENV}={repo} is not a stylegan-v checkout (no src/training/)")
        # Its modules import each other both as `src.x` and as `training.x` (train.py puts the
        # repository root and src/ on the path): both go on sys.path.
        for p in (str(repo / "src"), str(repo)):
            if p not in sys.path:
                sys.path.insert(0, p)
        self.repo = repo
        self.patches: list[str] = []
        from src.torch_utils import misc, training_stats
        from src.torch_utils.ops import bias_act, conv2d_gradfix, grid_sample_gradfix, upfirdn2d

        if ops == "ref":
            # Never try to build the CUDA plugins: the ops take their reference path everywhere.
            bias_act._init = upfirdn2d._init = lambda: False
            self.patches.append("bias_act._init, upfirdn2d._init -> False (reference ops forced)")
        # Its training loop sets these; on PyTorch > 1.10 (conv2d) / > 1.9 (grid_sample) both
        # decline, warn once and fall back to torch.nn.functional.
        conv2d_gradfix.enabled = True
        grid_sample_gradfix.enabled = True
        warnings.filterwarnings("ignore", message=".*gradfix not supported on PyTorch.*")
        import training.augment
        import training.layers
        import training.loss
        import training.networks

        self.misc, self.stats = misc, training_stats
        self.bias_act, self.upfirdn2d = bias_act, upfirdn2d
        self.networks, self.loss, self.augment = training.networks, training.loss, training.augment
        self._patch_time_gap_encoder(training.layers)

    def _patch_time_gap_encoder(self, layers) -> None:
        """Let D's time-gap encoder take svlib's widths when the config asks for them.

        The official TemporalDifferenceEncoder fixes the embedding width at 256 and derives the
        table size and the number of Fourier features from sampling.max_num_frames; svlib makes
        all three options (D.gap_embed_dim, D.max_time_gap, D.gap_num_freqs), and its small presets
        use other values. At the paper's config both give the same module. When the D config holds
        `svlib_time_gap`, the encoder is rebuilt after the original __init__ with those widths
        (same layers, same formula π 2^k δ / max_time_gap); without it nothing changes."""
        cls = layers.TemporalDifferenceEncoder
        if getattr(cls, "_svlib_patched", False):
            return
        orig = cls.__init__

        def __init__(self, cfg):
            orig(self, cfg)
            tg = cfg.get("svlib_time_gap", None)
            if tg is None or cfg.sampling.num_frames_per_video <= 1:
                return
            self.d = int(tg.embed_dim)
            self.const_embed = torch.nn.Embedding(int(tg.max_time_gap), self.d)
            k = torch.arange(int(tg.num_freqs)).float()
            coefs = (math.pi * 2.0**k / float(tg.max_time_gap)).unsqueeze(0)
            self.time_encoder.fourier_coefs = coefs.to(self.time_encoder.fourier_coefs)

        cls.__init__ = __init__
        cls._svlib_patched = True
        self.patches.append(
            "training.layers.TemporalDifferenceEncoder.__init__ wrapped: D's time-gap encoder "
            "takes svlib's gap_embed_dim / max_time_gap / gap_num_freqs when they differ from the "
            "official fixed 256 / max_num_frames / log2(max_num_frames)"
        )

    def custom_ops_used(self) -> dict[str, bool]:
        return {
            "bias_act": self.bias_act._plugin is not None,
            "upfirdn2d": self.upfirdn2d._plugin is not None,
        }


# ----------------------------------------------------------------------------------------------
# The official configuration that matches an svlib Config


def official_num_freqs(max_num_frames: int) -> int:
    """Fourier features of the official time-gap encoder: log2 of max_num_frames rounded up."""
    return int(math.ceil(math.log2(2 ** math.ceil(math.log2(max_num_frames)))))


def official_cfg(cfg, match_time_gap: bool = True):
    """The OmegaConf tree the official networks and loss read (the `model`, `sampling` parts of
    configs/config.yaml with model=stylegan-v), filled from an svlib Config."""
    from omegaconf import OmegaConf

    if cfg.G.motion is None or not cfg.D.holistic:
        raise SystemExit("the official StyleGAN-V comparison needs G.motion and a holistic D")
    m, s, Dc = cfg.G.motion, cfg.sampling, cfg.D
    sampling = dict(
        type="random",
        num_frames_per_video=s.num_frames,
        max_num_frames=s.max_num_frames,
        max_dist=s.max_dist,
        total_dists=TOTAL_DISTS,
    )
    generator = dict(
        sampling=sampling,
        use_noise=False,
        input=dict(type="temporal"),
        w_dim=cfg.G.w_dim,
        z_dim=cfg.G.z_dim,
        c_dim=cfg.G.c_dim,
        motion=dict(
            z_dim=m.z_dim,
            v_dim=m.code_dim,
            motion_z_distance=m.grid_spacing,
            gen_strategy="conv",
            kernel_size=m.kernel_size,
            use_fractional_t=True,
            fourier=True,
        ),
        time_enc=dict(
            cond_type="concat_const",
            dim=m.time_dim,
            min_period_len=m.min_period,
            max_period_len=m.max_period,
            phase_dropout_std=1.0,
        ),
    )
    discriminator = dict(
        sampling=sampling,
        concat_res=Dc.concat_res,
        num_frames_div_factor=Dc.num_frames_div_factor,
        dummy_c=False,
    )
    differs = (Dc.gap_embed_dim, Dc.max_time_gap, Dc.gap_num_freqs) != (
        256,
        s.max_num_frames,
        official_num_freqs(s.max_num_frames),
    )
    if match_time_gap and differs:
        discriminator["svlib_time_gap"] = dict(
            embed_dim=Dc.gap_embed_dim, max_time_gap=Dc.max_time_gap, num_freqs=Dc.gap_num_freqs
        )
    loss_kwargs = dict(style_mixing_prob=0.0, pl_weight=0.0, video_consistent_aug=True)
    return OmegaConf.create(
        dict(
            sampling=sampling,
            model=dict(generator=generator, discriminator=discriminator, loss_kwargs=loss_kwargs),
        )
    )


def build_official(off: Official, cfg, device, fp16: bool, match_time_gap: bool = True):
    """Official (G, D, ocfg) at svlib's `cfg`, as its train.py + training_loop construct them."""
    oc = official_cfg(cfg, match_time_gap)
    nfp16 = 4 if fp16 else 0  # train.py: num_fp16_res = 4 unless fp32
    G = off.networks.Generator(
        c_dim=cfg.G.c_dim,
        w_dim=cfg.G.w_dim,
        img_resolution=cfg.G.resolution,
        img_channels=cfg.G.img_channels,
        mapping_kwargs=dict(
            num_layers=cfg.G.mapping_layers,
            lr_multiplier=cfg.G.mapping_lr_multiplier,
            w_avg_beta=cfg.G.w_avg_beta,
        ),
        synthesis_kwargs=dict(
            channel_base=cfg.G.channel_base,
            channel_max=cfg.G.channel_max,
            num_fp16_res=nfp16,
            conv_clamp=cfg.G.conv_clamp,
        ),
        cfg=oc.model.generator,
    )
    mbstd = min(cfg.train.batch_size, cfg.D.mbstd_group_size)  # train.py's `auto` rule
    D = off.networks.Discriminator(
        c_dim=cfg.D.c_dim,
        img_resolution=cfg.D.resolution,
        img_channels=cfg.D.img_channels,
        channel_base=cfg.D.channel_base,
        channel_max=cfg.D.channel_max,
        num_fp16_res=nfp16,
        conv_clamp=cfg.D.conv_clamp,
        cmap_dim=cfg.D.cmap_dim,
        mapping_kwargs=dict(num_layers=cfg.D.mapping_layers),
        epilogue_kwargs=dict(mbstd_group_size=mbstd, mbstd_num_channels=cfg.D.mbstd_num_channels),
        cfg=oc.model.discriminator,
    )
    G = G.train().requires_grad_(False).to(device)
    D = D.train().requires_grad_(False).to(device)
    return G, D, oc


def official_augment_kwargs(aug) -> dict:
    """AugmentPipe kwargs for svlib's AugmentConfig: the same ops (pipe minus disable), strengths
    and ranges (both use StyleGAN2-ADA's names)."""
    from svlib.augment import AugmentPipe

    kw = dict(AugmentPipe(aug).strength)
    for name in (
        "xint_max",
        "scale_std",
        "rotate_max",
        "aniso_std",
        "xfrac_std",
        "brightness_std",
        "contrast_std",
        "hue_max",
        "saturation_std",
    ):
        kw[name] = getattr(aug, name)
    return kw


class OfficialTrainer:
    """One iteration of the official training loop, on our batches."""

    def __init__(self, off: Official, cfg, device, fp16: bool):
        tc = cfg.train
        self.off, self.cfg, self.device = off, cfg, torch.device(device)
        torch.manual_seed(tc.seed)
        self.G, self.D, self.ocfg = build_official(off, cfg, device, fp16)
        self.G_ema = copy.deepcopy(self.G).eval()
        aug = tc.augment
        self.augment_pipe = None
        if aug.mode != "none":
            pipe = off.augment.AugmentPipe(**official_augment_kwargs(aug))
            self.augment_pipe = pipe.train().requires_grad_(False).to(device)
            self.augment_pipe.p.copy_(torch.as_tensor(aug.p))
        self.ada_stats = None
        if aug.mode == "ada":
            self.ada_stats = off.stats.Collector(regex="Loss/signs/real")
        self.stats_collector = off.stats.Collector(regex=".*")  # the loop's, updated per tick
        self.loss = off.loss.StyleGAN2Loss(
            cfg=self.ocfg,
            device=self.device,
            G_mapping=self.G.mapping,
            G_synthesis=self.G.synthesis,
            D=self.D,
            augment_pipe=self.augment_pipe,
            style_mixing_prob=0.0,
            r1_gamma=tc.r1_gamma,
            pl_weight=0.0,
        )
        # Lazy regularisation: Adam's lr and betas rescaled by interval / (interval + 1), and a
        # main + reg phase per network, as the loop sets them up.
        self.phases = []
        for name, module, lr, interval in (
            ("G", self.G, tc.lr_g, tc.g_reg_interval),
            ("D", self.D, tc.lr_d, tc.r1_interval),
        ):
            r = interval / (interval + 1)
            opt = torch.optim.Adam(
                module.parameters(), lr=lr * r, betas=[b**r for b in tc.betas], eps=tc.eps
            )
            self.phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, interval)]
        self.batch_idx = 0
        self.cur_nimg = 0

    def step(self, batch) -> None:
        tc, dev, b = self.cfg.train, self.device, self.cfg.train.batch_size
        real = batch["frames"].to(dev).to(torch.float32) / 127.5 - 1  # [b, F, 3, H, W]
        real_t = batch["t"].to(dev)
        gen_t = batch["t_fake"].to(dev)  # the same fake times for every phase (svlib: both)
        real_c = torch.zeros([b, self.cfg.G.c_dim], device=dev)
        all_z = torch.randn([len(self.phases), b, self.G.z_dim], device=dev)
        for (name, module, opt, interval), gen_z in zip(self.phases, all_z):
            if self.batch_idx % interval != 0:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            module.train()
            self.loss.accumulate_gradients(
                phase=name,
                real_img=real,
                real_c=real_c,
                real_t=real_t,
                gen_z=gen_z,
                gen_c=real_c,
                gen_t=gen_t,
                sync=True,
                gain=interval,
            )
            module.requires_grad_(False)
            for p in module.parameters():
                if p.grad is not None:
                    self.off.misc.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
            opt.step()
        ema_nimg = tc.ema_kimg * 1000
        if tc.ema_rampup is not None:
            ema_nimg = min(ema_nimg, self.cur_nimg * tc.ema_rampup)
        beta = 0.5 ** (b / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b_ in zip(self.G_ema.buffers(), self.G.buffers()):
                b_ema.copy_(b_)
        self.cur_nimg += b * self.cfg.sampling.num_frames
        self.batch_idx += 1
        aug = tc.augment
        if self.ada_stats is not None and self.batch_idx % aug.interval == 0:
            self.ada_stats.update()
            sign = self.ada_stats["Loss/signs/real"]
            adjust = np.sign(sign - aug.target) * (b * aug.interval) / (aug.kimg * 1000)
            p = self.augment_pipe.p
            p.copy_((p + adjust).max(self.off.misc.constant(0, device=dev)))


# ----------------------------------------------------------------------------------------------
# svlib side


class SvlibTrainer:
    def __init__(self, cfg, device):
        from svlib.training import TrainingState
        from svlib.utils import amp_dtype

        self.state = TrainingState.create(cfg, device)
        self.dtype = amp_dtype(device, cfg.train.amp)

    def step(self, batch) -> None:
        from svlib.training import step_generator, train_step

        s = self.state
        train_step(s, batch, step_generator(s.cfg.train.seed, s.step), dtype=self.dtype)


# ----------------------------------------------------------------------------------------------
# Timing


def make_config(a):
    import svlib
    from svlib.config import resolve_auto

    cfg = svlib.get_preset(a.preset, a.set, resolution=a.resolution)
    if a.batch:
        cfg.train.batch_size = a.batch
    return resolve_auto(cfg)


def make_batches(cfg, data: str, n: int) -> list[dict]:
    from svlib.data import StepBatches, open_dataset

    videos = open_dataset(data, resolution=cfg.G.resolution)
    ds = StepBatches(videos, cfg, cfg.train.batch_size)
    return [ds[k] for k in range(n)]


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _summary(times: list[float], r1: list[bool], interval: int, frames_per_iter: int) -> dict:
    x, r = np.asarray(times), np.asarray(r1)
    plain = float(np.median(x[~r])) if (~r).any() else float("nan")
    with_r1 = float(x[r].mean()) if r.any() else float("nan")
    amort = ((interval - 1) * plain + with_r1) / interval if r.any() else plain
    return {
        "iters": len(x),
        "r1_iters": int(r.sum()),
        "ms_median_plain": 1e3 * plain,
        "ms_mean_r1": 1e3 * with_r1,
        "ms_per_iter": 1e3 * amort,
        "frames_per_s": frames_per_iter / amort,
        "ms_all": [round(1e3 * t, 2) for t in x],
    }


def bench(a) -> dict:
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # the official loop's settings (svlib sets none)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    cfg = make_config(a)
    off = Official(os.environ[ENV], ops="ref" if dev.type == "cpu" else a.official_ops)
    fp16 = dev.type == "cuda" and not a.official_fp32
    official = OfficialTrainer(off, cfg, dev, fp16=fp16)
    ours = SvlibTrainer(cfg, dev)
    pool = make_batches(cfg, a.data, min(8, a.warmup + a.iters))
    nets = {
        "official": (official.G, official.D),
        "svlib": (ours.state.G, ours.state.D),
    }
    initial = {k: [p.detach().clone() for m in v for p in m.parameters()] for k, v in nets.items()}
    interval = cfg.train.r1_interval
    times = {"official": [], "svlib": []}
    r1_flags = []

    def run(which, k):
        batch = pool[k % len(pool)]
        _sync(dev)
        t0 = time.perf_counter()
        (official if which == "official" else ours).step(batch)
        _sync(dev)
        return time.perf_counter() - t0

    for k in range(a.warmup):
        for which in ("official", "svlib") if k % 2 == 0 else ("svlib", "official"):
            run(which, k)
        print(f"  warm-up {k + 1}/{a.warmup}", file=sys.stderr, flush=True)
    start = -(-a.warmup // interval) * interval if interval > 0 else a.warmup
    official.batch_idx = ours.state.step = start  # the first timed iteration is an R1 iteration
    for j in range(a.iters):
        k = start + j
        r1_flags.append(interval > 0 and k % interval == 0)
        for which in ("official", "svlib") if j % 2 == 0 else ("svlib", "official"):
            times[which].append(run(which, k))
        print(
            f"  iter {j + 1}/{a.iters}{' (R1)' if r1_flags[-1] else ''}: official "
            f"{1e3 * times['official'][-1]:.0f} ms, svlib {1e3 * times['svlib'][-1]:.0f} ms",
            file=sys.stderr,
            flush=True,
        )
    fpi = cfg.train.batch_size * cfg.sampling.num_frames
    sanity = {}  # both trained: every parameter finite, and G and D moved
    for k, v in nets.items():
        now = [p.detach() for m in v for p in m.parameters()]
        sanity[k] = {
            "finite": all(bool(torch.isfinite(p).all()) for p in now),
            "changed": sum(not torch.equal(p0, p) for p0, p in zip(initial[k], now)),
            "of": len(now),
        }
    res_off = _summary(times["official"], r1_flags, interval, fpi)
    res_ours = _summary(times["svlib"], r1_flags, interval, fpi)
    # Paired over the plain (no-R1) iterations: iteration k of one against iteration k of the other.
    plain = ~np.asarray(r1_flags)
    t_off, t_ours = np.asarray(times["official"])[plain], np.asarray(times["svlib"])[plain]
    paired = {}
    if len(t_off):
        idx = np.random.default_rng(0).integers(0, len(t_off), size=(2000, len(t_off)))
        boot = t_off[idx].mean(1) / t_ours[idx].mean(1)
        paired = {
            "plain_iters": len(t_off),
            "ratio_of_means": float(t_off.mean() / t_ours.mean()),
            "ratio_ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
            "median_of_ratios": float(np.median(t_off / t_ours)),
        }
    from svlib.models import count_params

    return {
        "device": str(dev)
        + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "torch": torch.__version__,
        "threads": a.threads,
        "preset": a.preset,
        "resolution": cfg.G.resolution,
        "batch": cfg.train.batch_size,
        "num_frames": cfg.sampling.num_frames,
        "r1_interval": interval,
        "warmup": a.warmup,
        "official_commit": _official_commit(off.repo),
        "official_ops": {k: ("cuda" if v else "ref") for k, v in off.custom_ops_used().items()},
        "official_fp16_res": 4 if fp16 else 0,
        "svlib_amp": str(ours.dtype),
        "official_patches": off.patches,
        "params": {
            "official_G": count_params(official.G),
            "official_D": count_params(official.D),
            "svlib_G": count_params(ours.state.G),
            "svlib_D": count_params(ours.state.D),
        },
        "trained": sanity,
        "official": res_off,
        "svlib": res_ours,
        "official_over_svlib": res_off["ms_per_iter"] / res_ours["ms_per_iter"],
        "official_over_svlib_plain_paired": paired,
    }


def _official_commit(repo: Path) -> str | None:
    r = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True)
    return r.stdout.decode().strip() or None if r.returncode == 0 else None


# ----------------------------------------------------------------------------------------------
# Parameter counts and an official-format pickle (feasibility for a converter)


def _by_child(module) -> dict[str, int]:
    return {n: sum(p.numel() for p in c.parameters()) for n, c in module.named_children()}


def counts(a) -> dict:
    import svlib
    from svlib.config import resolve_auto
    from svlib.models import build_models, count_params

    off = Official(os.environ[ENV], ops="ref")
    out = {}
    for preset in a.count_presets:
        cfg = resolve_auto(svlib.get_preset(preset))
        G, D = build_models(cfg)
        row = {"svlib_G": count_params(G), "svlib_D": count_params(D)}
        for match in (False, True):
            oG, oD, _ = build_official(off, cfg, "cpu", fp16=False, match_time_gap=match)
            tag = "official" + ("_time_gap_matched" if match else "_as_is")
            row[tag + "_G"], row[tag + "_D"] = count_params(oG), count_params(oD)
            if not match:
                row["official_as_is_D_children"] = _by_child(oD)
        row["svlib_D_children"] = _by_child(D)
        out[preset] = row
    return {"official_patches": off.patches, "presets": out}


def write_pkl(a) -> dict:
    """Write {G, D, G_ema, augment_pipe, training_set_kwargs} the way the official loop snapshots
    them (deep copies, eval, no grad, on CPU, pickled with its persistence), then load it back
    with its legacy.load_network_pkl in a fresh process and run G_ema once."""
    off = Official(os.environ[ENV], ops="ref")
    cfg = make_config(a)
    tr = OfficialTrainer(off, cfg, "cpu", fp16=False)
    snap = {"training_set_kwargs": {"resolution": cfg.G.resolution}}
    for name, m in (
        ("G", tr.G),
        ("D", tr.D),
        ("G_ema", tr.G_ema),
        ("augment_pipe", tr.augment_pipe),
    ):
        snap[name] = None if m is None else copy.deepcopy(m).eval().requires_grad_(False).cpu()
    with open(a.write_pkl, "wb") as f:
        pickle.dump(snap, f)
    check = (
        "import sys, torch; sys.path[:0] = [sys.argv[2] + '/src', sys.argv[2]]\n"
        "import src.legacy as legacy\n"
        "d = legacy.load_network_pkl(open(sys.argv[1], 'rb'))\n"
        "G = d['G_ema']; z = torch.randn(1, G.z_dim); c = torch.zeros(1, G.c_dim)\n"
        "img = G(z, c, torch.tensor([[0.0, 1.0, 3.0]]))\n"
        "n = lambda m: sum(p.numel() for p in m.parameters())\n"
        "print(sorted(k for k, v in d.items() if v is not None), n(G), n(d['D']), "
        "tuple(img.shape))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(
        [sys.executable, "-c", check, str(a.write_pkl), str(off.repo)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
    )
    return {
        "pkl": str(a.write_pkl),
        "bytes": Path(a.write_pkl).stat().st_size,
        "reload_rc": r.returncode,
        "reload_out": (r.stdout + r.stderr)[-2000:],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="cpu", help="svlib preset: cpu | colab | paper256 | tiny")
    ap.add_argument("--resolution", type=int, help="override the preset's resolution")
    ap.add_argument("--batch", type=int, help="override the preset's batch size")
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", help="svlib overrides")
    ap.add_argument("--data", default="synthetic:shapes?n=16", help="svlib dataset spec")
    ap.add_argument("--iters", type=int, default=6, help="timed iterations of each")
    ap.add_argument("--warmup", type=int, default=2, help="untimed iterations of each first")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument(
        "--official-ops",
        choices=("auto", "ref"),
        default="auto",
        help="on CUDA: auto = build and use its custom ops when possible; ref = reference ops",
    )
    ap.add_argument("--official-fp32", action="store_true", help="on CUDA: no fp16 in official")
    ap.add_argument("--json", help="write the result here")
    ap.add_argument("--counts", action="store_true", help="print parameter counts, no timing")
    ap.add_argument("--count-presets", nargs="+", default=["tiny", "cpu", "paper256"])
    ap.add_argument("--write-pkl", metavar="PATH", help="write an official-format pickle")
    a = ap.parse_args(argv)
    if not os.environ.get(ENV):
        raise SystemExit(f"set {ENV} to a checkout of github.com/universome/stylegan-v")
    if a.counts:
        res = counts(a)
    elif a.write_pkl:
        res = write_pkl(a)
    else:
        res = bench(a)
        o, s = res["official"], res["svlib"]
        print(
            f"{res['device']}, {res['preset']} {res['resolution']}², batch {res['batch']}, "
            f"F={res['num_frames']}, official ops {res['official_ops']}, "
            f"official fp16 res {res['official_fp16_res']}, svlib amp {res['svlib_amp']}"
        )
        for name, r in (("official", o), ("svlib", s)):
            print(
                f"  {name:8s} {r['ms_per_iter']:8.1f} ms/iter (plain {r['ms_median_plain']:.1f},"
                f" R1 {r['ms_mean_r1']:.1f}), {r['frames_per_s']:7.1f} frames/s shown to D"
            )
        pp = res["official_over_svlib_plain_paired"]
        ci = f", plain iterations {pp['ratio_of_means']:.2f}x" if pp else ""
        if pp:
            ci += f" (95% CI {pp['ratio_ci95'][0]:.2f}-{pp['ratio_ci95'][1]:.2f})"
        print(f"  official / svlib time: {res['official_over_svlib']:.2f}x amortised{ci}")
    text = json.dumps(res, indent=1)
    if a.counts or a.write_pkl:
        print(text)
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
