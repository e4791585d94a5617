"""Contact sheet of a generator against its data: rows of frames at a fixed stride, generated videos
above real ones, so shapes, colours and motion can be checked by eye side by side.

    python bench/contact_sheet.py --ckpt svlib/assets/demo32.pt \
        --data "synthetic:shapes?n=2048&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26" \
        --out bench/results/demo/contact_sheet.png

Generated rows are `G_ema`'s videos of seeds 0, 1, ... (the previews' and `generate --seed 0`'s);
real rows come from the second half of the dataset (videos disjoint from FVD's reference clips).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from svlib.checkpoint import load_generator
from svlib.data import open_dataset
from svlib.generate import generate_frames


def contact_sheet(gen: np.ndarray, real: np.ndarray, pad: int = 2) -> np.ndarray:
    """[n, T, H, W, 3] uint8 each -> one image: generated rows, a gap, real rows."""
    n, T, H, W, _ = gen.shape
    gap = H // 2
    out = np.full((2 * n * (H + pad) + gap + pad, T * (W + pad) + pad, 3), 255, np.uint8)
    for r, video in enumerate([*gen, *real]):
        y0 = pad + r * (H + pad) + (gap if r >= n else 0)
        for k in range(T):
            x0 = pad + k * (W + pad)
            out[y0 : y0 + H, x0 : x0 + W] = video[k]
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ckpt", required=True, help="checkpoint or export with G_ema")
    ap.add_argument("--data", required=True, help="the dataset it was trained on")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--rows", type=int, default=8, help="generated and real videos (each)")
    ap.add_argument("--frames", type=int, default=12, help="frames per row")
    ap.add_argument("--stride", type=int, default=4, help="frames between columns")
    ap.add_argument("--scale", type=int, default=3, help="nearest-neighbour upscaling")
    a = ap.parse_args(argv)
    G, cfg = load_generator(a.ckpt, device="cpu")
    data = open_dataset(a.data, resolution=cfg.G.resolution)
    idx = np.arange(a.frames) * a.stride
    gen = generate_frames(G, int(idx[-1]) + 1, num_videos=a.rows, uint8=True)  # [n, T, C, H, W]
    gen = gen[:, idx].permute(0, 1, 3, 4, 2).numpy()  # [n, T, H, W, C]
    half = len(data) // 2
    real = np.stack([data.read_frames(half + i, idx) for i in range(a.rows)])  # [n, T, H, W, C]
    if gen.shape[-1] == 1:
        gen, real = gen.repeat(3, -1), real.repeat(3, -1)
    sheet = contact_sheet(gen, real).repeat(a.scale, 0).repeat(a.scale, 1)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = sheet.shape[:2]
    fig = plt.figure(figsize=(w / 100, h / 100 + 0.5), dpi=100)
    ax = fig.add_axes([0, 0, 1, h / (h + 50)])
    ax.imshow(sheet, interpolation="nearest")
    ax.axis("off")
    step = (load_checkpoint_state(a.ckpt) or {}).get("step")
    fig.suptitle(
        f"top: generated (G_ema, seeds 0-{a.rows - 1}); bottom: real videos; "
        f"every {a.stride} frames" + (f"; step {step:,}" if step else ""),
        fontsize=9,
        y=0.995,
    )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out)
    print(f"wrote {a.out} ({w}x{h})")


def load_checkpoint_state(path) -> dict | None:
    from svlib.checkpoint import load_checkpoint

    return load_checkpoint(path).get("state")


if __name__ == "__main__":
    main()
