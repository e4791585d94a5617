"""The paper's design choices as options: dense clips, D without gap conditioning, the raw
(unaligned) motion embedding and LSTM motion codes. Each builds, trains (gradients reach every
parameter), has the parameter count its formula gives, and defaults to the paper's choice."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import svlib
from svlib.checkpoint import load_checkpoint, load_generator
from svlib.config import Config, MotionConfig, apply_overrides, get_preset, migrate_config_dict
from svlib.data import open_dataset
from svlib.data.clips import StepBatches
from svlib.generate import generate_frames, noise_window
from svlib.models import build_models, count_params
from svlib.motion import MotionNetwork, motion_z_length
from svlib.sampling import allowed_spans, sample_clip_times, sample_fake_times, span_distribution
from svlib.training import TrainingState, step_generator, train_step

ASSETS = sorted((Path(svlib.__file__).parent / "assets").glob("*.pt"))

# name -> overrides of the tiny preset (the default row is the paper's model)
VARIANTS = {
    "paper": [],
    "frames2": ["sampling.num_frames=2", "D.num_frames=2"],  # sparse with F = 2 (as at 1024²)
    "dense16": ["sampling.mode=dense", "sampling.num_frames=16", "D.num_frames=16"],
    "no_gap_conditioning": ["D.gap_conditioning=false"],
    "raw_embedding": ["G.motion.embedding=raw"],
    "lstm_codes": ["G.motion.codes=lstm"],
}


def tiny(*overrides, **kw):
    """The tiny preset (16², 32 channels), D concatenating at 8² so every variant is fast."""
    return get_preset("tiny", ["D.concat_res=8", *overrides], **kw)


def motion_z(cfg: MotionConfig, B: int, t_max: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, motion_z_length(cfg, t_max), cfg.z_dim, generator=g)


# ----------------------------------------------------------------------------------------------
# Defaults and configuration


def test_defaults_are_the_papers_choices():
    cfg = Config()
    assert cfg.sampling.mode == "sparse" and cfg.D.gap_conditioning is True
    assert cfg.G.motion.codes == "conv1d" and cfg.G.motion.embedding == "aligned"
    for preset in svlib.config.PRESETS:  # every preset keeps them
        c = get_preset(preset)
        assert (c.sampling.mode, c.D.gap_conditioning) == ("sparse", True)
        assert (c.G.motion.codes, c.G.motion.embedding) == ("conv1d", "aligned")


def test_options_set_by_dotted_name_and_flag_and_bad_values_name_the_field():
    cfg = apply_overrides(get_preset("cpu"), [o for v in VARIANTS.values() for o in v])
    assert cfg.sampling.num_frames == cfg.D.num_frames == 16
    assert cfg.sampling.mode == "dense" and cfg.D.gap_conditioning is False
    assert cfg.G.motion.embedding == "raw" and cfg.G.motion.codes == "lstm"
    for bad, field in [
        ("sampling.mode=uniform", "sampling.mode"),
        ("G.motion.codes=gru", "G.motion.codes"),
        ("G.motion.embedding=fourier", "G.motion.embedding"),
        ("D.gap_conditioning=maybe", "D.gap_conditioning"),
    ]:
        with pytest.raises(ValueError, match=field.replace(".", r"\.")) as e:
            apply_overrides(get_preset("cpu"), [bad])
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"MotionConfig\.codes"):  # from Python, not the CLI
        MotionNetwork(MotionConfig(codes="gru"))
    with pytest.raises(ValueError, match=r"MotionConfig\.embedding"):
        MotionNetwork(MotionConfig(embedding="fourier"))


def test_cli_sampling_flag(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    svlib.config.add_config_arguments(parser)
    args = parser.parse_args(["--sampling", "dense", "--num-frames", "16"])
    cfg = svlib.config.config_from_arguments(args)
    assert (cfg.sampling.mode, cfg.sampling.num_frames, cfg.D.num_frames) == ("dense", 16, 16)
    with pytest.raises(SystemExit):  # argparse refuses an unknown mode
        parser.parse_args(["--sampling", "uniform"])


@pytest.mark.parametrize("path", ASSETS, ids=lambda p: p.name)
def test_shipped_checkpoints_load_as_the_papers_choices(path):
    raw = torch.load(path, weights_only=True)
    # files written before the options existed lack them (migration fills them); newer ones
    # store the paper's choices
    assert raw["config"]["sampling"].get("mode", "sparse") == "sparse"
    cfg = Config.from_dict(load_checkpoint(path)["config"])
    assert (cfg.sampling.mode, cfg.D.gap_conditioning) == ("sparse", True)
    assert (cfg.G.motion.codes, cfg.G.motion.embedding) == ("conv1d", "aligned")
    G, _ = load_generator(path)  # strict state_dict load: the same modules as before
    assert type(G.motion.time_encoder).__name__ == "AlignedTimeEncoder"


def test_migration_fills_only_absent_fields_and_new_fields_round_trip():
    old = get_preset("tiny").to_dict()
    for sub, k in [("sampling", "mode"), ("D", "gap_conditioning")]:
        del old[sub][k]
    del old["G"]["motion"]["codes"], old["G"]["motion"]["embedding"]
    new = migrate_config_dict(old)
    assert new["sampling"]["mode"] == "sparse" and new["G"]["motion"]["codes"] == "conv1d"
    image = get_preset("tiny", ["G.motion=none"]).to_dict()  # no motion sub-config to fill
    assert migrate_config_dict(image)["G"]["motion"] is None
    ablation = tiny(*[o for v in VARIANTS.values() for o in v])
    back = Config.from_dict(migrate_config_dict(ablation.to_dict()))
    assert back.sampling.mode == "dense" and back.G.motion.codes == "lstm"
    assert back.G.motion.embedding == "raw" and back.D.gap_conditioning is False


# ----------------------------------------------------------------------------------------------
# Every variant trains: forward, backward, gradients on every parameter


def _grads(cfg, seed=0):
    torch.manual_seed(seed)
    G, D = build_models(cfg)
    if not cfg.D.gap_conditioning:
        # cmap is the mapping of zeros: 0 at init (so are the logits, as in the official code),
        # until D's first step moves the mapping's bias; start from such a D
        with torch.no_grad():
            D.mapping.embed.bias.normal_()
    F_ = cfg.sampling.num_frames
    rng = np.random.default_rng(seed)
    t = torch.as_tensor(sample_fake_times(4, [40], cfg.sampling, rng))  # [B, F]
    x = G(torch.randn(4, cfg.G.z_dim), t)  # [B, F, C, H, W]
    assert x.shape == (4, F_, 3, cfg.G.resolution, cfg.G.resolution)
    D(x, t).square().sum().backward()
    return G, D


# Parameters that the variant leaves without any signal, by design: with gap_conditioning=False
# the mapping sees zeros in place of the gap code, so the gap embedding table and the mapping's
# input weights get exactly zero gradient (as in the official dummy_c).
DEAD = {"no_gap_conditioning": {"time_encoder.embed.weight", "mapping.embed.weight"}}


@pytest.mark.parametrize("name", VARIANTS)
def test_gradients_reach_every_parameter(name):
    G, D = _grads(tiny(*VARIANTS[name]))
    for net, tag in ((G, "G"), (D, "D")):
        for pname, p in net.named_parameters():
            assert p.grad is not None, f"{tag}.{pname} got no gradient"
            assert torch.isfinite(p.grad).all(), f"{tag}.{pname}"
            if tag == "D" and pname in DEAD.get(name, ()):
                assert p.grad.abs().max() == 0, f"{tag}.{pname} should get none"
            else:
                assert p.grad.abs().max() > 0, f"{tag}.{pname} has a zero gradient"


# ----------------------------------------------------------------------------------------------
# Parameter counts, against formulas written out here


def lstm_params(i: int, h: int) -> int:
    """One nn.LSTM layer: 4 gates, each W_ih [h, i], W_hh [h, h] and two biases [h]."""
    return 4 * (h * i + h * h + 2 * h)


def conv1d_params(m: MotionConfig) -> int:
    return (m.z_dim * m.code_dim * m.kernel_size + m.code_dim) + (m.num_layers - 1) * (
        m.code_dim**2 * m.kernel_size + m.code_dim
    )


def test_parameter_counts():
    base = get_preset("cpu")
    m, K, Dm = base.G.motion, base.G.motion.time_dim, base.D
    torch.manual_seed(0)
    G0, D0 = build_models(base)
    lstm = svlib.Generator(apply_overrides(get_preset("cpu"), ["G.motion.codes=lstm"]).G)
    assert count_params(lstm) - count_params(G0) == lstm_params(m.z_dim, m.code_dim) - (
        conv1d_params(m)
    )
    raw = svlib.Generator(apply_overrides(get_preset("cpu"), ["G.motion.embedding=raw"]).G)
    assert count_params(G0) - count_params(raw) == m.code_dim * 2 * K  # no aligner W_a
    no_gap = apply_overrides(get_preset("cpu"), ["D.gap_conditioning=false"]).D
    assert count_params(svlib.Discriminator(no_gap)) == count_params(D0)  # same layers
    # dense F=16: the concatenated block takes 16 groups of half the channels, and the mapping's
    # input FC takes 15 gap codes instead of 2
    dense = get_preset("cpu", ["sampling.mode=dense"], num_frames=16).D
    ch = lambda r: min(Dm.channel_base // r, Dm.channel_max)
    c16, c8 = ch(Dm.concat_res) // 2, ch(Dm.concat_res // 2)
    gap = Dm.gap_embed_dim + 2 * Dm.gap_num_freqs
    more_in = (16 - 3) * c16  # extra in-channels of conv0 (3x3) and the skip (1x1) at concat_res
    extra = more_in * ch(Dm.concat_res) * 9 + more_in * c8 + (16 - 3) * gap * Dm.cmap_dim
    assert count_params(svlib.Discriminator(dense)) - count_params(D0) == extra


def test_motion_parameter_counts_at_the_papers_size():
    m = MotionConfig()  # 512-d noise and codes, K = 256
    lstm = MotionNetwork(MotionConfig(codes="lstm"))
    assert count_params(lstm.mapping) == lstm_params(512, 512) == 2_101_248
    assert count_params(lstm.time_encoder) == 2 * 512 * 256 + 512 * 512  # the aligned encoder
    raw = MotionNetwork(MotionConfig(embedding="raw"))
    assert count_params(raw.mapping) == conv1d_params(m)
    assert count_params(raw.time_encoder) == 2 * 512 * 256  # W_p, W_φ only


# ----------------------------------------------------------------------------------------------
# 1. Dense clips


@pytest.mark.parametrize("fractional", [False, True])
def test_dense_clip_times_are_consecutive(fractional):
    rng = np.random.default_rng(0)
    for length in (16, 17, 100):
        t = np.stack(
            [
                sample_clip_times(length, 16, 4, rng, fractional=fractional, mode="dense")
                for _ in range(200)
            ]
        )  # [N, 16]; max_dist=4 is not used
        assert (np.diff(t, axis=1) == 1).all()
        assert t.min() >= 0 and t.max() <= length - 1
        if length == 100:  # the offset still covers the video
            assert t[:, 0].min() < 10 and t[:, 0].max() > 70
    assert allowed_spans(100, 16, 4, mode="dense").tolist() == [15]
    assert span_distribution([20, 100], 16, mode="dense") == {15: 1.0}
    with pytest.raises(ValueError, match="shorter than num_frames=16"):
        sample_clip_times(15, 16, 32, rng, mode="dense")
    with pytest.raises(ValueError, match="sampling mode"):
        sample_clip_times(40, 3, 32, rng, mode="uniform")


def test_sparse_draws_are_unchanged_by_the_mode_argument():
    a = [sample_clip_times(60, 3, 16, np.random.default_rng(k)) for k in range(20)]
    b = [sample_clip_times(60, 3, 16, np.random.default_rng(k), mode="sparse") for k in range(20)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(np.diff(x).max() > 1 for x in a)  # and sparse clips are not consecutive


@pytest.mark.parametrize("resolution", [32, 64])
def test_dense_16_frame_d_builds_and_trains(resolution):
    over = ["sampling.mode=dense", "train.batch_size=2"]  # D concatenates at 16², as the paper
    cfg = get_preset("tiny", over, resolution=resolution, num_frames=16)
    videos = open_dataset("synthetic:shapes?n=4&length=40", resolution=resolution)
    batch = StepBatches(videos, cfg, batch=2)[0]
    assert batch["frames"].shape == (2, 16, 3, resolution, resolution)
    for key in ("t", "t_fake"):
        assert (batch[key][:, 1:] - batch[key][:, :-1] == 1).all(), key
    state = TrainingState.create(cfg)
    concat = state.D.blocks[state.D.concat_at]
    assert state.D.cfg.concat_res == 16 and concat.conv0.weight.shape[-1] == 3
    assert (
        concat.conv0.weight.shape[1]
        == 16 * state.D.blocks[state.D.concat_at - 1].conv1.out_channels
    )
    seen = []  # what D's time-gap encoder receives during the step
    hook = state.D.time_encoder.register_forward_hook(
        lambda m, inp, out: seen.append(inp[0][:, 1:] - inp[0][:, :-1])
    )
    before = [p.detach().clone() for p in state.D.parameters()]
    stats = train_step(state, batch, step_generator(0, 0))
    hook.remove()
    assert all(math.isfinite(v) for v in stats.values()) and "r1" in stats
    assert seen and all((d == 1).all() for d in seen)  # the gaps of 1, real and fake
    assert state.cur_nimg == 2 * 16
    assert any(not torch.equal(a, p) for a, p in zip(before, state.D.parameters()))


# ----------------------------------------------------------------------------------------------
# 2. D without time-gap conditioning


def test_d_without_gap_conditioning_ignores_the_gaps():
    torch.manual_seed(0)
    paper = svlib.Discriminator(tiny().D).eval()
    torch.manual_seed(0)
    blind = svlib.Discriminator(tiny("D.gap_conditioning=false").D).eval()
    blind.load_state_dict(paper.state_dict())  # the same weights
    x = torch.randn(2, 3, 3, 16, 16)
    t1 = torch.tensor([[0.0, 1.0, 2.0], [3.0, 5.0, 9.0]])
    t2 = torch.tensor([[0.0, 7.0, 8.0], [3.0, 4.0, 20.0]])
    with torch.no_grad():
        # at init the mapping of zeros is 0 (its bias is 0), so are the logits: as official
        assert torch.equal(blind(x, t1), torch.zeros(2))
        for net in (paper, blind):  # as after D's first step: cmap carries something
            net.mapping.embed.bias.normal_()
    with torch.no_grad():
        assert not torch.allclose(paper(x, t1), paper(x, t2))  # the paper's D reads the gaps
        assert torch.equal(blind(x, t1), blind(x, t2))  # this one cannot
        # the mapping got zeros: cmap is the mapping of the zero vector, one for every clip
        zero = torch.zeros(1, blind.time_encoder.out_dim)
        cmap = blind.mapping(None, zero).expand(2, -1)
        assert torch.allclose(blind(x, t1), blind.epilogue(_trunk(blind, x), cmap), atol=1e-6)
    with pytest.raises(ValueError, match="max_time_gap"):  # bad gaps are still refused
        blind(x, torch.tensor([[0.0, 1.0, 500.0]] * 2))


def _trunk(D, x):
    from svlib.discriminator import concat_frames

    B = x.shape[0]
    h = x.reshape(B * x.shape[1], *x.shape[2:])
    for k, block in enumerate(D.blocks):
        if k == D.concat_at:
            h = concat_frames(h, B)
        h = block(h)
    return h


# ----------------------------------------------------------------------------------------------
# 3. The raw (unaligned) motion embedding


def _embedding_at(net: MotionNetwork, t: torch.Tensor, mz: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return net(t, mz)[0]  # [F, 2K]


def test_raw_embedding_is_the_left_anchors_sinusoid_and_jumps_at_anchors():
    cfg = get_preset("tiny").G.motion  # δz = 8
    torch.manual_seed(0)
    aligned = MotionNetwork(cfg)
    raw = MotionNetwork(MotionConfig(**{**vars(cfg), "embedding": "raw"}))
    assert set(raw.state_dict()) == set(aligned.state_dict()) - {"time_encoder.aligner_fc.weight"}
    raw.load_state_dict(aligned.state_dict(), strict=False)
    mz = motion_z(cfg, 1, 40.0)
    dz, eps = cfg.grid_spacing, 1e-3
    t = torch.tensor([[k * dz + d for k in (1, 2, 3, 4) for d in (-eps, 0.0)]])  # around anchors
    va, vr = _embedding_at(aligned, t, mz), _embedding_at(raw, t, mz)
    jump = lambda v: (v[1::2] - v[0::2]).norm(dim=1)  # [4]: v(t_k) - v(t_k - ε)
    assert jump(va).max() < 0.05  # aligned: continuous across every anchor
    assert jump(vr).min() > 0.5  # raw: s and φ switch, e(t) jumps
    # away from anchors raw is e(t) of the left anchor's waves, with no chord or aligner
    u = aligned.mapping(mz)  # [1, Lu, D]
    tt = torch.tensor([[13.0]])
    with torch.no_grad():
        e = aligned.time_encoder.waves(u[:, 1])(tt)  # left anchor 13 // 8 = 1
        assert torch.allclose(_embedding_at(raw, tt, mz), e, atol=1e-5)


# ----------------------------------------------------------------------------------------------
# 4. LSTM motion codes


def lstm_cfg() -> MotionConfig:
    return MotionConfig(**{**vars(get_preset("tiny").G.motion), "codes": "lstm"})


def test_lstm_codes_are_causal_with_one_code_per_noise_vector():
    cfg = lstm_cfg()
    torch.manual_seed(0)
    net = MotionNetwork(cfg)
    assert motion_z_length(cfg, 40.0) == math.ceil(40 / cfg.grid_spacing) + 2  # no conv margin
    mz = motion_z(cfg, 2, 40.0)
    with torch.no_grad():
        u = net.mapping(mz)  # [B, L, code_dim]
        assert u.shape == (2, mz.shape[1], cfg.code_dim)
        mz2 = mz.clone()
        mz2[:, 3] += 1.0  # change the noise at grid point 3
        u2 = net.mapping(mz2)
    assert torch.equal(u[:, :3], u2[:, :3])  # earlier codes do not see it
    assert ((u[:, 3:] - u2[:, 3:]).abs().amax(dim=2) > 1e-4).all()  # every later one does
    t = torch.tensor([[20.0]] * 2)
    with pytest.raises(ValueError, match="grid index 0"):  # a window would reset the LSTM state
        net(t, mz[:, 2:], first_code=2)


def test_lstm_long_videos_in_chunks_equal_one_call():
    cfg = tiny("G.motion.codes=lstm")
    torch.manual_seed(0)
    G, _ = build_models(cfg)
    G.eval()
    assert noise_window(cfg.G.motion, torch.tensor([40.0, 47.5])) == (0, 7)  # from the start
    whole = generate_frames(G, 60, seed=3, num_videos=2, chunk_size=60)
    chunks = generate_frames(G, 60, seed=3, num_videos=2, chunk_size=7)
    assert torch.allclose(whole, chunks, atol=1e-5)
    assert (whole[:, 1:] - whole[:, :-1]).abs().mean() > 1e-4  # and the video moves
    # the conv1d codes' window does not start at 0 (what makes the LSTM slower in chunks)
    assert noise_window(tiny().G.motion, torch.tensor([40.0, 47.5]))[0] == 5


# ----------------------------------------------------------------------------------------------
# Against the official code, where it has the same switch (skipped without a checkout)


@pytest.mark.skipif(
    not __import__("os").environ.get("SVLIB_OFFICIAL_REPO"),
    reason="SVLIB_OFFICIAL_REPO (a stylegan-v checkout) is not set",
)
def test_counts_match_the_official_models_with_the_same_switch():
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_variants import official_counts

    res = official_counts(["cpu"])
    for name in ("cpu/lstm_codes", "cpu/no_gap_conditioning"):
        row = res[name]
        assert row["svlib_G"] == row["official_G"] and row["svlib_D"] == row["official_D"], name


def test_training_run_keeps_the_options_in_its_checkpoints(tmp_path):
    from svlib.training import train

    every = [o for v in VARIANTS.values() for o in v]  # all four alternatives at once
    short = ["sampling.num_frames=4", "D.num_frames=4", "train.batch_size=2"]  # dense, F = 4
    cfg = tiny(*every, *short, "train.checkpoint_every=2")
    train(cfg, "synthetic:shapes?n=4&length=24", tmp_path, steps=2, progress=False)
    G, saved = load_generator(tmp_path)
    assert (saved.sampling.mode, saved.sampling.num_frames, saved.D.gap_conditioning) == (
        "dense",
        4,
        False,
    )
    assert (saved.G.motion.codes, saved.G.motion.embedding) == ("lstm", "raw")
    assert type(G.motion.mapping).__name__ == "LSTMMotionCodes"
    video = generate_frames(G, 20, seed=0, chunk_size=6)  # long-video path of the loaded G
    assert video.shape == (1, 20, 3, 16, 16) and torch.isfinite(video).all()
