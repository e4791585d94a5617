import json

import numpy as np
import pytest
from PIL import Image

from svlib.data import open_dataset, prepare_dataset
from svlib.video_io import write_video


def split_frames(n, h=32, w=48):
    """Centre square bright red, left margin dark, right margin blue: a centre crop is all red."""
    f = np.zeros((n, h, w, 3), np.uint8)
    lo, hi = (w - min(h, w)) // 2, (w + min(h, w)) // 2
    f[:, :, lo:hi, 0] = 220
    f[:, :, hi:, 2] = 220
    f[:, :, :, 1] = np.arange(n, dtype=np.uint8)[:, None, None] * 10  # green encodes time
    return f


@pytest.fixture
def src(tmp_path):
    write_video(tmp_path / "src" / "b.mp4", split_frames(10, 32, 32), fps=10)
    write_video(tmp_path / "src" / "sub" / "a.mp4", split_frames(12), fps=10)
    (tmp_path / "src" / "readme.txt").write_text("ignored")
    return tmp_path / "src"


def test_prepare_folder(src, tmp_path):
    dst = tmp_path / "dst"
    assert prepare_dataset(src, dst, resolution=16, progress=False) == 2
    assert sorted(p.name for p in (dst / "sub" / "a").iterdir())[:2] == ["000000.png", "000001.png"]
    meta = json.loads((dst / "dataset.json").read_text())
    assert meta["videos"]["sub/a"]["num_frames"] == 12 and meta["videos"]["b"]["num_frames"] == 10
    assert meta["videos"]["b"]["source_fps"] == pytest.approx(10) and meta["resolution"] == 16
    ds = open_dataset(dst)
    assert ds.resolution == 16 and ds.lengths.tolist() == [10, 12]
    a = ds.read_video(1).astype(int)  # the 48x32 video, centre-cropped
    assert a[..., 0].mean() > 190 and a[..., 2].mean() < 25  # blue margin cropped away
    assert (np.diff(a[:, 8, 8, 1]) > 0).all()  # frames in time order


def test_prepare_fps_jpg_single_file_and_limit(src, tmp_path):
    n = prepare_dataset(
        src / "sub" / "a.mp4", tmp_path / "one", resolution=8, fps=5, ext="jpg", progress=False
    )
    assert n == 1
    frames = sorted((tmp_path / "one" / "a").iterdir())
    assert len(frames) == 6 and frames[0].suffix == ".jpg"  # 12 frames at 10 fps -> 6 at 5 fps
    assert Image.open(frames[0]).size == (8, 8)
    assert prepare_dataset(src, tmp_path / "lim", resolution=8, max_videos=1, progress=False) == 1
    # re-running over a longer earlier conversion leaves no stale frames
    prepare_dataset(src / "sub" / "a.mp4", tmp_path / "one", resolution=8, fps=2.5, progress=False)
    assert len(list((tmp_path / "one" / "a").iterdir())) == 3


def test_prepare_errors_name_the_culprit(src, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        prepare_dataset(tmp_path / "nothing_here", tmp_path / "d", 16)
    (tmp_path / "novids").mkdir()
    with pytest.raises(ValueError, match="novids"):
        prepare_dataset(tmp_path / "novids", tmp_path / "d", 16)
    data = (src / "b.mp4").read_bytes()
    (src / "broken.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="broken.mp4"):
        prepare_dataset(src, tmp_path / "d", 16, progress=False)
    with pytest.raises(ValueError, match="resolution"):
        prepare_dataset(src, tmp_path / "d", 0)


def test_prepare_is_all_or_nothing_per_video(src, tmp_path):
    dst = tmp_path / "dst"
    prepare_dataset(src, dst, resolution=16, progress=False)
    good = sorted(p.name for p in (dst / "b").iterdir())
    data = (src / "b.mp4").read_bytes()
    (src / "b.mp4").write_bytes(data[: len(data) // 2])  # the source of "b" breaks
    with pytest.raises(ValueError, match=r"1 of 2 videos failed.*b\.mp4"):
        prepare_dataset(src, dst, resolution=16, progress=False)
    assert sorted(p.name for p in (dst / "b").iterdir()) == good  # its old frames are kept
    assert not list(dst.rglob(".*partial*"))  # and no half-written folder is left
    assert json.loads((dst / "dataset.json").read_text())["failed"].keys() == {"b"}
    with pytest.raises(ValueError, match="incomplete.*re-run prepare"):
        open_dataset(dst)  # train refuses a dataset with a failed video
    (src / "b.mp4").write_bytes(data)
    assert prepare_dataset(src, dst, resolution=16, progress=False) == 2
    assert open_dataset(dst).lengths.tolist() == [10, 12]
