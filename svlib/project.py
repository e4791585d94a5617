"""Projection (GAN inversion): the latents of a trained generator that reproduce a given image or
video clip.

A StyleGAN-V video is G(w, ζ, t): one content code w for all frames, the motion noise ζ on the
time grid, and the frame times t. `project` finds them for a target by gradient descent on

    L = MSE(x, y) + MSE(pool₂ x, pool₂ y) + MSE(pool₄ x, pool₄ y) + λ · R(ζ)

where pool_k is k×k average pooling (the coarse terms keep the optimiser's attention on layout and
colour when fine detail cannot be matched yet) and R is a whiteness penalty on the motion noise: ζ
was drawn as white Gaussian noise, and without R the optimiser can hide a slow signal in it
(correlated "noise" that G never saw in training), which reconstructs the clip but extends badly.
R sums the squared lag-1 autocorrelation of ζ along time at several octaves (ζ averaged over pairs
of grid steps, again and again), the 1-D analogue of StyleGAN2's noise-map regulariser; after every
step ζ is renormalised to zero mean and unit variance.

An image is projected with w only (ζ stays the seeded draw, t = 0); a clip also optimises ζ. The
optimisation starts from the best (lowest loss) of w̄ and `starts - 1` seeded samples of w, with an
Adam learning rate that ramps up, then down (cosine), and Gaussian jitter on w that fades out, so
early steps explore before the last ones settle.

`project_to_files` is the command line's `project`: it writes the latents (`projection.pt`, read
back by `load_projection`), the target next to its reconstruction, and the PSNR per frame.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .checks import UsageError, check_number, check_writable_folder, write_atomic, write_text_atomic
from .generator import Generator
from .utils import check_shape, quantize

FORMAT = "svlib-projection"
FORMAT_VERSION = 1
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mov", ".mkv", ".m4v", ".gif")


@dataclass
class Projection:
    """The latents found for one target, and how well they reproduce it.

    w [w_dim]: the content code; motion_z [L, motion z_dim] (None for an image generator): the
    motion noise on the grid, covering every t up to t[-1]; t [F] float64: the frame times the
    target's frames were matched at. psnr: per frame, in dB on uint8 frames.
    """

    w: torch.Tensor
    motion_z: torch.Tensor | None
    t: torch.Tensor
    psnr: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # per step, for plots
    meta: dict = field(default_factory=dict)  # steps, starts, target, checkpoint, ...

    @property
    def mean_psnr(self) -> float:
        return float(np.mean(self.psnr)) if self.psnr else float("nan")

    def state_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "w": self.w.detach().cpu(),
            "motion_z": None if self.motion_z is None else self.motion_z.detach().cpu(),
            "t": self.t.detach().cpu().double(),
            "psnr": [float(p) for p in self.psnr],
            "loss": [float(v) for v in self.loss],
            "meta": dict(self.meta),
        }

    def save(self, path) -> Path:
        """Write the projection atomically as a weights-only torch file."""
        return write_atomic(path, lambda f: torch.save(self.state_dict(), f))


def load_projection(path) -> Projection:
    """A `Projection` written by `Projection.save` (or the `project` command's projection.pt)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"projection file not found: {path}")
    try:
        d = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(
            f"cannot read projection {path} ({type(e).__name__}: truncated or not a torch file)"
        ) from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise UsageError(f"{path} is not an svlib projection (no '{FORMAT}' format tag)")
    if d.get("format_version", 0) > FORMAT_VERSION:
        raise UsageError(f"{path} has projection format {d['format_version']}; upgrade svlib")
    return Projection(
        d["w"], d["motion_z"], d["t"], d.get("psnr", []), d.get("loss", []), d.get("meta", {})
    )


# --------------------------------------------------------------------------------- measurements
def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per frame between frames [..., C, H, W] in [-1, 1], on their uint8 values.

    Capped at 100 dB, so identical frames give a finite number (JSON has no inf). # [...]
    """
    a, b = quantize(x).float(), quantize(y).float()
    mse = (a - b).square().mean(dim=(-3, -2, -1)).clamp_min(255.0**2 * 1e-10)
    return 10 * torch.log10(255.0**2 / mse)


def reconstruction_loss(x: torch.Tensor, y: torch.Tensor, scales=(1, 2, 4)) -> torch.Tensor:
    """Σ_k MSE(pool_k x, pool_k y) over the scales k, per video: x, y [B, F, C, H, W] -> [B]."""
    B = x.shape[0]
    xf, yf = x.flatten(0, 1), y.flatten(0, 1)  # [B·F, C, H, W]
    total = x.new_zeros(B)
    for k in scales:
        if k > 1 and k <= xf.shape[-1]:
            a, b = F.avg_pool2d(xf, k), F.avg_pool2d(yf, k)
        elif k == 1:
            a, b = xf, yf
        else:
            continue
        total = total + (a - b).square().reshape(B, -1).mean(1)
    return total


def motion_noise_penalty(motion_z: torch.Tensor, min_length: int = 4) -> torch.Tensor:
    """Whiteness penalty R(ζ) per video: motion_z [B, L, z] -> [B].

    Σ over octaves of (mean_{l,c} ζ[l]·ζ[l+1])², then ζ is averaged over pairs of grid steps (×√2
    keeps white noise at unit variance) until fewer than `min_length` steps are left. 0 in
    expectation... up to the sampling error of white noise, large for noise with a slow trend.
    """
    z, total = motion_z, motion_z.new_zeros(motion_z.shape[0])
    while z.shape[1] >= min_length:
        total = total + (z[:, 1:] * z[:, :-1]).mean(dim=(1, 2)).square()
        L = z.shape[1] // 2 * 2
        z = z[:, :L].reshape(z.shape[0], L // 2, 2, z.shape[2]).mean(2) * math.sqrt(2)
    return total


def _normalise(z: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per video: [B, L, c]."""
    mu = z.mean(dim=(1, 2), keepdim=True)
    return (z - mu) / (z - mu).square().mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-8)


def _schedule(p: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """Learning-rate factor at progress p ∈ [0, 1]: linear warm-up, cosine cool-down."""
    down = 0.5 - 0.5 * math.cos(math.pi * min(1.0, (1.0 - p) / rampdown))
    return down * min(1.0, p / rampup)


@torch.no_grad()
def w_statistics(G: Generator, num: int = 2048, seed: int = 0) -> tuple[torch.Tensor, float]:
    """(w̄ [w_dim], RMS per coordinate of w − w̄) from `num` seeded samples of the mapping."""
    dev = G.const.device
    z = torch.randn(num, G.z_dim, generator=torch.Generator().manual_seed(seed)).to(dev)
    w = G.mapping(z)  # [num, w_dim]
    w_avg = G.w_avg.detach().clone()
    return w_avg, float((w - w_avg).square().mean().sqrt())


# ----------------------------------------------------------------------------------- projection
def project(
    G: Generator,
    target: torch.Tensor,
    *,
    t=None,
    steps: int = 300,
    starts: int = 8,
    optimize_motion: bool | None = None,
    lr: float = 0.5,
    motion_lr: float = 0.2,
    noise_reg: float = 10.0,
    w_jitter: float = 0.5,
    seed: int = 0,
    progress: bool = False,
) -> Projection:
    """Latents that make G reproduce `target`: frames [F, C, H, W] (or one image [C, H, W]) in
    [-1, 1] at G's resolution.

    t: the frame times [F] (default 0, 1, ..., F-1: the target plays at the training frame rate).
    steps: Adam steps; starts: candidates for the first w (w̄ and starts-1 seeded samples), the one
    with the lowest loss is optimised. lr, motion_lr: peak Adam learning rates of w and of the
    motion noise (w's coordinates spread by about 1 around w̄: large early steps pay off, the
    cosine cool-down settles them). optimize_motion: also fit the motion noise (default: for
    clips of 2+ frames, not for one image). noise_reg: weight λ of the whiteness penalty on the
    motion noise. w_jitter: Gaussian noise on w at the start (in units of w's per-coordinate
    spread), fading out by 75% of the steps. seed: draws the samples, the initial motion noise and
    the jitter. Runs on G's device; G's weights are not changed.
    """
    check_number("steps", steps, minimum=0, integer=True)
    check_number("starts", starts, minimum=1, integer=True)
    for name, v in (("lr", lr), ("motion_lr", motion_lr)):
        check_number(name, v, above=0)
    for name, v in (("noise_reg", noise_reg), ("w_jitter", w_jitter)):
        check_number(name, v, minimum=0)
    dev = G.const.device
    y = torch.as_tensor(target).float().to(dev)
    y = y[None] if y.ndim == 3 else y  # [F, C, H, W]
    res, C = G.cfg.resolution, G.cfg.img_channels
    check_shape(y, ["F", C, res, res], "project: target")
    Fn = y.shape[0]
    t = torch.arange(Fn, dtype=torch.float64) if t is None else torch.as_tensor(t).double().cpu()
    check_shape(t, [Fn], "project: t")
    if optimize_motion is None:
        optimize_motion = Fn > 1
    has_motion = G.cfg.motion is not None
    optimize_motion = bool(optimize_motion) and has_motion

    from .generate import seed_latents

    # the first motion noise is that of the video of `seed` (all of it for an image: the still is
    # placed at t = 0 of that video)
    mz = seed_latents(G, [int(seed)], float(t.max()), dev)[1]  # [1, L, z] or None
    gen = torch.Generator().manual_seed(int(seed) + 1)  # the samples among the starts
    w_avg, w_spread = w_statistics(G, seed=int(seed))
    y5, tt = y[None], t[None].float().to(dev)  # [1, F, C, H, W], [1, F]

    with torch.no_grad():  # the best start: w̄ first, then seeded samples of w
        z = torch.randn(max(starts - 1, 0), G.z_dim, generator=gen).to(dev)
        cands = torch.cat([w_avg[None], G.mapping(z)]) if starts > 1 else w_avg[None]
        init = torch.stack(
            [
                reconstruction_loss(G.synthesis(c[None], tt, motion_z=mz), y5)[0]
                for c in cands  # one at a time: memory of one clip, whatever `starts`
            ]
        )
        best = int(init.argmin())
    w = cands[best].clone()[None].requires_grad_(True)  # [1, w_dim]
    params = [{"params": [w], "lr": lr}]
    if optimize_motion:
        mz = mz.clone().requires_grad_(True)
        params.append({"params": [mz], "lr": motion_lr})
    opt = torch.optim.Adam(params, betas=(0.9, 0.999))
    base_lrs = [g["lr"] for g in opt.param_groups]
    jitter_gen = torch.Generator(device="cpu").manual_seed(int(seed) + 2)

    history = []
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="project", unit="step")
    for i in it:
        p = i / max(steps, 1)
        for g, base in zip(opt.param_groups, base_lrs):
            g["lr"] = base * _schedule(p)
        fade = max(0.0, 1.0 - p / 0.75) ** 2
        jitter = torch.randn(w.shape, generator=jitter_gen).to(dev) * (w_jitter * w_spread * fade)
        x = G.synthesis(w + jitter, tt, motion_z=mz)  # [1, F, C, H, W]
        loss = reconstruction_loss(x, y5)[0]
        total = loss + noise_reg * motion_noise_penalty(mz)[0] if optimize_motion else loss
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if optimize_motion:
            with torch.no_grad():
                mz.copy_(_normalise(mz))
        history.append(loss.item())
        if progress and i % 10 == 0:
            it.set_postfix(loss=f"{history[-1]:.4f}")

    w = w.detach()[0]
    mz = None if mz is None else mz.detach()[0]
    with torch.no_grad():
        x = G.synthesis(w[None], tt, motion_z=None if mz is None else mz[None])[0]
    meta = dict(
        steps=int(steps),
        starts=int(starts),
        start="w_avg" if best == 0 else f"sample {best}",
        optimize_motion=optimize_motion,
        noise_reg=float(noise_reg),
        seed=int(seed),
    )
    return Projection(
        w.cpu(), None if mz is None else mz.cpu(), t, psnr(x, y).cpu().tolist(), history, meta
    )


# --------------------------------------------------------------------------------- using results
def extend_motion_z(G: Generator, motion_z: torch.Tensor, t_max: float, seed: int = 0):
    """motion_z [L, z] lengthened with fresh seeded noise so that it covers every t up to t_max.

    The grid steps it already has are kept, so frames at the projected times stay the same; what
    comes after is new motion (a different `seed`, a different continuation).
    """
    need = _motion_length(G, t_max)
    if motion_z.shape[0] >= need:
        return motion_z
    g = torch.Generator().manual_seed(int(seed))
    extra = torch.randn(need - motion_z.shape[0], motion_z.shape[1], generator=g)
    return torch.cat([motion_z, extra.to(motion_z.device, motion_z.dtype)])  # [need, z]


def _motion_length(G: Generator, t_max: float) -> int:
    from .motion import motion_z_length

    return motion_z_length(G.cfg.motion, float(t_max))


@torch.no_grad()
def render_projection(
    G: Generator,
    proj: Projection,
    t=None,
    *,
    motion_seed: int | None = None,
    extend_seed: int = 0,
    chunk_size: int = 128,
    uint8: bool = False,
) -> torch.Tensor:
    """Frames [T, C, H, W] of a projection at the times t (default: its own times).

    Times past the projected clip read motion noise appended by `extend_motion_z` (seed
    `extend_seed`): the video continues beyond its last projected frame. motion_seed replaces the
    motion noise with the one of that seed's video (a projected still image animated with another
    motion). Generated in chunks (`svlib.generate.video_frames`), so t may hold thousands of times.
    """
    from .generate import seed_latents, video_frames

    t = proj.t if t is None else torch.as_tensor(t, dtype=torch.float64)
    dev = G.const.device
    mz = proj.motion_z
    if G.cfg.motion is not None:
        if motion_seed is not None:
            mz = seed_latents(G, [motion_seed], float(t.max()), "cpu")[1][0]
        elif mz is None:
            raise UsageError("projection has no motion noise but the generator has a motion path")
        mz = extend_motion_z(G, mz, float(t.max()), extend_seed)[None].to(dev)
    w = proj.w.to(dev)[None]
    out = video_frames(G, t, w=w, motion_z=mz, chunk_size=chunk_size, uint8=uint8)
    return out[0]


# ------------------------------------------------------------------------------------ the files
def read_target(path, resolution: int, *, frames: int | None = None, start: int = 0):
    """(frames uint8 [F, H, W, 3] at resolution², note or None) from an image or a video file.

    A target of another size is resized (short side, Lanczos) and centre-cropped; the note says
    so. `frames`: at most this many frames of a video, from frame `start`.
    """
    path = check_target(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _read_image(path, resolution)
    from .video_io import iter_frames, video_info

    try:
        info = video_info(path)
        out = []
        for k, f in enumerate(iter_frames(path, resolution=resolution)):
            if k >= start:
                out.append(f)
            if frames is not None and len(out) >= frames:
                break  # the decoder is stopped: a long video costs only the frames used
    except (ValueError, RuntimeError) as e:
        raise UsageError(f"--target {path}: cannot read the video ({_short(e)})") from None
    if not out:
        raise UsageError(f"--target {path}: no frames from frame {start} on")
    size = (info["width"], info["height"])
    return np.stack(out), _resize_note(path, size, resolution)


def check_target(path) -> Path:
    """`path` as a Path when it is an existing image or video file (by its suffix)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"--target {path}: file not found")
    if not path.is_file():
        raise UsageError(f"--target {path}: not a file (give an image or a video)")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES + VIDEO_SUFFIXES:
        raise UsageError(
            f"--target {path}: unknown type {suffix or '(no suffix)'}; give an image "
            f"({'/'.join(IMAGE_SUFFIXES)}) or a video ({'/'.join(VIDEO_SUFFIXES)})"
        )
    return path


def _read_image(path: Path, resolution: int):
    from PIL import Image

    from .video_io import resize_center_crop

    try:
        with Image.open(path) as im:
            im.load()
            size = im.size
            img = resize_center_crop(im.convert("RGB"), resolution)
    except Exception as e:  # PIL raises several types for unreadable files
        raise UsageError(f"--target {path}: cannot read the image ({_short(e)})") from None
    return np.asarray(img)[None], _resize_note(path, size, resolution)


def _resize_note(path, size, resolution) -> str | None:
    if size == (resolution, resolution):
        return None
    crop = " and centre-cropped" if size[0] != size[1] else ""
    return (
        f"--target {path}: {size[0]}x{size[1]} resized{crop} to the generator's "
        f"{resolution}x{resolution}"
    )


def _short(e: BaseException) -> str:
    return " ".join(str(e).split())[:200] or type(e).__name__


def frames_to_tensor(frames: np.ndarray, channels: int = 3) -> torch.Tensor:
    """uint8 [F, H, W, 3] -> float [F, channels, H, W] in [-1, 1] (grey for a 1-channel G)."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1
    return x.mean(1, keepdim=True) if channels == 1 else x


def project_to_files(
    ckpt,
    target,
    out,
    *,
    steps: int = 300,
    frames: int = 32,
    start: int = 0,
    starts: int = 8,
    noise_reg: float = 10.0,
    seed: int = 0,
    fps: float = 12.0,
    device=None,
    progress: bool = True,
) -> dict:
    """Project an image or the first `frames` frames (from `start`) of a video into the generator
    of checkpoint `ckpt`, and write into the folder `out`:

    - projection.pt: the latents (w, motion noise, times; `load_projection`);
    - reconstruction.mp4 (a clip) or reconstruction.png (an image): target | reconstruction;
    - psnr.json: PSNR per frame and their mean, with the settings.

    Every argument and `out` are checked before the checkpoint is loaded. Returns the JSON dict.
    """
    from .checkpoint import load_generator
    from .checks import check_device
    from .utils import default_device

    check_number("--steps", steps, minimum=0, integer=True)
    check_number("--frames", frames, minimum=1, integer=True)
    check_number("--start", start, minimum=0, integer=True)
    check_number("--starts", starts, minimum=1, integer=True)
    check_number("--noise-reg", noise_reg, minimum=0)
    check_number("--fps", fps, above=0)
    check_target(target)
    out = check_writable_folder(out, "--out")
    device = check_device(device) or default_device()
    path = Path(ckpt)
    if not path.exists():
        raise UsageError(f"--ckpt {path}: checkpoint not found")
    G, cfg = load_generator(path, device=device)  # one-line errors for an unusable file
    is_image = Path(target).suffix.lower() in IMAGE_SUFFIXES
    raw, note = read_target(
        target, cfg.G.resolution, frames=None if is_image else frames, start=start
    )
    if note:
        warnings.warn(note, stacklevel=2)
    y = frames_to_tensor(raw, cfg.G.img_channels)  # [F, C, H, W]
    proj = project(
        G, y, steps=steps, starts=starts, noise_reg=noise_reg, seed=seed, progress=progress
    )
    proj.meta.update(target=str(target), checkpoint=str(path), start=int(start))
    proj.save(out / "projection.pt")

    from .video_io import write_video
    from .viz import to_rgb, to_uint8

    rec = to_rgb(to_uint8(render_projection(G, proj)))  # [F, H, W, 3]
    tgt = to_rgb(to_uint8(y))
    gap = np.full((*tgt.shape[:2], 1, 3), 255, np.uint8)
    side = np.concatenate([tgt, gap, rec], axis=2)  # [F, H, 2W+1, 3]: target | reconstruction
    if is_image:
        from PIL import Image

        rec_path = out / "reconstruction.png"
        write_atomic(rec_path, lambda f: Image.fromarray(side[0]).save(f, format="PNG"))
    else:
        rec_path = write_video(out / "reconstruction.mp4", side, fps=fps)
    result = {
        "target": str(target),
        "checkpoint": str(path),
        "mode": "image" if is_image else "clip",
        "frames": len(raw),
        "psnr": proj.psnr,
        "mean_psnr": proj.mean_psnr,
        "resized": note is not None,
        **{k: v for k, v in proj.meta.items() if k not in ("target", "checkpoint")},
        "projection": str(out / "projection.pt"),
        "reconstruction": str(rec_path),
    }
    write_text_atomic(out / "psnr.json", json.dumps(result, indent=2) + "\n")
    return result
