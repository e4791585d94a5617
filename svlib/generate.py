"""Inference with a trained StyleGAN-V generator: arbitrarily long videos, any frame rate,
content/motion grids and content edits that keep the motion.

Every video is defined by a seed: one torch.Generator seeded with it draws z, then motion_z
(time-major, so a longer video only appends noise). The CLI, the metrics' generated clips, the
proxies' fixed videos and the training previews all draw and render their videos here. motion_z is
drawn once for the whole time range and frames are made in chunks of `chunk_size` timestamps under
no_grad, each chunk mapping only the window of noise it reads, so memory on the device depends on
the chunk, not on the video length (frames are collected on the CPU).
Timestamps are t = offset + arange(num_frames) / fps_factor.

Conditional models (c_dim > 0) need a label for every video: `c` (a vector [c_dim] for all videos,
or [N, c_dim]) or `class_index` K (the one-hot c of class K). Their truncation pulls w toward the
mean w *of that label* (`class_w_avg`: the mapping's output averaged over z with c fixed), not the
global w_avg, so a truncated class-K video stays a class-K video.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from .checks import (
    UsageError,
    check_device,
    check_number,
    check_writable_file,
    check_writable_folder,
)
from .config import MotionConfig
from .generator import Generator
from .utils import check_shape, quantize


def frame_times(num_frames: int, fps_factor: float = 1.0, offset: float = 0.0) -> torch.Tensor:
    """t = offset + arange(num_frames) / fps_factor, float64 so the division is exact.  # [T]"""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not fps_factor > 0:
        raise ValueError(f"fps_factor must be > 0, got {fps_factor}")
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (motion is defined for t >= 0), got {offset}")
    return offset + torch.arange(num_frames, dtype=torch.float64) / fps_factor


def _device_of(G) -> torch.device:
    return next(G.parameters()).device


def noise_window(cfg: MotionConfig, t: torch.Tensor) -> tuple[int, int]:
    """[start, stop) of the motion noise that v(t) reads for the times t (any shape).

    t reads the codes of its anchors floor(t/δz) and floor(t/δz)+1, each made from
    num_layers·(k-1)+1 consecutive noise vectors (the conv1d receptive field). `start` is the grid
    index of the window's first code, the `first_code` of `Generator.synthesis`. The anchor index
    uses the motion network's own float32 arithmetic, so a time on a cell boundary never falls
    outside the window.

    LSTM codes (`cfg.codes="lstm"`) depend on all earlier noise, so their window always starts at
    0: each chunk re-runs the LSTM from the first grid point (exact, at a cost that grows with the
    chunk's position in the video).
    """
    anchor = torch.floor(t.float() / cfg.grid_spacing)  # left anchor index per time
    if cfg.codes == "lstm":
        return 0, int(anchor.max()) + 2
    receptive_field = cfg.num_layers * (cfg.kernel_size - 1) + 1
    return int(anchor.min()), int(anchor.max()) + 1 + receptive_field


CLASS_W_AVG_SAMPLES = 10_000  # z draws behind a per-class truncation centre (~1% of w's spread)


def class_label(G: Generator, class_index: int, n: int = 1) -> torch.Tensor:
    """The one-hot label of class `class_index` for n videos: float32 [n, c_dim] on the CPU.

    A class outside [0, c_dim), or a generator without labels, is a UsageError naming --class."""
    c_dim = G.cfg.c_dim
    check_number("class_index (--class)", class_index, minimum=0, integer=True)
    if c_dim == 0:
        raise UsageError(
            f"--class {class_index}: this generator is unconditional (c_dim=0); drop --class"
        )
    if class_index >= c_dim:
        raise UsageError(
            f"--class {class_index} is outside [0, {c_dim}): the model has {c_dim} classes"
        )
    return torch.eye(c_dim)[class_index].expand(n, -1).clone()


def _check_labels(G: Generator, c, n: int, device) -> torch.Tensor | None:
    """c as [n, c_dim] on `device` (a [c_dim] vector is used for every video), or None for an
    unconditional G; a conditional G without c is a UsageError."""
    c_dim = G.cfg.c_dim
    if c_dim == 0:
        if c is not None:
            raise UsageError("c: this generator is unconditional (c_dim=0); give no label")
        return None
    if c is None:
        raise UsageError(
            f"this generator is conditional (c_dim={c_dim}): give a label, class_index=K "
            f"(--class K, 0 <= K < {c_dim}) or c [c_dim]"
        )
    c = torch.as_tensor(c, dtype=torch.float32).to(device)
    if c.ndim == 1:
        c = c[None].expand(n, -1)
    check_shape(c, [n, c_dim], "c")
    return c


def _one_label(c) -> torch.Tensor | None:
    """One label [c_dim] from c given as [c_dim] or [1, c_dim] (None stays None)."""
    return None if c is None else torch.as_tensor(c, dtype=torch.float32).reshape(-1)


@torch.no_grad()
def class_w_avg(
    G: Generator, c: torch.Tensor, num_samples: int = CLASS_W_AVG_SAMPLES, seed: int = 0
) -> torch.Tensor:
    """The truncation centre of label c: mean over z ~ N(0, I) of mapping(z, c).  # [w_dim]

    For a one-hot c of class K this is the w_avg that class K alone would have had in training.
    The z draws come from `seed` (the same for every label), so the centre is a fixed function of
    G and c."""
    c = torch.as_tensor(c, dtype=torch.float32).reshape(-1)
    check_shape(c, [G.cfg.c_dim], "c")
    dev = _device_of(G)
    z = torch.randn(num_samples, G.cfg.z_dim, generator=torch.Generator().manual_seed(seed))
    total = torch.zeros(G.cfg.w_dim, dtype=torch.float64, device=dev)
    for zb in z.split(4096):  # [<=4096, z_dim]
        cb = c.to(dev)[None].expand(len(zb), -1)
        total += G.mapping(zb.to(dev), cb).double().sum(0)
    return (total / num_samples).float()


def map_latents(
    G: Generator, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0
) -> torch.Tensor:
    """w [N, w_dim] for z [N, z_dim] (and labels c [N, c_dim] of a conditional G), truncated by ψ.

    Unconditional: toward G's w_avg. Conditional: each w toward the mean w of its own label
    (`class_w_avg`), w' = centre + ψ (w − centre)."""
    if c is None or truncation_psi == 1:
        return G.mapping(z, c, truncation_psi=truncation_psi)
    w = G.mapping(z, c)
    rows, which = torch.unique(c, dim=0, return_inverse=True)  # [U, c_dim], [N]
    centres = torch.stack([class_w_avg(G, r) for r in rows]).to(w)  # [U, w_dim]
    return centres[which].lerp(w, truncation_psi)


def seed_latents(G: Generator, seeds: Sequence[int], t_max: float, device=None):
    """(z [N, z_dim], motion_z [N, L, z] or None) for video seeds: per seed, z then motion_z from
    one generator.

    A video depends only on its own seed (not on the other videos in the batch) and, thanks to the
    time-major motion draw, a larger t_max only extends motion_z.
    """
    device = torch.device(device) if device is not None else _device_of(G)
    zs, mzs = [], []
    for s in seeds:
        g = torch.Generator().manual_seed(int(s))
        zs.append(torch.randn(1, G.cfg.z_dim, generator=g))
        mzs.append(G.sample_motion_z(1, t_max, generator=g, device="cpu"))
    z = torch.cat(zs).to(device)
    mz = None if G.cfg.motion is None else torch.cat(mzs).to(device)
    return z, mz


@torch.no_grad()
def iter_chunks(
    G: Generator,
    w: torch.Tensor,
    t: torch.Tensor,
    motion_z: torch.Tensor | None = None,
    c: torch.Tensor | None = None,
    chunk_size: int = 128,
    progress: bool = False,
) -> Iterator[torch.Tensor]:
    """Yields frames [N, chunk, C, H, W] (on G's device) for consecutive chunks of the timestamps t
    [T] or [N, T]."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    N = w.shape[0]
    t = t.to(w.device)
    t = (t[None].expand(N, -1) if t.ndim == 1 else t).float()
    starts = range(0, t.shape[1], chunk_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, desc="frames", unit="chunk")
    if G.cfg.motion is not None and motion_z is None:
        # once: every chunk must read the same motion
        motion_z = G.sample_motion_z(N, float(t.max()))
    for s in starts:
        tc = t[:, s : s + chunk_size]  # [N, chunk]
        if G.cfg.motion is None:
            yield G.synthesis(w, tc, c=c)
            continue
        # Only the noise this chunk reads: mapping the whole sequence per chunk would make a long
        # video cost O(length²).
        start, stop = noise_window(G.cfg.motion, tc)
        window = motion_z[:, start:stop]  # [N, stop - start, z]
        yield G.synthesis(w, tc, motion_z=window, c=c, first_code=start)


@torch.no_grad()
def video_frames(
    G: Generator,
    t,
    *,
    seeds: Sequence[int] | None = None,
    z: torch.Tensor | None = None,
    motion_z: torch.Tensor | None = None,
    w: torch.Tensor | None = None,
    c: torch.Tensor | None = None,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    device=None,
    progress: bool = False,
    uint8: bool = False,
) -> torch.Tensor:
    """Frames [N, T, C, H, W] of N videos at the times t [T] (float in ~[-1, 1] on the CPU, or
    uint8).

    Video i is the video of seeds[i]; z / motion_z (or w, which bypasses the mapping) replace the
    latents of that draw, so fixed latents (the training previews) need no seeds. A conditional G
    needs c: [c_dim] for every video or [N, c_dim]; truncation then pulls toward each label's mean.
    """
    G, device = _prepare(G, device)
    t = torch.as_tensor(t, dtype=torch.float64)
    check_shape(t, ["T"], "t")
    if (w is None and z is None) or (motion_z is None and G.cfg.motion is not None):
        if seeds is None:
            raise ValueError("seeds: needed to draw the latents that z / motion_z / w do not give")
        z0, mz0 = seed_latents(G, seeds, float(t.max()), device)
        z = z0 if z is None else z
        motion_z = mz0 if motion_z is None else motion_z
    motion_z = None if motion_z is None else motion_z.to(device)
    c = _check_labels(G, c, (w if w is not None else z).shape[0], device)
    if w is None:
        w = map_latents(G, z.to(device), c, truncation_psi)
    return _collect(G, w.to(device), t, motion_z, c, chunk_size, progress, uint8)


def _collect(G, w, t, motion_z, c, chunk_size, progress, uint8) -> torch.Tensor:
    out = []
    for x in iter_chunks(G, w, t, motion_z, c, chunk_size, progress):
        out.append((quantize(x) if uint8 else x).cpu())
    return torch.cat(out, dim=1)  # [N, T, C, H, W]


def _prepare(G, device):
    if device is not None:
        G = G.to(device)
    return G, _device_of(G)


@torch.no_grad()
def generate_frames(
    G: Generator,
    num_frames: int,
    *,
    fps_factor: float = 1.0,
    offset: float = 0.0,
    seed: int = 0,
    num_videos: int = 1,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    c: torch.Tensor | None = None,
    class_index: int | None = None,
    z: torch.Tensor | None = None,
    motion_z: torch.Tensor | None = None,
    w: torch.Tensor | None = None,
    device=None,
    progress: bool = False,
    uint8: bool = False,
) -> torch.Tensor:
    """Videos [N, T, C, H, W] (float in ~[-1, 1] on the CPU, or uint8 with uint8=True).

    Video i uses seed + i unless z / motion_z (or w, which bypasses the mapping) are given. Frame k
    is at time offset + k / fps_factor; fps_factor=k gives k× the training frame rate (G was trained
    on fractional t). A conditional G takes `class_index` K (every video of class K, truncated
    toward class K's mean w) or labels `c` ([c_dim] or [N, c_dim]).
    """
    n = w.shape[0] if w is not None else (z.shape[0] if z is not None else num_videos)
    if class_index is not None:
        if c is not None:
            raise UsageError("give class_index or c, not both")
        c = class_label(G, class_index, n)
    return video_frames(
        G,
        frame_times(num_frames, fps_factor, offset),
        seeds=range(seed, seed + n),
        z=z,
        motion_z=motion_z,
        w=w,
        c=c,
        truncation_psi=truncation_psi,
        chunk_size=chunk_size,
        device=device,
        progress=progress,
        uint8=uint8,
    )


@torch.no_grad()
def content_motion_grid(
    G: Generator,
    num_frames: int,
    *,
    content_seeds: Sequence[int],
    motion_seeds: Sequence[int],
    fps_factor: float = 1.0,
    offset: float = 0.0,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    c: torch.Tensor | None = None,
    device=None,
    progress: bool = False,
    uint8: bool = False,
) -> torch.Tensor:
    """Grid [R, K, T, C, H, W]: row r has the motion of video motion_seeds[r], column j the content
    (z) of content_seeds[j]. Cell (r, j) with motion_seeds[r] == content_seeds[j] == s is exactly
    the video of seed s. c: one label [c_dim] or [1, c_dim] for the whole grid.
    """
    G, device = _prepare(G, device)
    t = frame_times(num_frames, fps_factor, offset)
    R, K = len(motion_seeds), len(content_seeds)
    z, _ = seed_latents(G, content_seeds, float(t[-1]), device)  # [K, z_dim]
    _, mz = seed_latents(G, motion_seeds, float(t[-1]), device)  # [R, L, z]
    cc = _check_labels(G, _one_label(c), R * K, device)  # [R·K, c_dim] or None
    w = map_latents(G, z, None if cc is None else cc[:K], truncation_psi)  # [K, w_dim]
    w = w.repeat(R, 1)  # [R·K, w_dim], row-major: cell (r, j) -> r·K + j
    mz = None if mz is None else mz.repeat_interleave(K, dim=0)  # [R·K, L, z]
    out = _collect(G, w, t, mz, cc, chunk_size, progress, uint8)
    return out.reshape(R, K, *out.shape[1:])


@torch.no_grad()
def interpolate_content(
    G: Generator,
    num_frames: int,
    *,
    seed_a: int,
    seed_b: int,
    lambdas: Sequence[float],
    motion_seed: int | None = None,
    fps_factor: float = 1.0,
    offset: float = 0.0,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    c: torch.Tensor | None = None,
    device=None,
    progress: bool = False,
    uint8: bool = False,
) -> torch.Tensor:
    """Videos [len(lambdas), T, C, H, W] with w = lerp(w_a, w_b, λ) and one shared motion (of
    motion_seed, default seed_a): the content morphs while the motion stays, over a video of any
    length."""
    G, device = _prepare(G, device)
    t = frame_times(num_frames, fps_factor, offset)
    z, _ = seed_latents(G, [seed_a, seed_b], float(t[-1]), device)
    cc = _check_labels(G, _one_label(c), 1, device)  # [1, c_dim] or None
    w = map_latents(G, z, None if cc is None else cc.expand(2, -1), truncation_psi)  # [2, w_dim]
    lam = torch.as_tensor(list(lambdas), dtype=w.dtype, device=device)[:, None]  # [M, 1]
    w = w[:1] + lam * (w[1:] - w[:1])  # [M, w_dim]
    return _with_motion(
        G,
        w,
        t,
        motion_seed if motion_seed is not None else seed_a,
        cc,
        chunk_size,
        progress,
        uint8,
        device,
    )


@torch.no_grad()
def edit_content(
    G: Generator,
    num_frames: int,
    *,
    seed: int,
    direction: torch.Tensor,
    strengths: Sequence[float],
    fps_factor: float = 1.0,
    offset: float = 0.0,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    c: torch.Tensor | None = None,
    device=None,
    progress: bool = False,
    uint8: bool = False,
) -> torch.Tensor:
    """Videos [len(strengths), T, C, H, W]: w = w_seed + s · direction (direction [w_dim]), the
    seed's motion."""
    G, device = _prepare(G, device)
    check_shape(direction, [G.cfg.w_dim], "direction")
    t = frame_times(num_frames, fps_factor, offset)
    z, _ = seed_latents(G, [seed], float(t[-1]), device)
    cc = _check_labels(G, _one_label(c), 1, device)  # [1, c_dim] or None
    w = map_latents(G, z, cc, truncation_psi)  # [1, w_dim]
    s = torch.as_tensor(list(strengths), dtype=w.dtype, device=device)[:, None]
    w = w + s * direction.to(device, w.dtype)[None]  # [M, w_dim]
    return _with_motion(G, w, t, seed, cc, chunk_size, progress, uint8, device)


def _with_motion(G, w, t, motion_seed, cc, chunk_size, progress, uint8, device):
    M = w.shape[0]
    _, mz = seed_latents(G, [motion_seed], float(t[-1]), device)
    mz = None if mz is None else mz.expand(M, -1, -1)
    cc = None if cc is None else cc.expand(M, -1)
    return _collect(G, w, t, mz, cc, chunk_size, progress, uint8)


def upsample_fps(
    G: Generator, num_frames: int, factor: int, *, fps_factor: float = 1.0, **kw
) -> torch.Tensor:
    """The video of `generate_frames(G, num_frames, fps_factor=fps_factor, **kw)` at `factor`× the
    frame rate: [N, num_frames·factor, C, H, W], whose frames factor·k are the original frames k
    (same seeds, same motion)."""
    if int(factor) != factor or factor < 1:
        raise ValueError(f"factor must be a positive integer, got {factor}")
    return generate_frames(G, num_frames * int(factor), fps_factor=fps_factor * factor, **kw)


@torch.no_grad()
def iter_video(
    G: Generator,
    num_frames: int,
    *,
    fps_factor: float = 1.0,
    offset: float = 0.0,
    seed: int = 0,
    num_videos: int = 1,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    progress: bool = False,
    c: torch.Tensor | None = None,
    class_index: int | None = None,
) -> Iterator[torch.Tensor]:
    """The streaming form of `generate_frames`: chunks [N, chunk, C, H, W] on G's device, memory
    flat in num_frames.

    Not a generator function: bad arguments raise here, before a caller opens its output."""
    t = frame_times(num_frames, fps_factor, offset)
    if class_index is not None:
        if c is not None:
            raise UsageError("give class_index or c, not both")
        c = class_label(G, class_index, num_videos)
    c = _check_labels(G, c, num_videos, _device_of(G))
    z, mz = seed_latents(G, range(seed, seed + num_videos), float(t[-1]))
    with torch.no_grad():
        w = map_latents(G, z, c, truncation_psi)
    return iter_chunks(G, w, t, mz, c=c, chunk_size=chunk_size, progress=progress)


def generate_to_file(
    ckpt,
    out,
    *,
    seconds: float = 4.0,
    fps: float = 25.0,
    data_fps: float | None = None,
    offset: float = 0.0,
    seed: int = 0,
    num_videos: int = 1,
    truncation_psi: float = 1.0,
    chunk_size: int = 128,
    device=None,
    progress: bool = True,
    class_index: int | None = None,
):
    """Generate `seconds` of video from a checkpoint into an h264 .mp4 (or a folder of PNG frames).

    The output plays at `fps`; one second covers `data_fps` training frames (default: = fps), so fps
    > data_fps samples between training frames (frame-rate upsampling). Frames are produced and
    encoded chunk by chunk (`VideoWriter`), so memory stays flat for videos of any length.
    `num_videos` videos (seeds seed, seed+1, ...) are tiled into one grid. `ckpt` may be a run
    folder (its newest readable checkpoint). A conditional model needs `class_index` (--class K):
    every video is of class K, truncated toward class K's mean w. Returns the output path.

    Every argument and the destination are checked before the checkpoint is loaded; a bad one
    raises `UsageError` (a ValueError) naming it.
    """
    from .checkpoint import load_generator
    from .utils import default_device
    from .video_io import VideoWriter, write_frames
    from .viz import video_grid

    out, to_file = _check_output(out)
    n = _check_generate_args(seconds, fps, data_fps, offset, seed, num_videos, truncation_psi)
    check_number("chunk_size (--chunk)", chunk_size, minimum=1, integer=True)
    if class_index is not None:
        check_number("class_index (--class)", class_index, minimum=0, integer=True)
    G, _ = load_generator(ckpt, device=check_device(device) or default_device())
    if G.cfg.c_dim > 0 and class_index is None:
        raise UsageError(
            f"--ckpt {ckpt} is a conditional model (c_dim={G.cfg.c_dim}): pass --class K with "
            f"0 <= K < {G.cfg.c_dim}"
        )
    chunks = iter_video(
        G,
        n,
        fps_factor=fps / (data_fps or fps),
        offset=offset,
        seed=seed,
        num_videos=num_videos,
        truncation_psi=truncation_psi,
        chunk_size=chunk_size,
        progress=progress,
        class_index=class_index,
    )
    writer = VideoWriter(out, fps=fps) if to_file else None
    done = 0
    try:
        for x in chunks:  # [N, chunk, C, H, W]
            frames = video_grid(x.cpu())  # [chunk, H', W', 3]
            if writer is not None:
                writer.write(frames)
            else:
                write_frames(out, frames, start=done)
            done += len(frames)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return writer.close() if writer is not None else out


VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi")


def _check_output(out) -> tuple[Path, bool]:
    """(path, is a video file): a video suffix, or no suffix for a folder of PNG frames."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        return check_writable_file(out, "--out"), True
    if suffix and not out.is_dir():
        raise UsageError(
            f"--out {out}: {suffix} is not a video format svlib writes; use "
            f"{'/'.join(VIDEO_SUFFIXES)}, or a folder name for PNG frames"
        )
    if out.is_dir() and any(out.glob("*.png")):
        raise UsageError(f"--out {out} already holds PNG frames; choose an empty or new folder")
    return check_writable_folder(out, "--out"), False


def _check_generate_args(seconds, fps, data_fps, offset, seed, num_videos, truncation_psi) -> int:
    """The number of frames the arguments give, after checking each of them."""
    check_number("seconds (--seconds)", seconds, above=0)
    check_number("fps (--fps)", fps, above=0)
    if data_fps is not None:
        check_number("data_fps (--data-fps)", data_fps, above=0)
    check_number("offset (--offset)", offset, minimum=0)
    check_number("seed (--seed)", seed, minimum=-(2**63), maximum=2**63 - 1, integer=True)
    check_number("num_videos (--num-videos)", num_videos, minimum=1, integer=True)
    check_number("truncation_psi (--truncation)", truncation_psi)
    n = int(round(seconds * fps))
    if n < 1:
        raise UsageError(f"--seconds {seconds} at --fps {fps} gives no frames; ask for more")
    return n
