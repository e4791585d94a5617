"""Conveniences for the book's notebooks: profile-dependent sizes, shipped checkpoint, checks."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .utils import default_device, profile, seed_all

ASSETS = Path(__file__).resolve().parent / "assets"
# Trained by svlib's own CLI; the exact command is in svlib/assets/README.md.
PRETRAINED = ASSETS / "shapes32.pt"


@dataclass
class BookEnv:
    profile: str
    device: torch.device
    on_colab: bool

    @property
    def fast(self) -> bool:
        return self.profile == "fast"

    def pick(self, fast, book, gpu=None):
        """The value for the active profile (gpu falls back to book)."""
        return {"fast": fast, "book": book, "gpu": book if gpu is None else gpu}[self.profile]


def setup(seed: int = 0, quiet: bool = False) -> BookEnv:
    """First cell of every chapter: seeds, device, profile, plotting defaults, ffmpeg for videos."""
    seed_all(seed)
    env = BookEnv(profile(), default_device(), "google.colab" in sys.modules)
    try:
        import matplotlib as mpl

        mpl.rcParams.update(
            {"figure.dpi": 90, "axes.spines.top": False, "axes.spines.right": False}
        )
        from .viz import ensure_ffmpeg

        ensure_ffmpeg()
    except ImportError:  # plotting extras not installed: svlib itself still works
        pass
    if env.profile == "fast":
        # CI-sized work: one thread avoids OpenMP busy-waiting, which makes tiny ops 50-100x slower
        # on shared cores
        torch.set_num_threads(1)
    elif env.profile != "gpu":
        torch.set_num_threads(max(1, min(torch.get_num_threads(), 4)))
    if not quiet:
        from . import __version__

        print(
            f"svlib {__version__} | torch {torch.__version__} | device {env.device} "
            f"| profile {env.profile}" + (" | Colab" if env.on_colab else "")
        )
    return env


def load_pretrained(device=None):
    """The small generator shipped with svlib: (G_ema, config).

    It is 32², trained on `synthetic:shapes`.
    """
    from .checkpoint import load_generator

    if not PRETRAINED.is_file():
        raise FileNotFoundError(
            f"the shipped checkpoint {PRETRAINED} is missing; reinstall svlib or train one "
            f"with the command in {ASSETS / 'README.md'}"
        )
    return load_generator(PRETRAINED, device=device)


def compare(name: str, ours: torch.Tensor, theirs: torch.Tensor, atol: float = 1e-5) -> float:
    """Print and assert how far our from-scratch version is from svlib's on the same inputs."""
    err = (ours.detach().float() - theirs.detach().float()).abs().max().item()
    print(f"{name}: max |ours - svlib| = {err:.2e}")
    assert err <= atol, f"{name} differs from svlib by {err:.2e} (> {atol})"
    return err
