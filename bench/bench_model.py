"""StyleGAN-V vs a StyleGAN2 image GAN, same preset: cost of a G+D forward+backward step per video.

StyleGAN-V: G with the motion path, holistic D (one logit per clip). StyleGAN2 baseline:
cfg.G.motion=None and cfg.D.holistic=False (the same F frames per clip, judged one by one).
Median of --runs timed steps after warmup.

    python bench/bench_model.py --preset cpu --batch 8 --runs 5
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

from svlib.config import get_preset
from svlib.models import build_models, count_params
from svlib.utils import amp_dtype, autocast, default_device


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Step:
    """One G+D forward+backward on `batch` videos of cfg.sampling.num_frames frames.

    The G loss is the non-saturating one.
    """

    def __init__(self, cfg, batch: int, device, amp: str):
        torch.manual_seed(0)
        G, D = build_models(cfg)
        self.G, self.D = G.to(device).train(), D.to(device).train()
        self.cfg, self.batch, self.device, self.dtype = cfg, batch, device, amp_dtype(device, amp)
        self.gaps = (
            torch.arange(cfg.sampling.num_frames, dtype=torch.float32) * 3
        )  # integer gaps < max_time_gap
        self.times: list[float] = []

    def __call__(self, record: bool = True):
        z = torch.randn(self.batch, self.cfg.G.z_dim, device=self.device)
        t = (torch.rand(self.batch, 1) * 100 + self.gaps).to(
            self.device
        )  # fractional offsets, as fake clips
        _sync(self.device)
        t0 = time.perf_counter()
        with autocast(self.device, self.dtype):
            logits = self.D(self.G(z, t), t.round())
        F.softplus(-logits).mean().backward()
        _sync(self.device)
        if record:
            self.times.append(time.perf_counter() - t0)
        self.G.zero_grad(set_to_none=True)
        self.D.zero_grad(set_to_none=True)

    def flops(self) -> int:
        """FLOPs of one step (forward + backward), counted by torch's FlopCounterMode.

        Unlike the timings, this does not depend on the machine's load.
        """
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as fc:
            self(record=False)
        return fc.get_total_flops()

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="cpu", choices=["cpu", "colab", "paper256", "paper1024"])
    p.add_argument(
        "--batch", type=int, default=None, help="videos per step (default: the preset's batch size)"
    )
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:1 | mps")
    p.add_argument("--amp", default="auto", choices=["auto", "bf16", "fp16", "off"])
    p.add_argument(
        "--flops-only",
        action="store_true",
        help="count FLOPs once, skip the timing (large presets on CPU)",
    )
    a = p.parse_args(argv)
    device = default_device() if a.device == "auto" else torch.device(a.device)
    cfg = get_preset(a.preset)
    batch = a.batch or cfg.train.batch_size
    base = copy.deepcopy(cfg)
    base.G.motion, base.D.holistic = None, False

    for name in ("paper256", a.preset):
        c = get_preset(name)
        G, D = build_models(c)
        print(
            f"params {name}: G {count_params(G):,} (motion {count_params(G.motion):,})  "
            f"D {count_params(D):,}"
        )
        del G, D
    print(
        f"device {device}, amp {a.amp}, preset {a.preset}, {cfg.G.resolution}², "
        f"batch {batch} videos × F={cfg.sampling.num_frames}, "
        f"median of {a.runs} alternating runs after {a.warmup} warmup"
    )
    steps = {"v": Step(cfg, batch, device, a.amp), "2": Step(base, batch, device, a.amp)}
    if a.flops_only:
        fv, fs = steps["v"].flops(), steps["2"].flops()
        print(
            f"FLOPs/step : StyleGAN-V {fv / 1e9:.2f} G, StyleGAN2 {fs / 1e9:.2f} G, "
            f"ratio {fv / fs:.3f}"
        )
        return
    for _ in range(a.warmup):
        for st in steps.values():
            st(record=False)
    # alternate the two models so load drift on a shared machine hits both alike
    for _ in range(a.runs):
        for st in steps.values():
            st()
    tv, ts = steps["v"].median, steps["2"].median
    fv, fs = steps["v"].flops(), steps["2"].flops()
    print(
        f"FLOPs/step : StyleGAN-V {fv / 1e9:.2f} G, StyleGAN2 {fs / 1e9:.2f} G, ratio {fv / fs:.3f}"
    )
    print(f"StyleGAN-V : {tv * 1e3:8.1f} ms/step  {tv / batch * 1e3:7.2f} ms/video")
    print(f"StyleGAN2  : {ts * 1e3:8.1f} ms/step  {ts / batch * 1e3:7.2f} ms/video")
    print(f"ratio StyleGAN-V / StyleGAN2 = {tv / ts:.3f}")


if __name__ == "__main__":
    main()
