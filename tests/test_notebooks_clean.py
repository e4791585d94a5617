"""Chapters are committed without outputs and are listed in the table of contents.

They have no outputs in git because the book build executes them.
"""

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _committed_text(path: Path) -> str:
    """The staged/committed version when in a git checkout.

    CI's nbmake --overwrite dirties the working copy.
    """
    rel = path.relative_to(ROOT).as_posix()
    try:
        return subprocess.run(
            ["git", "show", f":{rel}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return path.read_text()


def test_notebooks_have_no_outputs():
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no chapters found in notebooks/"
    dirty = []
    for nb_path in notebooks:
        nb = json.loads(_committed_text(nb_path))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                dirty.append(f"{nb_path.name} cell {i}")
        if "widgets" in nb.get("metadata", {}):
            dirty.append(f"{nb_path.name} metadata.widgets")
    assert not dirty, "notebooks committed with outputs (strip them): " + ", ".join(dirty)


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    listed = set(re.findall(r"file:\s*(\S+)", toc))
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"notebooks/{nb.stem}" in listed, f"{nb.name} is not in _toc.yml"
    for entry in listed:
        assert list(ROOT.glob(entry + ".*")), f"_toc.yml lists {entry}, which does not exist"
