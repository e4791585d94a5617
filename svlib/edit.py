"""Semantic directions in w, found from the parameters that the synthetic sets are made of.

The synthetic datasets are generated from a few known parameters (colour, size, speed, period...),
and `svlib.metrics.proxies.clip_params` recovers them from pixels. So a generator trained on such
a set can be labelled without any annotation: draw many videos, recover each one's parameters,
and fit the linear model

    p_i ≈ p̄ + β · (w_i − w̄)        (ridge least squares over the samples i)

for each parameter p. The direction is û = β/|β|, scaled so that α = 1 moves w by one standard
deviation of the samples along û (a step the generator has seen in its own samples); the edit is
w' = w + α·d, applied once and therefore held by every frame of a video of any length (content is
one w per video). `measure_effect` checks what a direction really does, against random directions
of the same norm: how far the recovered parameter moves per unit α.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .checks import UsageError, check_number
from .generator import Generator
from .metrics.proxies import PARAM_NAMES, clip_params
from .utils import check_shape
from .viz import channels_last, to_rgb


@dataclass
class Direction:
    """A direction in w for one recovered parameter.

    vector [w_dim]: one unit of α (one standard deviation of the samples' w along it); slope: the
    fitted change of the parameter per unit α; r2: the linear fit's R² on held-out samples
    (how much of the parameter's variation across videos w explains linearly; below 0: none).
    """

    name: str
    vector: torch.Tensor
    slope: float
    r2: float
    num_samples: int
    ridge: float  # the ridge weight cross-validation chose


def _clips_uint8(videos: torch.Tensor) -> np.ndarray:
    """uint8 [N, T, C, H, W] -> numpy [N, T, H, W, 3] (what clip_params reads)."""
    return to_rgb(channels_last(videos)).contiguous().numpy()


@torch.no_grad()
def sample_params(
    G: Generator,
    seeds: Sequence[int],
    num_frames: int = 16,
    w: torch.Tensor | None = None,
    batch_size: int = 64,
    device=None,
) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """(w [N, w_dim], parameters recovered from pixels: name -> [N]) for the videos of `seeds`.

    w replaces the content codes (e.g. edited ones); the motion is always that of each seed.
    """
    from .generate import seed_latents, video_frames

    seeds = list(seeds)
    dev = torch.device(device) if device is not None else G.const.device
    t = torch.arange(num_frames, dtype=torch.float64)
    ws, clips = [], []
    for k in range(0, len(seeds), batch_size):
        s = seeds[k : k + batch_size]
        z, mz = seed_latents(G, s, float(t[-1]), dev)
        wb = G.mapping(z) if w is None else w[k : k + batch_size].to(dev)
        x = video_frames(G, t, w=wb, motion_z=mz, chunk_size=num_frames, uint8=True)
        ws.append(wb.cpu())
        clips.append(_clips_uint8(x))
    return torch.cat(ws), clip_params(np.concatenate(clips))


def _check_names(names) -> list[str]:
    names = list(names)
    bad = [n for n in names if n not in PARAM_NAMES]
    if bad or not names:
        raise UsageError(f"names: {bad or names} not among the recovered parameters {PARAM_NAMES}")
    return names


def fit_directions(
    G: Generator,
    names: Sequence[str] = ("color_r", "size", "speed"),
    *,
    num_samples: int = 1024,
    num_frames: int = 16,
    seed: int = 0,
    ridges: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0),
    held_out: float = 0.2,
    device=None,
) -> dict[str, Direction]:
    """Fit a direction in w for each parameter in `names` (see the module docstring) from the
    videos of seeds seed, seed+1, ..., seed+num_samples-1, of `num_frames` frames each.

    ridges: candidate ridge weights, relative to the mean eigenvalue of the samples' w covariance;
    the one with the best 4-fold cross-validated R² on the fitting samples is used (with few
    samples per dimension of w a strong ridge is needed, with many a weak one). held_out: the
    share of samples kept out of the fit to measure its R².
    """
    names = _check_names(names)
    check_number("num_samples", num_samples, minimum=8, integer=True)
    check_number("num_frames", num_frames, minimum=4, integer=True)
    for r in ridges:
        check_number("ridges", r, above=0)
    check_number("held_out", held_out, above=0, maximum=0.5)
    w, params = sample_params(G, range(seed, seed + num_samples), num_frames, device=device)
    X = (w - G.w_avg.cpu()).double()  # [N, w_dim]
    n_fit = num_samples - max(2, int(round(held_out * num_samples)))
    Xf, Xh = X[:n_fit], X[n_fit:]
    out = {}
    for name in names:
        y = torch.from_numpy(params[name]).double()
        yf, yh = y[:n_fit], y[n_fit:]
        if float(yf.std()) < 1e-9:
            raise UsageError(f"fit_directions: {name} does not vary across the samples")
        folds = torch.arange(n_fit) % 4
        cv = [
            np.mean(
                [
                    _r2(*_ridge(Xf[folds != k], yf[folds != k], r), Xf[folds == k], yf[folds == k])
                    for k in range(4)
                ]
            )
            for r in ridges
        ]
        ridge = float(ridges[int(np.argmax(cv))])
        beta, x_mean, y_mean = _ridge(Xf, yf, ridge)
        r2 = _r2(beta, x_mean, y_mean, Xh, yh)
        u = beta / beta.norm().clamp_min(1e-30)
        sigma = ((Xf - x_mean) @ u).std()  # one standard deviation of the samples along u
        vec = (u * sigma).float()
        out[name] = Direction(name, vec, float(beta @ vec.double()), r2, num_samples, ridge)
    return out


def _ridge(X: torch.Tensor, y: torch.Tensor, ridge: float):
    """(β [D], x̄ [D], ȳ): ridge least squares y ≈ ȳ + β·(x − x̄), the ridge relative to the mean
    variance of x's coordinates."""
    x_mean, y_mean = X.mean(0), y.mean()
    Xc = X - x_mean
    cov = Xc.T @ Xc / len(X)  # [D, D]
    reg = ridge * cov.diagonal().mean() * torch.eye(X.shape[1], dtype=X.dtype)
    beta = torch.linalg.solve(cov + reg, Xc.T @ (y - y_mean) / len(X))
    return beta, x_mean, y_mean


def _r2(beta, x_mean, y_mean, X, y) -> float:
    """R² of the linear model on (X, y): 1 − residual / total sum of squares."""
    pred = y_mean + (X - x_mean) @ beta
    return float(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum().clamp_min(1e-12))


def random_direction(like: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """A random direction [w_dim] with the norm of `like` (the baseline for an edit)."""
    g = torch.Generator().manual_seed(int(seed))
    d = torch.randn(like.shape[-1], generator=g, dtype=torch.float32)
    return d / d.norm() * like.norm().cpu()


def measure_effect(
    G: Generator,
    vector: torch.Tensor,
    names: Sequence[str] | None = None,
    *,
    alphas: Sequence[float] = (-2, -1, 0, 1, 2),
    seeds: Sequence[int] = range(100_000, 100_032),
    num_frames: int = 16,
    device=None,
) -> dict:
    """What w + α·vector does to the recovered parameters of the videos of `seeds` (held out from
    the fit by default: `fit_directions` uses seeds from 0).

    Returns {"alphas", "mean": name -> mean parameter per α, "slope": name -> least-squares change
    of the parameter per unit α (all videos and α together)}.
    """
    from .generate import seed_latents

    names = _check_names(names if names is not None else PARAM_NAMES)
    check_shape(vector, [G.cfg.w_dim], "measure_effect: vector")
    seeds, alphas = list(seeds), [float(a) for a in alphas]
    z, _ = seed_latents(G, seeds, 0.0, G.const.device)
    with torch.no_grad():
        w = G.mapping(z).cpu()  # [S, w_dim]
    means = {n: [] for n in names}
    xs, ys = [], {n: [] for n in names}
    for a in alphas:
        _, p = sample_params(G, seeds, num_frames, w=w + a * vector.cpu()[None], device=device)
        for n in names:
            means[n].append(float(p[n].mean()))
            ys[n].append(p[n])
        xs.append(np.full(len(seeds), a))
    x = np.concatenate(xs)
    slope = {}
    for n in names:
        y = np.concatenate(ys[n])
        xc = x - x.mean()
        slope[n] = float((xc * (y - y.mean())).sum() / max((xc**2).sum(), 1e-12))
    return {"alphas": alphas, "mean": means, "slope": slope}


def edited_video(
    G: Generator,
    vector: torch.Tensor,
    alphas: Sequence[float],
    num_frames: int,
    *,
    seed: int = 0,
    w: torch.Tensor | None = None,
    motion_z: torch.Tensor | None = None,
    chunk_size: int = 128,
    uint8: bool = False,
) -> torch.Tensor:
    """Videos [len(alphas), T, C, H, W]: w + α·vector for each α, with one shared motion, made
    chunk by chunk (so T may be thousands of frames) by `svlib.generate.video_frames`.

    The content and motion are those of the video of `seed`, unless w [w_dim] (e.g. a projection's)
    and motion_z [L, z] are given.
    """
    from .generate import frame_times, seed_latents, video_frames

    check_shape(vector, [G.cfg.w_dim], "edited_video: vector")
    t = frame_times(num_frames)
    dev = G.const.device
    z, mz = seed_latents(G, [seed], float(t[-1]), dev)
    if w is None:
        with torch.no_grad():
            w = G.mapping(z)[0]
    if motion_z is not None:
        mz = motion_z.to(dev)[None]
    a = torch.as_tensor(list(alphas), dtype=torch.float32)[:, None].to(dev)  # [M, 1]
    ws = w.to(dev)[None] + a * vector.to(dev)[None]  # [M, w_dim]: applied once, for all frames
    mz = None if mz is None else mz.expand(len(ws), -1, -1)
    return video_frames(G, t, w=ws, motion_z=mz, chunk_size=chunk_size, uint8=uint8)


def param_track(videos: torch.Tensor, name: str, window: int = 16) -> np.ndarray:
    """A recovered parameter along long videos: uint8 [M, T, C, H, W] -> [M, T // window], the
    parameter of each run of `window` frames (speed needs a few frames, so not per frame)."""
    (name,) = _check_names([name])
    M, T = videos.shape[:2]
    n = T // window
    if n < 1:
        raise UsageError(f"param_track: videos of {T} frames are shorter than window={window}")
    clips = videos[:, : n * window].reshape(M * n, window, *videos.shape[2:])
    return clip_params(_clips_uint8(clips))[name].reshape(M, n)
