"""`open_dataset`: a `VideoDataset` from a spec string naming any of the sources.

It sits above the source modules (files in `videos`, analytic sets in `synthetic`), so neither of
them needs to know about the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

from ..checks import UsageError
from ..video_io import is_image_file, is_video_file
from .synthetic import make_synthetic
from .videos import FrameFolderDataset, VideoDataset, VideoFileDataset, ZipDataset


def _parse_value(v: str):
    if "," in v:  # a range or tuple, e.g. speed=0.02,0.04
        return tuple(_parse_value(x) for x in v.split(","))
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def _open_synthetic(spec: str, resolution: int | None, **kw) -> VideoDataset:
    """The analytic set of a "synthetic:NAME[?key=value&...]" spec, at `resolution` if given."""
    name, _, query = spec[len("synthetic:") :].partition("?")
    params = {k: _parse_value(v) for k, v in parse_qsl(query, keep_blank_values=True)}
    if resolution is not None:
        if "resolution" in params and params["resolution"] != resolution:
            raise ValueError(
                f"dataset spec {spec!r} has resolution={params['resolution']} but resolution="
                f"{resolution} was requested"
            )
        params["resolution"] = resolution
    try:
        return make_synthetic(name, **{**params, **kw})
    except (TypeError, ValueError) as e:
        raise UsageError(f"dataset spec {spec!r}: {e}") from None


def spec_with(spec: str, **params) -> str:
    """A "synthetic:NAME?..." spec with query parameters replaced or added, the others kept.

    E.g. `spec_with("synthetic:shapes?n=2048&max_shapes=1", n=16, seed=1)` is
    "synthetic:shapes?n=16&max_shapes=1&seed=1": the same kind of videos, another number or seed.
    Tuples are written as ranges ("speed=0.01,0.02"); a value of None drops the parameter.
    """
    spec = str(spec)
    if not spec.startswith("synthetic:"):
        raise UsageError(f"spec_with: {spec!r} is not a 'synthetic:NAME?...' spec")
    name, _, query = spec.partition("?")
    merged = dict(parse_qsl(query, keep_blank_values=True))
    for k, v in params.items():
        if v is None:
            merged.pop(k, None)
        else:
            merged[k] = ",".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)
    return name + ("?" + "&".join(f"{k}={v}" for k, v in merged.items()) if merged else "")


def _check_complete(folder: Path) -> None:
    """A folder that `prepare` left with failed videos is not a dataset yet."""
    try:
        failed = json.loads((folder / "dataset.json").read_text()).get("failed")
    except (OSError, ValueError, AttributeError):
        return  # no (readable) dataset.json: a folder made by other means
    if failed:
        first = next(iter(failed))
        raise UsageError(
            f"dataset {folder} is incomplete: prepare failed on {len(failed)} video(s) (first: "
            f"{first}); fix or remove them and re-run prepare"
        )


def open_dataset(spec, resolution: int | None = None, **kw) -> VideoDataset:
    """A `VideoDataset` from a spec string.

    spec: a folder of frame folders, a folder of video files, a .zip of frame folders, a single
    video file, or "synthetic:NAME[?key=value&...]" (e.g. "synthetic:shapes?n=256&length=128").
    resolution: output size (frames are resized + centre-cropped where needed); None keeps the
    native (square) size. Extra keyword arguments go to the dataset class (e.g. fps= for video
    files).
    """
    if isinstance(spec, VideoDataset):
        return spec
    spec = str(spec)
    if spec.startswith("synthetic:"):
        return _open_synthetic(spec, resolution, **kw)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(
            f"dataset not found: {spec} (a folder, .zip, video file or 'synthetic:NAME')"
        )
    if path.is_file():
        if path.suffix.lower() == ".zip":
            return ZipDataset(path, resolution=resolution, **kw)
        if is_video_file(path):
            return VideoFileDataset(path, resolution=resolution, **kw)
        raise ValueError(f"unsupported dataset file {spec}: expected a .zip or a video file")
    _check_complete(path)
    has_video = any(is_video_file(p) for p in path.rglob("*"))
    has_image = any(is_image_file(p) for p in path.rglob("*"))
    if has_video and not has_image:
        return VideoFileDataset(path, resolution=resolution, **kw)
    if has_image:
        return FrameFolderDataset(path, resolution=resolution, **kw)
    raise ValueError(
        f"no videos found in folder {spec}: expected <video>/<frame>.png|jpg folders or video files"
    )
