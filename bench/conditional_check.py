"""Evidence that class conditioning works: a conditional model asked for class K draws class K.

1. Train (unless --skip-train) a conditional StyleGAN-V, the cpu preset at 32² with c_dim = the
   number of classes, on a labelled synthetic set (default `synthetic:shapes?n=2048&labels=shape`:
   every shape of a video is a circle, a square or a triangle), for --steps steps.
2. Fit a small CNN on real frames with their known class, from videos of another seed (never seen
   in training), and measure it on held-out real frames of a third seed: the judge's ceiling.
3. For every class K, generate --n videos (seeds 0..n-1) with `--class K`, classify --frames frames
   of each, and report the share classified as K (per frame, and per video by the summed log
   probabilities) against chance 1/num_classes, with the full confusion matrix; the same for the
   untrained generator (the same architecture at its seeded initialisation) as the control, and
   for every checkpoint of the run (a learning curve).

    python bench/conditional_check.py --out runs/cond_shapes32 --steps 1500
    python bench/conditional_check.py --out runs/cond_shapes32 --skip-train   # evaluate only

With --official, instead: where c enters, against the official networks (a stylegan-v checkout
named by SVLIB_OFFICIAL_REPO, as for bench/bench_official.py): parameter counts of G, D, the
mappings and the motion mapping at c_dim 0, 3 and 101, and the outputs of the three conditioned
mappings with svlib's weights copied in.

One thread (OMP_NUM_THREADS=1), CPU; the results go to --json (default
bench/results/conditional/shapes32.json).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import svlib
from svlib.checkpoint import list_snapshots, load_generator
from svlib.data import open_dataset, spec_with
from svlib.generate import class_label, video_frames
from svlib.models import build_models

ROOT = Path(__file__).resolve().parents[1]


def real_frames(spec: str, resolution: int, per_video: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Frames uint8 [M, H, W, 3] at random times of every video of `spec`, and their classes [M]."""
    ds = open_dataset(spec, resolution=resolution)
    frames, classes = [], []
    for i in range(len(ds)):
        t = np.sort(rng.choice(ds.video_length(i), size=per_video, replace=False))
        frames.append(ds.read_frames(i, t))
        classes += [int(ds.raw_labels[i])] * per_video
    return np.concatenate(frames), np.asarray(classes, np.int64)


class Judge(nn.Module):
    """A small CNN: three convs, global max pooling (objects may be anywhere), a linear head."""

    def __init__(self, num_classes: int, width: int = 16):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, 3, H, W] in [-1, 1] -> [N, K]
        return self.head(self.convs(x).amax(dim=(2, 3)))


def to_input(frames: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1


def robustify(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random 90° rotations and flips (the classes are invariant), a little blur and noise, so the
    judge does not hinge on the renderer's exact anti-aliasing."""
    x = torch.rot90(x, int(torch.randint(4, (1,), generator=g)), dims=(2, 3))
    if torch.rand(1, generator=g) < 0.5:
        x = x.flip(3)
    if torch.rand(1, generator=g) < 0.5:
        k = torch.tensor([1.0, 2.0, 1.0]) / 4
        k2 = (k[:, None] * k[None])[None, None].expand(3, 1, 3, 3)
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k2, groups=3)
    return x + 0.05 * torch.randn(x.shape, generator=g)


def fit_judge(x, y, num_classes: int, epochs: int, seed: int) -> Judge:
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    judge = Judge(num_classes)
    opt = torch.optim.Adam(judge.parameters(), lr=2e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for s in range(0, len(x), 64):
            idx = order[s : s + 64]
            loss = F.cross_entropy(judge(robustify(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return judge.eval()


@torch.no_grad()
def log_probs(judge: Judge, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([F.log_softmax(judge(b), dim=1) for b in x.split(256)])  # [N, K]


def foreground(frames: torch.Tensor) -> float:
    """Mean share of pixels brighter than their frame's median by 0.15 (objects over the
    background), for uint8 frames [N, 3, H, W]: a first-order statistic of what a class draws."""
    v = frames.float().amax(1) / 255  # [N, H, W]
    med = v.flatten(1).median(1).values[:, None, None]
    return float((v > med + 0.15).float().mean())


@torch.no_grad()
def class_report(judge, G, num_classes: int, n: int, times, truncation_psi: float) -> dict:
    """Per asked class K: the share of frames and of videos the judge puts in each class."""
    confusion_frames = np.zeros((num_classes, num_classes))
    confusion_videos = np.zeros((num_classes, num_classes))
    fg = []
    for k in range(num_classes):
        # the videos of seeds 0..n-1 asked for class K: what `svlib generate --class K` draws
        t = torch.as_tensor(times, dtype=torch.float64)
        c = class_label(G, k, n)  # [n, K]
        v = video_frames(G, t, seeds=range(n), c=c, truncation_psi=truncation_psi, uint8=True)
        fg.append(foreground(v.flatten(0, 1)))
        lp = log_probs(judge, v.flatten(0, 1).float() / 127.5 - 1).reshape(n, len(times), -1)
        frame_pred = lp.argmax(-1).flatten()
        video_pred = lp.sum(1).argmax(-1)
        confusion_frames[k] = np.bincount(frame_pred.numpy(), minlength=num_classes) / len(
            frame_pred
        )
        confusion_videos[k] = np.bincount(video_pred.numpy(), minlength=num_classes) / n
    return {
        "truncation_psi": truncation_psi,
        "accuracy_frames": np.diag(confusion_frames).tolist(),
        "accuracy_videos": np.diag(confusion_videos).tolist(),
        "mean_accuracy_frames": float(np.diag(confusion_frames).mean()),
        "mean_accuracy_videos": float(np.diag(confusion_videos).mean()),
        "confusion_frames": confusion_frames.round(4).tolist(),
        "confusion_videos": confusion_videos.round(4).tolist(),
        "foreground": fg,
    }


@torch.no_grad()
def official_comparison() -> dict:
    """svlib's conditioned parts against the official ones (see the module docstring)."""
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    import bench_official as bo

    from svlib.config import resolve_auto
    from svlib.models import count_params

    off = bo.Official(os.environ[bo.ENV], ops="ref")
    counts = {}
    for preset in ("cpu", "paper256"):
        for c_dim in (0, 3, 101):
            cfg = resolve_auto(svlib.get_preset(preset, {"G.c_dim": c_dim, "D.c_dim": c_dim}))
            G, D = build_models(cfg)
            oG, oD, _ = bo.build_official(off, cfg, "cpu", fp16=False)
            pairs = {
                "G": (G, oG),
                "D": (D, oD),
                "G.mapping": (G.mapping, oG.mapping),
                "motion mapping": (G.motion.mapping, oG.synthesis.motion_encoder.conv),
                "D.mapping": (D.mapping, oD.mapping),
            }
            counts[f"{preset}, c_dim {c_dim}"] = {
                k: [count_params(a), count_params(b)] for k, (a, b) in pairs.items()
            }
    cfg = resolve_auto(svlib.get_preset("tiny", {"G.c_dim": 3, "D.c_dim": 3}))
    G, D = build_models(cfg)
    oG, oD, _ = bo.build_official(off, cfg, "cpu", fp16=False)
    motion = oG.synthesis.motion_encoder.conv
    for mine, theirs in (
        (G.mapping, oG.mapping),
        (D.mapping, oD.mapping),
        (G.motion.mapping, motion),
    ):
        for p, q in zip(mine.parameters(), theirs.parameters(), strict=True):
            q.copy_(p)
    z, c = torch.randn(6, cfg.G.z_dim), torch.eye(3)[[0, 1, 2, 2, 1, 0]]
    cond = torch.randn(6, D.mapping.c_dim)  # [labels ⊕ time-gap code]
    mz = torch.randn(6, 20, cfg.G.motion.z_dim)
    official_in = torch.cat([mz, c[:, None].expand(-1, 20, -1)], dim=2).transpose(1, 2)
    diffs = {
        "G.mapping(z, c)": G.mapping(z, c) - oG.mapping(z, c, skip_w_avg_update=True)[:, 0],
        "D.mapping(c ⊕ gaps)": D.mapping(None, cond) - oD.mapping(None, cond),
        "motion codes u(motion_z, c)": G.motion.mapping(mz, c)
        - motion(official_in).transpose(1, 2),
    }
    return {
        "param_counts_svlib_official": counts,
        "max_abs_diff": {k: float(v.abs().max()) for k, v in diffs.items()},
    }


@torch.no_grad()
def save_grid(G, spec: str, num_classes: int, resolution: int, path: Path, n: int = 10) -> None:
    """A PNG, 3× enlarged: row K holds frame 0 of the videos of seeds 0..n-1 asked for class K,
    then row num_classes + K frame 0 of n real class-K videos (of the judge's held-out seed)."""
    from PIL import Image

    rows = []
    for k in range(num_classes):
        v = video_frames(G, torch.zeros(1), seeds=range(n), c=class_label(G, k, n), uint8=True)
        rows.append(np.concatenate(list(v[:, 0].permute(0, 2, 3, 1).numpy()), axis=1))
    ds = open_dataset(spec_with(spec, seed=1002, n=40 * num_classes), resolution=resolution)
    for k in range(num_classes):
        idx = [i for i in range(len(ds)) if ds.raw_labels[i] == k][:n]
        rows.append(np.concatenate([ds.read_frames(i, [0])[0] for i in idx], axis=1))
    img = Image.fromarray(np.concatenate(rows, axis=0))
    img.resize((img.width * 3, img.height * 3), Image.NEAREST).save(path)


def train_config(preset: str, num_classes: int, seed: int):
    return svlib.get_preset(
        preset, {"G.c_dim": num_classes, "D.c_dim": num_classes, "train.seed": seed}
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default="synthetic:shapes?n=2048&labels=shape")
    ap.add_argument("--out", default="runs/cond_shapes32", help="the run folder")
    ap.add_argument("--preset", default="cpu", help="svlib preset (cpu: 32², batch 8)")
    ap.add_argument("--steps", type=int, default=1500, help="training steps")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--skip-train", action="store_true", help="evaluate the run in --out")
    ap.add_argument("--n", type=int, default=200, help="generated videos per class")
    ap.add_argument("--times", default="0,8,16", help="frame times classified per video")
    ap.add_argument("--judge-videos", type=int, default=1200, help="real videos to fit the judge")
    ap.add_argument("--judge-epochs", type=int, default=8)
    ap.add_argument("--truncation", type=float, nargs="+", default=[1.0, 0.7])
    ap.add_argument("--json", default=str(ROOT / "bench/results/conditional/shapes32.json"))
    ap.add_argument("--official", action="store_true", help="compare with the official networks")
    ap.add_argument("--grid-only", action="store_true", help="only write the sample grid PNG")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.official:
        res = official_comparison()
        print(json.dumps(res, indent=1))
        path = Path(a.json).with_name("official.json")
        path.write_text(json.dumps(res, indent=1) + "\n")
        return
    res: dict = {"data": a.data, "preset": a.preset, "steps": a.steps, "seed": a.seed}
    res["n_per_class"], res["times"] = a.n, a.times
    res_px = svlib.get_preset(a.preset).G.resolution
    probe = open_dataset(a.data, resolution=res_px)
    names = list(probe.label_names or range(int(probe.raw_labels.max()) + 1))
    K = len(names)
    res["classes"] = names
    res["chance"] = 1 / K

    grid = Path(a.json).with_suffix(".png")
    if a.grid_only:
        G, _ = load_generator(a.out)
        save_grid(G, a.data, K, res_px, grid)
        return
    if not a.skip_train:
        t0 = time.process_time()
        cfg = train_config(a.preset, K, a.seed)
        cfg.train.checkpoint_every = 250
        cfg.train.sample_every = a.steps
        svlib.train(cfg, a.data, a.out, steps=a.steps, resume=True, progress=False)
        res["train_cpu_minutes"] = (time.process_time() - t0) / 60

    t0 = time.process_time()
    rng = np.random.default_rng(0)
    xs, ys = real_frames(spec_with(a.data, seed=1001, n=a.judge_videos), res_px, 4, rng)
    xv, yv = real_frames(
        spec_with(a.data, seed=1002, n=max(a.judge_videos // 4, 1)), res_px, 4, rng
    )
    judge = fit_judge(to_input(xs), torch.from_numpy(ys), K, a.judge_epochs, seed=0)
    pred = log_probs(judge, to_input(xv)).argmax(1).numpy()
    res["judge"] = {
        "train_frames": len(xs),
        "heldout_frames": len(xv),
        "heldout_accuracy": float((pred == yv).mean()),
        "heldout_accuracy_per_class": [float((pred[yv == k] == k).mean()) for k in range(K)],
        "heldout_foreground_per_class": [
            foreground(torch.from_numpy(xv[yv == k]).permute(0, 3, 1, 2)) for k in range(K)
        ],
        "cpu_minutes": (time.process_time() - t0) / 60,
    }
    print("judge on held-out real frames:", res["judge"], flush=True)

    times = [float(s) for s in a.times.split(",")]
    cfg = train_config(a.preset, K, a.seed)
    torch.manual_seed(a.seed)
    G0, _ = build_models(cfg)  # the untrained control: the run's architecture at its initialisation
    rows = {"untrained": class_report(judge, G0.eval(), K, a.n, times, 1.0)}
    snapshots = list_snapshots(a.out)
    for path in snapshots:
        G, _ = load_generator(path)
        step = int(path.stem.split("-")[1])
        # the learning curve at ψ = 1; the truncation values on the last snapshot
        for psi in a.truncation if path == snapshots[-1] else [1.0]:
            rows[f"step {step}, psi {psi:g}"] = class_report(judge, G, K, a.n, times, psi)
    res["generated"] = rows
    save_grid(load_generator(a.out)[0], a.data, K, res_px, grid)
    for name, r in rows.items():
        print(name, {k: r[k] for k in ("accuracy_frames", "accuracy_videos")}, flush=True)
    res["eval_cpu_minutes"] = (time.process_time() - t0) / 60
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
