"""Training throughput of the full svlib loop (G step, D step, lazy R1, ADA, EMA, data): videos/s
and s per thousand frames shown to D, for a preset on the best available device.

    python bench/bench_train.py --preset cpu --steps 60            # CPU preset on 2 cores
    python bench/bench_train.py --preset colab --steps 200         # on a GPU
    python bench/bench_train.py --preset paper256 --batch 16 --steps 100
    python bench/bench_train.py --preset cpu --set train.r1_interval=4 G.motion=none

Config options are those of `python -m svlib train` (--batch, --amp, --compile, --set FIELD=VALUE).
The first --warmup steps are excluded (allocator, cuDNN autotuning, compilation).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import svlib
from svlib.config import add_config_arguments, apply_overrides, config_from_arguments
from svlib.training import train


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", default="synthetic:shapes?n=512")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default=None)
    add_config_arguments(ap)
    a = ap.parse_args()
    cfg = config_from_arguments(a)
    # one log line per warmup-sized window, and no sample videos or checkpoints in the timing
    quiet = {"train.sample_every": 10**9, "train.checkpoint_every": 10**9}
    apply_overrides(cfg, {"train.log_every": a.warmup, **quiet})
    t = cfg.train
    with tempfile.TemporaryDirectory() as out:
        train(cfg, a.data, out, steps=a.steps + a.warmup, device=a.device)
        logs = [json.loads(s) for s in (Path(out) / "log.jsonl").read_text().splitlines()]
    timed = [r for r in logs if r["step"] > a.warmup]
    sec = sum(r["sec_per_step"] for r in timed) / len(timed)
    frames = t.batch_size * cfg.sampling.num_frames
    device = svlib.default_device() if a.device is None else a.device
    print(
        f"preset {a.preset} {cfg.G.resolution}² batch {t.batch_size}×{cfg.sampling.num_frames} "
        f"frames, device {device}, amp {t.amp}, compile {t.compile}"
    )
    print(
        f"{sec:.3f} s/step  {t.batch_size / sec:.2f} videos/s  "
        f"{sec * 1000 / frames:.1f} s per 1000 frames "
        f"(mean over {len(timed)} log windows of {a.warmup} steps)"
    )


if __name__ == "__main__":
    main()
