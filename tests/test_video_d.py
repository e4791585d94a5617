"""The image + video discriminator pair (D.kind="image+video"): shapes, gradients, parameter count,
data, training, resume, bad configs."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import svlib
from svlib.__main__ import main
from svlib.checkpoint import load_checkpoint, load_generator
from svlib.checks import UsageError
from svlib.config import Config, migrate_config_dict
from svlib.data import StepBatches, open_dataset
from svlib.data.clips import ClipDataset
from svlib.discriminator import Discriminator
from svlib.layers import channels_at
from svlib.models import build_models, count_params
from svlib.training import TrainingState, step_generator, train, train_step
from svlib.video_d import DualDiscriminator, VideoDiscriminator

DATA = "synthetic:shapes?n=8&length=24"
DUAL = {"D.kind": "image+video", "D.video.num_frames": 4}  # 4 frames: one time halving to 2


def _cfg(**overrides):
    return svlib.get_preset("tiny", {**DUAL, **overrides})


def _flat(module):
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_forward_backward_shapes_and_gradients_reach_every_parameter():
    cfg = _cfg()
    torch.manual_seed(0)
    D = DualDiscriminator(cfg.D)
    B, F, L, R = 4, 3, cfg.D.video.num_frames, cfg.D.resolution
    x = torch.randn(B, F, 3, R, R, requires_grad=True)
    clip = torch.randn(B, L, 3, R, R, requires_grad=True)
    logits, logits_video = D(x, None, clip)
    assert logits.shape == (B, F) and logits_video.shape == (B,)
    (logits.square().sum() + logits_video.square().sum() + logits.sum()).backward()
    assert x.grad.shape == x.shape and clip.grad.shape == clip.shape
    for name, p in D.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    # each D sees only its own input: the image logits do not depend on the clip
    clip2 = torch.randn_like(clip)
    assert torch.equal(D(x, None, clip2)[0], logits) and not torch.equal(
        D(x, None, clip2)[1], logits_video
    )


def test_video_d_judges_time_order():
    # the 3D convs see the frames' order: reversing a clip changes its logit, while the image D's
    # logits are merely permuted
    cfg = _cfg()
    torch.manual_seed(1)
    D = DualDiscriminator(cfg.D)
    x = torch.randn(4, 4, 3, 16, 16)
    img, vid = D(x, None, x)
    img_r, vid_r = D(x.flip(1), None, x.flip(1))
    assert torch.allclose(img_r, img.flip(1), atol=1e-6)
    assert (vid - vid_r).abs().max() > 1e-4


def _closed_form_video_params(cfg) -> int:
    """Parameters of the video D from its layer list: conv k³ = O·I·k³ (+O bias), FC = O·I + O."""
    base = cfg.D.video.channel_base or cfg.D.channel_base
    cap = cfg.D.video.channel_max or cfg.D.channel_max
    ch = lambda r: channels_at(r, base, cap)  # noqa: E731
    n, r = 0, cfg.D.resolution
    n += 3 * ch(r) + ch(r)  # fromRGB 1³
    while r > 4:
        cin, cout = ch(r), ch(r // 2)
        n += cin * cin * 27 + cin  # conv0 3³
        n += cout * cin * 27 + cout  # conv1 3³, pooled
        n += cout * cin  # skip 1³, no bias
        r //= 2
    c4, e = ch(4), cfg.D.video.epilogue_frames
    n += (c4 + 1) * c4 * 27 + c4  # epilogue conv 3³ after one minibatch-std channel
    n += c4 * e * 16 * c4 + c4  # FC on [c4, e, 4, 4]
    n += c4 + 1  # the logit
    return n


@pytest.mark.parametrize("preset", ["tiny", "cpu"])
def test_parameter_count_matches_the_closed_form(preset):
    over = {"D.kind": "image+video"}
    if preset == "tiny":
        over["D.video.channel_base"] = 512  # a width of its own: 32 at 16², 32 at 8² and 4²
    cfg = svlib.get_preset(preset, over)
    _, D = build_models(cfg)
    assert isinstance(D, DualDiscriminator)
    assert count_params(D.video_d) == _closed_form_video_params(cfg)
    image_d = Discriminator(dataclasses.replace(cfg.D, holistic=False))
    assert count_params(D.image_d) == count_params(image_d)
    assert count_params(D) == count_params(image_d) + _closed_form_video_params(cfg)


def test_dense_clips_are_consecutive_frames_of_the_same_video():
    videos = open_dataset(DATA, resolution=16)
    s = svlib.get_preset("tiny").sampling
    ds = ClipDataset(videos, s, mirror=True, seed=3, dense_frames=6)
    flips = set()
    for k in range(len(ds)):
        item = ds.clip(k, np.random.default_rng(k))
        i, t, tc = int(item["index"]), item["t"].numpy(), item["t_clip"].numpy()
        assert np.array_equal(np.diff(tc), np.ones(5)) and tc[0] >= 0 and tc[-1] <= 23
        sparse = videos.read_frames(i, t.astype(np.int64)).transpose(0, 3, 1, 2)
        dense = videos.read_frames(i, tc.astype(np.int64)).transpose(0, 3, 1, 2)
        flip = not np.array_equal(item["frames"].numpy(), sparse)
        assert np.array_equal(item["frames"].numpy(), sparse[..., ::-1] if flip else sparse)
        # the dense clip is mirrored with its video's sparse frames
        assert np.array_equal(item["clip"].numpy(), dense[..., ::-1] if flip else dense)
        flips.add(flip)
    assert flips == {True, False}


def test_step_batches_hold_real_and_fake_dense_clips():
    cfg = _cfg(**{"D.video.num_frames": 8})
    videos = open_dataset(DATA, resolution=16)
    batch = StepBatches(videos, cfg, batch=5)[7]
    assert batch["clip"].shape == (5, 8, 3, 16, 16) and batch["clip"].dtype == torch.uint8
    tf = batch["t_clip_fake"].double()
    assert tf.shape == (5, 8) and torch.equal(tf.diff(dim=1), torch.ones(5, 7, dtype=tf.dtype))
    assert tf.min() >= 0 and tf.max() <= 23 and (tf.frac() != 0).any()  # fractional offsets
    assert torch.equal(StepBatches(videos, cfg, batch=5)[7]["clip"], batch["clip"])  # (seed, step)
    holistic = StepBatches(videos, svlib.get_preset("tiny"), batch=5)[7]
    assert sorted(holistic) == ["frames", "t", "t_fake"]  # the paper's D gets what it always got


def test_training_steps_change_both_discriminators_and_log_both_losses():
    cfg = _cfg()
    state = TrainingState.create(cfg)
    assert isinstance(state.D, DualDiscriminator)
    before = [_flat(state.D.image_d), _flat(state.D.video_d), _flat(state.G)]
    batches = StepBatches(open_dataset(DATA, resolution=16), state.cfg, batch=4)
    stats = [train_step(state, batches[s], step_generator(0, s)) for s in range(2)]
    after = [_flat(state.D.image_d), _flat(state.D.video_d), _flat(state.G)]
    assert all(not torch.equal(a, b) for a, b in zip(before, after))
    keys = {"loss_G", "loss_D", "loss_G_video", "loss_D_video", "D_real", "D_real_video"}
    assert keys <= set(stats[1]) and {"r1", "r1_video"} <= set(stats[0])  # R1 every 2 steps
    assert all(np.isfinite(v) for st in stats for v in st.values())
    assert stats[0]["loss_D"] > stats[0]["loss_D_video"] > 0  # the sum holds both Ds' terms
    assert state.step == 2 and state.cur_nimg == 2 * 4 * 3  # counted in the image D's frames


def test_video_loss_weight_and_r1_weight_act():
    # weight 0: the video D's loss leaves G's objective and the R1 step leaves the video D alone
    cfg = _cfg(**{"D.video.loss_weight": 0.0, "D.video.r1_weight": 0.0})
    state = TrainingState.create(cfg)
    batches = StepBatches(open_dataset(DATA, resolution=16), state.cfg, batch=4)
    video_before, image_before = _flat(state.D.video_d), _flat(state.D.image_d)
    st = train_step(state, batches[0], step_generator(0, 0))
    assert st["loss_G_video"] > 0 and "r1_video" not in st and "r1" in st
    train_step(state, batches[1], step_generator(0, 1))
    # no loss reaches the video D: its weights stay (Adam with zero gradients does not move)
    assert torch.equal(_flat(state.D.video_d), video_before)
    assert not torch.equal(_flat(state.D.image_d), image_before)


def test_resume_is_bit_exact(tmp_path):
    cfg = _cfg()
    a, b = tmp_path / "a", tmp_path / "b"
    kw = dict(progress=False, sample_frames=2, num_preview=2)
    train(cfg, DATA, a, steps=4, **kw)
    train(cfg, DATA, b, steps=2, **kw)
    train(cfg, DATA, b, steps=4, resume=True, **kw)
    ca, cb = (
        load_checkpoint(a / "checkpoint-0000004.pt"),
        load_checkpoint(b / "checkpoint-0000004.pt"),
    )
    assert any(k.startswith("video_d.") for k in ca["D"])
    for name in ("G", "D", "G_ema"):
        for k in ca[name]:
            assert torch.equal(ca[name][k], cb[name][k]), f"{name}.{k} differs after resume"
    for sa, sb in zip(ca["opt_D"]["state"].values(), cb["opt_D"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"])
    la = [json.loads(s) for s in (a / "log.jsonl").read_text().splitlines()]
    lb = [json.loads(s) for s in (b / "log.jsonl").read_text().splitlines()]
    assert [r["loss_D_video"] for r in la] == [r["loss_D_video"] for r in lb]
    # a holistic config cannot resume the pair's run: the difference is named
    with pytest.raises(ValueError, match="D.kind"):
        train(svlib.get_preset("tiny"), DATA, b, steps=6, resume=True, **kw)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"D.video.num_frames": 12}, "D.video.num_frames=12 cannot be halved"),
        ({"D.video.num_frames": 32}, "needs 4 time halvings"),
        ({"D.video.epilogue_frames": 0}, "D.video.epilogue_frames must be an integer >= 1"),
        ({"D.video.lr_multiplier": 0.0}, "D.video.lr_multiplier must be > 0"),
        ({"D.video.r1_weight": -1.0}, "D.video.r1_weight must be >= 0"),
        ({"D.c_dim": 4}, "unconditional models only"),
    ],
)
def test_bad_video_d_configs_are_one_line_errors(overrides, message):
    with pytest.raises(UsageError, match=message) as e:
        build_models(_cfg(**overrides))
    assert "\n" not in str(e.value)


def test_bad_configs_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--data", DATA, "--out", str(out), "--steps", "1"]
    for bad, shown in (
        (["D.kind=video"], "D.kind: expected one of holistic, image+video"),
        (["D.kind=image+video", "D.video.num_frames=6"], "D.video.num_frames=6 cannot be halved"),
        (["D.kind=image+video", "sampling.max_num_frames=6", "D.video.num_frames=8"], "max_num"),
    ):
        assert main([*argv, "--set", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert shown in err and "\n" not in err
    assert not (out / "config.json").exists()  # nothing was started, so nothing to resume or lose
    assert main([*argv, "--set", "D.kind=image+video", "D.video.num_frames=4"]) == 0
    assert (out / "checkpoint-0000001.pt").exists()


def test_videos_shorter_than_the_dense_clip_are_named():
    with pytest.raises(ValueError, match="shorter than D.video.num_frames=8"):
        StepBatches(
            open_dataset("synthetic:shapes?n=2&length=6", resolution=16),
            _cfg(**{"D.video.num_frames": 8}),
            batch=2,
        )


def test_older_configs_and_shipped_checkpoints_load_as_holistic():
    old = Config().to_dict()
    del old["D"]["kind"], old["D"]["video"]
    cfg = Config.from_dict(migrate_config_dict(old))
    assert cfg.D.kind == "holistic" and cfg.D.video.num_frames == 16
    for name in ("periodic32.pt", "demo32.pt"):
        G, c = load_generator(svlib.checkpoint.Path(svlib.__file__).parent / "assets" / name)
        assert c.D.kind == "holistic"
    assert isinstance(VideoDiscriminator(_cfg().D), torch.nn.Module)


@pytest.mark.slow
def test_pair_compiles_without_graph_breaks():
    # fullgraph=True fails on any graph break; aot_eager traces forward and backward graphs
    # without needing a C++ toolchain
    torch.manual_seed(0)
    D = DualDiscriminator(_cfg().D)
    x, clip = torch.randn(4, 3, 3, 16, 16), torch.randn(4, 4, 3, 16, 16)
    ref = D(x, None, clip)
    out = torch.compile(D, fullgraph=True, backend="aot_eager")(x, None, clip)
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(out, ref))


def test_bench_counts_flops_of_both_kinds(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "bench_dual_d.py"
    spec = importlib.util.spec_from_file_location("bench_dual_d", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    bench.main(["--preset", "tiny", "--flops-only", "--data", DATA, "--out", str(out)])
    res = json.loads(out.read_text())
    h, d = res["rows"]["holistic"]["gflops"], res["rows"]["image+video"]["gflops"]
    # the 3D convs are counted: the pair's D costs more than the holistic D, its R1 step more still
    assert d["D"] > h["D"] > 0 and d["r1"] > d["main"] > 0
    assert res["rows"]["image+video"]["params"]["video D"] > 0
