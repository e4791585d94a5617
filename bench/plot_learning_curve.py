"""FVD16 / KVD16 / motion distance of one training run's exports against its baselines.

Plotted from learning_evidence JSONs:

    python bench/plot_learning_curve.py bench/results/periodic32_curve/*.json --out curve.png

Each JSON is one `learning_evidence.py --out` result (one checkpoint, one seed). The trained row of
every file gives one point per seed at that file's training step; the baseline rows (untrained G,
still first frames, other real clips) of any file are drawn as horizontal bands (min..max over
seeds). Only files with the same N are combined: FVD's bias depends on N.

`--summary F.json` also writes the figures behind the plot in a compact form (the book reads the
shipped model's curve from one): every trained point (step, seed, training minutes, the metrics)
and every baseline's values over seeds.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("files", nargs="+")
    ap.add_argument("--out", required=True, help="PNG to write")
    ap.add_argument("--summary", default=None, help="also write the plotted figures to this JSON")
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
    if a.summary:
        Path(a.summary).write_text(json.dumps(summary(res), indent=1) + "\n")
        print(f"wrote {a.summary}")


SUMMARY_KEYS = ("fvd16", "kvd16", "W1/σ speed", "W1/σ accel", "W1/σ motion", "W1/σ appearance")


def summary(res: list[dict]) -> dict:
    """The trained points and the baselines of learning_evidence results, metrics rounded."""
    pick = lambda row: {k: round(row[k], 4) for k in SUMMARY_KEYS if k in row}  # noqa: E731
    points, base = [], defaultdict(lambda: defaultdict(list))
    for r in sorted(res, key=lambda r: (r["step"], r["seed"])):
        for name, row in r["rows"].items():
            if name == "trained G":
                minutes = r.get("train_seconds")
                points.append(
                    {"step": r["step"], "seed": r["seed"], **pick(row)}
                    | ({"train_minutes": round(minutes / 60, 1)} if minutes else {})
                )
            elif name != "trained G held still":
                for k, v in pick(row).items():
                    base[name][k].append(v)
    return {
        "n": res[0]["n"],
        "data": res[0].get("data"),
        "points": points,
        "baselines": {name: dict(v) for name, v in base.items()},
    }


if __name__ == "__main__":
    main()
