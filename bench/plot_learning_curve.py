"""FVD16 / KVD16 / motion distance of one training run's exports against its baselines.

Plotted from learning_evidence JSONs:

    python bench/plot_learning_curve.py bench/results/periodic32_curve/*.json --out curve.png

Each JSON is one `learning_evidence.py --out` result (one checkpoint, one seed). The trained row of
every file gives one point per seed at that file's training step; the baseline rows (untrained G,
still first frames, other real clips) of any file are drawn as horizontal bands (min..max over
seeds). Only files with the same N are combined: FVD's bias depends on N.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, help="PNG to write")
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = [json.load(open(f)) for f in a.files]
    ns = {r["n"] for r in res}
    if len(ns) != 1:
        raise SystemExit(
            f"plot_learning_curve: the files mix N = {sorted(ns)}; "
            "FVDs at different N do not compare"
        )
    if any(r.get("step") is None for r in res):
        raise SystemExit(
            "plot_learning_curve: a file has no training step "
            "(made before learning_evidence saved it)"
        )
    metrics = [("fvd16", "FVD16"), ("kvd16", "KVD16"), ("W1/σ motion", "motion W1 / real σ")]
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.6))
    for ax, (key, title) in zip(axes, metrics):
        curve = defaultdict(list)
        base = defaultdict(list)
        for r in res:
            for name, row in r["rows"].items():
                if key not in row:
                    continue
                if name == "trained G":
                    curve[r["step"]].append(row[key])
                elif name != "trained G held still":
                    base[name].append(row[key])
        steps = sorted(curve)
        ax.plot(
            steps,
            [np.mean(curve[s]) for s in steps],
            "o-",
            color="C0",
            label="trained G (mean over seeds)",
        )
        for s in steps:
            ax.plot([s] * len(curve[s]), curve[s], ".", color="C0", alpha=0.5)
        log = key != "W1/σ motion"
        for i, (name, v) in enumerate(sorted(base.items())):
            if (
                log and min(v) <= 0
            ):  # an unbiased KVD of the floor can be < 0: no place on a log axis
                continue
            lo, hi = min(v), max(v)
            ax.axhspan(
                lo, hi if hi > lo else lo * 1.002 + 1e-9, color=f"C{i + 1}", alpha=0.35, label=name
            )
        ax.set_title(f"{title}, N = {next(iter(ns))}", fontsize=10)
        ax.set_xlabel("training step (batch 8)")
        if log:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"wrote {a.out} ({len(res)} files, steps {sorted({r['step'] for r in res})})")


if __name__ == "__main__":
    main()
