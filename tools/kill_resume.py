"""Kill training with SIGKILL at random moments, many times, and check that every resume is exact.

    python tools/kill_resume.py --kills 20            # tiny preset, a few seconds per kill

An uninterrupted reference run keeps a checkpoint of every step. Then `svlib train --resume` is
started again and again in one run folder and killed after a random delay (often while it writes a
checkpoint, since it writes one every step). After each kill, the newest readable checkpoint must
equal the reference's checkpoint of the same step, tensor for tensor (G, D, G_ema, both Adam
states, ADA, counters), and a run that reaches the end
must have a log of one line per step. A finished run is started over with --force until enough
kills were made. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

DATA = "synthetic:shapes?n=8&length=24"


def reference(folder: Path, steps: int) -> None:
    """An uninterrupted run that keeps every step's checkpoint (pruning off)."""
    import svlib
    import svlib.training

    svlib.training.prune_snapshots = lambda *a, **k: None
    cfg = svlib.get_preset("tiny", {"train.checkpoint_every": 1})
    svlib.train(cfg, DATA, folder, steps=steps, progress=False, sample_frames=2, num_preview=1)


def same(a, b, path: str = "") -> list[str]:
    """Paths at which two checkpoint payloads differ (wall time aside)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        keys = [k for k in a if k != "wall_time"]
        return [d for k in keys for d in same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in same(x, y, f"{path}[{i}]")]
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return [] if a.dtype == b.dtype and torch.equal(a, b) else [path]
    return [] if a == b else [path]


def one_life(
    run: Path, steps: int, delay: float, force: bool, at_write: bool
) -> tuple[int | None, bool]:
    """Start training, SIGKILL it after `delay` s (or, with `at_write`, as soon as it writes a
    checkpoint after that); (exit status if it ended first, whether a checkpoint was being
    written at the kill)."""
    args = ["train", "--preset", "tiny", "--data", DATA, "--out", str(run), "--steps", str(steps)]
    args += ["--checkpoint-every", "1", "--force" if force else "--resume"]
    # as many threads as the reference run in this process: CPU kernels may sum in another order
    # with another thread count, and bit-exactness is promised for the same set-up
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    started = time.time()
    p = subprocess.Popen(
        [sys.executable, "-m", "svlib", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    if at_write:
        return _kill_at_write(p, run, started, delay)
    try:
        return p.wait(timeout=delay), False
    except subprocess.TimeoutExpired:
        # a temporary of this life (those of earlier kills stay until the next start removes them)
        tmps = run.glob("checkpoint-*.pt.*.tmp")
        writing = any(_mtime(t) >= started for t in tmps)
        p.send_signal(signal.SIGKILL)
        p.wait()
        return None, writing


def _kill_at_write(p, run: Path, started: float, delay: float) -> tuple[int | None, bool]:
    time.sleep(delay)
    while p.poll() is None:
        if any(_mtime(t) >= started for t in run.glob("checkpoint-*.pt.*.tmp")):
            p.send_signal(signal.SIGKILL)
            p.wait()
            return None, True
        time.sleep(0.0005)
    return p.returncode, False


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:  # renamed into place meanwhile
        return 0.0


def check_newest(run: Path, ref: Path) -> int:
    """Step of the newest readable checkpoint of `run`, after comparing it with the reference."""
    import warnings

    from svlib.checkpoint import latest_checkpoint, load_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a checkpoint cut by the kill is skipped by design
        found = latest_checkpoint(run)
    if found is None:
        return 0
    path, got = found
    step = got["state"]["step"]
    want = load_checkpoint(ref / f"checkpoint-{step:07d}.pt")
    diff = same(got, want)
    if diff:
        raise SystemExit(f"FAIL: {path} differs from the reference at {diff[:5]}")
    return step


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--steps", type=int, default=40, help="length of each run")
    ap.add_argument("--min-delay", type=float, default=2.0, help="seconds before a kill, at least")
    ap.add_argument("--max-delay", type=float, default=7.0)
    ap.add_argument(
        "--at-write", type=float, default=0.4, help="share of kills aimed at a checkpoint write"
    )
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="svlib-kill-") as tmp:
        ref, run = Path(tmp) / "ref", Path(tmp) / "run"
        t0 = time.time()
        reference(ref, a.steps)
        print(f"reference: {a.steps} steps in {time.time() - t0:.0f} s", flush=True)
        kills = during_write = finished = 0
        force = True
        while kills < a.kills:
            delay, at_write = rng.uniform(a.min_delay, a.max_delay), rng.random() < a.at_write
            rc, writing = one_life(run, a.steps, delay, force, at_write)
            force = False
            step = check_newest(run, ref)
            if rc is None:
                kills += 1
                during_write += writing
                note = " (during a checkpoint write)" if writing else ""
                print(f"kill {kills}: resumable at step {step}, exact{note}", flush=True)
                continue
            if rc != 0 or step != a.steps:
                raise SystemExit(f"FAIL: the run ended with status {rc} at step {step}")
            logged = [json.loads(s)["step"] for s in (run / "log.jsonl").read_text().splitlines()]
            if logged != list(range(1, a.steps + 1)):
                raise SystemExit(f"FAIL: log steps {logged}")
            finished += 1
            force = True  # start the next round afresh
            print(f"run {finished} finished at step {step}: exact, one log line per step")
        print(
            f"OK: {kills} kills ({during_write} during a checkpoint write), every resume exact; "
            f"{finished} runs finished"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
