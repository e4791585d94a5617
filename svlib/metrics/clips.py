"""The clips every metric compares: real clips chosen by StyleGAN-V's protocol, generated clips by
seed.

- real clips: videos shorter than (num_frames-1)*subsample+1 are dropped, then the first
  min(max_real, #remaining) videos in index order give ONE clip each: num_frames frames at stride
  `subsample` from a random offset (np.random.default_rng(seed)); no x-flip.
- generated clips: sample i of a run with `seed` is the video of seed seed·1,000,003 + i
  (`svlib.generate`), at t = arange(num_frames) * subsample from 0; frames quantised like StyleGAN-V
  (`svlib.utils.quantize`); 1-channel repeated to 3.

Generator argument `G`: an svlib `Generator` or a callable `generate_fn(n, t)` / `generate_fn(n)` /
`generate_fn(n, t, start)` returning n clips: uint8 [n, T, H, W, C] or float [n, T, C, H, W] in [-1,
1]. Dataset argument: a `VideoDataset`, a dataset spec string (open_dataset), or a list of uint8
videos [L, H, W, 3].
"""

from __future__ import annotations

import hashlib
import inspect
import os

import numpy as np
import torch

from ..generate import video_frames
from ..utils import quantize
from ..viz import channels_last, to_rgb

# Sample i of a metric run with seed s draws the video of seed s·FAKE_SEED_STRIDE + i: runs with
# different seeds use disjoint videos for any realistic number of samples.
FAKE_SEED_STRIDE = 1_000_003


def open_videos(dataset):
    """A dataset spec string or path opened with `open_dataset`; anything else as it is."""
    if isinstance(dataset, (str, os.PathLike)):
        from ..data import open_dataset

        dataset = open_dataset(str(dataset))
    return dataset


class Videos:
    """Uniform access to a VideoDataset or a list of uint8 arrays [L, H, W, 3]."""

    def __init__(self, dataset):
        self.ds = open_videos(dataset)
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
        """Cache identity: the dataset repr (with the files' identity for datasets read from
        disk), or a content hash for in-memory video lists."""
        if self.is_ds:
            files = files_fingerprint(self.ds)
            return repr(self.ds) + (f" files={files}" if files else "")
        h = hashlib.md5()
        for v in self.ds:
            v = np.ascontiguousarray(v)
            h.update(str(v.shape).encode() + v.tobytes())
        return f"list of {len(self.ds)} videos md5={h.hexdigest()}"


def files_fingerprint(ds) -> str:
    """What identifies the files behind a dataset read from disk: their absolute location, and the
    size and modification time of every file (each frame of a frame folder, each video file, the
    zip). "" for other datasets.

    Two folders with the same name and size, or a dataset edited in place, then never share cached
    real features."""
    root = next(
        (getattr(ds, a) for a in ("root", "path") if isinstance(getattr(ds, a, None), os.PathLike)),
        None,
    )
    if root is None:
        return ""
    h = hashlib.md5(str(os.path.abspath(root)).encode())

    def add(path):
        st = os.stat(path)
        h.update(f"{path} {st.st_size} {st.st_mtime_ns}".encode())

    if os.path.isfile(root):  # a zip or a single video file
        add(root)
    else:
        for f in getattr(ds, "files", []):  # a folder of video files
            add(f)
        for _, frames in getattr(ds, "videos", []):  # a folder of frame folders
            for key in frames:
                add(os.path.join(root, key))
    return h.hexdigest()


def real_clips(
    dataset, num_frames: int = 16, subsample: int = 1, max_real: int = 2048, seed: int = 0
):
    """(video indices, offsets) of the real clips: short videos dropped, first max_real kept, random
    offsets."""
    v = dataset if isinstance(dataset, Videos) else Videos(dataset)
    span = (num_frames - 1) * subsample + 1
    keep = [i for i in range(len(v)) if v.length(i) >= span][:max_real]
    if not keep:
        raise ValueError(
            f"dataset: no video has the {span} frames needed for {num_frames} frames at "
            f"stride {subsample}"
        )
    rng = np.random.default_rng(seed)
    return np.array(keep), np.array([rng.integers(0, v.length(i) - span + 1) for i in keep])


def read_real_clips(videos: Videos, num_frames: int, max_real: int, seed: int) -> np.ndarray:
    """uint8 [N, num_frames, H, W, 3]: the protocol's real clips at stride 1, read into memory."""
    idx, offs = real_clips(videos, num_frames, 1, max_real, seed)
    return np.stack([videos.read(i, o + np.arange(num_frames)) for i, o in zip(idx, offs)])


def to_uint8_clips(x) -> torch.Tensor:
    """Generated clips float [B, F, C, H, W] in [-1, 1] (or uint8 [B, F, H, W, C]) -> uint8 [B, F,
    H, W, 3]."""
    x = torch.as_tensor(x)
    if x.ndim != 5:
        raise ValueError(
            "generated clips must be 5-D ([B, F, C, H, W] float or [B, F, H, W, C] uint8), "
            f"got {tuple(x.shape)}"
        )
    if x.dtype != torch.uint8:
        if x.shape[2] not in (1, 3):
            raise ValueError(
                "float generated clips must be [B, F, C, H, W] with C in (1, 3), "
                f"got {tuple(x.shape)}"
            )
        x = channels_last(quantize(x))
    return to_rgb(x)


def is_generator(G) -> bool:
    return isinstance(G, torch.nn.Module) and hasattr(G, "mapping") and hasattr(G, "cfg")


def fake_clip_seeds(seed: int, start: int, n: int) -> list[int]:
    """Video seeds of generated samples start .. start+n-1 of a metric run with `seed`."""
    return [int(seed) * FAKE_SEED_STRIDE + i for i in range(start, start + n)]


@torch.no_grad()
def generate_clips(
    G, n: int, t: np.ndarray, seed: int, start: int = 0, device=None, truncation_psi: float = 1.0
):
    """n fake clips at frame times t [F] (float): uint8 [n, F, H, W, 3] on the CPU for a Generator.

    Sample i is the video of seed `fake_clip_seeds(seed, start, n)[i]`, whatever the batch it is
    in."""
    if is_generator(G):
        if getattr(G.cfg, "c_dim", 0):
            raise ValueError(
                "compute_fvd: conditional generators are not supported; "
                "pass generate_fn(n, t) instead"
            )
        frames = video_frames(
            G,
            np.asarray(t, np.float64),
            seeds=fake_clip_seeds(seed, start, n),
            truncation_psi=truncation_psi,
            chunk_size=len(t),  # one call per batch of clips, as the detector batches them
            device=device,
            uint8=True,
        )  # [n, F, C, H, W]
        return to_rgb(channels_last(frames))
    if not callable(G):
        raise ValueError(
            f"G must be an svlib Generator or a callable generate_fn(n, t), got {type(G).__name__}"
        )
    try:
        nparams = len(inspect.signature(G).parameters)
    except (TypeError, ValueError):
        nparams = 2
    # generate_fn(n, t, start) gets the index of its first sample, so deterministic callables can
    # vary clips
    tt = np.asarray(t, np.float64)
    out = to_uint8_clips(G(n, tt, start) if nparams >= 3 else G(n, tt) if nparams >= 2 else G(n))
    if out.shape[:2] != (n, len(t)):
        raise ValueError(
            f"generate_fn returned clips of shape {tuple(out.shape)}, expected "
            f"[{n}, {len(t)}, H, W, 3]"
        )
    return out


def generated_clips(G, num_gen: int, t, batch_size: int, seed: int, device, truncation_psi):
    """Batches of generated clips (uint8 [b, F, H, W, 3]) for samples 0 .. num_gen-1."""
    for s in range(0, num_gen, batch_size):
        yield generate_clips(G, min(batch_size, num_gen - s), t, seed, s, device, truncation_psi)


def with_progress(it, total, desc, on):
    """`it` with a tqdm bar when `on`."""
    if not on:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, total=total, desc=desc, leave=False)
