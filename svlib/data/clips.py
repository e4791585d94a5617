"""Training clips: one sparse clip per video (paper §3.3), and one deterministic batch per step.

`ClipDataset` turns any `VideoDataset` into a torch Dataset of sparse clips. `StepBatches` is the
data stream of the training loop: item `step` is a rank's whole batch of real clips and fake
timestamps for that step (with their labels for a conditional model), and `step_loader` prefetches
it with DataLoader workers.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..config import Config, SamplingConfig
from ..sampling import sample_clip_times, sample_fake_times
from .labels import dataset_labels
from .videos import VideoDataset


class ClipDataset(torch.utils.data.Dataset):
    """Sparse training clips: item k is one clip of video `valid[k]`.

    Item: {"frames": uint8 [F, 3, H, W],
           "t": float32 [F] (integer-valued, relative to the window start),
           "length": int64 (min(video length, max_num_frames), the range t lives in),
           "index": int64 (video index),
           "c": float32 [c_dim] (the video's label; only when `labels` is given)}.
    labels: float32 [len(videos), c_dim], the conditioning vector of every video
    (`svlib.data.labels.dataset_labels`), or None for an unconditional model.
    Videos longer than `max_num_frames` are cut to a random window of that many frames first.
    mirror: flip the whole clip horizontally with probability 0.5 (all frames together).

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
        labels: np.ndarray | None = None,
    ):
        self.videos, self.sampling = videos, sampling or SamplingConfig()
        if labels is not None and len(labels) != len(videos):
            raise ValueError(f"labels: {len(labels)} rows for {len(videos)} videos")
        self.labels = labels  # [N, c_dim] or None
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
        t = sample_clip_times(window, s.num_frames, s.max_dist, rng)  # [F], integer-valued
        frames = self.videos.read_frames(i, start + t.astype(np.int64))  # [F, H, W, 3]
        if self.mirror and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        frames = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # [F, 3, H, W]
        item = {
            "frames": torch.from_numpy(frames),
            "t": torch.from_numpy(t.astype(np.float32)),  # [F]
            "length": torch.tensor(window, dtype=torch.int64),
            "index": torch.tensor(i, dtype=torch.int64),
        }
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
        self.clips = ClipDataset(
            videos, cfg.sampling, mirror=cfg.train.mirror, seed=cfg.train.seed, labels=labels
        )
        self.s, self.batch, self.rank, self.seed = cfg.sampling, batch, rank, cfg.train.seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        items = [
            self.clips.clip(int(k), rng) for k in rng.integers(0, len(self.clips), size=self.batch)
        ]
        fake_t, fake_k = sample_fake_times(
            self.batch, self.clips.clip_lengths, self.s, rng, return_indices=True
        )
        out = {
            "frames": torch.stack([it["frames"] for it in items]),  # [b, F, 3, H, W] uint8
            "t": torch.stack([it["t"] for it in items]),  # [b, F]
            "t_fake": torch.as_tensor(fake_t, dtype=torch.float32),  # [b, F]
        }
        if self.clips.labels is not None:
            out["c"] = torch.stack([it["c"] for it in items])  # [b, c_dim]
            fake_videos = self.clips.valid[fake_k]  # the drawn lengths' videos
            out["c_fake"] = torch.from_numpy(self.clips.labels[fake_videos])  # [b, c_dim]
        return out


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
