"""Training clips: one sparse clip per video (paper §3.3), and one deterministic batch per step.

`ClipDataset` turns any `VideoDataset` into a torch Dataset of sparse clips. `StepBatches` is the
data stream of the training loop: item `step` is a rank's whole batch of real clips and fake
timestamps for that step, and `step_loader` prefetches it with DataLoader workers.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..config import Config, SamplingConfig
from ..sampling import sample_clip_times, sample_fake_times
from .videos import VideoDataset


class ClipDataset(torch.utils.data.Dataset):
    """Training clips: item k is one clip of video `valid[k]` (sparse, or dense by `sampling.mode`).

    Item: {"frames": uint8 [F, 3, H, W],
           "t": float32 [F] (integer-valued, relative to the window start),
           "length": int64 (min(video length, max_num_frames), the range t lives in),
           "index": int64 (video index)}.
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
        if self.mirror and rng.random() < 0.5:
            frames = frames[:, :, ::-1]
        frames = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))  # [F, 3, H, W]
        return {
            "frames": torch.from_numpy(frames),
            "t": torch.from_numpy(t.astype(np.float32)),  # [F]
            "length": torch.tensor(window, dtype=torch.int64),
            "index": torch.tensor(i, dtype=torch.int64),
        }


class StepBatches(torch.utils.data.Dataset):
    """Item `step` is this rank's batch of real clips and fake timestamps for that training step.

    Indexing by step (not by video) makes the data stream a pure function of (seed, step, rank):
    DataLoader workers can prefetch it, and a resumed run sees the same batches as an
    uninterrupted one.
    """

    def __init__(self, videos: VideoDataset, cfg: Config, batch: int, rank: int = 0):
        self.clips = ClipDataset(videos, cfg.sampling, mirror=cfg.train.mirror, seed=cfg.train.seed)
        self.s, self.batch, self.rank, self.seed = cfg.sampling, batch, rank, cfg.train.seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, step, self.rank, 1])
        items = [
            self.clips.clip(int(k), rng) for k in rng.integers(0, len(self.clips), size=self.batch)
        ]
        fake_t = sample_fake_times(self.batch, self.clips.clip_lengths, self.s, rng)
        return {
            "frames": torch.stack([it["frames"] for it in items]),  # [b, F, 3, H, W] uint8
            "t": torch.stack([it["t"] for it in items]),  # [b, F]
            "t_fake": torch.as_tensor(fake_t, dtype=torch.float32),
        }  # [b, F]


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
