"""Data-pipeline speed on CPU: synthetic rendering, ClipDataset items, frame folder and mp4 decode.

Reports milliseconds per frame (rendering/decoding) and per clip (ClipDataset items, F=3),
single-threaded.
The training loop needs ~batch·F frames per step; at 32² a CPU step takes far longer than that.

    python bench/bench_data.py --resolutions 32 64 --seconds 0.5
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from svlib.config import SamplingConfig
from svlib.data import SYNTHETIC, ClipDataset, make_synthetic, open_dataset
from svlib.video_io import read_video, write_frames, write_video


def rate(fn, seconds: float) -> float:
    """Mean seconds per call of fn() over about `seconds` of wall time (after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 3:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--seconds", type=float, default=0.5, help="time budget per measurement")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)

    print(
        f"{'what':34s} {'res':>4s} "
        f"{'ms/frame F=1':>13s} {'ms/frame F=3':>13s} {'ms/frame F=16':>14s}"
    )
    for name in sorted(SYNTHETIC):
        for res in args.resolutions:
            ds = make_synthetic(name, n=64, resolution=res)
            cols = []
            for F in (1, 3, 16):
                k = iter(range(10**9))
                render = lambda ds=ds, k=k, F=F: ds.render(next(k) % 64, rng.uniform(0, 1000, F))
                cols.append(1e3 * rate(render, args.seconds) / F)
            print(
                f"synthetic:{name + ' render':24s} {res:4d} "
                f"{cols[0]:13.3f} {cols[1]:13.3f} {cols[2]:14.3f}"
            )

    print(f"\n{'ClipDataset item (F=3)':34s} {'res':>4s} {'ms/clip':>13s}")
    for name in sorted(SYNTHETIC):
        for res in args.resolutions:
            clips = ClipDataset(
                make_synthetic(name, n=64, resolution=res), SamplingConfig(), mirror=True
            )
            k = iter(range(10**9))
            item = lambda clips=clips, k=k: clips[next(k) % 64]
            print(f"synthetic:{name:24s} {res:4d} {1e3 * rate(item, args.seconds):13.3f}")

    with tempfile.TemporaryDirectory() as tmp:
        for res in args.resolutions:
            # [128, R, R, 3]
            frames = make_synthetic("sky", n=1, length=128, resolution=res).read_video(0)
            write_frames(Path(tmp) / f"png{res}" / "v", frames)
            write_video(Path(tmp) / f"v{res}.mp4", frames, fps=25)
            clips = ClipDataset(open_dataset(Path(tmp) / f"png{res}"), SamplingConfig())
            ms_png = 1e3 * rate(lambda clips=clips: clips[0], args.seconds)
            decode = lambda res=res: read_video(Path(tmp) / f"v{res}.mp4")
            ms_mp4 = 1e3 * rate(decode, args.seconds) / len(frames)
            print(f"{'png frame folder clip (F=3)':34s} {res:4d} {ms_png:13.3f} ms/clip")
            print(f"{'mp4 decode (ffmpeg pipe)':34s} {res:4d} {ms_mp4:13.3f} ms/frame")


if __name__ == "__main__":
    main()
