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

from ..checks import UsageError, check_device, check_number
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
    _check_names(names)
    if isinstance(dataset, (str, os.PathLike)):  # opened at G's size, as the CLI does
        dataset = _open_at(dataset, _resolution_of(G))
    dataset, shared, out = open_videos(dataset), {}, {}
    _check_resolution(G, dataset)
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
    trust_torchscript: bool = False,
    seed: int = 0,
    device=None,
    **kw,
) -> dict:
    """CLI entry: load G (EMA) from a checkpoint (or a run folder's newest one) and run
    `calc_metrics` against dataset spec `data`. The detector weights are loaded first, so a bad
    file fails at once; a TorchScript I3D file needs `trust_torchscript` (it runs code)."""
    from ..checkpoint import load_generator
    from ..utils import default_device

    _check_names(metrics)
    check_number("num_real (--num-real)", num_real, minimum=1, integer=True)
    check_number("num_fake (--num-fake)", num_fake, minimum=1, integer=True)
    device = check_device(device) or default_device()
    G, cfg = load_generator(ckpt, device=device)
    data = _open_at(data, cfg.G.resolution)
    # the weights are read (and a bad file refused) before minutes of computing
    detector = _detector(metrics, i3d_path, trust_torchscript)
    res = calc_metrics(
        G,
        data,
        metrics,
        max_real=num_real,
        num_gen=num_fake,
        detector=detector,
        inception=_inception(metrics, inception_path),
        seed=seed,
        device=device,
        **kw,
    )
    return {"checkpoint": str(ckpt), "data": str(data), "results": _jsonable(res)}


def _check_names(names) -> None:
    if isinstance(names, str) or not list(names):
        raise UsageError(f"metrics: give a list of names, e.g. ['fvd16']; got {names!r}")
    unknown = [m for m in names if m not in _REGISTRY]
    if unknown:
        raise UsageError(f"unknown metrics {unknown}; available: {list(_REGISTRY)}")


def _detector(names, path, trust_torchscript: bool):
    """The I3D network the FVD/KVD names need, loaded now (None when no name needs one)."""
    if not any(m.startswith(("fvd", "kvd")) for m in names):
        return None
    from .i3d import load_i3d

    return load_i3d(path, trust_torchscript=trust_torchscript)


def _inception(names, path):
    if "fid" not in names:
        return None
    from .inception import load_inception

    return load_inception(path)


def _resolution_of(G) -> int | None:
    return getattr(getattr(G, "cfg", None), "resolution", None)


def _check_resolution(G, dataset) -> None:
    """A generator and real videos of different sizes would give a meaningless number."""
    want = _resolution_of(G)
    have = getattr(dataset, "resolution", None)
    if have is None and isinstance(dataset, (list, tuple)) and len(dataset):
        have = np.shape(dataset[0])[1]  # [L, H, W, 3]
    if want is not None and have is not None and int(have) != int(want):
        raise UsageError(
            f"dataset {getattr(dataset, 'name', '')!r} has resolution {have} but the generator "
            f"makes {want}² frames; open it with open_dataset(spec, resolution={want})"
        )


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
