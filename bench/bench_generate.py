"""Long-video generation: seconds per frame and peak memory for 256, 1,024 and 10,000 frames.

Each length runs in a fresh subprocess so the peak resident memory (CPU) or the peak CUDA
allocation (GPU) is that run's own. Frames are generated in chunks and streamed into ffmpeg
(svlib.generate.generate_to_file), so memory should stay flat as the video grows. `--sink none`
generates and quantizes the same chunks but encodes nothing (for machines without ffmpeg, and to
time the generator alone).

    python bench/bench_generate.py  # the cpu preset, an untrained G (speed/memory only)
    python bench/bench_generate.py --ckpt svlib/assets/demo32.pt --lengths 256 1024 10000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, torch, svlib
from svlib.checkpoint import load_generator
from svlib.generate import generate_to_file, iter_video
from svlib.utils import quantize
ckpt, out, n, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
dev = svlib.default_device()
t0 = time.time()
# the generator alone: generate_to_file's chunks, quantized and moved to the CPU, then dropped
if out == "none":
    G, _ = load_generator(ckpt, device=dev)
    for x in iter_video(G, n, chunk_size=chunk):
        quantize(x).cpu()
else:
    generate_to_file(ckpt, out, seconds=n / 25, fps=25, chunk_size=chunk, device=dev,
                     progress=False)
dt = time.time() - t0
peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else None
print(json.dumps({"frames": n, "seconds": dt, "sec_per_frame": dt / n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "peak_cuda_mb": peak_cuda, "device": str(dev)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--ckpt", default=None, help="checkpoint (default: an untrained cpu-preset generator)"
    )
    ap.add_argument(
        "--preset", default="cpu", help="preset of the untrained generator when --ckpt is not given"
    )
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024, 10000])
    ap.add_argument("--chunk", type=int, default=128)
    ap.add_argument(
        "--sink",
        choices=("mp4", "none"),
        default="mp4",
        help="mp4: encode with ffmpeg (generate_to_file); none: generate only",
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = a.ckpt
        if ckpt is None:
            import torch

            import svlib
            from svlib.checkpoint import save_checkpoint

            cfg = svlib.get_preset(a.preset)
            torch.manual_seed(0)
            G, _ = svlib.build_models(cfg)
            ckpt = save_checkpoint(
                Path(tmp) / "g.pt", {"config": cfg.to_dict(), "G_ema": G.state_dict()}
            )
        rows = []
        for n in a.lengths:
            r = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    CHILD,
                    str(ckpt),
                    str(Path(tmp) / f"v{n}.mp4") if a.sink == "mp4" else "none",
                    str(n),
                    str(a.chunk),
                ],
                capture_output=True,
                text=True,
            )
            if r.returncode:
                sys.exit(
                    f"bench_generate: generating {n} frames failed:\n{r.stderr.strip()[-1500:]}"
                )
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(
                f"{n:6d} frames  {rows[-1]['sec_per_frame'] * 1000:7.2f} ms/frame  peak RSS "
                f"{rows[-1]['peak_rss_mb']:7.1f} MB"
                + (
                    f"  peak CUDA {rows[-1]['peak_cuda_mb']:.1f} MB"
                    if rows[-1]["peak_cuda_mb"] is not None
                    else ""
                ),
                flush=True,
            )
    growth = rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"]
    print(f"peak RSS grows ×{growth:.2f} from {rows[0]['frames']} to {rows[-1]['frames']} frames")


if __name__ == "__main__":
    main()
