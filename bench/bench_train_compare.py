"""Training-step speed of this svlib against an older commit, side by side in one run.

Two worker processes each run their own code's `svlib.training.train` on the same preset and data
(one per code tree: the older one is `git archive`d into a temporary folder). The parent lets them
take turns, one training step at a time, so that whatever else the machine does hits both alike.
A step is everything the loop does between two log lines (log_every=1): data, Gmain, Dmain, lazy
R1 when due, EMA, ADA. Previews and checkpoints are switched off in both.

    OMP_NUM_THREADS=1 taskset -c 1 python bench/bench_train_compare.py --compare d835d0d --steps 200
    python bench/bench_train_compare.py --profile 30 --out bench/results/cpu_step   # profiler table

Prints s/step and steps/s of each and their ratio, with a bootstrap 95% interval over steps.
Steps are compared in pairs (old step k against new step k), so R1 steps (every r1_interval) line
up in both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------
# Worker: runs train() and blocks after every step until the parent says "go".


def _configure(preset: str, batch: int | None, seed: int, augment_p: float = 0.0):
    import svlib

    cfg = svlib.get_preset(preset)
    t = cfg.train
    t.seed = seed
    if isinstance(getattr(t, "augment", None), str):  # older trees: flat augment_* fields
        t.augment_p = augment_p
    else:
        t.augment.p = augment_p
    if batch:
        t.batch_size = batch
    t.log_every, t.sample_every, t.checkpoint_every = 1, 10**9, 10**9
    return cfg


def _worker(a) -> None:
    import torch

    from svlib.training import train

    torch.set_num_threads(a.threads)
    cfg = _configure(a.preset, a.batch, a.seed, a.augment_p)
    last = [None]

    def handshake(step, stats):
        now = time.perf_counter()
        elapsed = float("nan") if last[0] is None else now - last[0]
        print(f"done {step} {elapsed!r}", flush=True)
        if sys.stdin.readline().strip() != "go":
            raise SystemExit(0)
        last[0] = time.perf_counter()

    with tempfile.TemporaryDirectory() as out:
        train(cfg, a.data, out, steps=a.total, progress=False, callback=handshake)


# ----------------------------------------------------------------------------------------------
# Parent


def _export(rev: str, dst: Path) -> Path:
    """The svlib package of commit `rev`, extracted into dst (nothing else of it is needed)."""
    tar = dst / "tree.tar"
    subprocess.run(["git", "-C", str(ROOT), "archive", "-o", str(tar), rev, "svlib"], check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dst / "tree", filter="data")
    return dst / "tree"


class Worker:
    def __init__(self, label: str, pythonpath: Path, a):
        cmd = [sys.executable, __file__, "--worker", "--preset", a.preset, "--data", a.data]
        cmd += ["--seed", str(a.seed), "--threads", str(a.threads), "--total", str(a.total)]
        cmd += ["--augment-p", str(a.augment_p)]
        if a.batch:
            cmd += ["--batch", str(a.batch)]
        env = {**os.environ, "PYTHONPATH": str(pythonpath)}
        self.label, self.times = label, []
        self.p = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self._read()  # step 1 (setup and the first step are not timed)

    def _read(self) -> float:
        line = self.p.stdout.readline()
        if not line.startswith("done "):
            raise RuntimeError(f"{self.label} worker stopped: {line!r} (exit {self.p.poll()})")
        return float(line.split()[2])

    def step(self) -> None:
        self.p.stdin.write("go\n")
        self.p.stdin.flush()
        self.times.append(self._read())

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait(timeout=60)


def _summary(times: list[float], warmup: int) -> dict:
    x = np.asarray(times[warmup:])
    return {
        "steps": len(x),
        "mean_s": float(x.mean()),
        "median_s": float(np.median(x)),
        "steps_per_s": float(1 / x.mean()),
    }


def compare(a) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        old_tree = _export(a.compare, Path(tmp))
        a.total = a.steps + a.warmup + 2
        old, new = Worker(f"old ({a.compare})", old_tree, a), Worker("new (this tree)", ROOT, a)
        try:
            for k in range(a.steps + a.warmup):
                first, second = (old, new) if k % 2 == 0 else (new, old)  # alternate who goes first
                first.step()
                second.step()
                if (k + 1) % 20 == 0:
                    print(f"  {k + 1} steps each", file=sys.stderr, flush=True)
        finally:
            old.close()
            new.close()
    t_old, t_new = np.asarray(old.times[a.warmup :]), np.asarray(new.times[a.warmup :])
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(t_old), size=(2000, len(t_old)))  # paired bootstrap over steps
    boot = t_old[idx].mean(1) / t_new[idx].mean(1)
    return {
        "old_rev": a.compare,
        "preset": a.preset,
        "data": a.data,
        "threads": a.threads,
        "augment_p": a.augment_p,
        "old": _summary(old.times, a.warmup),
        "new": _summary(new.times, a.warmup),
        "speedup": float(t_old.mean() / t_new.mean()),
        "speedup_ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
    }


def profile(a) -> str:
    """torch.profiler table of `a.profile` training steps of this tree (after 5 unrecorded ones)."""
    import torch
    from torch.profiler import ProfilerActivity, schedule

    from svlib.training import train

    torch.set_num_threads(a.threads)
    cfg = _configure(a.preset, a.batch, a.seed, a.augment_p)
    sched = schedule(wait=4, warmup=1, active=a.profile, repeat=1)
    with torch.profiler.profile(activities=[ProfilerActivity.CPU], schedule=sched) as prof:
        with tempfile.TemporaryDirectory() as out:
            train(
                cfg,
                a.data,
                out,
                steps=a.profile + 6,
                progress=False,
                callback=lambda step, stats: prof.step(),
            )
    avg = prof.key_averages()
    return avg.table(sort_by="self_cpu_time_total", row_limit=45)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--compare", metavar="REV", help="the older commit to run side by side")
    ap.add_argument("--profile", type=int, metavar="STEPS", help="write a profiler table instead")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--data", default="synthetic:shapes?n=512")
    ap.add_argument("--batch", type=int, help="override the preset's batch size")
    ap.add_argument("--steps", type=int, default=100, help="timed steps of each")
    ap.add_argument("--warmup", type=int, default=6, help="untimed steps of each after the first")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--augment-p",
        type=float,
        default=0.0,
        help="ADA probability both start from (ADA tunes it on); a trained run holds about 0.2, "
        "where the augmentation's cost shows, while a fresh run starts at 0",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch threads of each worker")
    ap.add_argument("--out", help="write the result here (.json for --compare, .txt for --profile)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--total", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        return _worker(a)
    if a.profile:
        text = profile(a)
        print(text)
        if a.out:
            Path(a.out).with_suffix(".txt").write_text(text)
        return None
    if not a.compare:
        ap.error("give --compare REV or --profile STEPS")
    if a.steps < 2:
        ap.error(f"--steps must be at least 2, got {a.steps}")
    res = compare(a)
    o, n = res["old"], res["new"]
    print(
        f"preset {a.preset}, {a.threads} thread(s), "
        f"{o['steps']} paired steps after {a.warmup} warm-up"
    )
    print(f"  old {a.compare}: {o['mean_s'] * 1e3:7.1f} ms/step  {o['steps_per_s']:.2f} steps/s")
    print(f"  new         : {n['mean_s'] * 1e3:7.1f} ms/step  {n['steps_per_s']:.2f} steps/s")
    lo, hi = res["speedup_ci95"]
    print(f"  speed-up ×{res['speedup']:.2f} (95% bootstrap interval ×{lo:.2f}–×{hi:.2f})")
    if a.out:
        Path(a.out).with_suffix(".json").write_text(json.dumps(res, indent=2))
    return None


if __name__ == "__main__":
    main()
