"""What the semantic directions of `svlib.edit` do, against random directions of the same norm.

Fits one direction per parameter on the videos of seeds 0..--samples-1, then measures, on held-out
seeds, the change of the recovered parameter per unit α (α ∈ {-2, -1, 0, 1, 2}, one unit = one
standard deviation of the samples' w along the direction), for the fitted direction and for
--random random directions of the same norm. Also how well the edit holds through a long video:
the parameter in windows of 16 frames over --long frames, edited at α = 2 against unedited.

    python bench/edit_directions.py --ckpt svlib/assets/demo32.pt \\
        --out bench/results/projection/edits_demo32.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svlib.checkpoint import load_generator  # noqa: E402
from svlib.edit import (  # noqa: E402
    edited_video,
    fit_directions,
    measure_effect,
    param_track,
    random_direction,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--names", default="color_r,size,speed,brightness")
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--test-seeds", type=int, default=24)
    ap.add_argument("--random", type=int, default=2, help="random directions per parameter")
    ap.add_argument("--long", type=int, default=1000, help="frames of the long edited video")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    G, _ = load_generator(a.ckpt)
    names = a.names.split(",")
    t0 = time.time()
    dirs = fit_directions(G, names, num_samples=a.samples, num_frames=a.frames)
    seeds = range(100_000, 100_000 + a.test_seeds)
    rows = {}
    for n, d in dirs.items():
        fit = measure_effect(G, d.vector, [n], seeds=seeds, num_frames=a.frames)
        rnd = [
            measure_effect(G, random_direction(d.vector, k), [n], seeds=seeds, num_frames=a.frames)[
                "slope"
            ][n]
            for k in range(a.random)
        ]
        long = edited_video(G, d.vector, [0.0, 2.0], a.long, seed=3, uint8=True)
        track = param_track(long, n, window=16)  # [2, long // 16]
        shift = track[1] - track[0]
        rows[n] = {
            "r2_held_out": d.r2,
            "ridge": d.ridge,
            "fitted_slope": d.slope,
            "measured_slope": fit["slope"][n],
            "mean_per_alpha": fit["mean"][n],
            "random_slopes": rnd,
            "ratio_to_random": fit["slope"][n] / max(np.mean(np.abs(rnd)), 1e-12),
            "direction_norm": float(d.vector.norm()),
            "long_video_shift_first_quarter": float(shift[: len(shift) // 4].mean()),
            "long_video_shift_last_quarter": float(shift[-(len(shift) // 4) :].mean()),
        }
        print(
            f"{n}: R² {d.r2:.2f}, per unit α {fit['slope'][n]:+.4f} (random "
            + ", ".join(f"{r:+.4f}" for r in rnd)
            + f"), long-video shift {rows[n]['long_video_shift_first_quarter']:+.4f} -> "
            f"{rows[n]['long_video_shift_last_quarter']:+.4f} ({time.time() - t0:.0f} s)",
            file=sys.stderr,
        )
    result = {
        "ckpt": a.ckpt,
        "samples": a.samples,
        "frames": a.frames,
        "test_seeds": a.test_seeds,
        "alphas": [-2, -1, 0, 1, 2],
        "long_frames": a.long,
        "seconds": round(time.time() - t0, 1),
        "directions": rows,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    print("| parameter | held-out R² | per unit α | random (same norm) | α=2 shift, start → end |")
    for n, r in rows.items():
        rnd = ", ".join(f"{x:+.4f}" for x in r["random_slopes"])
        first, last = r["long_video_shift_first_quarter"], r["long_video_shift_last_quarter"]
        print(
            f"| {n} | {r['r2_held_out']:.2f} | {r['measured_slope']:+.4f} | {rnd} | "
            f"{first:+.4f} → {last:+.4f} |"
        )


if __name__ == "__main__":
    main()
