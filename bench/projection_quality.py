"""How well `svlib.project` reconstructs held-out videos of the synthetic set a checkpoint learned.

For each of --targets held-out videos (the dataset spec with another seed: videos the generator
never saw), in two modes:
- image: its first frame, projected with w only;
- clip: its first --frames frames, projected with w and the motion noise; also the next --frames
  frames rendered past the projected clip (continuous time, fresh motion noise) against the
  video's true continuation.
Baselines against the same targets: w̄'s frames (with the motion of seed 0, the projector's first
motion) and a random sample (the video of seed i, its own content and motion).

    python bench/projection_quality.py --ckpt svlib/assets/demo32.pt \\
        --data "synthetic:shapes?n=2048&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26" \\
        --out bench/results/projection/demo32.json

Prints a Markdown table (mean ± std over targets, in dB) and writes every number to --out.
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
from svlib.data import open_dataset, spec_with  # noqa: E402
from svlib.generate import generate_frames  # noqa: E402
from svlib.project import frames_to_tensor, project, psnr, render_projection  # noqa: E402


def baselines(G, y: torch.Tensor, i: int) -> dict:
    """PSNR (mean over frames) of w̄'s frames and of seed i's video against y [F, C, H, W]."""
    n = y.shape[0]
    w_avg = generate_frames(G, n, w=G.w_avg[None], seed=0)[0]  # motion of seed 0
    sample = generate_frames(G, n, seed=i)[0]
    return {
        "w_avg": float(psnr(w_avg, y).mean()),
        "random_sample": float(psnr(sample, y).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--data", required=True, help="the training set's spec, e.g. synthetic:shapes")
    ap.add_argument("--held-out-seed", type=int, default=1)
    ap.add_argument("--targets", type=int, default=8)
    ap.add_argument("--frames", type=int, default=8, help="frames per clip target")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    G, cfg = load_generator(a.ckpt)
    spec = spec_with(a.data, seed=a.held_out_seed)
    ds = open_dataset(spec, resolution=cfg.G.resolution)
    rows = {"image": [], "clip": []}
    t0 = time.time()
    for i in range(a.targets):
        video = frames_to_tensor(ds.read_frames(i, np.arange(2 * a.frames)), cfg.G.img_channels)
        y_img, y_clip, y_next = video[:1], video[: a.frames], video[a.frames :]
        p = project(G, y_img, steps=a.steps)
        rows["image"].append({"target": i, "projection": p.mean_psnr, **baselines(G, y_img, i)})
        p = project(G, y_clip, steps=a.steps)
        t_next = torch.arange(a.frames, 2 * a.frames, dtype=torch.float64)
        ext = render_projection(G, p, t_next)  # past the last projected frame
        rows["clip"].append(
            {
                "target": i,
                "projection": p.mean_psnr,
                "continuation": float(psnr(ext, y_next).mean()),
                **baselines(G, y_clip, i),
                "w_avg_continuation": float(
                    psnr(
                        generate_frames(G, a.frames, w=G.w_avg[None], offset=a.frames)[0], y_next
                    ).mean()
                ),
            }
        )
        print(
            f"target {i}: image {rows['image'][-1]['projection']:.2f} dB, clip "
            f"{rows['clip'][-1]['projection']:.2f} dB ({time.time() - t0:.0f} s)",
            file=sys.stderr,
        )

    summary = {}
    for mode, rs in rows.items():
        keys = [k for k in rs[0] if k != "target"]
        summary[mode] = {
            k: {
                "mean": float(np.mean([r[k] for r in rs])),
                "std": float(np.std([r[k] for r in rs])),
            }
            for k in keys
        }
    result = {
        "ckpt": a.ckpt,
        "held_out": spec,
        "targets": a.targets,
        "frames": a.frames,
        "steps": a.steps,
        "seconds": round(time.time() - t0, 1),
        "summary": summary,
        "per_target": rows,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    cols = ["projection", "w_avg", "random_sample", "continuation", "w_avg_continuation"]
    print(f"| {Path(a.ckpt).name} | " + " | ".join(cols) + " |")
    for mode, s in summary.items():
        cells = [f"{s[c]['mean']:.2f} ± {s[c]['std']:.2f}" if c in s else "—" for c in cols]
        print(f"| {mode} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
