import os

import numpy as np
import pytest
from PIL import Image

from svlib.video_io import (
    ffmpeg_exe,
    iter_frames,
    read_video,
    resize_center_crop,
    video_info,
    write_frames,
    write_video,
)


def moving_frames(n=12, h=32, w=48):
    """Smooth frames that change over time (codec-friendly): a gradient plus a moving bright bar."""
    y, x = np.mgrid[:h, :w]
    f = np.zeros((n, h, w, 3), np.uint8)
    for k in range(n):
        f[k, ..., 0] = x * 255 // (w - 1)
        f[k, ..., 1] = y * 255 // (h - 1)
        f[k, ..., 2] = 30 + 200 * np.exp(
            -(((x - 2 * k - 8) / 4.0) ** 2)
        )  # soft edges: 4:2:0 chroma friendly
    return f


@pytest.fixture(scope="module")
def mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("vid") / "clip.mp4"
    frames = moving_frames()
    write_video(path, frames, fps=10)
    return path, frames


def test_ffmpeg_exe_exists():
    assert os.path.isfile(ffmpeg_exe())


def test_mp4_roundtrip_close(mp4):
    path, frames = mp4
    v = read_video(path)
    assert v.dtype == np.uint8 and v.shape == frames.shape
    err = np.abs(v.astype(int) - frames).mean(axis=(1, 2, 3))
    assert err.max() < 5, err  # crf 18, yuv420p: close on smooth content
    # frame order preserved: the bar moves right by 2 px per frame
    bar = v[..., 2].mean(axis=1).argmax(axis=1)
    assert (np.diff(bar) > 0).all()
    info = video_info(path)
    assert (info["width"], info["height"]) == (48, 32) and info["fps"] == pytest.approx(10)
    assert sum(1 for _ in iter_frames(path)) == len(frames)


def test_fps_and_resolution_options(mp4):
    path, frames = mp4
    assert len(read_video(path, fps=20)) == 2 * len(frames)
    small = read_video(path, resolution=16)
    assert small.shape == (len(frames), 16, 16, 3)
    # the centre crop keeps the middle of the red x-gradient
    assert 70 < small[0, :, :, 0].mean() < 185


def test_odd_size_padded_to_even(tmp_path):
    frames = moving_frames(4, 15, 21)
    write_video(tmp_path / "odd.mp4", frames)
    v = read_video(tmp_path / "odd.mp4")
    assert v.shape == (4, 16, 22, 3)
    assert np.abs(v[:, :15, :21].astype(int) - frames).mean() < 8


def test_other_codecs(tmp_path):
    frames = moving_frames(4)
    write_video(tmp_path / "x.webm", frames, codec="vp9")
    assert read_video(tmp_path / "x.webm").shape == frames.shape
    write_video(tmp_path / "x.mkv", frames, codec="h264rgb", crf=0)
    assert np.array_equal(read_video(tmp_path / "x.mkv"), frames)  # lossless RGB


def test_write_frames_pixel_exact(tmp_path):
    frames = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    paths = write_frames(tmp_path / "v", frames)
    assert [p.name for p in paths] == ["000000.png", "000001.png", "000002.png"]
    assert np.array_equal(np.stack([np.asarray(Image.open(p)) for p in paths]), frames)


def test_bad_inputs_name_the_file(tmp_path, mp4):
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        read_video(tmp_path / "nope.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video" * 50)
    with pytest.raises(ValueError, match="junk.mp4"):
        read_video(tmp_path / "junk.mp4")
    data = mp4[0].read_bytes()
    for frac in (0.5, 0.9):  # cut inside the stream: fails to open, or decodes partially
        p = tmp_path / f"cut{int(frac * 100)}.mp4"
        p.write_bytes(data[: int(len(data) * frac)])
        with pytest.raises(ValueError, match=p.name):
            read_video(p)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(ValueError, match="empty.mp4"):
        read_video(tmp_path / "empty.mp4")
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="codec"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 8, 8, 3), np.uint8), codec="nope")


def test_resize_center_crop():
    a = np.zeros((20, 40, 3), np.uint8)
    a[:, 10:30] = 200  # the centre square is bright, the margins dark
    out = np.asarray(resize_center_crop(Image.fromarray(a), 10))
    assert (
        out.shape == (10, 10, 3) and out[:, 1:-1].min() >= 195
    )  # margins cropped (Lanczos rings at the edge)
    assert out.min() > 150
    tall = np.asarray(resize_center_crop(Image.fromarray(np.full((40, 20, 3), 77, np.uint8)), 8))
    assert tall.shape == (8, 8, 3) and (tall == 77).all()
