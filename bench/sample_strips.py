"""Sample strips of one run at several training steps: the same seeds, a row per (step, seed).

    python bench/sample_strips.py --ckpts runs/demo32/checkpoint-0004371.pt ... \
        --seeds 0 1 --frames 12 --stride 2 --out svlib/assets/demo32_strips.png

Every row is `G_ema`'s video of one seed (the same latents at every step, as `generate --seed`
draws them), so a column of rows shows how one sample changed while the run trained. The last two
rows are real videos of the training data (`--data`, default: the data spec stored in the last
checkpoint), from the second half of the set as in `contact_sheet.py`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from svlib.checkpoint import generator_from_checkpoint, load_checkpoint
from svlib.data import open_dataset
from svlib.generate import generate_frames


def strips(ckpts, seeds, idx) -> tuple[list[np.ndarray], list[str], str | None]:
    """Rows uint8 [T, H, W, 3] for every (checkpoint, seed), their labels, the last data spec."""
    rows, labels, data = [], [], None
    for path in ckpts:
        ck = load_checkpoint(path)
        G, _ = generator_from_checkpoint(ck, device="cpu")
        step = ck.get("state", {}).get("step")
        data = ck.get("data") or data
        for s in seeds:
            v = generate_frames(G, int(idx[-1]) + 1, num_videos=1, seed=s, uint8=True)[0]
            rows.append(v[idx].permute(0, 2, 3, 1).numpy())  # [T, H, W, 3]
            labels.append(f"step {step:,}, seed {s}" if step is not None else f"seed {s}")
    return rows, labels, data


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ckpts", nargs="+", required=True, help="checkpoints, oldest first")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--frames", type=int, default=12, help="frames per row")
    ap.add_argument("--stride", type=int, default=2, help="frames between columns")
    ap.add_argument("--data", default=None, help="the training data (default: from the checkpoint)")
    ap.add_argument("--real", type=int, default=2, help="real videos appended below")
    ap.add_argument("--out", required=True, help="PNG to write")
    a = ap.parse_args(argv)
    for p in a.ckpts:
        if not Path(p).is_file():
            raise SystemExit(f"sample_strips: --ckpts: no such file {p}")
    idx = np.arange(a.frames) * a.stride
    rows, labels, data = strips(a.ckpts, a.seeds, idx)
    spec = a.data or data
    if a.real and spec:
        ds = open_dataset(spec, resolution=rows[0].shape[1])
        half = len(ds) // 2
        for i in range(a.real):
            rows.append(ds.read_frames(half + i, idx))
            labels.append(f"real video {half + i}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, T = len(rows), a.frames
    fig, axes = plt.subplots(n, T, figsize=(0.62 * T + 1.4, 0.62 * n + 0.5), squeeze=False)
    for r, (row, label) in enumerate(zip(rows, labels)):
        for k in range(T):
            ax = axes[r, k]
            ax.imshow(row[k], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"t={idx[k]}", fontsize=6)
        axes[r, 0].set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
    fig.suptitle(f"the same seeds during training (every {a.stride} frames)", fontsize=8)
    fig.subplots_adjust(left=0.16, right=0.995, top=0.93, bottom=0.01, wspace=0.05, hspace=0.08)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out} ({n} rows)")


if __name__ == "__main__":
    main()
