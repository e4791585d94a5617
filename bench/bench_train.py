"""Training throughput of the full svlib loop (G step, D step, lazy R1, ADA, EMA, data): videos/s and s per
thousand frames shown to D, for a preset on the best available device.

    python bench/bench_train.py --preset cpu --steps 60            # CPU preset on 2 cores
    python bench/bench_train.py --preset colab --steps 200         # on a GPU
    python bench/bench_train.py --preset paper256 --batch 16 --steps 100

The first --warmup steps are excluded (allocator, cuDNN autotuning, compilation).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import svlib
from svlib.training import train


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--data", default="synthetic:shapes?n=512")
    ap.add_argument("--batch", type=int, help="override the preset's batch")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--amp", default=None, help="auto|bf16|off")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    cfg = svlib.get_preset(a.preset)
    t = cfg.train
    if a.batch:
        t.batch_size = a.batch
    if a.amp:
        t.amp = a.amp
    t.compile = a.compile
    t.log_every, t.sample_every, t.checkpoint_every = a.warmup, 10**9, 10**9
    with tempfile.TemporaryDirectory() as out:
        train(cfg, a.data, out, steps=a.steps + a.warmup, device=a.device)
        logs = [json.loads(s) for s in (Path(out) / "log.jsonl").read_text().splitlines()]
    timed = [r for r in logs if r["step"] > a.warmup]
    sec = sum(r["sec_per_step"] for r in timed) / len(timed)
    frames = t.batch_size * cfg.sampling.num_frames
    print(
        f"preset {a.preset} {cfg.G.resolution}² batch {t.batch_size}×{cfg.sampling.num_frames} frames, "
        f"device {svlib.default_device() if a.device is None else a.device}, amp {t.amp}, compile {t.compile}"
    )
    print(
        f"{sec:.3f} s/step  {t.batch_size / sec:.2f} videos/s  {sec * 1000 / frames:.1f} s per 1000 frames "
        f"(median over {len(timed)} log windows of {a.warmup} steps)"
    )


if __name__ == "__main__":
    main()
