"""Stamp the Colab set-up into every chapter: the install cell and the notebook's GPU metadata.

The repository URL and branch live in one place, `_config.yml` (`repository.url`, `.branch`);
this script writes them into the first code cell of each notebook (the install cell, hidden from
the web pages by its `remove-cell` tag) and asks Colab for a GPU runtime in the metadata.

    python tools/stamp_colab.py            # rewrite the notebooks that differ
    python tools/stamp_colab.py --check    # exit 1 and name the notebooks that differ
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# On Colab: install svlib"
TAG = "remove-cell"

INSTALL = """\
# On Colab: install svlib from the book's repository. Colab's own PyTorch and ipywidgets are kept
# (svlib accepts the versions Colab ships). Elsewhere this cell does nothing.
# Choose a GPU first: Runtime > Change runtime type > T4 GPU.
import sys
if "google.colab" in sys.modules:
    import subprocess
    spec = "svlib[book,data] @ git+{url}@{branch}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", spec], check=True)"""


def repository(config: Path = ROOT / "_config.yml") -> tuple[str, str]:
    """(url, branch) of the book's repository, from `_config.yml`."""
    repo = yaml.safe_load(config.read_text())["repository"]
    return repo["url"].rstrip("/"), repo.get("branch", "main")


def install_source(url: str, branch: str) -> str:
    return INSTALL.format(url=url, branch=branch)


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def install_cell(nb: dict) -> dict | None:
    """The notebook's install cell: its first code cell, if that starts with MARKER."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    if code and "".join(code[0]["source"]).startswith(MARKER):
        return code[0]
    return None


def stamp(nb: dict, url: str, branch: str) -> dict:
    """`nb` with the install cell and the Colab metadata brought up to date (in place)."""
    cell = install_cell(nb)
    if cell is None:
        raise ValueError(f"no install cell (a first code cell starting with {MARKER!r})")
    cell["source"] = _lines(install_source(url, branch))
    tags = cell.setdefault("metadata", {}).setdefault("tags", [])
    if TAG not in tags:
        tags.append(TAG)
    meta = nb["metadata"]
    meta["accelerator"] = "GPU"
    colab = meta.setdefault("colab", {})
    colab.setdefault("provenance", [])
    colab["gpuType"] = "T4"
    return nb


def dumps(nb: dict) -> str:
    """The notebook as Jupyter writes it (one-space indent, UTF-8, trailing newline)."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report notebooks that differ")
    ap.add_argument("notebooks", nargs="*", type=Path)
    a = ap.parse_args(argv)
    url, branch = repository()
    paths = a.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    stale = []
    for path in paths:
        text = path.read_text()
        new = dumps(stamp(json.loads(text), url, branch))
        if new != text:
            stale.append(path.name)
            if not a.check:
                path.write_text(new)
    verb = "differ from _config.yml" if a.check else "stamped"
    print(f"stamp_colab: {len(stale)} of {len(paths)} notebooks {verb}: {', '.join(stale) or '-'}")
    return 1 if a.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
