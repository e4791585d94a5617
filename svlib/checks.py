"""Checks of user input shared by the commands and their Python functions.

Each failure is a `UsageError` (a ValueError) whose message is one line naming the argument or file
and what to do; the command line prints it and exits with status 2. Destinations are checked
before any long computation starts, so a bad path never costs the result.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import torch


class UsageError(ValueError):
    """Bad input: a value, path or option the user can fix."""


def check_number(
    name: str, value, *, minimum=None, above=None, maximum=None, integer: bool = False
):
    """`value` itself when it is a finite number (an int if `integer`) >= minimum / > above /
    <= maximum."""
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not math.isfinite(value):
        kind = "an integer" if integer else "a finite number"
        raise UsageError(f"{name} must be {kind}, got {value!r}")
    if minimum is not None and value < minimum:
        raise UsageError(f"{name} must be >= {minimum}, got {value!r}")
    if above is not None and not value > above:
        raise UsageError(f"{name} must be > {above}, got {value!r}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{name} must be <= {maximum}, got {value!r}")
    return value


def check_device(device) -> torch.device | None:
    """The torch.device a --device value names, refused when this machine lacks it."""
    if device is None or isinstance(device, torch.device) and device.type == "cpu":
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise UsageError(
            f"--device {device!r} is not a device name: use cpu, cuda, cuda:N or mps"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: CUDA is not available here; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UsageError(f"--device {device}: MPS is not available here; use --device cpu")
    elif dev.type != "cpu":
        raise UsageError(f"--device {device}: svlib runs on cpu, cuda or mps")
    return dev


def check_writable_file(path, name: str = "--out") -> Path:
    """`path` as a Path once its folder exists and accepts a new file (probed, then removed)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{name} {path} is a folder; give a file name")
    _probe_folder(path.parent, f"{name} {path}")
    return path


def check_writable_folder(path, name: str = "--out") -> Path:
    """`path` as a Path once it exists (created if needed) as a folder that accepts new files."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{name} {path} is a file; give a folder")
    _probe_folder(path, f"{name} {path}")
    return path


def _probe_folder(folder: Path, what: str) -> None:
    blocking = next((p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"{what}: {blocking} is a file, not a folder; choose another path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".svlib-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise UsageError(f"{what}: cannot write there ({reason}); choose another path") from None


def write_atomic(path, write, mode: str = "wb") -> Path:
    """Call `write(f)` on a temporary file in `path`'s folder, fsync it, then rename it to `path`:
    readers (and a later resume) never see half a file, and a failure leaves no temporary behind.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path, text: str) -> Path:
    """`write_atomic` for text."""
    return write_atomic(path, lambda f: f.write(text), "w")


def load_weights_into(module: torch.nn.Module, path, what: str) -> torch.nn.Module:
    """Load a state_dict file into `module` with weights_only loading (no code from the file
    runs); an unreadable or mismatched file is a UsageError naming it."""
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, pickle with code, random bytes...
        raise UsageError(
            f"cannot read {what} weights {path} ({type(e).__name__}: not a weights-only torch "
            "file, or truncated)"
        ) from None
    if not isinstance(sd, dict):
        raise UsageError(f"{what} weights {path}: expected a state_dict, got {type(sd).__name__}")
    try:
        module.load_state_dict(sd)
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:300]
        raise UsageError(
            f"{what} weights {path} do not fit {type(module).__name__}: {detail}"
        ) from None
    return module
