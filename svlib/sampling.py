"""Sparse clip sampling (paper §3.3; the official `random_frame_sampling`).

StyleGAN-V trains on very sparse clips: F (=3) frames per video whose total span T is a power of
two drawn uniformly from {d ∈ {1, 2, 4, ..., 2048} : F−1 <= d <= min(len−1, max_dist)}. The first
and last frame sit at the span's ends (o and o+T); the F−2 other frames are distinct random integer
offsets strictly inside. Real clips use an integer offset o; fake clips (`fractional=True`) use a
continuous offset, so t is real-valued while every gap between frames stays an integer — the
discriminator's time-gap embedding rounds gaps, and G must see non-integer t to become continuous
in time.

`SamplingConfig.mode="dense"` replaces this with F consecutive frames (every gap 1, span F−1,
`max_dist` unused): the dense clips the paper compares sparse training against.
"""

from __future__ import annotations

import numpy as np

from .config import SamplingConfig

POW2_SPANS = 2 ** np.arange(12)  # 1, 2, 4, ..., 2048: the candidate spans T
FRAC_STEPS = 1024  # resolution of fractional offsets (steps per frame)
SAMPLING_MODES = ("sparse", "dense")  # paper's sparse clips; F consecutive frames


def _check_mode(mode: str) -> None:
    if mode not in SAMPLING_MODES:
        raise ValueError(f"sampling mode must be one of {', '.join(SAMPLING_MODES)}, got {mode!r}")


def allowed_spans(
    length: int, num_frames: int = 3, max_dist: int = 32, mode: str = "sparse"
) -> np.ndarray:
    """Spans T (int64 [K]) the sampler may draw for a video of `length` frames.

    Sparse (the paper's): powers of two with F−1 <= T <= min(length−1, max_dist). If no power of
    two fits but a span does (e.g. F=4, length=4 needs T=3), falls back to the single span
    min(length−1, max_dist): every video with length >= F stays usable (a documented departure;
    never hit with the paper's F=3). mode="dense": the single span F−1 (consecutive frames;
    max_dist is not used).
    """
    _check_mode(mode)
    length, num_frames, max_dist = int(length), int(num_frames), int(max_dist)
    if num_frames < 2:
        raise ValueError(f"num_frames must be >= 2 (the two span ends), got {num_frames}")
    if length < num_frames:
        raise ValueError(f"video length {length} is shorter than num_frames={num_frames}")
    if mode == "dense":
        return np.array([num_frames - 1], dtype=np.int64)
    if max_dist < num_frames - 1:
        raise ValueError(f"max_dist={max_dist} cannot hold num_frames={num_frames} distinct frames")
    hi = min(length - 1, max_dist)
    spans = POW2_SPANS[(POW2_SPANS >= num_frames - 1) & (POW2_SPANS <= hi)]
    return spans if len(spans) else np.array([hi], dtype=np.int64)


def sample_clip_times(
    length: int,
    num_frames: int = 3,
    max_dist: int = 32,
    rng: np.random.Generator | None = None,
    fractional: bool = False,
    mode: str = "sparse",
) -> np.ndarray:
    """Times of one clip: float64 [F], sorted ascending, first at o and last at o+T.

    mode="sparse" (the paper's): T from `allowed_spans`, F−2 random frames inside the span.
    mode="dense": T = F−1 and t = o + [0, 1, ..., F−1], F consecutive frames.

    o is a uniform integer in [0, length−T−1] (`fractional=False`, real videos) or continuous
    uniform on [0, length−T−1] (`fractional=True`, fake videos; quantised to 1/1024 frame so gaps
    stay exact). Note the official upper bound length−T−1 (not length−T): the very last frame of a
    video is never the clip's end. With o <= length−T−1 every t lies in [0, length−1]. The gaps
    t[k+1]−t[k] are always positive integers.
    """
    rng = np.random.default_rng() if rng is None else rng
    spans = allowed_spans(length, num_frames, max_dist, mode)
    # dense: the span is fixed, nothing to draw
    T = int(spans[0]) if mode == "dense" else int(rng.choice(spans))
    hi = max(int(length) - T - 1, 0)  # largest offset; 0 when T = length−1
    # Fractional offsets are quantised to 1/1024 frame: then o + k is exact in float64 and (for
    # t < 16384) in float32, so every gap is *exactly* an integer, not 0.9999999.
    o = (
        np.floor(rng.uniform(0, hi) * FRAC_STEPS) / FRAC_STEPS
        if fractional
        else float(rng.integers(0, hi + 1))
    )
    if mode == "dense":
        return o + np.arange(num_frames, dtype=np.float64)  # [F], every gap 1
    inner = (
        rng.choice(np.arange(1, T), size=num_frames - 2, replace=False) if num_frames > 2 else []
    )
    rel = np.sort(np.concatenate([[0, T], np.asarray(inner, dtype=np.int64)])).astype(np.float64)
    return o + rel  # [F]


def sample_fake_times(
    batch_size: int,
    lengths,
    sampling: SamplingConfig,
    rng: np.random.Generator | None = None,
    return_indices: bool = False,
):
    """Times for a batch of generated clips: float32 [B, F] (fractional offsets, integer gaps).

    Each row uses the length min(len, max_num_frames) of a uniformly drawn dataset video, as the
    official training loop does; `lengths` is the dataset's per-video lengths (e.g.
    `dataset.lengths`). With `return_indices=True` also returns the drawn video indices int64 [B]
    (to fetch their labels).
    """
    rng = np.random.default_rng() if rng is None else rng
    lengths = np.minimum(np.asarray(lengths, dtype=np.int64).reshape(-1), sampling.max_num_frames)
    if len(lengths) == 0:
        raise ValueError("sample_fake_times: `lengths` is empty")
    idx = rng.integers(0, len(lengths), size=batch_size)
    t = (
        np.stack(
            [
                sample_clip_times(
                    lengths[i],
                    sampling.num_frames,
                    sampling.max_dist,
                    rng,
                    fractional=True,
                    mode=sampling.mode,
                )
                for i in idx
            ]
        ).astype(np.float32)
        if batch_size
        else np.zeros((0, sampling.num_frames), np.float32)
    )
    return (t, idx) if return_indices else t


def span_distribution(
    lengths,
    num_frames: int = 3,
    max_dist: int = 32,
    max_num_frames: int | None = None,
    mode: str = "sparse",
) -> dict[int, float]:
    """Exact probability of each span T when the video is drawn uniformly from `lengths`.

    `lengths` is an int or a list. For a histogram of the sampler (the book's figure): {T: P(T)},
    summing to 1.
    """
    lengths = np.atleast_1d(np.asarray(lengths, dtype=np.int64))
    if max_num_frames is not None:
        lengths = np.minimum(lengths, max_num_frames)
    probs: dict[int, float] = {}
    for L in lengths:
        spans = allowed_spans(L, num_frames, max_dist, mode)
        for T in spans:
            probs[int(T)] = probs.get(int(T), 0.0) + 1.0 / (len(spans) * len(lengths))
    return dict(sorted(probs.items()))
