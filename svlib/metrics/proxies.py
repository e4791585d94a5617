"""Weight-free proxy metrics for the analytic datasets. Report them under their OWN names, never as
FVD/FID.

- `clip_params` / `param_distance`: generating parameters recovered from pixels (image moments of
  the non-background mass: centroid -> speed, acceleration; FFT peak -> period; size; object
  colour), compared between real and generated clips with per-parameter 1-D Wasserstein distances.
  The most credible proxy: the ground truth is analytic.
- `long_video_drift`: statistics of frame windows [k, k+16) against [0, 16) for k up to 1000+ (a
  stationary dataset must give stationary statistics; freezing, fading or exploding videos show up
  here).
- `time_continuity`: ‖f(t0+δ) − f(t0)‖ for δ = 1, 1/2, 1/4, ...: a continuous-time generator's
  curve shrinks roughly linearly in δ (log-log slope ≈ 1), like the analytic data.
- `random_feature_fd`: FD on a seeded, untrained 3-D conv net's features: low-level statistics
  only, weak evidence.
Inputs are uint8 clips [N, T, H, W, 3] (numpy or torch) unless stated. The end of the module
registers the proxies as metrics (params16, params128, rffd16, drift, continuity).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.stats import wasserstein_distance

from ..generate import seed_latents, video_frames
from ..viz import channels_last, to_rgb
from .clips import Videos, generated_clips, is_generator, read_real_clips
from .frechet import frechet_distance_from_features
from .registry import register_metric

PARAM_NAMES = ("speed", "accel", "period", "size", "color_r", "color_g", "color_b", "brightness")


def _np_clips(clips, name="clips") -> np.ndarray:
    if isinstance(clips, torch.Tensor):
        clips = clips.detach().cpu().numpy()
    clips = np.asarray(clips)
    if clips.ndim != 5 or clips.shape[-1] not in (1, 3):
        raise ValueError(f"{name}: expected uint8 clips [N, T, H, W, 3], got shape {clips.shape}")
    return clips.astype(np.float32)


def dominant_period(signal: np.ndarray, min_period: float = 2.0) -> float:
    """Period (frames) of the strongest frequency of signal [T, ...] (summed power over trailing
    dims).

    Mean removed, Hann window, 16x zero-padding and a parabolic peak refinement; periods above T
    cannot be observed and come back as T.
    """
    s = signal.reshape(signal.shape[0], -1).astype(np.float64)
    t = len(s)
    if t < 4:
        raise ValueError(f"dominant_period: need at least 4 frames, got {t}")
    s = (s - s.mean(0)) * np.hanning(t)[:, None]
    nfft = 16 * t
    power = (np.abs(np.fft.rfft(s, nfft, axis=0)) ** 2).sum(1)  # [nfft/2 + 1]
    lo, hi = int(np.ceil(nfft / t)), int(np.floor(nfft / min_period))  # periods in [min_period, T]
    if power[lo : hi + 1].max() <= 1e-12:
        return float(t)  # constant signal: no period in view
    k = lo + int(np.argmax(power[lo : hi + 1]))
    if lo < k < len(power) - 1:  # parabolic interpolation of the peak
        a, b, c = power[k - 1], power[k], power[k + 1]
        k = k + 0.5 * (a - c) / (a - 2 * b + c + 1e-30)
    return float(min(nfft / k, t))


def clip_params(
    clips, period_signal: str = "moments", noise_floor: float = 0.05
) -> dict[str, np.ndarray]:
    """Per-clip parameters recovered from pixels: dict name -> float64 [N] (see PARAM_NAMES).

    Background = per-channel median of the border pixels over the clip (the synthetic sets use a
    uniform background). Foreground mass m = mean_c |x − bg| / 255 minus `noise_floor` (so faint
    generator noise does not pull the centroid). speed/accel: mean |Δ centroid| / |Δ² centroid| in
    pixels per frame. period: `dominant_period` of the image moments [cx, cy, sqrt(mass)] in pixels
    ("moments", default: catches translation (pendulum), rotation of distinct-coloured parts
    (pinwheel) and pulsing (blob)), of the centroid track only ("centroid") or of the raw pixels
    ("pixels"; finds P/k for a k-fold symmetric object). size: foreground fraction (m > 0.1);
    color_*: mean colour of the object core (m >= 0.8 max m) in [0, 1]; brightness: mean pixel.
    """
    x = _np_clips(clips)  # [N, T, H, W, C]
    n, t, h, w, _ = x.shape
    border = np.concatenate(
        [x[:, :, 0], x[:, :, -1], x[:, :, :, 0], x[:, :, :, -1]], axis=2
    )  # [N, T, 2H+2W, C]
    bg = np.median(border.reshape(n, -1, x.shape[-1]), axis=1)  # [N, C]
    m_raw = np.abs(x - bg[:, None, None, None]).mean(-1) / 255  # [N, T, H, W]
    m = np.clip(m_raw - noise_floor, 0, None)
    mass = m.sum((2, 3)) + 1e-8  # [N, T]
    ys, xs = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    cx = (m.sum(2) * xs).sum(-1) / mass  # [N, T]
    cy = (m.sum(3) * ys).sum(-1) / mass
    cx, cy = (
        np.where(mass > 1e-6, cx, (w - 1) / 2),
        np.where(mass > 1e-6, cy, (h - 1) / 2),
    )  # empty: centre
    c = np.stack([cx, cy], -1)  # [N, T, 2]
    d1 = np.diff(c, axis=1)
    out = {
        "speed": np.linalg.norm(d1, axis=-1).mean(1),
        "accel": np.linalg.norm(np.diff(d1, axis=1), axis=-1).mean(1) if t > 2 else np.zeros(n),
    }
    sigs = {
        "pixels": x,
        "centroid": c,
        "moments": np.concatenate([c, np.sqrt(mass)[..., None]], -1),
    }
    sig = sigs.get(period_signal)
    if sig is None:
        raise ValueError(
            f"clip_params: period_signal must be one of {list(sigs)}, got {period_signal!r}"
        )
    out["period"] = np.array([dominant_period(s) for s in sig]) if t >= 4 else np.full(n, float(t))
    out["size"] = (m_raw > 0.1).mean((1, 2, 3))
    core = m_raw >= 0.8 * m_raw.max(
        (1, 2, 3), keepdims=True
    )  # object core: skips anti-aliased edges
    core &= m_raw > noise_floor
    col = (x * core[..., None]).sum((1, 2, 3)) / np.maximum(core.sum((1, 2, 3)), 1)[:, None] / 255
    col = np.where(core.any((1, 2, 3))[:, None], col, bg / 255)  # [N, C]; empty clip: background
    col = np.repeat(col, 3, -1) if col.shape[-1] == 1 else col
    out.update(
        color_r=col[:, 0],
        color_g=col[:, 1],
        color_b=col[:, 2],
        brightness=x.mean((1, 2, 3, 4)) / 255,
    )
    return {k: out[k].astype(np.float64) for k in PARAM_NAMES}


def param_distance(real_clips, fake_clips, normalize: bool = False, **kw) -> dict[str, float]:
    """1-D Wasserstein distance per recovered parameter between real and generated clips (0 = same
    distribution).

    Units: pixels/frame (speed, accel), frames (period), fractions (size, colours, brightness).
    normalize=True divides each by the real parameter's standard deviation, so parameters in
    different units can be averaged (1 ≈ off by one real-data spread); parameters the real clips do
    not vary in (a dataset without periodic motion, one colour for every object) have no spread to
    divide by and are left out.
    """
    return param_w1(clip_params(real_clips, **kw), clip_params(fake_clips, **kw), normalize)


def param_w1(real_params: dict, fake_params: dict, normalize: bool = False) -> dict[str, float]:
    """`param_distance` on parameters already recovered by `clip_params` (recover once, compare
    several ways)."""
    d = {k: float(wasserstein_distance(real_params[k], fake_params[k])) for k in PARAM_NAMES}
    if normalize:
        spread = {k: float(real_params[k].std()) for k in d}
        d = {k: v / spread[k] for k, v in d.items() if spread[k] > 1e-8}
    return d


def long_video_drift(video, window: int = 16, ks=None) -> dict:
    """Window statistics of one long video [L, H, W, 3] at offsets ks (default 0, 16, 32, 64, ... up
    to L−window).

    Per window [k, k+window): mean and std of the pixels and motion = mean |frame difference| (all
    /255). Summaries against window 0: mean_shift = max |Δmean|; std_log_ratio = max
    |log(std_k/std_0)|; motion_log_ratio = max |log((motion_k+ε)/(motion_0+ε))| with ε = 1/255.
    Stationary data keeps all small.
    """
    v = np.asarray(
        video.detach().cpu().numpy() if isinstance(video, torch.Tensor) else video, dtype=np.float32
    )
    if v.ndim != 4 or len(v) < window + 1:
        raise ValueError(
            f"long_video_drift: video must be [L, H, W, C] with L > window={window}, got {v.shape}"
        )
    if ks is None:
        ks = sorted(
            {
                0,
                *[window * 2**i for i in range(32) if window * 2**i <= len(v) - window],
                len(v) - window,
            }
        )
    ks = np.asarray(ks, dtype=np.int64)
    if ks.min() < 0 or ks.max() > len(v) - window:
        raise ValueError(f"long_video_drift: offsets ks must lie in [0, {len(v) - window}]")
    win = [v[k : k + window] / 255 for k in ks]
    mean = np.array([w.mean() for w in win])
    std = np.array([w.std() for w in win])
    motion = np.array([np.abs(np.diff(w, axis=0)).mean() for w in win])
    eps = 1 / 255
    return {
        "k": ks,
        "mean": mean,
        "std": std,
        "motion": motion,
        "mean_shift": float(np.abs(mean - mean[0]).max()),
        "std_log_ratio": float(np.abs(np.log((std + eps) / (std[0] + eps))).max()),
        "motion_log_ratio": float(np.abs(np.log((motion + eps) / (motion[0] + eps))).max()),
    }


def time_continuity(frames_at, t0=(0.0,), deltas=tuple(2.0**-i for i in range(6))) -> dict:
    """‖f(t0+δ) − f(t0)‖ (RMS over pixels, averaged over the t0's) for each δ, and the log-log
    slope.

    frames_at(t: float64 np [F]) -> array [F, ...] renders ONE fixed video at real times t (e.g. a
    `generator_time_fn`). A smooth continuous-time video gives slope ≈ 1; a video that jumps or is
    noisy between calls gives ≈ 0.
    """
    deltas = np.asarray(deltas, dtype=np.float64)
    dist = np.zeros(len(deltas))
    for s in np.atleast_1d(np.asarray(t0, dtype=np.float64)):
        f = frames_at(np.concatenate([[s], s + deltas]))
        f = np.asarray(
            f.detach().float().cpu().numpy() if isinstance(f, torch.Tensor) else f, np.float64
        )
        if len(f) != len(deltas) + 1:
            raise ValueError(
                f"time_continuity: frames_at returned {len(f)} frames for {len(deltas) + 1} times"
            )
        dist += np.sqrt(((f[1:] - f[:1]) ** 2).reshape(len(deltas), -1).mean(1))
    dist /= len(np.atleast_1d(t0))
    ok = dist > 0
    slope = (
        float(np.polyfit(np.log(deltas[ok]), np.log(dist[ok]), 1)[0])
        if ok.sum() >= 2
        else float("nan")
    )
    return {"delta": deltas, "dist": dist, "slope": slope}


def generator_time_fn(G, seed: int = 0, t_max: float = 1024.0, device=None):
    """frames_at(t) for the video of `seed` (`svlib.generate`), motion noise covering [0, t_max].

    Returns frames float [F, C, H, W] in ~[-1, 1] on the CPU (no grad, no truncation).
    """
    z, motion_z = seed_latents(G, [seed], t_max, device)

    def frames_at(t):
        if np.max(t) > t_max:
            raise ValueError(f"generator_time_fn: t={np.max(t)} beyond t_max={t_max}")
        t = np.asarray(t, np.float64)
        frames = video_frames(G, t, z=z, motion_z=motion_z, chunk_size=len(t), device=device)
        return frames[0]  # [F, C, H, W]

    return frames_at


class _RandomVideoNet(nn.Module):
    """Seeded untrained 3-D conv net: clip [N, 3, T, H, W] in [-1, 1] -> [N, 2*dim] (mean and std
    pooling)."""

    def __init__(self, dim: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        chans = [3, 16, 32, dim]
        self.weights = [
            torch.randn(co, ci, 3, 3, 3, generator=g) * (2 / (ci * 27)) ** 0.5
            for ci, co in zip(chans[:-1], chans[1:])
        ]

    @torch.no_grad()
    def forward(self, x):
        for i, w in enumerate(self.weights):
            x = F.leaky_relu(F.conv3d(x, w, stride=(1, 2, 2) if i == 0 else 2, padding=1), 0.2)
        return torch.cat([x.mean((2, 3, 4)), x.std((2, 3, 4))], 1)


def random_feature_fd(
    real_clips, fake_clips, dim: int = 16, seed: int = 0, batch_size: int = 16
) -> float:
    """FD between seeded random-conv-net features of two clip sets (weak; only compare at equal N,
    dim, seed)."""
    net = _RandomVideoNet(dim, seed)

    def feats(clips, name):
        x = (
            torch.from_numpy(_np_clips(clips, name)).permute(0, 4, 1, 2, 3) / 127.5 - 1
        )  # [N, C, T, H, W]
        x = x.expand(-1, 3, -1, -1, -1) if x.shape[1] == 1 else x
        return torch.cat([net(b) for b in x.split(batch_size)]).numpy()

    return frechet_distance_from_features(
        feats(real_clips, "real_clips"), feats(fake_clips, "fake_clips")
    )


# ----------------------------------------------------------------------------------- registration
def _clip_pair(G, dataset, num_frames: int, kw) -> tuple[np.ndarray, np.ndarray, dict]:
    """Real and generated clips uint8 [N, num_frames, H, W, 3] at stride 1, and their info."""
    seed = kw.get("seed", 0)
    videos = Videos(dataset)
    real = read_real_clips(videos, num_frames, kw.get("max_real", 2048), seed)
    num_gen = kw.get("num_gen", 2048)
    bs = kw.get("batch_size") or max(1, 256 // num_frames)
    device = kw.get("device") if is_generator(G) else None
    t = np.arange(float(num_frames))
    batches = generated_clips(G, num_gen, t, bs, seed, device, kw.get("truncation_psi", 1.0))
    fake = torch.cat(list(batches)).numpy()
    info = dict(
        N_real=len(real),
        N_fake=len(fake),
        num_frames=num_frames,
        stride=1,
        resolution=int(real.shape[2]),
    )
    return real, fake, info


def _register_params(name: str, num_frames: int) -> None:
    @register_metric(
        name,
        f"W1 distance of pixel-recovered generating parameters, {num_frames}-frame clips, "
        "divided by the real spread (not FVD)",
    )
    def params(G, dataset, *, shared, **kw):
        real, fake, info = _clip_pair(G, dataset, num_frames, kw)
        pr, pf = clip_params(real), clip_params(fake)
        d, dn = param_w1(pr, pf), param_w1(pr, pf, normalize=True)
        if not dn:
            raise ValueError(
                f"metric {name!r}: no recovered parameter varies across the {len(real)} real "
                "clips; use more clips (max_real) or a dataset with varied content"
            )
        v = float(np.mean(list(dn.values())))
        const = [k for k in d if k not in dn]
        left_out = "; constant in the real clips, left out: " + ", ".join(const) if const else ""
        return {
            "metric": name,
            "value": v,
            "per_param": d,
            "per_param_normalized": dn,
            **info,
            "label": f"pixel-parameter W1 / real std, mean over {len(dn)} parameters = {v:.3f} "
            f"({num_frames} frames; not FVD{left_out}); "
            f"raw W1: " + ", ".join(f"{k}={x:.4f}" for k, x in d.items()),
        }


_register_params("params16", 16)
_register_params("params128", 128)


@register_metric(
    "rffd16", "FD of seeded random 3-D conv features of 16-frame clips (weak evidence)"
)
def _rffd16(G, dataset, *, shared, **kw):
    real, fake, info = _clip_pair(G, dataset, 16, kw)
    v = random_feature_fd(real, fake, seed=kw.get("seed", 0))
    return {
        "metric": "rffd16",
        "value": v,
        **info,
        "label": "random-feature FD (untrained 3-D conv net, weak evidence) = "
        f"{v:.3f} [N={len(real)}/{len(fake)}]",
    }


def _check_generator(name: str, G) -> None:
    if not is_generator(G):
        raise ValueError(
            f"metric {name!r} needs an svlib Generator (it renders one long / continuous video)"
        )


@register_metric("drift", "window statistics of one long generated video against its start")
def _drift(G, dataset, *, shared, drift_length: int = 1040, **kw):
    _check_generator("drift", G)
    t = np.arange(drift_length, dtype=np.float64)
    frames = video_frames(
        G, t, seeds=[kw.get("seed", 0)], chunk_size=64, device=kw.get("device"), uint8=True
    )  # [1, L, C, H, W]
    # contiguous: the float32 window means of long_video_drift depend on the memory order
    video = to_rgb(channels_last(frames[0])).contiguous().numpy()  # [L, H, W, 3]
    d = long_video_drift(video)
    out = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}
    return {
        "metric": "drift",
        "value": d["mean_shift"],
        **out,
        "length": drift_length,
        "label": f"long-video drift over {drift_length} frames (not FVD): "
        f"mean_shift={d['mean_shift']:.4f}, std_log_ratio={d['std_log_ratio']:.3f}, "
        f"motion_log_ratio={d['motion_log_ratio']:.3f}",
    }


@register_metric("continuity", "log-log slope of ||G(t+d) - G(t)|| against d (1 = smooth in t)")
def _continuity(G, dataset, *, shared, drift_length: int = 1040, **kw):
    _check_generator("continuity", G)
    frames_at = generator_time_fn(
        G, seed=kw.get("seed", 0), t_max=float(drift_length), device=kw.get("device")
    )
    c = time_continuity(frames_at, t0=(0.0, 7.3, 100.1))
    return {
        "metric": "continuity",
        "value": c["slope"],
        "delta": c["delta"].tolist(),
        "dist": c["dist"].tolist(),
        "label": "time continuity log-log slope of ||G(t+d)-G(t)|| vs d = "
        f"{c['slope']:.3f} (1 = smooth)",
    }
