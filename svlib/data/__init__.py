"""Training data: video sources, the analytic synthetic sets, sparse clips and per-step batches.

- `videos`: the `VideoDataset` interface; frame folders, zips of frame folders, video files.
- `synthetic`: continuous-time analytic datasets ("shapes", "periodic", "sky", "digits").
- `sources`: `open_dataset(spec)`, any of the above from a path or "synthetic:NAME?..." string;
  `spec_with(spec, n=..., seed=...)`, the same synthetic set with other parameters.
- `labels`: class labels from `dataset.json` (the official format), matched to videos, one-hot c.
- `clips`: `ClipDataset` (one sparse clip per video, paper §3.3) and `StepBatches` (one batch per
  training step, a pure function of (seed, step, rank)).
- `prepare`: raw videos -> frame folders (`python -m svlib prepare`).
"""

from .clips import ClipDataset, StepBatches, step_loader
from .labels import dataset_labels, match_labels, one_hot, parse_labels_json
from .prepare import prepare_dataset
from .sources import open_dataset, spec_with
from .synthetic import (
    SYNTHETIC,
    DigitsVideos,
    PeriodicVideos,
    ShapesVideos,
    SkyVideos,
    SyntheticVideos,
    make_synthetic,
)
from .videos import (
    FrameFolderDataset,
    VideoDataset,
    VideoFileDataset,
    ZipDataset,
    frame_folders,
    list_video_files,
    natural_key,
)

__all__ = [
    "SYNTHETIC",
    "ClipDataset",
    "DigitsVideos",
    "FrameFolderDataset",
    "PeriodicVideos",
    "ShapesVideos",
    "SkyVideos",
    "StepBatches",
    "SyntheticVideos",
    "VideoDataset",
    "VideoFileDataset",
    "ZipDataset",
    "frame_folders",
    "list_video_files",
    "dataset_labels",
    "make_synthetic",
    "match_labels",
    "natural_key",
    "one_hot",
    "open_dataset",
    "spec_with",
    "parse_labels_json",
    "prepare_dataset",
    "step_loader",
]
