"""Device, precision and seeding helpers shared by every part of svlib."""

from __future__ import annotations

import contextlib
import os
import random
import threading

import numpy as np
import torch


def default_device() -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU. Never hard-coded elsewhere."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def amp_dtype(device: torch.device | str, amp: str = "auto") -> torch.dtype | None:
    """Autocast dtype for `amp` in {"auto", "bf16", "fp16", "off"}; None means full precision.

    "auto" picks bfloat16 only where the GPU computes it natively (CUDA compute capability 8.0 and
    up: A100, L4, H100, RTX 30xx and later) and full precision elsewhere. Older GPUs such as
    Colab's T4 (7.5) would only emulate bf16, which is slower than fp32; the CPU runs fp32 too
    (CPU bf16 autocast works, and the tests exercise it, but is slower than fp32 on most CPUs).
    """
    device = torch.device(device)
    if amp == "off":
        return None
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        return torch.float16
    if amp != "auto":
        raise ValueError(f"amp must be one of auto|bf16|fp16|off, got {amp!r}")
    if device.type == "cuda" and torch.cuda.is_available():
        major, _ = torch.cuda.get_device_capability(device)
        if major >= 8:
            return torch.bfloat16
    return None


def autocast(device: torch.device | str, dtype: torch.dtype | None):
    """`torch.autocast` for `device`, or a no-op context when `dtype` is None."""
    device = torch.device(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def profile() -> str:
    """Run profile of the book: "fast" (CI), "book" (CPU build), "gpu" (Colab/GPU training).

    Chosen by the environment variable SVLIB_PROFILE; by default "gpu" when CUDA is present, else
    "book".
    """
    p = os.environ.get("SVLIB_PROFILE", "").strip().lower()
    if p:
        if p not in ("fast", "book", "gpu"):
            raise ValueError(f"SVLIB_PROFILE must be fast|book|gpu, got {p!r}")
        return p
    return "gpu" if torch.cuda.is_available() else "book"


def quantize(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8 [0, 255], same layout: x·127.5 + 128 clamped and truncated.

    This is the rounding of the official metrics code (FVD/FID numbers depend on it)."""
    return (x.float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def check_shape(x, shape, name: str) -> None:
    """Raise one ValueError naming `name` unless `x` has `shape`.

    `shape` lists one entry per dimension: an int must match, None matches anything, and a
    string is a label that matches anything but appears in the message, e.g.
    `check_shape(t, ["B", "F"], "t")` or `check_shape(w, [B, 512], "w")`. `x` may be None (an
    absent input counts as a mismatch) or anything with `.shape`. Shapes are Python ints, so the
    check costs no device synchronisation.
    """
    got = None if x is None else tuple(x.shape)
    ok = got is not None and len(got) == len(shape)
    ok = ok and all(not isinstance(s, int) or g == s for g, s in zip(got, shape))
    if not ok:
        want = ", ".join("?" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must have shape [{want}], got {list(got) if got else got}")


# Set while a caller (the training step) runs inputs whose values it checked on the host.
_host_checked = threading.local()


@contextlib.contextmanager
def values_checked_on_host():
    """Within this context, G's and D's checks of time values are skipped: the caller has run the
    same checks on the host copies of those times before moving them to the device.

    On an accelerator each such check reads a value back to the host (a synchronisation that stalls
    the queue of kernels); the training step does them once per step on its CPU batch instead."""
    before = getattr(_host_checked, "on", False)
    _host_checked.on = True
    try:
        yield
    finally:
        _host_checked.on = before


def needs_value_check(x: torch.Tensor) -> bool:
    """Whether a check of `x`'s values should run here: not while torch.compile traces (no values),
    not on meta tensors (shape-only FLOP counting), not within `values_checked_on_host`."""
    if torch.compiler.is_compiling() or x.device.type == "meta":
        return False
    return not getattr(_host_checked, "on", False)
