"""The book's own tools and reader-facing rules: Colab stamping, diagrams, tables, line length,
process wording, and the autocast choice on GPUs of different generations."""

import ast
import importlib.util
import json
import re
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch

from svlib.utils import amp_dtype
from svlib.viz import Table

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _cells(kind):
    for path in NOTEBOOKS:
        for i, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] == kind:
                yield path.name, i, "".join(cell["source"])


def test_notebooks_agree_with_config_repository():
    stamp = _tool("stamp_colab")
    url, branch = stamp.repository()
    assert url.startswith("https://"), url
    stale = []
    for path in NOTEBOOKS:
        text = path.read_text()
        nb = json.loads(text)
        cell = stamp.install_cell(nb)
        assert cell is not None, f"{path.name}: no install cell"
        assert "remove-cell" in cell["metadata"].get("tags", []), f"{path.name}: install cell shown"
        assert f"git+{url}@{branch}" in "".join(cell["source"])
        assert nb["metadata"].get("accelerator") == "GPU", f"{path.name}: no GPU runtime requested"
        if stamp.dumps(stamp.stamp(json.loads(text), url, branch)) != text:
            stale.append(path.name)
    assert not stale, f"run python tools/stamp_colab.py: {stale}"


def test_notebook_code_lines_fit_100_columns():
    long = [
        f"{name} cell {i}: {len(line)} chars"
        for name, i, src in _cells("code")
        for line in src.split("\n")
        if len(line) > 100
    ]
    assert not long, (
        "code lines over 100 characters (shape comments fall off the page): " + "; ".join(long[:10])
    )


# Words about how the book was made, which a reader has no use for.
PROCESS_WORDS = re.compile(
    r"design spec|design note|issue-\d+ evidence|evidence for issue|\btaskset\b|"
    r"closing notes? of sessions?|\bsessions? \d|\bthe lead\b|\bengineers?\b|shared/design|/work/",
    re.I,
)


def _reader_texts():
    for name, i, src in [*_cells("markdown"), *_cells("code")]:
        yield f"{name} cell {i}", src
    for path in sorted((ROOT / "book").glob("*.md")):
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted((ROOT / "svlib").rglob("README.md")):
        yield str(path.relative_to(ROOT)), path.read_text()
    for path in sorted((ROOT / "svlib").rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    yield f"{path.relative_to(ROOT)} docstring", doc


def test_no_process_wording_where_readers_look():
    hits = [
        f"{where}: {m.group(0)!r}"
        for where, text in _reader_texts()
        for m in PROCESS_WORDS.finditer(text)
    ]
    assert not hits, "process wording in reader-facing text: " + "; ".join(hits)


def test_diagrams_draw(tmp_path):
    diagrams = _tool("diagrams")
    paths = diagrams.draw_all(tmp_path, samples=False)
    assert {p.name for p in paths} == set(diagrams.FIGURES)
    for p in paths:
        assert p.stat().st_size > 20_000, p
    committed = ROOT / "book" / "figures"
    for name in diagrams.FIGURES:
        assert (committed / name).is_file(), f"run python tools/diagrams.py: {name} missing"


def test_table_html_and_text():
    t = Table([("`a<b>`", 1), ("**total**", 2.5)], ["name", "value"], caption="c")
    html = t._repr_html_()
    assert (
        "<table" in html and "<code>a&lt;b&gt;</code>" in html and "<strong>total</strong>" in html
    )
    text = str(t)
    assert "|" not in text and "a<b>" in text and "total" in text and text.startswith("c\n")
    with pytest.raises(ValueError):
        Table([(1, 2, 3)], ["a", "b"])


@pytest.mark.parametrize(
    "capability, expected", [((7, 5), None), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)]
)
def test_amp_auto_uses_bf16_only_where_native(capability, expected):
    with (
        mock.patch("torch.cuda.is_available", return_value=True),
        mock.patch("torch.cuda.get_device_capability", return_value=capability),
    ):
        assert amp_dtype("cuda", "auto") is expected
        assert amp_dtype("cuda", "bf16") is torch.bfloat16  # asked for explicitly: always given
    assert amp_dtype("cpu", "auto") is None
