"""The full StyleGAN-V training iteration at a preset's resolution and batch: frames/s shown to D,
ms per phase, peak memory, and achieved TFLOP/s against the device's peak.

The iteration is `svlib.training.train_step` fed by `svlib.data.step_loader` (DataLoader workers,
pinned memory on CUDA): data, Gmain, Dmain, lazy R1 every r1_interval steps, EMA of G, ADA. It runs
in two passes after --warmup steps, and the two kinds of number must not be mixed up:

  throughput  --steps steps as training runs them: nothing inside a step waits for the device (the
              statistics stay device tensors), which is synchronised only at the edges of windows
              of r1_interval steps (one R1 step each: a window's mean is the amortised iteration).
              frames/s = batch · F / mean step time over all timed steps, data waits included; the
              spread is that of the window means.
  phases      (--phases) --phase-steps more steps with the device synchronised before and after
              every phase, so that each phase's time is its own. Synchronising stops the host from
              queueing work ahead, so these times add up to more than the throughput pass's step.

FLOPs are counted with the formulas of torch's FlopCounterMode (which `bench/bench_model.py` uses),
on one eager plain step and one eager R1 step; per iteration = plain + (R1 − plain) / r1_interval.
The formulas cover matrix products and convolutions (almost all of the work), not element-wise ops
or Adam. FlopCounterMode itself cannot run R1 (its module hooks refuse `autograd.grad` on a leaf),
so `FlopCount` applies the same formulas without them.

    python bench/bench_train_full.py --preset tiny --steps 8 --warmup 2 --phases --out /tmp/t.json
    python bench/bench_train_full.py --preset paper256 --amp bf16 --workers 8 --phases  # a GPU
    python bench/bench_train_full.py --preset colab --compile --compile-mode reduce-overhead
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import platform
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch._dynamo.utils import counters
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry
from tqdm.auto import tqdm

import svlib.training as training
from svlib.checks import UsageError, check_device, check_number, check_writable_file
from svlib.config import _CHOICES, PRESETS, get_preset, resolve_auto
from svlib.data import StepBatches, open_dataset, step_loader
from svlib.utils import amp_dtype, default_device

# Dense (no sparsity) peak TFLOP/s from the vendors' data sheets: (bf16/fp16 tensor cores, TF32
# tensor cores, plain fp32). None: the chip has no such units (T4 and V100: no bf16, no TF32).
# The first name contained in torch.cuda.get_device_name() wins, so the longer names come first.
PEAK_TFLOPS = (
    ("H200", (989.0, 494.0, 67.0)),
    ("H100 NVL", (835.0, 418.0, 60.0)),
    ("H100 PCIe", (756.0, 378.0, 51.0)),
    ("H100", (989.0, 494.0, 67.0)),  # SXM (HBM3)
    ("A100", (312.0, 156.0, 19.5)),
    ("L4", (121.0, 60.0, 30.3)),
    ("T4", (65.0, None, 8.1)),  # fp16 only; no bf16 units
    ("V100", (125.0, None, 15.7)),  # SXM2; fp16 only
)


def device_peak(device: torch.device, dtype: torch.dtype | None, given: float | None):
    """(peak TFLOP/s, what it is) for this device and precision; (None, why) when unknown."""
    if given is not None:
        return given, "--peak-tflops"
    if device.type != "cuda":
        return None, f"unknown for {device.type} (pass --peak-tflops)"
    name = torch.cuda.get_device_name(device)
    row = next((peaks for key, peaks in PEAK_TFLOPS if key in name), None)
    if row is None:
        return None, f"unknown for {name} (pass --peak-tflops)"
    half, tf32, fp32 = row
    if dtype is torch.bfloat16 and tf32 is None:  # no bf16 units: emulated, no tensor-core peak
        return None, f"unknown: {name} has no bf16 tensor cores"
    if dtype in (torch.bfloat16, torch.float16):
        return half, f"{name}: {str(dtype).split('.')[-1]} dense"
    # full precision: cuDNN runs the convolutions (almost all FLOPs) in TF32 unless switched off
    if tf32 is not None and torch.backends.cudnn.allow_tf32:
        return tf32, f"{name}: TF32 dense (cuDNN convolutions in TF32, torch's default)"
    return fp32, f"{name}: fp32"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class PhaseTimer:
    """Wraps the phases of `train_step` (module-level functions of svlib.training and the ADA
    update) so that each is timed with the device synchronised before and after it."""

    PHASES = ("_g_main", "_d_main", "_d_reg", "ema_update")
    NAMES = {"_g_main": "Gmain", "_d_main": "Dmain", "_d_reg": "Dreg", "ema_update": "EMA"}

    def __init__(self, state, device):
        self.state, self.device = state, device
        self.times: dict[str, list[float]] = {}

    def _timed(self, name, fn):
        def run(*args, **kwargs):
            _sync(self.device)
            t0 = time.perf_counter()
            out = fn(*args, **kwargs)
            _sync(self.device)
            self.times.setdefault(name, []).append(time.perf_counter() - t0)
            return out

        return run

    @contextlib.contextmanager
    def installed(self):
        saved = {p: getattr(training, p) for p in self.PHASES}
        ada = self.state.ada
        for p, fn in saved.items():
            setattr(training, p, self._timed(self.NAMES[p], fn))
        if ada is not None:
            ada.update = self._timed("ADA", ada.update)
        try:
            yield self
        finally:
            for p, fn in saved.items():
                setattr(training, p, fn)
            if ada is not None:
                del ada.update  # back to the class's method


def _batches(a, cfg, device):
    """An endless iterator of training batches: the training loader, or a pool made up front."""
    videos = open_dataset(a.data, resolution=cfg.G.resolution)
    ds = StepBatches(videos, cfg, cfg.train.batch_size)
    if not a.data_pool:
        return iter(step_loader(ds, 0, cfg.train.num_workers)), None
    pool = [ds[k] for k in range(a.data_pool)]
    if device.type == "cuda":
        pool = [{k: v.pin_memory() for k, v in b.items()} for b in pool]
    return itertools.cycle(pool), pool


class FlopCount(TorchDispatchMode):
    """Sums FlopCounterMode's per-op formulas (torch.utils.flop_counter.flop_registry) over every
    op run inside it, backward passes included, without FlopCounterMode's module hooks."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func.overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def _count_flops(state, batches, dtype) -> dict[str, int]:
    """FLOPs of one eager plain step and one eager R1 step (compiled graphs hide their ops)."""
    tc = state.cfg.train
    interval = tc.r1_interval if tc.r1_interval > 0 and tc.r1_gamma > 0 else 0
    compiled = state.G_fwd, state.D_fwd
    state.G_fwd, state.D_fwd = state.G, state.D
    out = {}
    try:
        for kind in ("r1", "plain") if interval else ("plain",):
            if interval:  # put the step counter where the next step is (or is not) an R1 step
                at_r1 = -(-state.step // interval) * interval
                state.step = at_r1 if kind == "r1" else at_r1 + 1 if interval > 1 else at_r1
                if kind == "plain" and interval == 1:
                    continue  # every step is an R1 step
            batch = next(batches)
            with FlopCount() as fc:
                g = training.step_generator(tc.seed, state.step)
                training.train_step(state, batch, g, dtype=dtype, sync_stats=False)
            out[kind] = fc.total
    finally:
        state.G_fwd, state.D_fwd = compiled
    if "plain" not in out:
        out["plain"] = out["r1"]
    if "r1" not in out:
        out["r1"] = out["plain"]
    per_iter = out["plain"] + (out["r1"] - out["plain"]) / interval if interval else out["plain"]
    return {"plain_step": out["plain"], "r1_step": out["r1"], "per_iteration": per_iter}


def _memory(device: torch.device, card_gb: float) -> dict:
    if device.type == "cuda":
        alloc = torch.cuda.max_memory_allocated(device) / 2**30
        reserved = torch.cuda.max_memory_reserved(device) / 2**30
        return {
            "kind": "torch.cuda.max_memory_allocated / max_memory_reserved (timed passes)",
            "peak_allocated_gib": round(alloc, 3),
            "peak_reserved_gib": round(reserved, 3),
            "card_gib": card_gb,
            "fits_card": reserved < card_gb,
        }
    # Linux reports kilobytes; the whole process since it started (weights, data, the passes)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (
        2**20 if sys.platform != "darwin" else 2**30
    )
    return {
        "kind": "peak RSS of this process (ru_maxrss, since start)",
        "peak_rss_gib": round(rss, 3),
    }


def _sync_debug(step, device, steps: int) -> dict | None:
    """Synchronising CUDA calls during `steps` training steps, by the Python line that made them
    (torch.cuda.set_sync_debug_mode warns at each one). None off CUDA."""
    if device.type != "cuda":
        return None
    _sync(device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            for _ in range(steps):
                step()
            _sync(device)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    where = collections.Counter(
        f"{Path(w.filename).name}:{w.lineno}"
        for w in caught
        if "synchroniz" in str(w.message).lower()
    )
    return {
        "steps": steps,
        "syncs_per_step": sum(where.values()) / steps,
        "where": dict(where.most_common()),
    }


def run(a) -> dict:
    device = check_device(a.device) or default_device()
    overrides = [f"train.amp={a.amp}", *a.set]
    if a.compile:
        overrides += ["train.compile=true", f"train.compile_mode={a.compile_mode}"]
    if a.workers is not None:
        overrides.append(f"train.num_workers={a.workers}")
    if a.batch is not None:
        overrides.append(f"train.batch_size={a.batch}")
    cfg = resolve_auto(get_preset(a.preset, overrides))
    tc = cfg.train
    F_ = cfg.sampling.num_frames
    interval = tc.r1_interval if tc.r1_interval > 0 and tc.r1_gamma > 0 else 0
    window = interval or max(1, -(-a.steps // a.windows))
    num_windows = max(1, -(-a.steps // window))  # whole windows: each holds one R1 step
    dtype = amp_dtype(device, tc.amp)
    if a.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True

    state = training.TrainingState.create(cfg, device)
    batches, pool = _batches(a, cfg, device)
    total = a.warmup + num_windows * window + (a.phase_steps if a.phases else 0)
    total += a.sync_debug if device.type == "cuda" else 0
    bar = tqdm(total=total, desc=f"{a.preset} {device.type}", unit="step", dynamic_ncols=True)

    def step(stats: bool = False):
        t0 = time.perf_counter()
        batch = next(batches)
        waited = time.perf_counter() - t0
        g = training.step_generator(tc.seed, state.step)
        out = training.train_step(state, batch, g, dtype=dtype, sync_stats=stats)
        bar.update(1)
        return waited, out

    graphs = lambda: counters["stats"]["unique_graphs"]  # noqa: E731  (torch.compile's count)
    g0 = graphs()
    t_setup = time.perf_counter()
    for _ in range(a.warmup):
        step()
    _sync(device)
    warmup_s = time.perf_counter() - t_setup

    # --- throughput pass: windows of r1_interval steps, synchronised only at their edges
    if interval:
        state.step = -(-state.step // interval) * interval  # each window starts with an R1 step
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    g1 = graphs()
    win_s, data_wait = [], 0.0
    for _ in range(num_windows):
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(window):
            data_wait += step()[0]
        _sync(device)
        win_s.append(time.perf_counter() - t0)
    steps_timed = num_windows * window
    traced = {"warmup": g1 - g0, "timed": graphs() - g1}
    mean_step = sum(win_s) / steps_timed
    window_ms = [1e3 * s / window for s in win_s]
    throughput = {
        "steps": steps_timed,
        "windows": num_windows,
        "steps_per_window": window,
        "mean_step_ms": 1e3 * mean_step,
        "window_mean_step_ms": [round(x, 3) for x in window_ms],
        "spread_ms": [min(window_ms), max(window_ms)],
        "stdev_ms": statistics.stdev(window_ms) if len(window_ms) > 1 else 0.0,
        "frames_per_s": tc.batch_size * F_ / mean_step,
        "videos_per_s": tc.batch_size / mean_step,
        "host_data_wait_ms": 1e3 * data_wait / steps_timed,
        # graphs torch.compile traced; any in the timed pass put compile time into its numbers
        "graphs_traced": traced,
        "hours_per_total_kimg": tc.total_kimg * 1000 / (tc.batch_size * F_ / mean_step) / 3600,
        "note": "no synchronisation inside a step; the device synchronised at window edges only. "
        "host_data_wait_ms is host time blocked on the loader (the device may still be busy)",
    }

    # --- phases pass: synchronised around every phase
    phases = None
    if a.phases:
        if interval:
            state.step = -(-state.step // interval) * interval  # the first one is an R1 step
        timer = PhaseTimer(state, device)
        rows: dict[str, list[float]] = {"data": [], "step": []}
        with timer.installed():
            for _ in range(a.phase_steps):
                _sync(device)
                t0 = time.perf_counter()
                waited, _ = step()
                _sync(device)
                rows["data"].append(waited)
                rows["step"].append(time.perf_counter() - t0 - waited)
        ms = lambda xs: 1e3 * sum(xs) / len(xs) if xs else 0.0  # noqa: E731
        n = a.phase_steps
        dreg = timer.times.get("Dreg", [])
        inner = sum(sum(v) for v in timer.times.values())
        phases = {
            "steps": n,
            "r1_steps": len(dreg),
            "ms": {
                "data": ms(rows["data"]),
                # H2D copies, noise draws, host checks of the times: the step minus its phases
                "prep": 1e3 * (sum(rows["step"]) - inner) / n,
                "Gmain": ms(timer.times.get("Gmain", [])),
                "Dmain": ms(timer.times.get("Dmain", [])),
                "Dreg_per_r1_step": ms(dreg),
                "Dreg_amortised": ms(dreg) / interval if interval else 0.0,
                "EMA": ms(timer.times.get("EMA", [])),
                "ADA": ms(timer.times.get("ADA", [])),
            },
            "note": "the device synchronised before and after every phase (these do not add up "
            "to the throughput pass's step, whose host and device work overlap); Dreg_amortised "
            "= Dreg_per_r1_step / r1_interval",
        }
        m = phases["ms"]
        keys = ("data", "prep", "Gmain", "Dmain", "Dreg_amortised", "EMA", "ADA")
        phases["sum_amortised_ms"] = sum(m[k] for k in keys)
    memory = _memory(device, a.card_gb)
    bar.close()
    syncs = _sync_debug(step, device, a.sync_debug) if a.sync_debug else None

    flops = None
    if not a.no_flops:
        counted = _count_flops(state, batches, dtype)
        peak, peak_what = device_peak(device, dtype, a.peak_tflops)
        achieved = counted["per_iteration"] / mean_step / 1e12
        flops = {
            **counted,
            "counted_by": "FlopCounterMode's formulas (matmuls, convolutions), eager",
            "achieved_tflops": achieved,
            "peak_tflops": peak,
            "peak_is": peak_what,
            "fraction_of_peak": achieved / peak if peak else None,
        }
    if pool is None:
        del batches  # ends the loader's worker processes

    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "preset": a.preset,
        "resolution": cfg.G.resolution,
        "batch": tc.batch_size,
        "num_frames": F_,
        "frames_per_step": tc.batch_size * F_,
        "r1_interval": interval,
        "amp": str(dtype).split(".")[-1] if dtype is not None else "off",
        "compile": tc.compile,
        "compile_mode": tc.compile_mode if tc.compile else None,
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "workers": tc.num_workers if pool is None else 0,
        "data": a.data if pool is None else f"{a.data}: a pool of {len(pool)} batches, cycled",
        "warmup_steps": a.warmup,
        "warmup_s": warmup_s,
        "throughput": throughput,
        "phases": phases,
        "memory": memory,
        "flops": flops,
        "sync_debug": syncs,
    }


def _print(r: dict) -> None:
    t = r["throughput"]
    print(
        f"{r['preset']} {r['resolution']}² batch {r['batch']}×{r['num_frames']} on {r['device']} "
        f"({r['device_name']}), amp {r['amp']}, compile {r['compile_mode'] or 'off'}, "
        f"data {r['data']} ({r['workers']} workers)"
    )
    print(
        f"throughput (no syncs inside steps): {t['mean_step_ms']:.1f} ms/step over {t['steps']} "
        f"steps (window means {t['spread_ms'][0]:.1f}..{t['spread_ms'][1]:.1f} ms), "
        f"{t['frames_per_s']:.1f} frames/s to D, {t['videos_per_s']:.2f} videos/s, host data "
        f"wait {t['host_data_wait_ms']:.1f} ms/step"
    )
    if t["graphs_traced"]["timed"]:
        print(
            f"warning: torch.compile traced {t['graphs_traced']['timed']} graphs in the timed pass"
        )
    if r["phases"]:
        p = r["phases"]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in p["ms"].items())
        print(f"phases (synchronised, ms/step over {p['steps']} steps): {parts}")
    mem = r["memory"]
    if "peak_allocated_gib" in mem:
        print(
            f"peak memory: {mem['peak_allocated_gib']:.2f} GiB allocated, "
            f"{mem['peak_reserved_gib']:.2f} GiB reserved (fits {mem['card_gib']} GiB: "
            f"{mem['fits_card']})"
        )
    else:
        print(f"peak memory: {mem['peak_rss_gib']:.2f} GiB RSS (whole process)")
    if r["sync_debug"]:
        sd = r["sync_debug"]
        print(f"synchronising calls per step: {sd['syncs_per_step']:g} at {sd['where']}")
    f = r["flops"]
    if f:
        frac = f"{100 * f['fraction_of_peak']:.1f}% of" if f["fraction_of_peak"] else "peak"
        print(
            f"FLOPs/iteration {f['per_iteration'] / 1e9:.1f} G (plain step "
            f"{f['plain_step'] / 1e9:.1f} G, R1 step {f['r1_step'] / 1e9:.1f} G): "
            f"{f['achieved_tflops']:.3g} TFLOP/s, {frac} {f['peak_tflops'] or ''} ({f['peak_is']})"
        )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="tiny", choices=sorted(PRESETS))
    ap.add_argument("--batch", type=int, help="videos per step (default: the preset's)")
    ap.add_argument("--steps", type=int, default=32, help="timed steps (whole R1 windows)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    ap.add_argument("--windows", type=int, default=4, help="windows when there is no lazy R1")
    ap.add_argument("--amp", default="auto", choices=_CHOICES["train.amp"])
    ap.add_argument("--compile", action="store_true", help="torch.compile G and D")
    ap.add_argument("--compile-mode", default="default", choices=_CHOICES["train.compile_mode"])
    ap.add_argument(
        "--cudnn-benchmark", action="store_true", help="cuDNN autotuning (fixed shapes)"
    )
    ap.add_argument("--device", default=None, help="cpu | cuda | cuda:1 | mps (default: best)")
    ap.add_argument("--workers", type=int, help="data-loader workers (default: the preset's)")
    ap.add_argument("--data", default="synthetic:shapes?n=512", help="dataset spec")
    ap.add_argument(
        "--data-pool",
        type=int,
        default=0,
        metavar="N",
        help="make N batches up front and cycle them (times the model without data loading)",
    )
    ap.add_argument("--phases", action="store_true", help="also time each phase (synchronised)")
    ap.add_argument("--phase-steps", type=int, default=4, help="steps of the phases pass")
    ap.add_argument("--no-flops", action="store_true", help="skip counting FLOPs")
    ap.add_argument(
        "--sync-debug",
        type=int,
        default=0,
        metavar="N",
        help="on CUDA: N more steps listing every synchronising call (set_sync_debug_mode)",
    )
    ap.add_argument("--peak-tflops", type=float, help="the device's peak (default: known GPUs)")
    ap.add_argument("--card-gb", type=float, default=16.0, help="memory to compare the peak with")
    ap.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", help="config overrides")
    ap.add_argument("--out", help="write the result as JSON here")
    a = ap.parse_args(argv)
    try:
        for name in ("steps", "warmup", "windows", "phase_steps", "data_pool", "sync_debug"):
            least = 1 if name in ("steps", "windows", "phase_steps") else 0
            check_number(
                f"--{name.replace('_', '-')}", getattr(a, name), minimum=least, integer=True
            )
        if a.peak_tflops is not None:
            check_number("--peak-tflops", a.peak_tflops, above=0)
        out = check_writable_file(a.out, "--out") if a.out else None
        r = run(a)
    except (UsageError, ValueError) as e:
        print(f"bench_train_full: {e}", file=sys.stderr)
        return 2
    except torch.OutOfMemoryError as e:
        first = str(e).splitlines()[0]
        print(
            f"bench_train_full: out of memory at batch {a.batch or 'preset'}: {first}",
            file=sys.stderr,
        )
        return 3
    _print(r)
    if out is not None:
        Path(out).write_text(json.dumps(r, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
