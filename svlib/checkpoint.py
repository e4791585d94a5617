"""Checkpoints are data: state_dicts + the config + a format version, loadable weights_only.

Written atomically (temporary file in the same folder, fsync, rename), so a run killed mid-write
leaves the previous checkpoint intact.
"""

from __future__ import annotations

import glob
import os
import re
import warnings
from pathlib import Path
from typing import Any

import torch

from .checks import UsageError, check_writable_file, write_atomic
from .config import Config, migrate_config_dict

FORMAT = "svlib-checkpoint"
# 2: ADA settings nested in train.augment, `auto` values stored resolved. Older versions are
# upgraded on load by `upgrade_checkpoint`.
FORMAT_VERSION = 2
_SNAPSHOT = re.compile(r"checkpoint-(\d+)\.pt$")


class CheckpointError(UsageError):
    """A checkpoint file that is missing, truncated, or not an svlib checkpoint."""


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Atomically write `payload` (plus format tags) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    write_atomic(path, lambda f: torch.save(data, f))
    return path


def load_checkpoint(
    path: str | os.PathLike, map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load and validate an svlib checkpoint, upgraded to the current format version.

    Raises `CheckpointError` naming the file when it is unusable."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, pickle with code, random bytes...
        raise CheckpointError(
            f"cannot read checkpoint {path} (truncated or not a weights-only torch file): "
            f"{type(e).__name__}: {str(e)[:200]}"
        ) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an svlib checkpoint (no '{FORMAT}' format tag)")
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {data['format_version']}, newer than this svlib "
            f"({FORMAT_VERSION}); upgrade svlib"
        )
    for key in ("config", "G_ema"):
        if key not in data:
            raise CheckpointError(f"{path} lacks the '{key}' entry")
    return upgrade_checkpoint(data)


def upgrade_checkpoint(data: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint dict of any older format version in the current one.

    Only the config changed between versions (the weights, optimisers and counters are stored as
    they always were): `migrate_config_dict` moves it to the current layout and resolves its
    `auto` values."""
    if data.get("format_version", 0) < FORMAT_VERSION:
        data = {**data, "config": migrate_config_dict(data["config"])}
        data["format_version"] = FORMAT_VERSION
    return data


def list_snapshots(run_dir: str | os.PathLike) -> list[Path]:
    """Snapshots `checkpoint-<step>.pt` in a run folder, oldest first."""
    files = [Path(p) for p in glob.glob(os.path.join(run_dir, "checkpoint-*.pt"))]
    files = [p for p in files if _SNAPSHOT.search(p.name)]
    return sorted(files, key=lambda p: int(_SNAPSHOT.search(p.name).group(1)))


def latest_checkpoint(
    run_dir: str | os.PathLike, map_location="cpu"
) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable snapshot of a run; unreadable newer ones are skipped with a warning
    naming them."""
    for path in reversed(list_snapshots(run_dir)):
        try:
            return path, load_checkpoint(path, map_location)
        except CheckpointError as e:
            warnings.warn(f"skipping unusable checkpoint: {e}", stacklevel=2)
    return None


def resolve_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[Path, dict[str, Any]]:
    """(file, checkpoint) for a checkpoint file or a run folder (its newest readable snapshot), so
    a stable name (the run folder) always reaches the newest weights."""
    path = Path(path)
    if not path.is_dir():
        return path, load_checkpoint(path, map_location)
    found = latest_checkpoint(path, map_location)
    if found is None:
        raise CheckpointError(f"no readable checkpoint-*.pt in run folder {path}")
    return found


def remove_temporaries(run_dir: str | os.PathLike) -> None:
    """Delete the temporary files that a run killed mid-write leaves (checkpoints, best.pt,
    config.json, log.jsonl and preview videos are all written under a temporary name first)."""
    run_dir = Path(run_dir)
    for pattern in (
        "checkpoint-*.pt.*.tmp",
        "best.pt.*.tmp",
        "*.json.*.tmp",
        "*.jsonl.*.tmp",
        "samples/.*.partial.*",
    ):
        for p in run_dir.glob(pattern):
            p.unlink(missing_ok=True)


def prune_snapshots(run_dir: str | os.PathLike, keep: int) -> None:
    """Delete all but the `keep` newest snapshots (never the newest one)."""
    snaps = list_snapshots(run_dir)
    for p in snaps[: max(0, len(snaps) - max(keep, 1))]:
        p.unlink(missing_ok=True)


def load_generator(
    path: str | os.PathLike, device: str | torch.device | None = None, ema: bool = True
):
    """Build the generator stored in a checkpoint file or run folder (its newest readable snapshot;
    the EMA weights by default), in eval mode."""
    _, data = resolve_checkpoint(path)
    return generator_from_checkpoint(data, device, ema)


def generator_from_checkpoint(
    data: dict[str, Any], device: str | torch.device | None = None, ema: bool = True
):
    """`load_generator` for a checkpoint dict already read by `load_checkpoint` (no second read
    when the caller also wants its state or data spec)."""
    from .generator import Generator

    cfg = Config.from_dict(data["config"])
    G = Generator(cfg.G)
    G.load_state_dict(data["G_ema" if ema else "G"])
    G.eval().requires_grad_(False)
    if device is not None:
        G.to(device)
    return G, cfg


def export_generator(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    *,
    with_d: bool = False,
    data: str | None = None,
) -> Path:
    """A small, inference-only copy of a training checkpoint: the config, G_ema and the training
    state (no optimisers; no D unless `with_d`). It loads with `load_generator` like any checkpoint.
    `src` may be a run folder (its newest readable snapshot).

    with_d: keep the discriminator too (`load_discriminator` reads it), for tools that judge clips.
    data:   the training data's spec, stored as "data" so users of the file know what it was
            trained on (default: the one the source checkpoint recorded, if any).
    """
    src, ckpt = resolve_checkpoint(src)
    dst = check_writable_file(dst, "export destination")
    if dst.exists() and dst.resolve() == src.resolve():
        raise UsageError(f"export destination {dst} is the source checkpoint; choose another file")
    names = ("config", "G_ema", "state", "data") + (("D",) if with_d else ())
    if with_d and "D" not in ckpt:
        raise UsageError(f"export --with-d: {src} holds no discriminator (an export without D?)")
    keep = {k: ckpt[k] for k in names if k in ckpt}
    if data is not None:
        keep["data"] = str(data)
    for k in ("G_ema", "D"):
        if k in keep:  # no views into a larger storage
            keep[k] = {n: v.clone() for n, v in keep[k].items()}
    return save_checkpoint(dst, {**keep, "exported_from": str(Path(src).name)})


def load_discriminator(path: str | os.PathLike, device: str | torch.device | None = None):
    """Build the discriminator stored in a checkpoint file or run folder (a training checkpoint,
    or an export made `with_d`), in eval mode: (D, config)."""
    from .models import build_discriminator

    src, ckpt = resolve_checkpoint(path)
    if "D" not in ckpt:
        raise UsageError(
            f"{src} holds no discriminator; export it with `python -m svlib export --with-d`"
        )
    cfg = Config.from_dict(ckpt["config"])
    D = build_discriminator(cfg)
    D.load_state_dict(ckpt["D"])
    D.eval().requires_grad_(False)
    if device is not None:
        D.to(device)
    return D, cfg
