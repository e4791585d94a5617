"""The metric registry: every metric a name, a function and a one-line description.

A metric function is `fn(G, dataset, *, shared, **kw) -> result dict` (with "metric", "value" and a
"label" that states N and the protocol). `shared` is one dict per `calc_metrics` call, so metrics
that use the same expensive pass (the I3D features of one clip protocol, a loaded detector) compute
it once. Modules register their metrics when `svlib.metrics` is imported: fvd.py (FVD/KVD), fid.py
(FID), proxies.py (the weight-free proxies).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import torch

from .clips import open_videos


@dataclass(frozen=True)
class Metric:
    fn: Callable[..., dict]
    description: str


_REGISTRY: dict[str, Metric] = {}
# name -> Metric, read-only and live: iterating gives the registered names in registration order
METRICS = MappingProxyType(_REGISTRY)


def register_metric(name: str, description: str):
    """Decorator: register `fn(G, dataset, *, shared, **kw)` under `name`."""

    def register(fn):
        if name in _REGISTRY:
            raise ValueError(f"metric name {name!r} is registered twice")
        _REGISTRY[name] = Metric(fn, description)
        return fn

    return register


def calc_metrics(G, dataset, names, **kw) -> dict:
    """{name: result dict} for registered metric names; each result also records its "seconds".

    kw: compute_fvd options (max_real, num_gen, detector, batch_size, seed, device, progress,
    cache_dir, truncation_psi), inception / inception_weights / fid_num_gen / fid_max_real for
    "fid", drift_length for "drift" and "continuity". Each metric reads the options it uses.
    """
    unknown = [m for m in names if m not in _REGISTRY]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; available: {list(_REGISTRY)}")
    dataset, shared, out = open_videos(dataset), {}, {}
    for m in names:
        t0 = time.time()
        out[m] = _REGISTRY[m].fn(G, dataset, shared=shared, **kw)
        out[m]["seconds"] = time.time() - t0
    return out


def metrics_for_checkpoint(
    ckpt,
    data,
    metrics,
    *,
    num_real: int = 2048,
    num_fake: int = 2048,
    i3d_path=None,
    inception_path=None,
    seed: int = 0,
    device=None,
    **kw,
) -> dict:
    """CLI entry: load G (EMA) from a checkpoint and run `calc_metrics` against dataset spec
    `data`."""
    from ..checkpoint import load_generator
    from ..utils import default_device

    device = torch.device(device) if device else default_device()
    G, cfg = load_generator(ckpt, device=device)
    res = calc_metrics(
        G,
        _open_at(data, cfg.G.resolution),
        metrics,
        max_real=num_real,
        num_gen=num_fake,
        detector=i3d_path,
        inception_weights=inception_path,
        seed=seed,
        device=device,
        **kw,
    )
    return {"checkpoint": str(ckpt), "data": str(data), "results": _jsonable(res)}


def _open_at(data, resolution):
    if isinstance(data, (str, os.PathLike)):
        from ..data import open_dataset

        return open_dataset(str(data), resolution=resolution)
    return data


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x
