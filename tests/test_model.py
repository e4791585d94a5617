"""Generator and discriminator: shapes for every preset, consistency of generation in t, holistic D
behaviour, the discriminator blocks, gradients, determinism, bf16 autocast and torch.compile."""

import dataclasses

import pytest
import torch

from svlib.config import DiscriminatorConfig, GeneratorConfig, get_preset
from svlib.discriminator import Discriminator, DiscriminatorBlock, MinibatchStdLayer, mbstd_group
from svlib.generator import Generator
from svlib.models import build_models, count_params


def tiny_cfg(**d_over):
    """The tiny preset with δz = 4, a 5-tap motion kernel and D concatenating frames at 8²
    (`d_over` sets more D fields): everything runs in well under a second."""
    over = {"G.motion.min_period": 4.0, "G.motion.kernel_size": 5, "D.cmap_dim": 32}
    d_over = {"concat_res": 8, **d_over}
    return get_preset("tiny", {**over, **{f"D.{k}": v for k, v in d_over.items()}})


def models(cfg, seed=0):
    torch.manual_seed(seed)
    G, D = build_models(cfg)
    return G.eval(), D.eval()


@pytest.mark.parametrize("preset", ["cpu", "colab"])
def test_preset_shapes(preset):
    cfg = get_preset(preset)
    G, D = models(cfg)
    F_ = cfg.sampling.num_frames
    t = torch.tensor([[0.0, 3.0, 7.0][:F_]] * 2)
    with torch.no_grad():
        x = G(torch.randn(2, cfg.G.z_dim), t + 0.5)
        assert x.shape == (2, F_, 3, cfg.G.resolution, cfg.G.resolution) and torch.isfinite(x).all()
        assert D(x, t).shape == (2,)


def test_paper256_shapes_and_spec_layout():
    cfg = get_preset("paper256", num_frames=2)
    G, D = models(cfg)
    t = torch.tensor([[0.0, 5.0]])
    with torch.no_grad():
        x = G(torch.randn(1, 512), t)
        assert x.shape == (1, 2, 3, 256, 256)
        assert D(x, t).shape == (1,)
    # spec §2 layer list at 256², F=3: b32 outputs 512/2 = 256 channels, b16 takes 3·256 = 768 in
    D3 = Discriminator(get_preset("paper256").D)
    b = {256 >> k: blk for k, blk in enumerate(D3.blocks)}
    assert b[256].fromrgb.weight.shape[:2] == (64, 3) and b[256].conv1.weight.shape[:2] == (128, 64)
    assert b[32].conv1.weight.shape[0] == 256 and b[32].skip.weight.shape[0] == 256
    assert b[16].conv0.weight.shape[:2] == (512, 768) and b[16].skip.weight.shape[:2] == (512, 768)
    assert D3.epilogue.conv.weight.shape[:2] == (512, 513)
    assert D3.epilogue.fc.weight.shape == (512, 8192)
    assert D3.mapping.embed.weight.shape == (512, 552)  # 2 gaps × (256 learned + 20 Fourier)


def synthesis_params(cfg: GeneratorConfig):
    """Parameter count of G written out from the spec (StyleGAN2 skip G + motion path).

    Independent of the code: the channel rule is written out here on purpose.
    """
    ch = lambda r: min(cfg.channel_base // r, cfg.channel_max)
    wd, n = cfg.w_dim, 0
    n += cfg.z_dim * wd + wd + (cfg.mapping_layers - 1) * (wd * wd + wd)  # mapping FCs
    mod = lambda i, o, k: (wd * i + i) + o * i * k * k + o  # affine + weight + bias
    m = cfg.motion
    n += ch(4) * 16  # const
    n += mod(ch(4) + 2 * m.time_dim, ch(4), 3) + mod(ch(4), 3, 1)  # 4x4 conv (const ⊕ v) + torgb
    r = 8
    while r <= cfg.resolution:
        n += mod(ch(r // 2), ch(r), 3) + mod(ch(r), ch(r), 3) + mod(ch(r), 3, 1)
        r *= 2
    n += m.z_dim * m.code_dim * m.kernel_size + m.code_dim  # conv1d stack
    n += (m.num_layers - 1) * (m.code_dim**2 * m.kernel_size + m.code_dim)
    n += 2 * m.code_dim * m.time_dim + m.code_dim * 2 * m.time_dim  # W_p, W_φ, W_a (bias-free)
    return n


@pytest.mark.parametrize("preset", ["cpu", "paper256", "paper1024"])
def test_param_counts_match_spec(preset):
    cfg = get_preset(preset)
    G = Generator(cfg.G)
    assert count_params(G) == synthesis_params(cfg.G)
    if preset == "paper256":
        # 5.77M + 0.52M
        assert count_params(G.motion) == 2 * (512 * 512 * 11 + 512) + 2 * 512 * 256 + 512 * 512


def test_paper1024_forward_with_reduced_channels():
    # full-width 1024² takes ~25 s on 2 cores; the architecture (depth, F=2, concat at 16) is
    # kept, the channels are cut
    cfg = get_preset("paper1024")
    cfg.G.channel_base = cfg.D.channel_base = 2048
    cfg.G.channel_max = cfg.D.channel_max = 32
    G, D = models(cfg)
    assert len(G.blocks) == 9 and len(D.blocks) == 8
    t = torch.tensor([[0.0, 4.0]])
    with torch.no_grad():
        x = G(torch.randn(1, 512), t)
        assert x.shape == (1, 2, 3, 1024, 1024)
        assert D(x, t).shape == (1,)


def test_generation_in_chunks_equals_one_call():
    G, _ = models(tiny_cfg())
    z = torch.randn(2, 32)
    mz = G.sample_motion_z(2, 63, generator=torch.Generator().manual_seed(1))
    t = torch.arange(64.0)[None].expand(2, -1)
    with torch.no_grad():
        full = G(z, t, motion_z=mz)
        halves = torch.cat([G(z, t[:, :32], motion_z=mz), G(z, t[:, 32:], motion_z=mz)], dim=1)
        longer = G.sample_motion_z(2, 1000, generator=torch.Generator().manual_seed(1))
        assert torch.equal(longer[:, : mz.shape[1]], mz)
        again = G(z, t, motion_z=longer)
    assert torch.allclose(full, halves, atol=1e-6)
    assert torch.allclose(full, again, atol=1e-6)  # a longer motion_z gives identical frames
    assert (full[:, 1:] - full[:, :-1]).abs().mean() > 1e-4  # and the video does move


def test_frames_continuous_in_t_and_motion_matters():
    G, _ = models(tiny_cfg())
    z, mz = torch.randn(1, 32), G.sample_motion_z(1, 20)
    t = torch.tensor([[4.0 - 1e-4, 4.0, 4.0 + 1e-4, 6.0]])  # around the grid point δz = 4
    with torch.no_grad():
        x = G(z, t, motion_z=mz)
        y = G(z, t, motion_z=G.sample_motion_z(1, 20))
    assert (x[0, 0] - x[0, 1]).abs().max() < 1e-3 and (x[0, 2] - x[0, 1]).abs().max() < 1e-3
    assert (x[0, 3] - x[0, 1]).abs().max() > 1e-3
    assert (x - y).abs().max() > 1e-3  # different motion_z, different frames


def test_image_mode_ignores_t_and_w_shared_over_frames():
    cfg = tiny_cfg()
    cfg.G.motion = None
    G, _ = models(cfg)
    assert G.sample_motion_z(2, 10) is None
    with torch.no_grad():
        x = G(torch.randn(2, 32), torch.tensor([[0.0, 1.0, 9.0]] * 2))
    assert torch.allclose(x[:, 0], x[:, 2], atol=1e-5) and not torch.allclose(x[0], x[1], atol=1e-2)


def test_fused_and_unfused_generator_agree():
    G, _ = models(tiny_cfg())
    z, mz, t = torch.randn(2, 32), G.sample_motion_z(2, 9), torch.tensor([[0.0, 2.5, 9.0]] * 2)
    with torch.no_grad():
        a = G(z, t, motion_z=mz)
        G.fused_modconv = True
        b = G(z, t, motion_z=mz)
    assert torch.allclose(a, b, atol=1e-4)


def test_truncation_and_w_avg():
    G, _ = models(tiny_cfg())
    z = torch.randn(4, 32)
    G.mapping(z, update_w_avg=True)
    assert G.w_avg.abs().sum() > 0
    mz = G.sample_motion_z(1, 5).expand(4, -1, -1)
    with torch.no_grad():
        x = G(z, torch.tensor([[0.0, 5.0]] * 4), motion_z=mz, truncation_psi=0.0)
    assert torch.allclose(x[0], x[3], atol=1e-6)  # ψ = 0: every video has the mean content


def test_discriminator_batch_independence_without_mbstd():
    _, D = models(tiny_cfg(mbstd_group_size=0))
    x, t = torch.randn(4, 3, 3, 16, 16), torch.tensor([[0.0, 2.0, 5.0]] * 4)
    with torch.no_grad():
        full = D(x, t)
        assert torch.allclose(full[:2], D(x[:2], t[:2]), atol=1e-5)
        x2 = x.clone()
        x2[3] = torch.randn(3, 3, 16, 16)
        assert torch.allclose(full[:3], D(x2, t)[:3], atol=1e-5)
    _, Dm = models(tiny_cfg(mbstd_group_size=4))
    with torch.no_grad():
        # with mbstd, batch mates matter
        assert not torch.allclose(Dm(x, t)[:3], Dm(x2, t)[:3], atol=1e-5)
        assert Dm(x[:3], t[:3]).shape == (3,)  # batch 3 with group 4: falls back to a group of 3


def test_discriminator_is_sensitive_to_frame_order_and_gaps():
    _, D = models(tiny_cfg(mbstd_group_size=0))
    x, t = torch.randn(2, 3, 3, 16, 16), torch.tensor([[0.0, 2.0, 5.0]] * 2)
    with torch.no_grad():
        base = D(x, t)
        # holistic: frame order matters
        assert not torch.allclose(base, D(x[:, [2, 0, 1]], t), atol=1e-5)
        # gaps matter
        assert not torch.allclose(base, D(x, torch.tensor([[0.0, 3.0, 5.0]] * 2)), atol=1e-5)
        assert torch.allclose(base, D(x, t + 7), atol=1e-5)  # only gaps matter, not absolute time
    with pytest.raises(ValueError, match="max_time_gap"):
        D(x, torch.tensor([[0.0, 2.0, 66.0]] * 2))  # gap 64 >= max_time_gap 64
    with pytest.raises(ValueError, match="ascending"):
        D(x, torch.tensor([[0.0, 2.0, 1.0]] * 2))
    with pytest.raises(ValueError, match="num_frames"):
        D(x[:, :2], t[:, :2])


def test_minibatch_std_groups_and_fallback():
    assert [mbstd_group(4, n) for n in (1, 2, 3, 4, 6, 8, 5)] == [1, 2, 3, 4, 3, 4, 1]
    layer = MinibatchStdLayer(4)
    x = torch.randn(6, 5, 4, 4)
    y = layer(x)  # 6 is not a multiple of 4: groups of 3 (samples {0,2,4} and {1,3,5})
    assert y.shape == (6, 6, 4, 4)
    g0 = x[[0, 2, 4]]
    ref = (g0.var(0, unbiased=False) + 1e-8).sqrt().mean()
    assert torch.allclose(y[0, 5], ref.expand(4, 4), atol=1e-5) and torch.allclose(y[2, 5], y[0, 5])
    assert not torch.allclose(y[1, 5], y[0, 5])


def test_resnet_block_shapes():
    blk = DiscriminatorBlock(0, 8, 16, img_channels=3)
    assert blk(torch.randn(2, 3, 16, 16)).shape == (2, 16, 8, 8)
    blk = DiscriminatorBlock(24, 8, 16)  # in != tmp right after frame concatenation
    assert blk(torch.randn(2, 24, 8, 8)).shape == (2, 16, 4, 4)


def test_image_discriminator_one_logit_per_frame():
    _, D = models(tiny_cfg(holistic=False, mbstd_group_size=0))
    x = torch.randn(2, 3, 3, 16, 16)
    with torch.no_grad():
        y = D(x)
        assert y.shape == (2, 3)
        # frames judged independently
        assert torch.allclose(D(x[:, [2, 0, 1]]), y[:, [2, 0, 1]], atol=1e-5)


@pytest.mark.parametrize("concat_res", [16, 32, 4])
def test_concatenation_point(concat_res):
    _, D = models(tiny_cfg(concat_res=concat_res))
    # input resolution <= concat_res: frames concatenated at the input (F·3 channels)
    if concat_res >= 16:
        assert D.concat_at == 0 and D.blocks[0].fromrgb.weight.shape[1] == 9
    else:
        assert D.concat_at == len(D.blocks) and D.epilogue.conv.weight.shape[1] == 3 * (32 // 2) + 1
    with torch.no_grad():
        assert D(torch.randn(4, 3, 3, 16, 16), torch.tensor([[0.0, 1.0, 3.0]] * 4)).shape == (4,)


def test_conditional_models():
    cfg = tiny_cfg()
    cfg.G.c_dim = cfg.D.c_dim = 5
    G, D = models(cfg)
    c = torch.eye(5)[[1, 3]]
    t = torch.tensor([[0.0, 2.0, 5.0]] * 2)
    with torch.no_grad():
        x = G(torch.randn(2, 32), t, c=c)
        y1, y2 = D(x, t, c), D(x, t, torch.eye(5)[[2, 4]])
    assert y1.shape == (2,) and not torch.allclose(y1, y2)
    with pytest.raises(ValueError):
        D(x, t)


def test_gradients_reach_every_parameter():
    cfg = tiny_cfg()
    cfg.G.c_dim = cfg.D.c_dim = 3
    G, D = models(cfg)
    t, c = torch.tensor([[0.0, 2.5, 6.0]] * 4), torch.eye(3)[[0, 1, 2, 0]]
    x = G(torch.randn(4, 32), t, c=c)
    D(x, t.round(), c).sum().backward()
    for name, mod in (("G", G), ("D", D)):
        for pname, p in mod.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name}.{pname} gets no gradient"


def tiny_inputs(G):
    """z [2, 32], t [2, 3] (uneven gaps), motion_z covering t <= 5."""
    return torch.randn(2, 32), torch.tensor([[0.0, 2.0, 5.0]] * 2), G.sample_motion_z(2, 5)


def test_seeded_construction_is_deterministic():
    cfg = tiny_cfg()
    (G1, D1), (G2, D2), (G3, _) = models(cfg, 3), models(cfg, 3), models(cfg, 4)
    for a, b in ((G1, G2), (D1, D2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(G1.const, G3.const)


def test_bf16_autocast_close_to_fp32():
    G, D = models(tiny_cfg())
    z, t, mz = tiny_inputs(G)
    with torch.no_grad():
        x32 = G(z, t, motion_z=mz)
        y32 = D(x32, t)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x16 = G(z, t, motion_z=mz)
            y16 = D(x32, t)
    assert x16.dtype == torch.float32 and torch.isfinite(x16).all() and torch.isfinite(y16).all()
    assert (x16 - x32).abs().max() < 0.1 * x32.abs().max()
    assert (y16 - y32).abs().max() < 0.1 * (1 + y32.abs().max())


def test_bad_inputs_name_the_argument():
    G, D = models(tiny_cfg())
    t = torch.tensor([[0.0, 2.0, 5.0]] * 2)
    with pytest.raises(ValueError, match="synthesis: w"):
        G.synthesis(torch.randn(2, 7), t)
    with pytest.raises(ValueError, match="t must have shape"):
        G(torch.randn(2, 32), t[:1])
    with pytest.raises(ValueError, match="Discriminator.*x must have shape"):
        D(torch.randn(2, 3, 3, 8, 8), t)
    with pytest.raises(ValueError, match="Discriminator: t"):
        D(torch.randn(2, 3, 3, 16, 16), t[:, :2])


def test_bad_configs_raise():
    with pytest.raises(ValueError):
        Generator(dataclasses.replace(GeneratorConfig(), resolution=48))
    with pytest.raises(ValueError):
        Discriminator(dataclasses.replace(DiscriminatorConfig(), resolution=4))


@pytest.mark.slow
def test_torch_compile_forward():
    G, D = models(tiny_cfg())
    z, t, mz = tiny_inputs(G)
    with torch.no_grad():
        ref_x = G(z, t, motion_z=mz)
        ref_y = D(ref_x, t)
        try:
            cg, cd = torch.compile(G, fullgraph=False), torch.compile(D, fullgraph=False)
            x = cg(z, t, motion_z=mz)
            y = cd(x, t)
        except Exception as e:
            # missing C++ toolchain etc. is an environment issue, not a model bug
            if (
                "compil" in type(e).__name__.lower()
                or "InductorError" in type(e).__name__
                or "cpp" in str(e).lower()
            ):
                pytest.skip(
                    f"torch.compile toolchain unavailable: {type(e).__name__}: {str(e)[:200]}"
                )
            raise
    assert torch.allclose(x, ref_x, atol=1e-4) and torch.allclose(y, ref_y, atol=1e-4)
