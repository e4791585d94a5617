"""Training clips: one sparse clip per video (paper §3.3), and one deterministic batch per step.

`ClipDataset` turns any `VideoDataset` into a torch Dataset of sparse clips. `StepBatches` is the
data stream of the training loop: item `step` is a rank's whole batch of real clips and fake
timestamps for that step (with their labels for a conditional model), and `step_loader`
prefetches it with DataLoader workers. With `D.kind = "image+video"` each item also holds a
dense clip of consecutive frames of the same video for the video discriminator, real and fake
(`dense_clip_times`).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..config import Config, SamplingConfig
from ..sampling import FRAC_STEPS, sample_clip_times, sample_fake_times
from .labels import dataset_labels
from .videos import VideoDataset


class ClipDataset(torch.utils.data.Dataset):
    """Training clips: item k is one clip of video `valid[k]` (sparse, or dense by `sampling.mode`).

    Item: {"frames": uint8 [F, 3, H, W],
           "t": float32 [F] (integer-valued, relative to the window start),
           "length": int64 (min(video length, max_num_frames), the range t lives in),
           "index": int64 (video index),
           "c": float32 [c_dim] (the video's label; only when `labels` is given)}.
    labels: float32 [len(videos), c_dim], the conditioning vector of every video
    (`svlib.data.labels.dataset_labels`), or None for an unconditional model.
    Videos longer than `max_num_frames` are cut to a random window of that many frames first.
    mirror: flip the whole clip horizontally with probability 0.5 (all frames together).
    dense_frames: L > 0 adds "clip": uint8 [L, 3, H, W], L consecutive frames of the same window
    (flipped with the sparse clip), and "t_clip": float32 [L]; videos need max(F, L) frames.

    Too-short videos (fewer than F frames) are skipped with a warning (`on_short="skip"`) or raise
    (`on_short="error"`); a dataset where no video is long enough always raises, naming a culprit.

    Randomness: each item draws from `np.random.default_rng([seed, epoch, worker, k, draw])`, where
    `draw` counts how often this process has served item k. So runs are reproducible for a fixed
    seed, loader order and worker count; DataLoader workers never share streams; and an infinite
    sampler that never calls `set_epoch` still gets fresh clips each time it revisits a video.
    """

    def __init__(
        self,
        videos: VideoDataset,
        sampling: SamplingConfig | None = None,
        mirror: bool = False,
        seed: int = 0,
        on_short: str = "skip",
        dense_frames: int = 0,
        labels: np.ndarray | None = None,
    ):
        self.videos, self.sampling = videos, sampling or SamplingConfig()
        if labels is not None and len(labels) != len(videos):
            raise ValueError(f"labels: {len(labels)} rows for {len(videos)} videos")
        self.labels = labels  # [N, c_dim] or None
        self.mirror, self.seed, self.epoch = mirror, int(seed), 0
        self.dense_frames = int(dense_frames)
        if on_short not in ("skip", "error"):
            raise ValueError(f"on_short must be 'skip' or 'error', got {on_short!r}")
        if self.dense_frames > self.sampling.max_num_frames:
            raise ValueError(
                f"D.video.num_frames={self.dense_frames} is longer than the window of "
                f"sampling.max_num_frames={self.sampling.max_num_frames} frames"
            )
        F = max(self.sampling.num_frames, self.dense_frames)
        lengths = videos.lengths
        short = np.flatnonzero(lengths < F)
        if len(short) == len(lengths) or (len(short) and on_short == "error"):
            names = ", ".join(f"{videos.video_name(i)} ({lengths[i]} frames)" for i in short[:3])
            what = "every video is" if len(short) == len(lengths) else f"{len(short)} videos are"
            raise ValueError(
                f"{what} shorter than {_needed(self.sampling, self.dense_frames)} in "
                f"{videos.name}: {names}" + (" ..." if len(short) > 3 else "")
            )
        if len(short):
            warnings.warn(
                f"skipping {len(short)} videos shorter than "
                f"{_needed(self.sampling, self.dense_frames)} in {videos.name}, e.g. "
                f"{videos.video_name(short[0])} ({lengths[short[0]]} frames)",
                stacklevel=2,
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
        t = sample_clip_times(window, s.num_frames, s.max_dist, rng, mode=s.mode)  # [F], integers
        frames = self.videos.read_frames(i, start + t.astype(np.int64))  # [F, H, W, 3]
        flip = self.mirror and rng.random() < 0.5
        if flip:
            frames = frames[:, :, ::-1]
        frames = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # [F, 3, H, W]
        item = {
            "frames": torch.from_numpy(frames),
            "t": torch.from_numpy(t.astype(np.float32)),  # [F]
            "length": torch.tensor(window, dtype=torch.int64),
            "index": torch.tensor(i, dtype=torch.int64),
        }
        if self.dense_frames:  # drawn last: the sparse clip's draws stay those of the paper's D
            tc = dense_clip_times(window, self.dense_frames, rng)  # [L], integer-valued
            clip = self.videos.read_frames(i, start + tc.astype(np.int64))  # [L, H, W, 3]
            clip = clip[:, :, ::-1] if flip else clip
            item["clip"] = torch.from_numpy(np.ascontiguousarray(clip.transpose(0, 3, 1, 2)))
            item["t_clip"] = torch.from_numpy(tc.astype(np.float32))
        if self.labels is not None:
            item["c"] = torch.from_numpy(self.labels[i])  # [c_dim]
        return item


class StepBatches(torch.utils.data.Dataset):
    """Item `step` is this rank's batch of real clips and fake timestamps for that training step.

    Indexing by step (not by video) makes the data stream a pure function of (seed, step, rank):
    DataLoader workers can prefetch it, and a resumed run sees the same batches as an
    uninterrupted one.

    A conditional model (cfg.G.c_dim > 0) also gets "c", the real clips' labels, and "c_fake",
    the labels for the generated clips: those of the videos whose lengths the fake timestamps were
    drawn from, so G's labels follow the dataset's label distribution, as in the official loop.
    """

    def __init__(self, videos: VideoDataset, cfg: Config, batch: int, rank: int = 0):
        labels = dataset_labels(videos, cfg.G.c_dim) if cfg.G.c_dim > 0 else None  # [N, c_dim]
        # the video D of D.kind="image+video" also needs a dense clip per video, real and fake
        self.dense = cfg.D.video.num_frames if cfg.D.kind == "image+video" else 0
        self.clips = ClipDataset(
            videos,
            cfg.sampling,
            mirror=cfg.train.mirror,
            seed=cfg.train.seed,
            dense_frames=self.dense,
            labels=labels,
        )
        self.s, self.batch, self.rank, self.seed = cfg.sampling, batch, rank, cfg.train.seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        items = [
            self.clips.clip(int(k), rng) for k in rng.integers(0, len(self.clips), size=self.batch)
        ]
        lengths = self.clips.clip_lengths
        fake_t, fake_idx = sample_fake_times(self.batch, lengths, self.s, rng, return_indices=True)
        out = {
            "frames": torch.stack([it["frames"] for it in items]),  # [b, F, 3, H, W] uint8
            "t": torch.stack([it["t"] for it in items]),  # [b, F]
            "t_fake": torch.as_tensor(fake_t, dtype=torch.float32),  # [b, F]
        }
        if self.dense:  # fake dense clips: in the same (drawn) video length as the sparse row
            out["clip"] = torch.stack([it["clip"] for it in items])  # [b, L, 3, H, W] uint8
            out["t_clip"] = torch.stack([it["t_clip"] for it in items])  # [b, L]
            t = [dense_clip_times(lengths[k], self.dense, rng, fractional=True) for k in fake_idx]
            out["t_clip_fake"] = torch.as_tensor(np.stack(t), dtype=torch.float32).reshape(
                self.batch, self.dense
            )  # [b, L]
        if self.clips.labels is not None:
            out["c"] = torch.stack([it["c"] for it in items])  # [b, c_dim]
            fake_videos = self.clips.valid[fake_idx]  # the drawn lengths' videos
            out["c_fake"] = torch.from_numpy(self.clips.labels[fake_videos])  # [b, c_dim]
        return out


def dense_clip_times(
    length: int, num_frames: int, rng: np.random.Generator, fractional: bool = False
) -> np.ndarray:
    """Times o, o+1, ..., o+L-1 of a dense clip: float64 [L], inside [0, length-1].

    o is a uniform integer in [0, length-L] (real videos) or, with `fractional`, continuous on that
    range quantised to 1/1024 frame (fake videos, as StyleGAN-V's sparse fakes: G must see
    non-integer t, and every gap stays exactly 1)."""
    hi = int(length) - int(num_frames)
    if hi < 0:
        raise ValueError(f"a dense clip of {num_frames} frames does not fit {length} frames")
    o = (
        np.floor(rng.uniform(0, hi) * FRAC_STEPS) / FRAC_STEPS
        if fractional
        else float(rng.integers(0, hi + 1))
    )
    return o + np.arange(num_frames, dtype=np.float64)


def _needed(sampling: SamplingConfig, dense_frames: int) -> str:
    """What a usable video must be at least as long as, named for the error messages."""
    if dense_frames > sampling.num_frames:
        return f"D.video.num_frames={dense_frames}"
    return f"num_frames={sampling.num_frames}"


def step_loader(ds: StepBatches, start_step: int, num_workers: int):
    """DataLoader over steps `start_step, start_step + 1, ...` of `ds` (one batch per item)."""
    return torch.utils.data.DataLoader(
        ds,
        batch_size=None,
        sampler=range(start_step, 2**62),
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
    )
