"""FID (StyleGAN-V fid50k_full): Inception features of single frames of real and generated
videos."""

from __future__ import annotations

import numpy as np
import torch

from .clips import Videos, generate_clips, is_generator, with_progress
from .frechet import FeatureStats, frechet_distance
from .registry import register_metric

FID_CLIP_FRAMES = 16  # fake frames come from clips at t = 0 .. 15, as in StyleGAN-V


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
    """FID: real = all frames of the dataset (or the first max_real frames in order), fake = num_gen
    frames from 16-frame clips at t = 0..15. Needs the FID Inception weights file."""
    from ..utils import default_device
    from .inception import load_inception

    device = torch.device(device) if device is not None else default_device()
    net = (inception or load_inception(inception_weights)).to(device)
    videos = Videos(dataset)
    frames = [(i, j) for i in range(len(videos)) for j in range(videos.length(i))][:max_real]

    def feats(batches, total, desc):  # uint8 [B, H, W, 3] -> [B, 2048]
        out = [
            net(b.permute(0, 3, 1, 2).to(device)).double().cpu().numpy()
            for b in with_progress(batches, total, desc, progress)
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
    t, nclips = np.arange(float(FID_CLIP_FRAMES)), -(-num_gen // FID_CLIP_FRAMES)
    cb = max(1, batch_size // FID_CLIP_FRAMES)
    gen_dev = device if is_generator(G) else None
    fake = feats(
        (
            generate_clips(G, min(cb, nclips - s), t, seed, s, gen_dev, truncation_psi).flatten(
                0, 1
            )
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
        "label": f"FID = {v:.2f} [{warn}N_real={len(real)} frames, N_fake={len(fake)} frames, "
        f"{net.name}]",
    }


@register_metric("fid", "Inception FID of single frames (StyleGAN-V fid50k_full)")
def _fid(G, dataset, *, shared, **kw):
    return compute_fid(
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
