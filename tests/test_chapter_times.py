"""tools/chapter_times.py: the GPU estimate on stub numbers, and the set-up page's table agrees
with book/chapter_times.json."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.fixture(scope="module")
def ct():
    spec = importlib.util.spec_from_file_location("chapter_times", ROOT / "tools/chapter_times.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["chapter_times"] = mod
    spec.loader.exec_module(mod)
    return mod


STUB_UNITS = {
    "step_ch6": 2e12,
    "step_ref": 3e12,
    "step_colab128": 5e12,
    "frame": 6e7,
    "i3d16": 5.5e10,
    "i3d128": 4.4e11,
    "render_s": 2e-4,
    "build_paper256_s": 1.0,
}


def _stub_cpu(seconds: float) -> dict:
    return {
        "date": "2000-01-01",
        "machine": {"cpu": "stub", "cpu_count": 2, "cores_used": [0], "torch": "0"},
        "chapters": {p.stem: {"seconds": seconds} for p in NOTEBOOKS},
        "total_seconds": seconds * len(NOTEBOOKS),
    }


def test_estimate_on_stub(ct, tmp_path, monkeypatch):
    path = tmp_path / "times.json"
    ct.save({"cpu": {"book": _stub_cpu(100.0), "fast": _stub_cpu(10.0)}}, path)
    monkeypatch.setattr(ct, "JSON_PATH", path)
    monkeypatch.setattr(ct, "load", lambda p=path: json.loads(p.read_text()))
    monkeypatch.setattr(ct, "save", lambda d, p=path: p.write_text(json.dumps(d)))
    rec = ct.estimate(STUB_UNITS)
    ch = rec["chapters"]
    assert set(ch) == {p.stem for p in NOTEBOOKS}
    h, t = ct.H200["cuda_start_s"], ct.T4_CUDA_START_S
    # chapters 0-3 and 5: the CPU book time plus the first CUDA call
    assert ch["00_preface"]["h200_s"] == pytest.approx(100 + h, abs=0.1)
    assert ch["00_preface"]["t4_s"] == pytest.approx(100 + t, abs=0.1)
    # chapter 6: capped live training (6 min) dominates, on either GPU
    assert 360 < ch["06_training"]["h200_s"] <= ch["06_training"]["t4_s"]
    # chapter 9: I3D on the H200 at the measured 559 clips/s for 16-frame clips
    i3d = [i for i in ch["09_evaluation"]["items"] if i["unit"] == "i3d16"]
    assert sum(i["h200_s"] for i in i3d) == pytest.approx(
        sum(i["count"] for i in i3d) / 559, rel=0.01
    )
    # the T4 is slower everywhere its GPU does the work
    for name in ("06_training", "07_infinite_videos", "09_evaluation", "10_scaling_up"):
        assert ch[name]["t4_s"] >= ch[name]["h200_s"], name
    # launch-bound floor: a step never beats the measured H200 cpu-preset step
    assert rec["seconds_per_unit"]["step_ch6"]["h200"] >= ct.H200["cpu_step_s"]


def test_estimate_formatting(ct):
    assert ct.fmt_estimate(2) == "~5 s"
    assert ct.fmt_estimate(47) == "~45 s"
    assert ct.fmt_estimate(400) == "~7 min"
    assert ct.fmt_estimate(4800) == "~80 min"
    assert ct.fmt_measured(25.14) == "25 s"
    assert ct.fmt_measured(428.4) == "7.1 min"


def test_json_covers_every_chapter(ct):
    data = ct.load()
    stems = {p.stem for p in NOTEBOOKS}
    for profile in ("book", "fast"):
        rec = data["cpu"][profile]
        assert set(rec["chapters"]) == stems, profile
        assert not [k for k, v in rec["chapters"].items() if v.get("error")], profile
        assert rec["machine"]["cpu_count"] and rec["machine"]["torch"]
    assert set(data["gpu"]["chapters"]) == stems
    assert set(ct.TITLES) == stems


def test_setup_table_agrees_with_json(ct):
    expected = ct.section_text(ct.load())
    assert ct.setup_section() == expected, (
        "book/setup.md's chapter times differ from book/chapter_times.json: "
        "run python tools/chapter_times.py --write-setup"
    )
