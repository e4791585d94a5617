"""Raw videos -> the training layout dst/<video>/%06d.png (the official convert_videos_to_frames).

Each frame: Lanczos resize of the short side to `resolution` + centre crop (Pillow), optional
frame-rate resampling with ffmpeg's `fps` filter first. Writes dst/dataset.json with per-video frame
counts and fps. CLI: `python -m svlib prepare SRC DST --resolution R [--fps F]`.

A labelled source (a `dataset.json` with "labels" in the source folder, keyed by the videos'
relative paths, with or without their suffix) keeps its labels: dst/dataset.json lists them in the
official format, one entry per video, keyed by its first frame ("class/video/000000.png").
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ..checks import UsageError, check_number, check_writable_folder, write_text_atomic
from ..video_io import is_video_file, iter_frames, resize_center_crop, video_info
from .labels import LABELS_FILE, match_labels, parse_labels_json
from .videos import list_video_files


def prepare_dataset(
    src,
    dst,
    resolution: int,
    fps: float | None = None,
    max_videos: int | None = None,
    ext: str = "png",
    quality: int = 95,
    progress: bool = True,
) -> int:
    """Decode every video under `src` into frame folders dst/<relative path without suffix>/.

    src: a folder (searched recursively) or one video file. Frames are 000000.png ... (ext="jpg"
    writes JPEG at `quality`, as the official scripts do). Each video is converted all or nothing:
    its folder is replaced only once it decoded completely. When a video fails, the others are
    still converted, dataset.json lists the failures under "failed" (so `open_dataset` refuses the
    folder) and a ValueError names them. Returns the number of videos written.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(f"prepare: source not found: {src}")
    if int(resolution) != resolution or resolution < 1:
        raise ValueError(f"prepare: resolution must be a positive integer, got {resolution!r}")
    if fps is not None and not fps > 0:
        raise ValueError(f"prepare: fps must be positive, got {fps!r}")
    if max_videos is not None:
        check_number("max_videos (--max-videos)", max_videos, minimum=1, integer=True)
    ext = ext.lower().lstrip(".")
    if ext not in ("png", "jpg"):
        raise ValueError(f"prepare: ext must be png or jpg, got {ext!r}")
    if src.is_file():
        if not is_video_file(src):
            raise ValueError(f"prepare: not a video file: {src}")
        files, names = [src], [src.stem]
    else:
        files = list_video_files(src)
        names = [p.relative_to(src).with_suffix("").as_posix() for p in files]
        if not files:
            raise ValueError(f"prepare: no video files found in {src}")
    if max_videos is not None:
        files, names = files[:max_videos], names[:max_videos]
    labels = _source_labels(src, names)  # before any work: a label missing loses nothing
    check_writable_folder(dst, "dst")
    _recover(dst)
    meta = {"resolution": int(resolution), "fps": fps, "videos": {}}
    failed = {}
    bar = tqdm(list(zip(files, names)), desc="prepare", unit="video", disable=not progress)
    for path, name in bar:
        try:
            n = _convert_video(path, dst / name, int(resolution), fps, ext, quality)
            source_fps = video_info(path)["fps"]
        except ValueError as e:
            failed[name] = str(e)
            continue
        meta["videos"][name] = {"num_frames": n, "source": str(path), "source_fps": source_fps}
        bar.set_postfix(frames=n)
    if labels is not None:
        meta["labels"] = [
            [f"{name}/{0:06d}.{ext}", label.tolist() if label.ndim else int(label)]
            for name, label in zip(names, labels)
            if name in meta["videos"]
        ]
    if failed:
        meta["failed"] = failed  # `open_dataset` refuses the folder while this is set
    write_text_atomic(dst / "dataset.json", json.dumps(meta, indent=1))
    if failed:
        first = next(iter(failed.values()))
        raise UsageError(
            f"prepare: {len(failed)} of {len(files)} videos failed ({first}); the others are in "
            f"{dst}, marked incomplete in dataset.json until a re-run converts every video "
            "(fix or remove the failed ones)"
        )
    return len(files)


def _source_labels(src: Path, names: list[str]):
    """The labels of the source videos `names` (int64 [N] or float32 [N, D]), None if unlabelled."""
    path = src / LABELS_FILE if src.is_dir() else None
    if path is None or not path.is_file():
        return None
    labels = parse_labels_json(path.read_text(), str(path))
    return None if labels is None else match_labels(labels, names, str(path))


def _convert_video(path: Path, out: Path, resolution: int, fps, ext: str, quality: int) -> int:
    """Decode one video into the frame folder `out`, all or nothing: the frames go to a temporary
    folder that replaces `out` only once the whole video decoded, so a failure (or a Ctrl-C) keeps
    the frames a previous run wrote. Returns the number of frames."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        n = 0
        for frame in iter_frames(path, fps=fps):  # [H, W, 3], full source resolution
            img = resize_center_crop(Image.fromarray(frame), resolution)
            img.save(tmp / f"{n:06d}.{ext}", **({"quality": quality} if ext == "jpg" else {}))
            n += 1
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return n


def _replace_folder(new: Path, out: Path) -> None:
    """Put folder `new` at `out`; an old `out` is moved aside first and deleted last."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        out.rename(old / out.name)
    new.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _recover(dst: Path) -> None:
    """Undo what a run killed mid-video left: partial folders go, a folder moved aside for
    replacement comes back unless its replacement is in place."""
    for tmp in sorted(dst.rglob(".*.partial-*")):
        shutil.rmtree(tmp, ignore_errors=True)
    for old in sorted(dst.rglob(".*.old-*")):
        for moved in old.iterdir():
            if not (old.parent / moved.name).exists():
                moved.rename(old.parent / moved.name)
        shutil.rmtree(old, ignore_errors=True)
