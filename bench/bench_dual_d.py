"""Cost of StyleGAN-V's holistic D against the image + video D pair it replaces, same preset.

For each D.kind ("holistic", "image+video") on one batch of real data:
- parameters of G and D (for the pair: the image D and the video D);
- FLOPs of one training step (`train_step`: Gmain, Dmain, and the lazy R1 amortised over
  train.r1_interval), counted by torch's FlopCounterMode (3D convolutions included);
- milliseconds of a training step without R1 and of one with R1, median of --runs alternating
  runs after --warmup, and the amortised step = main + (R1 step − main) / r1_interval;
- milliseconds of the D forward+backward alone (real inputs, the logistic loss, gradients to the
  D's parameters), the part the two designs do not share.

    python bench/bench_dual_d.py --preset cpu --runs 7 --out bench/results/dual_d/cpu.json

The batch comes from `StepBatches` (data loading is not timed). Timings on a shared machine drift:
the two kinds alternate, so the drift hits both alike.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from svlib.config import apply_overrides, get_preset
from svlib.data import StepBatches, open_dataset
from svlib.models import count_params
from svlib.training import TrainingState, step_generator, train_step

KINDS = ("holistic", "image+video")


class FlopCount(TorchDispatchMode):
    """FLOPs of the ops torch's flop counter knows (matmuls, convolutions of any dimension, their
    backward). `FlopCounterMode`'s module hooks refuse R1's double backward; this mode has none."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


class Bench:
    """One D.kind: its training state and one real batch."""

    def __init__(self, cfg, kind: str, data: str):
        self.cfg = apply_overrides(copy.deepcopy(cfg), {"D.kind": kind})
        self.kind = kind
        self.state = TrainingState.create(self.cfg)
        videos = open_dataset(data, resolution=self.cfg.G.resolution)
        self.batch = StepBatches(videos, self.state.cfg, self.cfg.train.batch_size)[0]
        self.times: dict[str, list[float]] = {"main": [], "r1": [], "D": []}

    def step(self, r1: bool) -> float:
        # state.step decides whether the lazy R1 runs; nothing else of a step depends on it here
        self.state.step = 0 if r1 else 1
        t0 = time.perf_counter()
        train_step(self.state, self.batch, step_generator(0, 1))
        return time.perf_counter() - t0

    def d_only(self) -> float:
        """D forward+backward on the real batch: logistic loss, gradients to D's parameters."""
        D, b = self.state.D, self.batch
        real = b["frames"].float() / 127.5 - 1
        t0 = time.perf_counter()
        if self.kind == "holistic":
            loss = F.softplus(-D(real, b["t"])).mean()
        else:
            logits, video = D(real, b["t"], b["clip"].float() / 127.5 - 1)
            loss = F.softplus(-logits).mean() + F.softplus(-video).mean()
        loss.backward()
        dt = time.perf_counter() - t0
        D.zero_grad(set_to_none=True)
        return dt

    def record(self) -> None:
        self.times["main"].append(self.step(r1=False))
        self.times["r1"].append(self.step(r1=True))
        self.times["D"].append(self.d_only())

    def flops(self) -> dict[str, int]:
        out = {}
        for name, fn in (
            ("main", lambda: self.step(False)),
            ("r1", lambda: self.step(True)),
            ("D", self.d_only),
        ):
            with FlopCount() as fc:
                fn()
            out[name] = fc.total
        return out

    def params(self) -> dict[str, int]:
        D = self.state.D
        p = {"G": count_params(self.state.G), "D": count_params(D)}
        if self.kind != "holistic":
            p["image D"], p["video D"] = count_params(D.image_d), count_params(D.video_d)
        return p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides")
    ap.add_argument("--data", default="synthetic:shapes?n=64&length=64")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    ap.add_argument(
        "--flops-only", action="store_true", help="count parameters and FLOPs, skip the timing"
    )
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = get_preset(a.preset, a.set)
    benches = [Bench(cfg, kind, a.data) for kind in KINDS]
    for _ in range(0 if a.flops_only else a.warmup):
        for b in benches:
            b.record()
    for b in benches:
        b.times = {k: [] for k in b.times}
    for _ in range(
        0 if a.flops_only else a.runs
    ):  # alternate, so load drift on a shared machine hits both alike
        for b in benches:
            b.record()

    c, interval = benches[0].cfg, cfg.train.r1_interval
    print(
        f"preset {a.preset} {c.G.resolution}², batch {c.train.batch_size}, "
        f"F={c.sampling.num_frames} sparse frames, video D clip L={c.D.video.num_frames}, "
        f"{a.threads} thread(s), "
        + ("FLOPs only" if a.flops_only else f"median of {a.runs} runs after {a.warmup} warmup")
    )
    rows = {}
    for b in benches:
        med = {k: statistics.median(v) * 1e3 if v else float("nan") for k, v in b.times.items()}
        fl = b.flops()
        amort = med["main"] + (med["r1"] - med["main"]) / interval
        fl_amort = fl["main"] + (fl["r1"] - fl["main"]) / interval
        rows[b.kind] = {
            "params": b.params(),
            "ms": {**med, "step": amort},
            "gflops": {k: v / 1e9 for k, v in {**fl, "step": fl_amort}.items()},
        }
        p = ", ".join(f"{k} {v:,}" for k, v in b.params().items())
        print(f"{b.kind:12s} params: {p}")
        timed = (
            ""
            if a.flops_only
            else f"step {amort:7.1f} ms (main {med['main']:.1f}, R1 step {med['r1']:.1f}), "
            f"D fwd+bwd {med['D']:.1f} ms; "
        )
        print(
            f"{'':12s} {timed}GFLOPs step {fl_amort / 1e9:.3f} (main {fl['main'] / 1e9:.3f}, "
            f"R1 step {fl['r1'] / 1e9:.3f}), D fwd+bwd {fl['D'] / 1e9:.3f}"
        )
    h, d = rows["holistic"], rows["image+video"]
    ratios = {
        "step ms": d["ms"]["step"] / h["ms"]["step"],
        "D ms": d["ms"]["D"] / h["ms"]["D"],
        "step GFLOPs": d["gflops"]["step"] / h["gflops"]["step"],
        "D GFLOPs": d["gflops"]["D"] / h["gflops"]["D"],
        "D params": d["params"]["D"] / h["params"]["D"],
    }
    shown = {k: v for k, v in ratios.items() if not (a.flops_only and k.endswith("ms"))}
    print("image+video / holistic: " + ", ".join(f"{k} ×{v:.2f}" for k, v in shown.items()))
    if a.out:
        res = {"preset": a.preset, "set": a.set, "threads": a.threads, "runs": a.runs}
        res.update(rows=rows, ratios=ratios, D=dataclasses.asdict(c.D))
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
