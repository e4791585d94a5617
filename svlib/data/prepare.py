"""Raw videos -> the training layout dst/<video>/%06d.png (the official convert_videos_to_frames).

Each frame: Lanczos resize of the short side to `resolution` + centre crop (Pillow), optional
frame-rate resampling with ffmpeg's `fps` filter first. Writes dst/dataset.json with per-video frame
counts and fps. CLI: `python -m svlib prepare SRC DST --resolution R [--fps F]`.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ..video_io import IMAGE_EXTS, is_video_file, iter_frames, resize_center_crop, video_info
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
    writes JPEG at `quality`, as the official scripts do). Existing frames of a video folder are
    replaced. Returns the number of videos written.
    """
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise FileNotFoundError(f"prepare: source not found: {src}")
    if int(resolution) != resolution or resolution < 1:
        raise ValueError(f"prepare: resolution must be a positive integer, got {resolution!r}")
    if fps is not None and not fps > 0:
        raise ValueError(f"prepare: fps must be positive, got {fps!r}")
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
    dst.mkdir(parents=True, exist_ok=True)
    meta = {"resolution": int(resolution), "fps": fps, "videos": {}}
    bar = tqdm(list(zip(files, names)), desc="prepare", unit="video", disable=not progress)
    for path, name in bar:
        out = dst / name
        out.mkdir(parents=True, exist_ok=True)
        # A re-run must not leave stale frames from a longer earlier version.
        for old in out.iterdir():
            if old.suffix.lower() in IMAGE_EXTS:
                old.unlink()
        n = 0
        try:
            for frame in iter_frames(path, fps=fps):  # [H, W, 3], full source resolution
                img = resize_center_crop(Image.fromarray(frame), int(resolution))
                img.save(out / f"{n:06d}.{ext}", **({"quality": quality} if ext == "jpg" else {}))
                n += 1
        except ValueError as e:
            raise ValueError(f"prepare: failed on {path}: {e}") from e
        meta["videos"][name] = {
            "num_frames": n,
            "source": str(path),
            "source_fps": video_info(path)["fps"],
        }
        bar.set_postfix(frames=n)
    (dst / "dataset.json").write_text(json.dumps(meta, indent=1))
    return len(files)
