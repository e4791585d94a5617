"""Video datasets: frame folders, zips, video files, synthetic sets; and the sparse-clip training dataset.

Every source is a `VideoDataset`: an indexable collection of videos that can return any subset of a
video's frames as uint8 [F, H, W, 3]. `ClipDataset` turns one into the torch Dataset the training loop
consumes: one sparse clip (paper §3.3) per item.

Layout rule shared by folders and zips: **every directory that directly contains frames (.png/.jpg) is a
video**, at any depth, named by its relative path. So `root/<video>/000000.png` (the official layout),
`root/<class>/<video>/...` and a zip with one extra top-level folder all work (the official loader's
fixed depth-2 assumption caused "No videos found in the specified archive", issue #14).
Frames are ordered by natural sort ("2.png" before "10.png"; zero-padded names sort the same).
"""

from __future__ import annotations

import io
import os
import re
import warnings
import zipfile
from pathlib import Path
from urllib.parse import parse_qsl

import numpy as np
import torch
from PIL import Image

from .config import SamplingConfig
from .sampling import sample_clip_times
from .video_io import is_image_file, is_video_file, read_video, resize_center_crop


def natural_key(name: str):
    """Sort key that orders digit runs numerically: "f2.png" < "f10.png"."""
    return [int(c) if c.isdigit() else c.lower() for c in re.split(r"(\d+)", str(name))]


class VideoDataset:
    """Base class: `len(ds)` videos, each a sequence of square uint8 RGB frames of size `resolution`."""

    name: str = "videos"
    resolution: int

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
        return f"{type(self).__name__}(name={self.name!r}, videos={len(self)}, resolution={self.resolution})"


class _FramesDataset(VideoDataset):
    """Shared logic of folder and zip frame datasets: `videos` is [(name, [frame keys in order])]."""

    def __init__(self, source: str, videos: list[tuple[str, list[str]]], resolution: int | None):
        if not videos:
            raise ValueError(
                f"no videos found in {source}: expected <video>/<frame>.png|jpg directories"
            )
        self.source, self.videos = source, videos
        # Native size from the first frame of each video (header only). Without `resolution` all must be the
        # same square; with it each video is resized (short side + centre crop) and may differ from others.
        self._sizes = [self._open(frames[0]).size for _, frames in videos]
        if resolution is None:
            for (name, frames), size in zip(videos, self._sizes):
                if size != self._sizes[0]:
                    raise ValueError(
                        f"mixed frame sizes in {source}: {self._key_name(frames[0])} is {size[0]}x{size[1]}, "
                        f"{self._key_name(videos[0][1][0])} is {self._sizes[0][0]}x{self._sizes[0][1]}; "
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
                raise ValueError(
                    f"mixed frame sizes: {self._key_name(key)} is {img.size[0]}x{img.size[1]}, but frame "
                    f"{self._key_name(self.videos[i][1][0])} is {self._sizes[i][0]}x{self._sizes[i][1]}"
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
        videos = []
        for d, _, files in os.walk(root):
            frames = sorted((f for f in files if is_image_file(f)), key=natural_key)
            if frames:
                rel = os.path.relpath(d, root)
                videos.append(
                    (
                        root.name if rel == "." else rel.replace(os.sep, "/"),
                        [os.path.join(d, f) for f in frames],
                    )
                )
        super().__init__(str(root), sorted(videos, key=lambda v: natural_key(v[0])), resolution)

    def _open(self, key):
        return Image.open(key)


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
        except zipfile.BadZipFile as e:
            raise ValueError(f"not a valid zip file: {path} ({e})") from e
        self.path, self.name, self._zip, self._pid = path, path.stem, None, None
        groups: dict[str, list[str]] = {}
        for n in names:
            groups.setdefault(n.rpartition("/")[0], []).append(n)
        videos = [(d or path.stem, sorted(fs, key=natural_key)) for d, fs in groups.items()]
        super().__init__(str(path), sorted(videos, key=lambda v: natural_key(v[0])), resolution)

    def _open(self, key):
        if (
            self._zip is None or self._pid != os.getpid()
        ):  # one handle per process (DataLoader workers fork)
            self._zip, self._pid = zipfile.ZipFile(self.path), os.getpid()
        return Image.open(io.BytesIO(self._zip.read(key)))

    def _key_name(self, key):
        return f"{self.path}:{key}"

    def __getstate__(self):  # zip handles do not pickle (spawned workers)
        return {**self.__dict__, "_zip": None, "_pid": None}


class VideoFileDataset(VideoDataset):
    """A folder of video files (.mp4/.avi/.webm/.mov/...), or a single file, decoded through ffmpeg.

    Each video is decoded whole (resized to `resolution`, resampled to `fps` if given) the first time it
    is needed; decoded videos stay in memory while their total size is under `cache_bytes` (least recently
    used ones are evicted). Lengths come from that decode, so they are exact. Meant for a handful of
    clips; convert big collections with `prepare_dataset` and use frame folders.
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
        if root.is_file():
            files = [root]
        else:
            files = sorted(
                (p for p in root.rglob("*") if p.is_file() and is_video_file(p)),
                key=lambda p: natural_key(p.relative_to(root).as_posix()),
            )
            if not files:
                raise ValueError(
                    f"no video files ({', '.join(('.mp4', '.avi', '.webm', '.mov'))}) found in {root}"
                )
        self.root, self.files, self.name = root, files, root.stem
        self.fps, self.cache_bytes, self.strict = fps, cache_bytes, strict
        self._cache: dict[int, np.ndarray] = {}
        self._lengths: dict[int, int] = {}
        self._resize = (
            resolution is not None
        )  # else every video must already be resolution² (no resampling)
        if resolution is None:  # native size of the first video; must be square
            first = self._decode(0)
            if first.shape[1] != first.shape[2]:
                raise ValueError(
                    f"video {files[0]} is {first.shape[2]}x{first.shape[1]}, not square; pass resolution="
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

    def video_length(self, i):
        if i not in self._lengths:
            self._decode(i)
        return self._lengths[i]

    def read_frames(self, i, idx):
        idx = self._check(i, idx)
        return self._decode(i)[idx]

    def __getstate__(self):  # do not ship decoded videos to worker processes
        return {**self.__dict__, "_cache": {}}


class ClipDataset(torch.utils.data.Dataset):
    """Sparse training clips: item k is one clip of video `valid[k]`.

    Item: {"frames": uint8 [F, 3, H, W], "t": float32 [F] (integer-valued, relative to the window start),
           "length": int64 (min(video length, max_num_frames), the range t lives in), "index": int64 (video index)}.
    Videos longer than `max_num_frames` are cut to a random window of that many frames first.
    mirror: flip the whole clip horizontally with probability 0.5 (all frames together).

    Too-short videos (fewer than F frames) are skipped with a warning (`on_short="skip"`) or raise
    (`on_short="error"`); a dataset where no video is long enough always raises, naming a culprit.

    Randomness: each item draws from `np.random.default_rng([seed, epoch, worker, k, draw])`, where `draw`
    counts how often this process has served item k. So runs are reproducible for a fixed seed, loader
    order and worker count; DataLoader workers never share streams; and an infinite sampler that never
    calls `set_epoch` still gets fresh clips each time it revisits a video.
    """

    def __init__(
        self,
        videos: VideoDataset,
        sampling: SamplingConfig | None = None,
        mirror: bool = False,
        seed: int = 0,
        on_short: str = "skip",
    ):
        self.videos, self.sampling = videos, sampling or SamplingConfig()
        self.mirror, self.seed, self.epoch = mirror, int(seed), 0
        if on_short not in ("skip", "error"):
            raise ValueError(f"on_short must be 'skip' or 'error', got {on_short!r}")
        F = self.sampling.num_frames
        lengths = videos.lengths
        short = np.flatnonzero(lengths < F)
        if len(short) == len(lengths) or (len(short) and on_short == "error"):
            names = ", ".join(f"{videos.video_name(i)} ({lengths[i]} frames)" for i in short[:3])
            what = "every video is" if len(short) == len(lengths) else f"{len(short)} videos are"
            raise ValueError(
                f"{what} shorter than num_frames={F} in {videos.name}: {names}"
                + (" ..." if len(short) > 3 else "")
            )
        if len(short):
            warnings.warn(
                f"skipping {len(short)} videos shorter than num_frames={F} in {videos.name}, e.g. "
                f"{videos.video_name(short[0])} ({lengths[short[0]]} frames)"
            )
        self.valid = np.flatnonzero(lengths >= F)  # [N'] indices into `videos`
        self.lengths = lengths[self.valid]  # [N'] full lengths of the usable videos
        self._draws: dict[int, int] = {}

    def set_epoch(self, epoch: int) -> None:
        """Change the random stream (call once per epoch for epoch-level reproducibility)."""
        self.epoch = int(epoch)
        self._draws.clear()

    @property
    def clip_lengths(self) -> np.ndarray:
        """min(len, max_num_frames) per usable video: the ranges for `sample_fake_times`."""
        return np.minimum(self.lengths, self.sampling.max_num_frames)

    def __len__(self):
        return len(self.valid)

    def rng_for(self, k: int) -> np.random.Generator:
        info = torch.utils.data.get_worker_info()
        draw = self._draws.get(k, 0)
        self._draws[k] = draw + 1
        return np.random.default_rng(
            [self.seed, self.epoch, 0 if info is None else info.id + 1, k, draw]
        )

    def __getitem__(self, k: int) -> dict:
        if not -len(self) <= k < len(self):
            raise IndexError(f"clip index {k} out of range [0, {len(self)})")
        k = int(k) % len(self)
        return self.clip(k, self.rng_for(k))

    def clip(self, k: int, rng: np.random.Generator) -> dict:
        """Clip of usable video k drawn with `rng` (the training loop seeds it per step)."""
        i, s = int(self.valid[k]), self.sampling
        n = int(self.lengths[k])
        window = min(n, s.max_num_frames)
        start = int(rng.integers(0, n - window + 1))  # random max_num_frames window of long videos
        t = sample_clip_times(window, s.num_frames, s.max_dist, rng)  # [F], integer-valued
        frames = self.videos.read_frames(i, start + t.astype(np.int64))  # [F, H, W, 3]
        if self.mirror and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        return {
            "frames": torch.from_numpy(
                np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
            ),  # [F, 3, H, W]
            "t": torch.from_numpy(t.astype(np.float32)),  # [F]
            "length": torch.tensor(window, dtype=torch.int64),
            "index": torch.tensor(i, dtype=torch.int64),
        }


def _parse_value(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def open_dataset(spec, resolution: int | None = None, **kw) -> VideoDataset:
    """A `VideoDataset` from a spec string.

    spec: a folder of frame folders, a folder of video files, a .zip of frame folders, a single video
    file, or "synthetic:NAME[?key=value&...]" (e.g. "synthetic:shapes?n=256&length=128&seed=0").
    resolution: output size (frames are resized + centre-cropped where needed); None keeps the native
    (square) size. Extra keyword arguments go to the dataset class (e.g. fps= for video files).
    """
    if isinstance(spec, VideoDataset):
        return spec
    spec = str(spec)
    if spec.startswith("synthetic:"):
        from .synthetic import make_synthetic

        name, _, query = spec[len("synthetic:") :].partition("?")
        params = {k: _parse_value(v) for k, v in parse_qsl(query, keep_blank_values=True)}
        if resolution is not None:
            if "resolution" in params and params["resolution"] != resolution:
                raise ValueError(
                    f"dataset spec {spec!r} has resolution={params['resolution']} but resolution="
                    f"{resolution} was requested"
                )
            params["resolution"] = resolution
        return make_synthetic(name, **{**params, **kw})
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
    has_video = any(is_video_file(p) for p in path.rglob("*"))
    has_image = any(is_image_file(p) for p in path.rglob("*"))
    if has_video and not has_image:
        return VideoFileDataset(path, resolution=resolution, **kw)
    if has_image:
        return FrameFolderDataset(path, resolution=resolution, **kw)
    raise ValueError(
        f"no videos found in folder {spec}: expected <video>/<frame>.png|jpg folders or video files"
    )
