"""Video sources: the `VideoDataset` interface, frame folders, zips of frame folders, video files.

Every source is a `VideoDataset`: an indexable collection of videos that can return any subset of a
video's frames as uint8 [F, H, W, 3].

Layout rule shared by folders and zips: **every directory that directly contains frames (.png/.jpg)
is a video**, at any depth, named by its relative path. So `root/<video>/000000.png` (the official
layout), `root/<class>/<video>/...` and a zip with one extra top-level folder all work (the official
loader's fixed depth-2 assumption caused "No videos found in the specified archive", issue #14).
Frames are ordered by natural sort ("2.png" before "10.png"; zero-padded names sort the same).

Class labels, where a dataset has them, come from the `dataset.json` at its root (the official
format; `svlib.data.labels`): `raw_labels` holds them per video, read on first use.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ..video_io import is_image_file, is_video_file, read_video, resize_center_crop
from .labels import LABELS_FILE, match_labels, parse_labels_json


def natural_key(name: str):
    """Sort key that orders digit runs numerically: "f2.png" < "f10.png"."""
    return [int(c) if c.isdigit() else c.lower() for c in re.split(r"(\d+)", str(name))]


def list_video_files(root: Path) -> list[Path]:
    """The video files under folder `root` (any depth), in natural order of their relative paths."""
    return sorted(
        (p for p in root.rglob("*") if p.is_file() and is_video_file(p)),
        key=lambda p: natural_key(p.relative_to(root).as_posix()),
    )


def frame_folders(frame_paths, top_name: str) -> list[tuple[str, list[str]]]:
    """The videos of a frame layout: [(name, [frame paths in order])], in natural order of names.

    frame_paths: "/"-separated paths of frames relative to the source root. Each directory that
    directly holds frames is one video, named by its path; frames at the root form `top_name`.
    """
    groups: dict[str, list[str]] = {}
    for p in frame_paths:
        groups.setdefault(p.rpartition("/")[0], []).append(p)
    videos = [(d or top_name, sorted(fs, key=natural_key)) for d, fs in groups.items()]
    return sorted(videos, key=lambda v: natural_key(v[0]))


class VideoDataset:
    """Base class: `len(ds)` videos, each a sequence of square uint8 RGB frames of `resolution`²."""

    name: str = "videos"
    resolution: int
    labels_source: str = ""  # where the labels are (or would be) read from, for messages
    labels_hint: str = 'a dataset.json with a "labels" field at its root'  # how to add labels
    label_names: tuple[str, ...] | None = None  # class names, where the source has them

    def __len__(self) -> int:
        raise NotImplementedError

    def video_length(self, i: int) -> int:
        raise NotImplementedError

    def read_frames(self, i: int, idx) -> np.ndarray:
        """Frames `idx` (int array [F]) of video i: uint8 [F, H, W, 3]."""
        raise NotImplementedError

    def video_name(self, i: int) -> str:
        return f"{self.name}[{i}]"

    @property
    def raw_labels(self) -> np.ndarray | None:
        """Per-video labels as stored: int64 [N] class indices, float32 [N, D] vectors, or None.

        Read on first use, so a dataset.json that is not in the labels format only matters to
        conditional training."""
        if "_raw_labels" not in self.__dict__:
            self._raw_labels = self._load_labels()
        return self._raw_labels

    def _load_labels(self) -> np.ndarray | None:
        return None

    @property
    def lengths(self) -> np.ndarray:
        """Per-video frame counts, int64 [N]."""
        return np.array([self.video_length(i) for i in range(len(self))], dtype=np.int64)

    def read_video(self, i: int) -> np.ndarray:
        """All frames of video i: uint8 [N, H, W, 3]."""
        return self.read_frames(i, np.arange(self.video_length(i)))

    def _check(self, i: int, idx) -> np.ndarray:
        if not 0 <= i < len(self):
            raise IndexError(f"{self.name}: video index {i} out of range [0, {len(self)})")
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        n = self.video_length(i)
        if len(idx) and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"{self.video_name(i)}: frame indices {idx.tolist()} outside [0, {n})")
        return idx

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, videos={len(self)}, "
            f"resolution={self.resolution})"
        )


class _FramesDataset(VideoDataset):
    """What folder and zip frame datasets share: `videos` is [(name, [frame keys in order])]."""

    def __init__(self, source: str, videos: list[tuple[str, list[str]]], resolution: int | None):
        if not videos:
            raise ValueError(
                f"no videos found in {source}: expected <video>/<frame>.png|jpg directories"
            )
        self.source, self.videos = source, videos
        # Native size from the first frame of each video (header only). Without `resolution` all
        # must be the same square; with it each video is resized (short side + centre crop) and
        # may differ from the others.
        self._sizes = [self._open(frames[0]).size for _, frames in videos]
        if resolution is None:
            for (_, frames), size in zip(videos, self._sizes):
                if size != self._sizes[0]:
                    first = videos[0][1][0]
                    raise ValueError(
                        f"mixed frame sizes in {source}: {self._key_name(frames[0])} is "
                        f"{size[0]}x{size[1]}, {self._key_name(first)} is "
                        f"{self._sizes[0][0]}x{self._sizes[0][1]}; "
                        "pass resolution= to resize every video"
                    )
            w, h = self._sizes[0]
            if w != h:
                raise ValueError(
                    f"frames of {source} are {w}x{h}, not square; pass resolution= to resize and "
                    "centre-crop, or run `python -m svlib prepare`"
                )
            resolution = w
        self.resolution = int(resolution)

    def _open(self, key: str) -> Image.Image:
        raise NotImplementedError

    def _key_name(self, key: str) -> str:
        return key

    def _labels_text(self) -> str | None:
        """The text of the dataset's dataset.json, None without one."""
        raise NotImplementedError

    def _load_labels(self):
        text = self._labels_text()
        labels = None if text is None else parse_labels_json(text, self.labels_source)
        if labels is None:
            return None
        return match_labels(labels, [name for name, _ in self.videos], self.labels_source)

    def __len__(self):
        return len(self.videos)

    def video_length(self, i):
        return len(self.videos[i][1])

    def video_name(self, i):
        return self.videos[i][0]

    def read_frames(self, i, idx):
        idx = self._check(i, idx)
        out = np.empty((len(idx), self.resolution, self.resolution, 3), np.uint8)
        for k, j in enumerate(idx):
            key = self.videos[i][1][j]
            try:
                img = self._open(key)
                img.load()  # decode now, so a truncated file fails here, with its name
            except Exception as e:
                raise ValueError(f"cannot read frame {self._key_name(key)}: {e}") from e
            if img.size != self._sizes[i]:
                first, (w, h) = self.videos[i][1][0], self._sizes[i]
                raise ValueError(
                    f"mixed frame sizes: {self._key_name(key)} is {img.size[0]}x{img.size[1]}, "
                    f"but frame {self._key_name(first)} is {w}x{h}"
                )
            out[k] = np.asarray(resize_center_crop(img.convert("RGB"), self.resolution))
        return out


class FrameFolderDataset(_FramesDataset):
    """root/<video>/<frame>.png|jpg (any depth; every directory holding frames is a video)."""

    def __init__(self, root, resolution: int | None = None):
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"dataset folder not found: {root}")
        if not root.is_dir():
            raise ValueError(f"not a folder: {root}")
        self.root, self.name = root, root.name
        frames = []  # paths relative to root, "/"-separated like zip members
        for d, _, files in os.walk(root):
            rel = Path(os.path.relpath(d, root)).as_posix()
            frames += [f if rel == "." else f"{rel}/{f}" for f in files if is_image_file(f)]
        super().__init__(str(root), frame_folders(frames, root.name), resolution)
        self.labels_source = str(root / LABELS_FILE)

    def _open(self, key):
        return Image.open(self.root / key)

    def _labels_text(self):
        path = self.root / LABELS_FILE
        return path.read_text() if path.is_file() else None

    def _key_name(self, key):
        return str(self.root / key)


class ZipDataset(_FramesDataset):
    """The frame-folder layout inside a .zip (any depth; a single top-level folder is fine)."""

    def __init__(self, path, resolution: int | None = None):
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"dataset zip not found: {path}")
        try:
            with zipfile.ZipFile(path) as zf:
                names = [
                    n
                    for n in zf.namelist()
                    if not n.endswith("/") and is_image_file(n) and "__MACOSX" not in n
                ]
                # the shallowest dataset.json (the root's, or that of one top-level folder)
                found = [n for n in zf.namelist() if n.rpartition("/")[2] == LABELS_FILE]
        except zipfile.BadZipFile as e:
            raise ValueError(f"not a valid zip file: {path} ({e})") from e
        self.path, self.name, self._zip, self._pid = path, path.stem, None, None
        self._labels_member = min(found, key=lambda n: n.count("/")) if found else None
        super().__init__(str(path), frame_folders(names, path.stem), resolution)
        self.labels_source = f"{path}:{self._labels_member or LABELS_FILE}"

    def _open(self, key):
        # One handle per process: DataLoader workers fork, and a shared handle's offset would race.
        if self._zip is None or self._pid != os.getpid():
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        return Image.open(io.BytesIO(self._zip.read(key)))

    def _key_name(self, key):
        return f"{self.path}:{key}"

    def _labels_text(self):
        if self._labels_member is None:
            return None
        with zipfile.ZipFile(self.path) as zf:
            return zf.read(self._labels_member).decode("utf-8", errors="replace")

    def __getstate__(self):  # zip handles do not pickle (spawned workers)
        return {**self.__dict__, "_zip": None, "_pid": None}


class VideoFileDataset(VideoDataset):
    """A folder of video files (.mp4/.avi/.webm/.mov/...), or a single file, decoded through ffmpeg.

    Each video is decoded whole (resized to `resolution`, resampled to `fps` if given) the first
    time it is needed; decoded videos stay in memory while their total size is under `cache_bytes`
    (least recently used ones are evicted). Lengths come from that decode, so they are exact. Meant
    for a handful of clips; convert big collections with `prepare_dataset` and use frame folders.
    """

    def __init__(
        self,
        root,
        resolution: int | None = None,
        fps: float | None = None,
        cache_bytes: int = 2 << 30,
        strict: bool = True,
    ):
        root = Path(root)
        if not root.exists():
            raise FileNotFoundError(f"video dataset not found: {root}")
        files = [root] if root.is_file() else list_video_files(root)
        if not files:
            raise ValueError(f"no video files (.mp4, .avi, .webm, .mov) found in {root}")
        self.root, self.files, self.name = root, files, root.stem
        self.labels_source = str((root if root.is_dir() else root.parent) / LABELS_FILE)
        self.fps, self.cache_bytes, self.strict = fps, cache_bytes, strict
        self._cache: dict[int, np.ndarray] = {}
        self._lengths: dict[int, int] = {}
        # Without `resolution` every video must already be the first one's square size (no resize).
        self._resize = resolution is not None
        if resolution is None:
            first = self._decode(0)  # [N, H, W, 3]
            if first.shape[1] != first.shape[2]:
                raise ValueError(
                    f"video {files[0]} is {first.shape[2]}x{first.shape[1]}, not square; "
                    "pass resolution="
                )
            resolution = first.shape[1]
        self.resolution = int(resolution)

    def _decode(self, i: int) -> np.ndarray:
        if i in self._cache:
            self._cache[i] = self._cache.pop(i)  # mark as recently used
            return self._cache[i]
        res = getattr(self, "resolution", None)
        v = read_video(
            self.files[i],
            fps=self.fps,
            resolution=res if self._resize else None,
            strict=self.strict,
        )  # [N, H, W, 3]
        if res is not None and v.shape[1:3] != (res, res):
            raise ValueError(
                f"mixed frame sizes: video {self.files[i]} is {v.shape[2]}x{v.shape[1]}, expected "
                f"{res}x{res} like {self.files[0]}; pass resolution= to resize every video"
            )
        self._lengths[i] = len(v)
        while (
            self._cache
            and sum(x.nbytes for x in self._cache.values()) + v.nbytes > self.cache_bytes
        ):
            self._cache.pop(next(iter(self._cache)))
        if v.nbytes <= self.cache_bytes:
            self._cache[i] = v
        return v

    def __len__(self):
        return len(self.files)

    def video_name(self, i):
        return str(self.files[i])

    def _load_labels(self):
        path = Path(self.labels_source)
        labels = parse_labels_json(path.read_text(), str(path)) if path.is_file() else None
        if labels is None:
            return None
        base = self.root if self.root.is_dir() else self.root.parent
        names = [f.relative_to(base).with_suffix("").as_posix() for f in self.files]
        return match_labels(labels, names, str(path))

    def video_length(self, i):
        if i not in self._lengths:
            self._decode(i)
        return self._lengths[i]

    def read_frames(self, i, idx):
        idx = self._check(i, idx)
        return self._decode(i)[idx]

    def __getstate__(self):  # do not ship decoded videos to worker processes
        return {**self.__dict__, "_cache": {}}
