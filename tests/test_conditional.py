"""Class-conditional models: labels from dataset.json and the synthetic sets, c through the batch,
G, D and the training step, `generate --class K` with per-class truncation, and the one-line
errors of bad labels."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import svlib
from svlib.__main__ import main
from svlib.checkpoint import load_checkpoint, load_generator
from svlib.checks import UsageError
from svlib.data import (
    ClipDataset,
    StepBatches,
    VideoDataset,
    dataset_labels,
    make_synthetic,
    open_dataset,
    prepare_dataset,
)
from svlib.generate import class_label, class_w_avg, generate_frames, map_latents
from svlib.models import build_models
from svlib.training import TrainingState, step_generator, train, train_step
from svlib.video_io import write_video

SHAPES = "synthetic:shapes?n=8&length=24&labels=shape"


def tiny(c_dim=3, **over):
    return svlib.get_preset("tiny", {"G.c_dim": c_dim, "D.c_dim": c_dim, **over})


def write_videos(root, names, frames=2, size=8):
    """Frame folders root/<name>/00000k.png; video j's frames are all of grey level 40·j."""
    for j, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for k in range(frames):
            img = np.full((size, size, 3), 40 * j, np.uint8)
            Image.fromarray(img).save(root / name / f"{k:06d}.png")


def write_labels(root, labels):
    (root / "dataset.json").write_text(json.dumps({"labels": labels}))


# ---------------------------------------------------------------------------------------------
# Labels from dataset.json


def test_frame_folder_labels_official_format(tmp_path):
    write_videos(tmp_path, ["a/v1", "a/v2", "b/v3"])
    # one entry per frame, as the official tools write them
    write_labels(
        tmp_path,
        [
            [f"{v}/{k:06d}.png", c]
            for v, c in (("a/v1", 2), ("a/v2", 0), ("b/v3", 1))
            for k in (0, 1)
        ],
    )
    ds = open_dataset(tmp_path)
    assert ds.raw_labels.tolist() == [2, 0, 1]  # in the dataset's own video order
    c = dataset_labels(ds, 4)
    assert c.shape == (3, 4) and c.dtype == np.float32
    assert c.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]


def test_zip_labels_with_top_folder_and_vectors(tmp_path):
    src = tmp_path / "src"
    write_videos(src / "top", ["v1", "v2"])
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in sorted(src.rglob("*.png")):
            zf.write(f, f.relative_to(src).as_posix())
        # keyed by the video folder, without the zip's top folder; labels as vectors
        zf.writestr("top/dataset.json", json.dumps({"labels": {"v1": [0.5, 1], "v2": [0, 2]}}))
    ds = open_dataset(path)
    assert ds.raw_labels.tolist() == [[0.5, 1.0], [0.0, 2.0]]
    assert dataset_labels(ds, 2).tolist() == [[0.5, 1.0], [0.0, 2.0]]
    with pytest.raises(UsageError, match="2 entries but c_dim is 3"):
        dataset_labels(ds, 3)


@pytest.mark.parametrize(
    "labels, message",
    [
        ([["v1/000000.png", 0]], r"dataset.json: no label for 1 of 2 videos \(first: 'v2'\)"),
        ({"v1": 0, "v2": -1}, "classes count from 0"),
        ({"v1": 0, "v2": "cat"}, "must be a class index"),
        ({"v1": 0, "v2": [1.0, 0.0]}, "not a mix"),
        ([["v1/000000.png", 0], ["v1/000001.png", 1], ["v2", 0]], "'v1' has two labels"),
        ([["v1", 0, 1]], r"list of \[relative_path, class\] pairs"),
        ("v1", r"list of \[relative_path, class\] pairs"),
        ([], '"labels" is empty'),
    ],
)
def test_bad_labels_name_the_file(tmp_path, labels, message):
    write_videos(tmp_path, ["v1", "v2"])
    write_labels(tmp_path, labels)
    ds = open_dataset(tmp_path)  # unconditional use never reads them
    with pytest.raises(UsageError, match=message) as e:
        dataset_labels(ds, 2)
    assert str(tmp_path / "dataset.json") in str(e.value) and "\n" not in str(e.value)


def test_not_json_and_class_beyond_c_dim(tmp_path):
    write_videos(tmp_path, ["v1", "v2"])
    (tmp_path / "dataset.json").write_text("{labels: ")
    with pytest.raises(UsageError, match="not valid JSON"):
        dataset_labels(open_dataset(tmp_path), 2)
    write_labels(tmp_path, {"v1": 0, "v2": 5})
    with pytest.raises(UsageError, match=r"class index 5 \(video 'v2'\) is outside \[0, c_dim=3\)"):
        dataset_labels(open_dataset(tmp_path), 3)
    (tmp_path / "dataset.json").unlink()
    with pytest.raises(UsageError, match="c_dim=3 .* has no labels"):
        dataset_labels(open_dataset(tmp_path), 3)


def test_prepare_keeps_labels(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("walk/a", "run/b"):
        write_video(
            tmp_path / "raw" / f"{name}.mp4", rng.integers(0, 255, (3, 16, 16, 3), np.uint8)
        )
    write_labels(tmp_path / "raw", [["walk/a.mp4", 1], ["run/b.mp4", 0]])
    prepare_dataset(tmp_path / "raw", tmp_path / "out", 8, progress=False)
    ds = open_dataset(tmp_path / "out")
    names = [ds.video_name(i) for i in range(len(ds))]
    assert dict(zip(names, ds.raw_labels.tolist())) == {"walk/a": 1, "run/b": 0}
    meta = json.loads((tmp_path / "out" / "dataset.json").read_text())
    assert sorted(meta["labels"]) == [["run/b/000000.png", 0], ["walk/a/000000.png", 1]]
    # a source video without a label stops prepare before it writes anything
    write_labels(tmp_path / "raw", [["walk/a.mp4", 1]])
    with pytest.raises(UsageError, match="no label for 1 of 2 videos"):
        prepare_dataset(tmp_path / "raw", tmp_path / "out2", 8, progress=False)
    assert not (tmp_path / "out2").exists()


# ---------------------------------------------------------------------------------------------
# Synthetic labels


def test_synthetic_shape_labels_are_the_ground_truth():
    plain = make_synthetic("shapes", n=12, resolution=16)
    ds = make_synthetic("shapes", n=12, resolution=16, labels="shape")
    assert ds.label_names == ("circle", "square", "triangle")
    assert sorted(set(ds.raw_labels.tolist())) == [0, 1, 2]
    for i in range(12):
        p, q = ds.params(i), plain.params(i)
        assert {s["shape"] for s in p["shapes"]} == {ds.label_names[p["label"]]}
        # the class is drawn last: everything else is the unlabelled set's video
        for s, r in zip(p["shapes"], q["shapes"]):
            assert {k: v for k, v in s.items() if k != "shape"} == {
                k: v for k, v in r.items() if k != "shape"
            }


def test_other_synthetic_labels_and_bad_kinds():
    periodic = open_dataset("synthetic:periodic?n=6&labels=kind", resolution=16)
    assert [periodic.kinds[k] for k in periodic.raw_labels] == [
        periodic.params(i)["kind"] for i in range(6)
    ]
    digits = make_synthetic("digits", n=6, resolution=16, labels="digit")
    for i in range(6):
        p = digits.params(i)
        assert {d["label"] for d in p["digits"]} == {p["label"]}
    assert open_dataset("synthetic:sky?n=2", resolution=16).raw_labels is None
    with pytest.raises(UsageError, match="labels must be one of: none"):
        open_dataset("synthetic:sky?labels=kind")
    with pytest.raises(UsageError, match="labels must be one of: shape"):
        open_dataset("synthetic:shapes?labels=colour")


# ---------------------------------------------------------------------------------------------
# Batches: real c with its clip, fake c with the video its timestamps were drawn for


class TwoClassVideos(VideoDataset):
    """Class-0 videos are 6 frames long and black, class-1 videos 48 frames and white."""

    name, resolution = "two-class", 16

    def __len__(self):
        return 8

    def video_length(self, i):
        return 6 if i % 2 == 0 else 48

    def read_frames(self, i, idx):
        return np.full((len(self._check(i, idx)), 16, 16, 3), 255 * (i % 2), np.uint8)

    def _load_labels(self):
        return np.arange(8) % 2


def test_step_batches_carry_real_and_fake_labels():
    cfg = tiny(2)
    batches = StepBatches(TwoClassVideos(), cfg, batch=16)
    plain = StepBatches(TwoClassVideos(), svlib.get_preset("tiny"), batch=16)
    for step in range(3):
        b, u = batches[step], plain[step]
        assert set(b) == {"frames", "t", "t_fake", "c", "c_fake"} and "c" not in u
        # labels change no random draw: the clips and timestamps are the unconditional ones
        assert torch.equal(b["t"], u["t"]) and torch.equal(b["t_fake"], u["t_fake"])
        assert torch.equal(b["c"][:, 1], b["frames"][:, 0, 0, 0, 0].float() / 255)
        # fake timestamps beyond frame 5 can only come from a 48-frame video, i.e. class 1
        long = b["t_fake"].amax(1) > 5
        assert long.any() and (b["c_fake"][long, 1] == 1).all()
        assert (b["c"].sum(1) == 1).all() and (b["c_fake"].sum(1) == 1).all()
    item = ClipDataset(TwoClassVideos(), cfg.sampling, labels=dataset_labels(TwoClassVideos(), 2))[
        3
    ]
    assert item["c"].tolist() == [0.0, 1.0] and int(item["index"]) == 3


# ---------------------------------------------------------------------------------------------
# The networks and the training step


def test_c_enters_mapping_motion_and_D():
    G, D = build_models(tiny(3))
    z, t = torch.randn(2, 32), torch.tensor([[0.0, 2.0, 5.0]] * 2)
    mz = G.sample_motion_z(2, 5)
    c1, c2 = torch.eye(3)[[0, 1]], torch.eye(3)[[2, 2]]
    with torch.no_grad():
        x1, x2 = G(z, t, c1, motion_z=mz), G(z, t, c2, motion_z=mz)
        w = G.mapping(z, c1)
        # c also conditions the motion codes: same w, other label -> other motion embedding
        v1, v2 = G.motion_embedding(t, mz, c1), G.motion_embedding(t, mz, c2)
        y1, y2 = D(x1, t, c1), D(x1, t, c2)
    assert not torch.allclose(x1, x2) and not torch.allclose(v1, v2)
    assert not torch.allclose(w, G.mapping(z, c2))
    assert y1.shape == (2,) and not torch.allclose(y1, y2)
    with pytest.raises(ValueError, match="c must have shape"):
        G(z, t, motion_z=mz)


def test_train_step_uses_the_labels():
    cfg = tiny(3)
    state = TrainingState.create(cfg)
    ds = open_dataset(SHAPES, resolution=16)
    batch = StepBatches(ds, state.cfg, batch=4)[0]
    embed_g = state.G.mapping.embed.weight.clone()
    embed_d = state.D.mapping.embed.weight.clone()
    stats = train_step(state, batch, step_generator(0, 0))
    assert all(np.isfinite(v) for v in stats.values())
    # c reaches both networks' label embeddings through the losses
    assert not torch.equal(embed_g, state.G.mapping.embed.weight)
    assert not torch.equal(embed_d, state.D.mapping.embed.weight)
    with pytest.raises(ValueError, match="no labels 'c' and 'c_fake'"):
        train_step(state, {k: batch[k] for k in ("frames", "t", "t_fake")}, step_generator(0, 1))


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    """A 3-step conditional run on labelled shapes (tiny preset)."""
    out = tmp_path_factory.mktemp("cond") / "run"
    train(tiny(3), SHAPES, out, steps=3, progress=False, sample_frames=4, num_preview=4)
    return out


def test_resume_is_exact_and_checkpoints_keep_c_dim(tmp_path, cond_run):
    part = tmp_path / "part"
    train(tiny(3), SHAPES, part, steps=2, progress=False, sample_frames=4, num_preview=4)
    train(tiny(3), SHAPES, part, steps=3, resume=True, progress=False, sample_frames=4)
    a, b = (
        load_checkpoint(cond_run / "checkpoint-0000003.pt"),
        load_checkpoint(part / "checkpoint-0000003.pt"),
    )
    for name in ("G", "D", "G_ema"):
        for k in a[name]:
            assert torch.equal(a[name][k], b[name][k]), f"{name}.{k} differs after resume"
    assert a["config"]["G"]["c_dim"] == a["config"]["D"]["c_dim"] == 3
    G, cfg = load_generator(cond_run)
    assert G.cfg.c_dim == 3 and G.mapping.embed is not None


# ---------------------------------------------------------------------------------------------
# Generation: --class K and the per-class truncation centre


def test_class_generation_and_truncation_centre():
    torch.manual_seed(0)
    G, _ = build_models(tiny(3))
    G.eval()
    by_class = generate_frames(G, 3, seed=5, num_videos=2, class_index=1)
    by_c = generate_frames(G, 3, seed=5, num_videos=2, c=torch.eye(3)[1])
    assert torch.equal(by_class, by_c)
    assert not torch.allclose(by_class, generate_frames(G, 3, seed=5, num_videos=2, class_index=2))
    z = torch.randn(4, 32)
    c = torch.eye(3)[[0, 0, 2, 2]]
    centre0, centre2 = class_w_avg(G, torch.eye(3)[0]), class_w_avg(G, torch.eye(3)[2])
    # ψ = 0 collapses every video onto its own class's mean w, not the global w_avg
    w0 = map_latents(G, z, c, truncation_psi=0.0)
    assert torch.allclose(w0[:2], centre0.expand(2, -1), atol=1e-6)
    assert torch.allclose(w0[2:], centre2.expand(2, -1), atol=1e-6)
    assert not torch.allclose(centre0, centre2)
    # ψ interpolates: w' = centre + ψ (w − centre)
    w, wh = G.mapping(z, c), map_latents(G, z, c, truncation_psi=0.5)
    assert torch.allclose(wh[:2], centre0 + 0.5 * (w[:2] - centre0), atol=1e-5)
    # the centre is the mean w of the class: an independent sample agrees within its noise
    with torch.no_grad():
        zs = torch.randn(20000, 32, generator=torch.Generator().manual_seed(9))
        w_mc = G.mapping(zs, torch.eye(3)[2].expand(20000, -1))
    assert (w_mc.mean(0) - centre2).abs().max() < 5 * w_mc.std(0).max() / 20000**0.5 + 1e-6
    assert class_label(G, 2, 2).tolist() == [[0, 0, 1]] * 2
    for k in (3, -1):
        with pytest.raises(UsageError, match="--class"):
            class_label(G, k)
    with pytest.raises(UsageError, match="conditional"):
        generate_frames(G, 2)
    G_plain, _ = build_models(svlib.get_preset("tiny"))
    with pytest.raises(UsageError, match="unconditional"):
        generate_frames(G_plain, 2, class_index=0)


def _cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return rc, err.strip()


def test_generate_cli_class(tmp_path, cond_run, capsys):
    out = tmp_path / "k2"
    rc, err = _cli(capsys, "generate", "--ckpt", cond_run, "--out", out, "--seconds", 0.2,
                   "--fps", 10, "--class", 2, "--truncation", 0.7)  # fmt: skip
    assert rc == 0, err
    assert len(list(out.glob("*.png"))) == 2
    for argv, message in (
        (["--class", 3], "--class 3 is outside [0, 3)"),
        (["--class", -1], "class_index (--class) must be >= 0"),
        ([], "is a conditional model (c_dim=3): pass --class K"),
    ):
        rc, err = _cli(capsys, "generate", "--ckpt", cond_run, "--out", tmp_path / "x.mp4",
                       "--seconds", 0.2, *argv)  # fmt: skip
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err


def test_train_cli_label_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    plain = "synthetic:shapes?n=8&length=24"
    for data, flags, message in (
        (plain, ["--c-dim", 3], "has no labels (add ?labels=shape to the spec)"),
        ("synthetic:shapes?n=8&length=24&labels=shape", ["--c-dim", 2], "class index 2"),
        (SHAPES, ["--set", "G.c_dim=3"], "G.c_dim=3 and D.c_dim=0 differ"),
    ):
        out = tmp_path / "run"
        rc, err = _cli(capsys, "train", "--preset", "tiny", "--data", data, "--out", out,
                       "--steps", 1, *flags)  # fmt: skip
        assert rc == 2 and message in err and len(err.splitlines()) == 1, err
        assert not (out / "config.json").exists()


def test_conditional_check_script_end_to_end(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "conditional_check", Path(__file__).resolve().parents[1] / "bench/conditional_check.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "res.json"
    script.main(
        ["--preset", "tiny", "--data", "synthetic:shapes?n=8&length=24&labels=shape"]
        + ["--out", str(tmp_path / "run"), "--steps", "2", "--n", "2", "--times", "0,4"]
        + ["--judge-videos", "8", "--judge-epochs", "1", "--json", str(out)]
    )
    res = json.loads(out.read_text())
    assert res["classes"] == ["circle", "square", "triangle"] and res["chance"] == 1 / 3
    rows = res["generated"]
    assert set(rows) == {"untrained", "step 2, psi 1", "step 2, psi 0.7"}
    for r in rows.values():
        conf = np.array(r["confusion_videos"])
        assert conf.shape == (3, 3) and np.allclose(conf.sum(1), 1)
        assert r["accuracy_videos"] == np.diag(conf).tolist()
