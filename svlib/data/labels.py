"""Class labels of a dataset: `dataset.json` in the official format, matched to videos, one-hot c.

The file at the dataset root holds `{"labels": [[relative_path, label], ...]}` (a `{path: label}`
object works too), as StyleGAN2-ADA and StyleGAN-V write it. A path names a video in any of the
ways these files do: a frame of it ("class/video/000000.png", as the official tools write, one
entry per frame), the video folder itself ("class/video") or a video file ("class/video.mp4", as a
source folder for `prepare` would list it). A label is a class index (an int, one-hot encoded to
c of size c_dim) or a vector of c_dim numbers used as c directly.

A video is matched by its relative name, then by ever shorter tails of it ("root/class/video",
"class/video", "video"), so a zip with one extra top-level folder, or the official files keyed by
the video folder's last component, match too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import numpy as np

from ..checks import UsageError
from ..video_io import is_image_file, is_video_file

LABELS_FILE = "dataset.json"


def parse_labels_json(text: str, where: str) -> dict[str, int | tuple[float, ...]] | None:
    """The labels of a dataset.json's text, keyed by video name; None when it has no "labels".

    where: the file, for messages. Frame entries are folded into their video; frames of one video
    with different labels, and anything not in the format, are a UsageError naming `where`.
    """
    try:
        meta = json.loads(text)
    except ValueError as e:
        raise UsageError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(meta, Mapping):
        raise UsageError(f'{where}: expected a JSON object with a "labels" field')
    raw = meta.get("labels")
    if raw is None:
        return None
    pairs = list(raw.items()) if isinstance(raw, Mapping) else raw
    if not isinstance(pairs, list):
        raise UsageError(f'{where}: "labels" must be a list of [relative_path, class] pairs')
    out: dict[str, int | tuple[float, ...]] = {}
    for entry in pairs:
        if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)):
            raise UsageError(
                f'{where}: "labels" must be a list of [relative_path, class] pairs, got '
                f"{json.dumps(entry)[:80]}"
            )
        path, label = entry
        name, value = video_key(path), _label_value(label, path, where)
        if out.setdefault(name, value) != value:
            raise UsageError(
                f"{where}: video {name!r} has two labels ({_show(out[name])} and {_show(value)})"
            )
    if not out:
        raise UsageError(f'{where}: "labels" is empty')
    kinds = {type(v) for v in out.values()}
    sizes = {len(v) for v in out.values() if isinstance(v, tuple)}
    if len(kinds) > 1 or len(sizes) > 1:
        raise UsageError(
            f"{where}: labels must be all class indices or all vectors of one length, not a mix"
        )
    return out


def video_key(path: str) -> str:
    """The video a dataset.json path names: a frame's folder, a video file without its suffix, or
    the path itself ("/"-separated, no leading "./" or "/")."""
    p = path.replace("\\", "/").strip("/")
    while p.startswith("./"):
        p = p[2:]
    if is_image_file(p):
        return p.rpartition("/")[0]
    if is_video_file(p):
        return p.rpartition(".")[0]
    return p


def _label_value(label, path: str, where: str) -> int | tuple[float, ...]:
    if isinstance(label, int) and not isinstance(label, bool):
        if label < 0:
            raise UsageError(f"{where}: class of {path!r} is {label}; classes count from 0")
        return label
    if (
        isinstance(label, list)
        and label
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in label)
    ):
        return tuple(float(x) for x in label)
    raise UsageError(
        f"{where}: the label of {path!r} must be a class index (an int >= 0) or a list of "
        f"numbers, got {json.dumps(label)[:60]}"
    )


def _show(v) -> str:
    return str(v) if isinstance(v, int) else json.dumps(list(v))


def match_labels(labels: Mapping[str, int | tuple], names: Sequence[str], where: str):
    """Per-video labels for videos named `names`: int64 [N] class indices or float32 [N, D].

    Each name is looked up whole, then by shorter tails of its path; a video without a label is a
    UsageError naming `where`, the count and the first such video.
    """
    found, missing = [], []
    for name in names:
        parts = name.replace("\\", "/").strip("/").split("/")
        tails = ("/".join(parts[k:]) for k in range(len(parts)))
        hit = next((labels[t] for t in tails if t in labels), None)
        (missing.append(name) if hit is None else found.append(hit))
    if missing:
        raise UsageError(
            f"{where}: no label for {len(missing)} of {len(names)} videos (first: {missing[0]!r}); "
            "every video needs a [relative_path, class] entry"
        )
    if isinstance(found[0], int):
        return np.asarray(found, dtype=np.int64)  # [N]
    return np.asarray(found, dtype=np.float32)  # [N, D]


def one_hot(raw: np.ndarray, c_dim: int, where: str, names=None) -> np.ndarray:
    """c for every video: float32 [N, c_dim] from class indices int64 [N] (one-hot) or vectors.

    A class index >= c_dim, or a vector of another length, is a UsageError naming `where` and (via
    `names`, the video names) the first video concerned.
    """
    raw = np.asarray(raw)
    if raw.ndim == 1:
        bad = np.flatnonzero((raw < 0) | (raw >= c_dim))
        if len(bad):
            who = f" (video {names[bad[0]]!r})" if names is not None else ""
            raise UsageError(
                f"{where}: class index {int(raw[bad[0]])}{who} is outside [0, c_dim={c_dim}); "
                f"the labels need c_dim >= {int(raw.max()) + 1} (--c-dim)"
            )
        c = np.zeros((len(raw), c_dim), np.float32)
        c[np.arange(len(raw)), raw] = 1
        return c
    if raw.shape[1] != c_dim:
        raise UsageError(
            f"{where}: label vectors have {raw.shape[1]} entries but c_dim is {c_dim} (--c-dim)"
        )
    return raw.astype(np.float32)


def dataset_labels(videos, c_dim: int) -> np.ndarray:
    """The conditioning vectors c of every video of `videos` (a VideoDataset): float32 [N, c_dim].

    The training data of a conditional model (c_dim > 0): a dataset without labels is a UsageError
    that names where they were looked for.
    """
    raw = videos.raw_labels
    where = getattr(videos, "labels_source", videos.name)
    if raw is None:
        hint = getattr(videos, "labels_hint", f'a {LABELS_FILE} with a "labels" field')
        raise UsageError(
            f"c_dim={c_dim} (--c-dim) asks for a conditional model, but dataset {where} has no "
            f"labels ({hint})"
        )
    names = [videos.video_name(i) for i in range(len(videos))]
    return one_hot(raw, c_dim, where, names)


def class_counts(raw: np.ndarray) -> dict[int, int]:
    """{class: number of videos} of class-index labels int64 [N]."""
    values, counts = np.unique(np.asarray(raw, np.int64), return_counts=True)
    return {int(v): int(n) for v, n in zip(values, counts)}
