"""`svlib fvd REAL FAKE`: two sets of videos on disk, scored with the stand-in detector (no
weights needed)."""

import json
import zipfile

import numpy as np
import pytest
from metric_stand_ins import StatsDetector, dots
from PIL import Image

import svlib.metrics.compare as compare
from svlib.__main__ import main
from svlib.data.videos import FrameFolderDataset
from svlib.video_io import write_frames, write_video


def _folder(root, videos):
    for i, v in enumerate(videos):
        write_frames(root / f"video{i:03d}", v)
    return root


@pytest.fixture
def detector(monkeypatch):
    """The stand-in detector behind `svlib fvd`, marked trained so that its features are cached."""
    det = StatsDetector()
    det.untrained = False
    monkeypatch.setattr(compare, "load_i3d", lambda path=None, **kw: det)
    return det


@pytest.fixture
def reads(monkeypatch):
    """The folders whose frames were read."""
    seen = []
    original = FrameFolderDataset.read_frames

    def spy(self, i, idx):
        seen.append(self.root.name)
        return original(self, i, idx)

    monkeypatch.setattr(FrameFolderDataset, "read_frames", spy)
    return seen


def _fvd(capsys, *args):
    rc = main(["fvd", *map(str, args), "--device", "cpu"])
    out, err = capsys.readouterr()
    return rc, out, err


def test_same_set_is_zero_other_set_is_not(tmp_path, capsys, detector):
    # 16-frame videos: the one real clip of each starts at frame 0, like the fake clips, so a set
    # scored against itself compares identical clips
    real = _folder(tmp_path / "real", dots(12, length=16, seed=0))
    other = _folder(tmp_path / "other", dots(12, length=16, seed=7))
    grey = _folder(tmp_path / "grey", [np.full((16, 16, 16, 3), 128, np.uint8)] * 12)
    cache = tmp_path / "cache"
    values = {}
    for name, fake in (("same", real), ("other", other), ("grey", grey)):
        rc, out, err = _fvd(capsys, real, fake, "--metrics", "fvd16,kvd16", "--cache-dir", cache)
        assert rc == 0, err
        values[name] = json.loads(out)["results"]
    assert abs(values["same"]["fvd16"]["value"]) < 1e-8
    # the unbiased MMD² of a sample against itself is <= 0 (each k(x, y) <= (k(x, x) + k(y, y)) / 2)
    assert values["same"]["kvd16"]["value"] <= 0
    assert values["other"]["fvd16"]["value"] > 1e-4
    assert values["grey"]["fvd16"]["value"] > 10 * values["other"]["fvd16"]["value"]
    assert values["grey"]["kvd16"]["value"] > values["other"]["kvd16"]["value"] > 0


def test_json_states_the_protocol_and_cache_skips_the_real_set(tmp_path, capsys, detector, reads):
    real = _folder(tmp_path / "real", dots(6, length=24, seed=0))
    fake = _folder(tmp_path / "fake", dots(5, length=20, seed=3))
    cache, out = tmp_path / "cache", tmp_path / "res" / "fvd.json"
    args = (real, fake, "--n", 4, "--seed", 1, "--batch", 3, "--cache-dir", cache, "--out", out)
    rc, text, err = _fvd(capsys, *args)
    assert rc == 0, err
    res = json.loads(out.read_text())
    assert res == json.loads(text)
    r = res["results"]["fvd16"]
    assert (r["N_real"], r["N_fake"], r["num_frames"], r["stride"]) == (4, 4, 16, 1)
    assert (r["resolution"], r["fake_resolution"]) == (16, 16)
    assert "224" in r["resize"] and "[-1, 1]" in r["input_range"] and "logits" in r["features"]
    assert r["detector"] == StatsDetector.name and "weights" in r and "FVD16 =" in r["label"]
    assert res["real"]["videos"] == 6 and res["fake"]["videos"] == 5
    assert "FVD16 =" in err  # the label line
    assert "real" in reads and detector.clips == 8
    # second run: the real features come from the cache; only the fake set is read
    reads.clear()
    rc, text, err = _fvd(capsys, *args)
    assert rc == 0, err
    assert "real" not in reads and "fake" in reads and detector.clips == 8 + 4
    assert json.loads(text)["results"]["fvd16"]["value"] == pytest.approx(r["value"])
    # another seed picks other real offsets: a new cache entry, not a stale one
    reads.clear()
    assert _fvd(capsys, *args[:-2], "--seed", 2)[0] == 0 and "real" in reads
    # a frame rewritten in place, or another folder of the same name and size: not the cached entry
    first = real / "video000" / "000000.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(first)
    reads.clear()
    assert _fvd(capsys, *args)[0] == 0 and "real" in reads
    twin = _folder(tmp_path / "elsewhere" / "real", dots(6, length=24, seed=9))
    reads.clear()
    assert _fvd(capsys, twin, *args[1:])[0] == 0 and "real" in reads
    # --no-cache reads the real set again
    reads.clear()
    assert _fvd(capsys, real, fake, "--n", 4, "--no-cache")[0] == 0 and "real" in reads


def test_subsampled_variant_zip_and_video_files(tmp_path, capsys, detector):
    real = _folder(tmp_path / "real", dots(4, length=130, seed=2))  # stride 8 spans 121 frames
    zpath = tmp_path / "fake.zip"
    with zipfile.ZipFile(zpath, "w") as z:  # the frame layout one folder deep inside a zip
        for p in sorted(real.rglob("*.png")):
            z.write(p, f"top/{p.relative_to(real)}")
    rc, out, err = _fvd(capsys, real, zpath, "--metrics", "fvd128_sub8", "--no-cache")
    assert rc == 0, err
    r = json.loads(out)["results"]["fvd128_sub8"]
    assert (r["N_real"], r["N_fake"], r["num_frames"], r["stride"]) == (4, 4, 16, 8)
    mp4 = tmp_path / "mp4"
    mp4.mkdir()
    for i, v in enumerate(dots(4, length=40, seed=5)):
        write_video(mp4 / f"v{i}.mp4", v, fps=10)
    rc, out, err = _fvd(capsys, real, mp4, "--metrics", "fvd128_sub8", "--no-cache")
    assert rc == 2 and "FAKE" in err and "v0.mp4 has 40 frames" in err and "121" in err
    rc, out, err = _fvd(capsys, real, mp4, "--metrics", "kvd16", "--no-cache", "--n", 3)
    assert rc == 0, err
    r = json.loads(out)["results"]["kvd16"]
    assert r["N_fake"] == 3 and r["metric"] == "kvd16" and np.isfinite(r["value"])


def test_bad_inputs_are_one_line_and_status_2(tmp_path, capsys, detector):
    real = _folder(tmp_path / "real", dots(4, length=20))
    short = _folder(tmp_path / "short", dots(4, length=8))
    empty = tmp_path / "empty"
    empty.mkdir()
    grey = tmp_path / "grey" / "v0"
    grey.mkdir(parents=True)
    for k in range(20):
        Image.fromarray(np.full((16, 16), 90, np.uint8), "L").save(grey / f"{k:03d}.png")
    cases = [
        ((real, empty), "FAKE"),
        ((empty, real), "REAL"),
        ((real, tmp_path / "missing"), "FAKE"),
        ((real, short), "FAKE"),
        ((short, real), "REAL"),
        ((real, grey.parent), "grey"),
        ((real, real, "--metrics", "fvd17"), "--metrics"),
        ((real, real, "--n", 1), "--n-real"),
        ((real, real, "--out", real), "--out"),
    ]
    for args, named in cases:
        rc, out, err = _fvd(capsys, *args, "--no-cache")
        assert rc == 2, (args, err)
        assert err.count("\n") == 1 and named in err and err.startswith("svlib fvd: error:"), err
        assert out == ""
