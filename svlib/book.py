"""Conveniences for the book's notebooks: profile-dependent sizes, shipped checkpoint, checks."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from .utils import default_device, profile, seed_all

ASSETS = Path(__file__).resolve().parent / "assets"
# Trained by svlib's own CLI; the exact commands are in svlib/assets/README.md.
PRETRAINED = ASSETS / "demo32.pt"
PRETRAINED_LOG = ASSETS / "demo32_log.jsonl"  # its training log (every 50th step)
# What it was trained on, should the file lack its "data" entry: one shape per video, travelling
# and bouncing at 1.5-3% of the frame per frame, large enough to be seen at 32².
PRETRAINED_DATA = "synthetic:shapes?n=2048&max_shapes=1&speed=0.015,0.03&radius=0.18,0.26"
# The note under every widget, for readers of the static page.
WIDGET_NOTE = (
    "Moving the slider needs a running kernel: open this chapter in Colab or Jupyter. "
    "The figures below show the same view for a few fixed settings."
)


def book_root() -> Path:
    """The book's folder: the working directory, or its parent when a chapter runs in notebooks/."""
    cwd = Path.cwd()
    return cwd.parent if cwd.name == "notebooks" and (cwd.parent / "_toc.yml").is_file() else cwd


def book_model_path() -> Path:
    """Where chapter 6 leaves the generator it trained: `runs/book/generator.pt`."""
    return book_root() / "runs" / "book" / "generator.pt"


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

    It is 32², trained on `pretrained_data()`: one shape per video that travels and bounces.
    """
    from .checkpoint import load_generator

    if not PRETRAINED.is_file():
        raise FileNotFoundError(
            f"the shipped checkpoint {PRETRAINED} is missing; reinstall svlib or train one "
            f"with the command in {ASSETS / 'README.md'}"
        )
    return load_generator(PRETRAINED, device=device)


def pretrained_data(**params) -> str:
    """The spec of the shipped model's training data, with parameters replaced: e.g.
    `pretrained_data(n=16, length=128, seed=1)` for 16 other videos of the same kind."""
    from .data import spec_with

    return spec_with(_shipped_data(PRETRAINED), **params)


@functools.lru_cache(maxsize=4)
def _shipped_data(path: Path) -> str:
    from .checkpoint import load_checkpoint

    return (load_checkpoint(path).get("data") if path.is_file() else None) or PRETRAINED_DATA


def load_trained(device=None):
    """The trained generator for the chapters that use one: (G_ema, config, description).

    Chapter 6 trains a model and exports it to `book_model_path()`. That one is used when it has
    seen at least as many frames as the shipped one (a GPU run); otherwise, e.g. after the few
    minutes a CPU can train, the shipped model is used, so the results stay those of a useful
    model.
    """
    from .checkpoint import load_checkpoint, load_generator

    own = book_model_path()
    if own.is_file():
        seen = load_checkpoint(own).get("state", {}).get("cur_nimg", 0)
        shipped = PRETRAINED.is_file() and load_checkpoint(PRETRAINED).get("state", {})
        if not shipped or seen >= shipped.get("cur_nimg", 0):
            G, cfg = load_generator(own, device=device)
            return G, cfg, f"the generator trained in chapter 6 ({seen / 1000:g} kimg, {own})"
    G, cfg = load_pretrained(device)
    return G, cfg, f"the shipped generator (svlib/assets/{PRETRAINED.name})"


def compare(name: str, ours: torch.Tensor, theirs: torch.Tensor, atol: float = 1e-5) -> float:
    """Print and assert how far our from-scratch version is from svlib's on the same inputs."""
    err = (ours.detach().float() - theirs.detach().float()).abs().max().item()
    print(f"{name}: max |ours - svlib| = {err:.2e}")
    assert err <= atol, f"{name} differs from svlib by {err:.2e} (> {atol})"
    return err
