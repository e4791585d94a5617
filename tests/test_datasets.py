import itertools
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import svlib
from svlib.config import SamplingConfig
from svlib.data import (
    ClipDataset,
    FrameFolderDataset,
    ShapesVideos,
    StepBatches,
    VideoDataset,
    VideoFileDataset,
    ZipDataset,
    natural_key,
    open_dataset,
    spec_with,
    step_loader,
)
from svlib.video_io import write_video


def indexed_frames(n, size=8, video=0):
    """Frames whose red channel is the frame index, green the video, blue a left-right ramp."""
    f = np.zeros((n, size, size, 3), np.uint8)
    f[..., 0] = np.arange(n, dtype=np.uint8)[:, None, None]
    f[..., 1] = video
    f[..., 2] = np.linspace(0, 255, size).astype(np.uint8)[None, None, :]
    return f


def write_folder(root, frames, names=None, ext="png"):
    root.mkdir(parents=True, exist_ok=True)
    names = names or [f"{k:06d}" for k in range(len(frames))]
    for name, f in zip(names, frames):
        Image.fromarray(f).save(
            root / f"{name}.{ext}", **({"quality": 100} if ext == "jpg" else {})
        )


class ArrayVideos(VideoDataset):
    """In-memory videos for ClipDataset tests."""

    def __init__(self, videos):
        self.videos, self.resolution, self.name = videos, videos[0].shape[1], "arrays"

    def __len__(self):
        return len(self.videos)

    def video_length(self, i):
        return len(self.videos[i])

    def read_frames(self, i, idx):
        return self.videos[i][self._check(i, idx)]


def test_natural_sort():
    names = ["10.png", "2.png", "1.png", "frame_11.png", "frame_9.png", "000003.png"]
    assert sorted(names, key=natural_key) == [
        "1.png",
        "2.png",
        "000003.png",
        "10.png",
        "frame_9.png",
        "frame_11.png",
    ]


def test_frame_folder_pixel_exact_and_natural_order(tmp_path):
    a, b = indexed_frames(12, video=1), indexed_frames(5, video=2)
    write_folder(tmp_path / "vidA", a, names=[str(k) for k in range(12)])  # unpadded: 0..11
    write_folder(tmp_path / "vidB", b)
    (tmp_path / "dataset.json").write_text("{}")  # ignored
    ds = FrameFolderDataset(tmp_path)
    assert len(ds) == 2 and ds.resolution == 8 and ds.lengths.tolist() == [12, 5]
    assert [ds.video_name(i) for i in range(2)] == ["vidA", "vidB"]
    assert np.array_equal(ds.read_video(0), a)  # "2" before "10"
    assert np.array_equal(ds.read_frames(1, np.array([4, 0])), b[[4, 0]])
    with pytest.raises(IndexError):
        ds.read_frames(1, [5])


def test_frame_folder_resize_nested_and_jpg(tmp_path):
    f = np.zeros((3, 16, 24, 3), np.uint8)
    f[:, :, 4:20] = 180  # bright centre square, dark margins
    write_folder(tmp_path / "class1" / "v0", f, ext="jpg")
    ds = FrameFolderDataset(tmp_path, resolution=8)
    assert ds.video_name(0) == "class1/v0" and ds.resolution == 8
    out = ds.read_video(0)
    assert out.shape == (3, 8, 8, 3) and abs(out[:, :, 1:-1].astype(int) - 180).max() < 12
    with pytest.raises(ValueError, match="not square"):
        FrameFolderDataset(tmp_path)


def test_zip_with_top_folder_and_nesting(tmp_path):
    a, b = indexed_frames(4, video=1), indexed_frames(3, video=2)
    write_folder(tmp_path / "src" / "top" / "vidA", a)
    write_folder(tmp_path / "src" / "top" / "class" / "vidB", b, names=["1", "2", "10"])
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as zf:
        for p in sorted((tmp_path / "src").rglob("*.png")):
            zf.write(p, p.relative_to(tmp_path / "src").as_posix())
    ds = open_dataset(tmp_path / "data.zip")
    assert isinstance(ds, ZipDataset) and len(ds) == 2 and ds.name == "data"
    names = [ds.video_name(i) for i in range(2)]
    assert names == ["top/class/vidB", "top/vidA"]
    assert np.array_equal(ds.read_video(1), a) and np.array_equal(ds.read_video(0), b)
    # usable from DataLoader workers (the zip handle is reopened per process and not pickled)
    import pickle

    ds2 = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(ds2.read_video(1), a)


def test_video_files_close(tmp_path):
    f = (np.linspace(0, 255, 16)[None, None, :, None] * np.ones((10, 16, 16, 3))).astype(np.uint8)
    f[..., 1] = np.arange(10, dtype=np.uint8)[:, None, None] * 20  # green encodes time
    write_video(tmp_path / "vids" / "a.mp4", f, fps=10)
    write_video(tmp_path / "vids" / "b.mp4", f[:6], fps=10)
    ds = open_dataset(tmp_path / "vids")
    assert (
        isinstance(ds, VideoFileDataset) and ds.lengths.tolist() == [10, 6] and ds.resolution == 16
    )
    assert np.abs(ds.read_video(0).astype(int) - f).mean() < 5
    assert np.abs(ds.read_frames(0, [7, 2]).astype(int) - f[[7, 2]]).mean() < 5
    single = open_dataset(tmp_path / "vids" / "b.mp4", resolution=8)
    assert len(single) == 1 and single.read_video(0).shape == (6, 8, 8, 3)


def test_open_dataset_synthetic_spec():
    ds = open_dataset("synthetic:shapes?n=5&length=20&resolution=16&seed=3")
    assert isinstance(ds, ShapesVideos) and (
        len(ds),
        ds.video_length(0),
        ds.resolution,
        ds.seed,
    ) == (5, 20, 16, 3)
    assert open_dataset("synthetic:sky?n=2", resolution=8).resolution == 8
    with pytest.raises(ValueError, match="nosuchset"):
        open_dataset("synthetic:nosuchset")
    with pytest.raises(ValueError, match="resolution"):
        open_dataset("synthetic:shapes?resolution=16", resolution=32)


def test_spec_with_replaces_parameters_and_keeps_the_rest():
    spec = "synthetic:shapes?n=64&max_shapes=1&speed=0.015,0.03&seed=0"
    out = spec_with(spec, n=5, seed=2, length=20, radius=(0.1, 0.2), max_shapes=None)
    assert out == "synthetic:shapes?n=5&speed=0.015,0.03&seed=2&length=20&radius=0.1,0.2"
    ds, base = open_dataset(out), open_dataset(spec_with(spec, n=5, length=20, max_shapes=None))
    assert (len(ds), ds.video_length(0), ds.seed) == (5, 20, 2)
    # another seed: other videos of the same kind; the same seed: the same videos
    assert not np.array_equal(ds.read_video(0), base.read_video(0))
    assert np.array_equal(open_dataset(out).read_video(1), ds.read_video(1))
    with pytest.raises(ValueError, match="not a 'synthetic"):
        spec_with("/data/videos", n=3)


def test_bad_inputs_name_the_culprit(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        open_dataset(tmp_path / "missing_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        open_dataset(tmp_path / "empty")
    with pytest.raises(ValueError, match="empty"):
        FrameFolderDataset(tmp_path / "empty")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="notes.txt"):
        open_dataset(tmp_path / "notes.txt")
    (tmp_path / "bad.zip").write_bytes(b"PK garbage")
    with pytest.raises(ValueError, match="bad.zip"):
        open_dataset(tmp_path / "bad.zip")
    # truncated png: listed fine, fails on read with its name
    write_folder(tmp_path / "trunc" / "v", indexed_frames(3, size=32) * 7)
    p = tmp_path / "trunc" / "v" / "000001.png"
    p.write_bytes(p.read_bytes()[:60])
    ds = FrameFolderDataset(tmp_path / "trunc")
    assert np.array_equal(ds.read_frames(0, [0]), indexed_frames(1, size=32) * 7)
    with pytest.raises(ValueError, match="000001.png"):
        ds.read_frames(0, [1])
    # mixed sizes inside one video
    write_folder(tmp_path / "mixed" / "v", indexed_frames(2, size=8))
    Image.fromarray(indexed_frames(1, size=10)[0]).save(tmp_path / "mixed" / "v" / "000002.png")
    ds = FrameFolderDataset(tmp_path / "mixed")
    with pytest.raises(ValueError, match="000002.png"):
        ds.read_video(0)
    # mixed sizes across videos without a target resolution
    write_folder(tmp_path / "mixed2" / "a", indexed_frames(2, size=8))
    write_folder(tmp_path / "mixed2" / "b", indexed_frames(2, size=10))
    with pytest.raises(ValueError, match="mixed frame sizes"):
        FrameFolderDataset(tmp_path / "mixed2")
    assert FrameFolderDataset(tmp_path / "mixed2", resolution=8).read_video(1).shape == (2, 8, 8, 3)
    # truncated mp4 in a video folder
    write_video(tmp_path / "vids" / "ok.mp4", indexed_frames(8, size=16))
    data = (tmp_path / "vids" / "ok.mp4").read_bytes()
    (tmp_path / "vids" / "cut.mp4").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.mp4"):
        _ = open_dataset(tmp_path / "vids", resolution=16).lengths


def test_clip_items_shapes_and_window():
    videos = ArrayVideos([indexed_frames(200, video=1), indexed_frames(30, video=2)])
    s = SamplingConfig(num_frames=3, max_dist=16, max_num_frames=40)
    ds = ClipDataset(videos, s, seed=0)
    starts = set()
    for _ in range(30):
        item = ds[0]
        assert item["frames"].shape == (3, 3, 8, 8) and item["frames"].dtype == torch.uint8
        assert item["t"].dtype == torch.float32 and item["length"].dtype == torch.int64
        assert item["length"].item() == 40 and item["index"].item() == 0
        t = item["t"].numpy()
        assert (
            (np.diff(t) >= 1).all() and t.min() >= 0 and t.max() <= 39 and (t == np.round(t)).all()
        )
        frame_ids = item["frames"][:, 0, 0, 0].numpy().astype(int)  # red = absolute frame index
        assert np.array_equal(frame_ids - frame_ids[0], t - t[0])  # frames match their times
        starts.add(int(frame_ids[0] - t[0]))  # the random 40-frame window start
    assert len(starts) > 5 and max(starts) <= 160
    item = ds[1]
    assert item["length"].item() == 30 and item["frames"][0, 1, 0, 0].item() == 2
    assert np.array_equal(ds.clip_lengths, [40, 30])


def test_clip_determinism_and_fresh_draws():
    videos = ArrayVideos([indexed_frames(100, video=v) for v in range(3)])
    s = SamplingConfig(max_dist=32)
    seq = lambda ds: [ds[k % 3]["t"].tolist() for k in range(12)]  # noqa: E731
    a, b, c = (
        ClipDataset(videos, s, seed=5),
        ClipDataset(videos, s, seed=5),
        ClipDataset(videos, s, seed=6),
    )
    first = seq(a)
    assert first == seq(b) and first != seq(c)
    assert len({tuple(x) for x in first[0::3]}) > 1  # revisiting a video gives a fresh clip
    a.set_epoch(0)
    assert seq(a) == first  # set_epoch restarts the stream
    a.set_epoch(1)
    assert seq(a) != first


def test_workers_do_not_duplicate_streams():
    videos = ArrayVideos([indexed_frames(100)])
    ds = ClipDataset(videos, SamplingConfig(), seed=0)
    dl = torch.utils.data.DataLoader(ds, batch_size=1, sampler=[0, 0, 0, 0], num_workers=2)
    ts = [tuple(b["t"][0].tolist()) for b in dl]
    assert len(set(ts)) == 4


def test_mirror_flips_whole_clip():
    videos = ArrayVideos([indexed_frames(64)])  # blue ramps up left -> right in every frame
    ds = ClipDataset(videos, SamplingConfig(), mirror=True, seed=0)
    flips = []
    for _ in range(40):
        blue = ds[0]["frames"][:, 2].float()  # [F, H, W]
        rising = (blue[:, 0, -1] > blue[:, 0, 0]).tolist()
        assert len(set(rising)) == 1  # all frames flipped together, or none
        flips.append(not rising[0])
    assert 5 < sum(flips) < 35


def test_too_short_videos():
    short = ArrayVideos([indexed_frames(2), indexed_frames(1)])
    with pytest.raises(ValueError, match=r"arrays\[0\]"):
        ClipDataset(short, SamplingConfig(num_frames=3))
    mixed = ArrayVideos([indexed_frames(2), indexed_frames(10)])
    with pytest.warns(UserWarning, match=r"arrays\[0\]"):
        ds = ClipDataset(mixed, SamplingConfig(num_frames=3))
    assert len(ds) == 1 and ds[0]["index"].item() == 1
    with pytest.raises(ValueError, match=r"arrays\[0\]"):
        ClipDataset(mixed, SamplingConfig(num_frames=3), on_short="error")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(ClipDataset(mixed, SamplingConfig(num_frames=2))) == 2  # F=2 fits both


def test_clip_dataset_on_synthetic_loader():
    ds = ClipDataset(
        open_dataset("synthetic:digits?n=4&length=32&resolution=16"), SamplingConfig(max_dist=8)
    )
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["frames"].shape == (4, 3, 3, 16, 16) and batch["t"].shape == (4, 3)
    assert batch["frames"].float().mean() > 0  # digits are drawn


def step_batches(seed=0, rank=0, batch=4):
    cfg = svlib.get_preset("cpu", resolution=8)
    cfg.train.seed, cfg.train.mirror = seed, True
    cfg.sampling = SamplingConfig(num_frames=3, max_dist=16, max_num_frames=40)
    videos = ArrayVideos([indexed_frames(60 + 10 * v, video=v) for v in range(5)])
    return StepBatches(videos, cfg, batch=batch, rank=rank)


def test_step_batches_items_shapes_and_frames_match_times():
    b = step_batches()[7]
    assert b["frames"].shape == (4, 3, 3, 8, 8) and b["frames"].dtype == torch.uint8
    assert b["t"].shape == (4, 3) and b["t_fake"].shape == (4, 3)
    assert b["t"].dtype == torch.float32 and b["t_fake"].dtype == torch.float32
    frame_ids = b["frames"][:, :, 0, 0, 0].long()  # [b, F] red = absolute frame index
    assert torch.equal(frame_ids - frame_ids[:, :1], (b["t"] - b["t"][:, :1]).long())


def test_step_batches_are_a_function_of_seed_step_rank():
    a, again = step_batches(seed=3), step_batches(seed=3)
    order = [5, 0, 5, 2]  # any access order, repeated access, a fresh instance: same batch
    batches = [a[s] for s in order]
    for s, b in zip(order, batches):
        for key in ("frames", "t", "t_fake"):
            assert torch.equal(b[key], again[s][key]), (s, key)
    assert not torch.equal(a[0]["t_fake"], a[1]["t_fake"])  # steps differ
    assert not torch.equal(a[4]["t_fake"], step_batches(seed=3, rank=1)[4]["t_fake"])  # ranks
    assert not torch.equal(a[4]["t_fake"], step_batches(seed=4)[4]["t_fake"])  # seeds


@pytest.mark.parametrize("num_workers", [0, 1])
def test_step_loader_resumes_at_its_start_step(num_workers):
    ds = step_batches(seed=1)
    got = list(itertools.islice(step_loader(ds, start_step=10, num_workers=num_workers), 3))
    for step, b in zip(range(10, 13), got):
        want = ds[step]
        assert all(torch.equal(b[k], want[k]) for k in ("frames", "t", "t_fake")), step


DATA_MODULES = ("clips", "prepare", "sources", "synthetic", "videos")


@pytest.mark.parametrize("module", DATA_MODULES)
def test_data_submodule_imports_alone(module):
    """Each submodule imports first in a fresh interpreter (no cycle through svlib.data)."""
    subprocess.run([sys.executable, "-c", f"import svlib.data.{module}"], check=True)


def test_data_submodules_import_in_every_order():
    """Without the package __init__s running first, every import order of the submodules works.

    The packages svlib and svlib.data are stood in for by bare modules with the right __path__,
    so each submodule runs only its own imports; a cycle would fail with a partially initialised
    module in some order.
    """
    root = Path(svlib.__file__).parent
    script = f"""
import importlib, itertools, sys, types
for name, path in (("svlib", {str(root)!r}), ("svlib.data", {str(root / "data")!r})):
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = [path]
mods = {DATA_MODULES!r}
for order in itertools.permutations(mods):
    for m in mods:
        sys.modules.pop("svlib.data." + m, None)
    for m in order:
        importlib.import_module("svlib.data." + m)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
