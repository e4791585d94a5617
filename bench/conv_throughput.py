"""Arithmetic rate of the cpu preset's 3×3 convolutions on this machine, forward and backward.

The training step's convolutions are its largest cost; this says how close to the core's peak they
already run (so how much any change outside them can still win). Shapes are the cpu preset's
(batch 8 × 3 frames): G's and D's 32² and 16² layers.

    OMP_NUM_THREADS=1 taskset -c 0 python bench/conv_throughput.py
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

SHAPES = [(24, 32, 32), (24, 64, 16), (8, 96, 16)]  # (images, channels, side)


def _ms(fn, reps: int) -> float:
    fn(), fn()  # warm-up: oneDNN picks and caches its kernel
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    return (time.perf_counter() - t0) / reps * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    for n, c, s in SHAPES:
        for fmt, name in (
            (torch.channels_last, "channels-last"),
            (torch.contiguous_format, "NCHW"),
        ):
            x = torch.randn(n, c, s, s).contiguous(memory_format=fmt)  # [N, C, H, W]
            x.requires_grad_()
            w = torch.randn(c, c, 3, 3).contiguous(memory_format=fmt).requires_grad_()
            gy = torch.randn_like(F.conv2d(x, w, padding=1))
            gflop = 2 * n * c * c * s * s * 9 / 1e9  # one pass; backward is two (input, weight)
            fwd = _ms(lambda x=x, w=w: F.conv2d(x, w, padding=1), a.reps)
            both = _ms(
                lambda x=x, w=w, gy=gy: torch.autograd.grad(F.conv2d(x, w, padding=1), (x, w), gy),
                a.reps,
            )
            print(
                f"[{n}, {c}, {s}, {s}] {name:13s} forward {fwd:6.2f} ms ({gflop / fwd * 1e3:4.0f} "
                f"GFLOP/s)  forward+backward {both:6.2f} ms ({3 * gflop / both * 1e3:4.0f} GFLOP/s)"
            )


if __name__ == "__main__":
    main()
