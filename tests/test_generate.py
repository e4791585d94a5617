"""Inference helpers: frame rate, chunking, seeds, content/motion grid, content edits."""

import pytest
import torch

import svlib
from svlib.config import MotionConfig, get_preset
from svlib.generate import (
    content_motion_grid,
    edit_content,
    frame_times,
    generate_frames,
    interpolate_content,
    iter_chunks,
    noise_window,
    seed_latents,
    upsample_fps,
    video_frames,
)
from svlib.generator import Generator


@pytest.fixture(scope="module")
def G():
    cfg = get_preset("cpu", resolution=16).G
    cfg.channel_base, cfg.channel_max, cfg.z_dim, cfg.w_dim = 256, 32, 32, 32
    cfg.motion = MotionConfig(
        z_dim=16, code_dim=16, time_dim=8, min_period=4.0, max_period=64.0, kernel_size=5
    )
    torch.manual_seed(0)
    return Generator(cfg).eval()


def test_frame_times():
    assert torch.equal(
        frame_times(4, 2.0, 1.0), torch.tensor([1.0, 1.5, 2.0, 2.5], dtype=torch.float64)
    )
    for bad in ({"num_frames": 0}, {"fps_factor": 0.0}, {"offset": -1.0}):
        kw = {"num_frames": 3, **bad}
        with pytest.raises(ValueError):
            frame_times(kw.pop("num_frames"), **kw)


def test_double_fps_even_frames_equal_single_fps(G):
    one = generate_frames(G, 12, seed=3, num_videos=2, fps_factor=0.5, offset=2.0)
    two = upsample_fps(G, 12, 2, seed=3, num_videos=2, fps_factor=0.5, offset=2.0)
    assert one.shape == (2, 12, 3, 16, 16) and two.shape == (2, 24, 3, 16, 16)
    assert torch.allclose(two[:, ::2], one, atol=1e-4)
    assert not torch.allclose(two[:, 1::2], one, atol=1e-3)  # in-between frames are new


def test_chunked_long_video_equals_one_call(G):
    a = generate_frames(G, 50, seed=1, chunk_size=7)
    b = generate_frames(G, 50, seed=1, chunk_size=1000)
    assert torch.allclose(a, b, atol=1e-4)
    u = generate_frames(G, 50, seed=1, chunk_size=7, uint8=True)
    assert (
        u.dtype == torch.uint8
        and (u.int() - ((a * 127.5 + 128).clamp(0, 255)).int()).abs().max() <= 1
    )


def test_chunks_share_one_motion_when_none_is_given(G):
    w, t = G.mapping(torch.randn(2, G.cfg.z_dim)), torch.arange(40.0)
    torch.manual_seed(5)
    a = torch.cat(list(iter_chunks(G, w, t, chunk_size=7)), dim=1)
    torch.manual_seed(5)
    b = torch.cat(list(iter_chunks(G, w, t, chunk_size=1000)), dim=1)
    assert torch.allclose(a, b, atol=1e-4)  # not a fresh motion draw per chunk


def test_video_depends_only_on_its_seed_and_longer_videos_extend(G):
    batch = generate_frames(G, 10, seed=5, num_videos=3)
    single = generate_frames(G, 10, seed=6)
    longer = generate_frames(G, 200, seed=6)  # 200 frames: motion_z grows, the first 10 frames stay
    assert torch.allclose(batch[1], single[0], atol=1e-4)
    assert torch.allclose(longer[:, :10], single, atol=1e-4)
    assert not torch.allclose(batch[0], batch[1], atol=1e-3)


def test_content_motion_grid(G):
    grid = content_motion_grid(G, 9, content_seeds=[1, 2, 3], motion_seeds=[2, 7])
    assert grid.shape == (2, 3, 9, 3, 16, 16)
    assert torch.allclose(
        grid[0, 1], generate_frames(G, 9, seed=2)[0], atol=1e-4
    )  # both seeds 2: that video
    z, _ = seed_latents(G, [1], 8.0)
    _, mz = seed_latents(G, [7], 8.0)
    assert torch.allclose(grid[1, 0], generate_frames(G, 9, z=z, motion_z=mz)[0], atol=1e-4)
    assert not torch.allclose(grid[0, 0], grid[0, 2], atol=1e-3)  # same motion, different content
    assert not torch.allclose(grid[0, 0], grid[1, 0], atol=1e-3)  # same content, different motion
    # shared content: the first-frame difference between rows comes only from motion, so within a
    # column the rows' mean images stay close compared with the difference between columns
    row_gap = (grid[0].mean(1) - grid[1].mean(1)).abs().mean()
    col_gap = (grid[:, 0].mean(1) - grid[:, 2].mean(1)).abs().mean()
    assert row_gap < col_gap


def test_interpolation_keeps_motion(G):
    vids = interpolate_content(G, 20, seed_a=4, seed_b=9, lambdas=[0.0, 0.5, 1.0])
    assert vids.shape == (3, 20, 3, 16, 16)
    assert torch.allclose(vids[0], generate_frames(G, 20, seed=4)[0], atol=1e-4)
    zb, _ = seed_latents(G, [9], 19.0)
    _, mza = seed_latents(G, [4], 19.0)
    assert torch.allclose(vids[2], generate_frames(G, 20, z=zb, motion_z=mza)[0], atol=1e-4)
    assert not torch.allclose(vids[1], vids[0], atol=1e-3) and not torch.allclose(
        vids[1], vids[2], atol=1e-3
    )


def test_edit_direction(G):
    d = torch.randn(G.cfg.w_dim)
    vids = edit_content(G, 6, seed=2, direction=d, strengths=[0.0, 2.0])
    assert torch.allclose(vids[0], generate_frames(G, 6, seed=2)[0], atol=1e-4)
    z, _ = seed_latents(G, [2], 5.0)
    w = G.mapping(z) + 2.0 * d
    assert torch.allclose(vids[1], generate_frames(G, 6, seed=2, w=w)[0], atol=1e-4)
    with pytest.raises(ValueError):
        edit_content(G, 6, seed=2, direction=torch.randn(3), strengths=[1.0])


def test_image_mode_generator_works():
    cfg = get_preset("cpu", resolution=8).G
    cfg.motion, cfg.channel_base, cfg.channel_max = None, 64, 8
    x = generate_frames(Generator(cfg), 3, num_videos=2)
    assert x.shape == (2, 3, 3, 8, 8) and torch.allclose(x[:, 0], x[:, 2], atol=1e-4)


def test_generate_to_file_mp4_and_frames(tmp_path):
    """The CLI path: a checkpoint in, an mp4 (streamed in chunks) or a frame folder out, at a raised
    frame rate."""
    import subprocess
    import sys

    from svlib.checkpoint import save_checkpoint
    from svlib.generate import generate_to_file
    from svlib.video_io import read_video

    cfg = svlib.get_preset("cpu", resolution=16)
    cfg.G.channel_base, cfg.G.channel_max = 256, 16
    torch.manual_seed(0)
    G, _ = svlib.build_models(cfg)
    ck = save_checkpoint(tmp_path / "g.pt", {"config": cfg.to_dict(), "G_ema": G.state_dict()})
    mp4 = generate_to_file(
        ck,
        tmp_path / "v.mp4",
        seconds=2,
        fps=10,
        data_fps=5,
        num_videos=2,
        chunk_size=7,
        progress=False,
    )
    v = read_video(mp4)
    assert v.shape == (20, 18, 36, 3)  # 2 s at 10 fps; two 16² videos tiled with 1-px borders
    frames = generate_to_file(
        ck, tmp_path / "frames", seconds=1, fps=10, chunk_size=4, progress=False
    )
    assert len(list(frames.glob("*.png"))) == 10
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "svlib",
            "generate",
            "--ckpt",
            str(ck),
            "--out",
            str(tmp_path / "c.mp4"),
            "--seconds",
            "1",
            "--fps",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert read_video(tmp_path / "c.mp4").shape[0] == 8
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "svlib",
            "generate",
            "--ckpt",
            str(tmp_path / "nope.pt"),
            "--out",
            str(tmp_path / "d.mp4"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 2 and "nope.pt" in r.stderr and not (tmp_path / "d.mp4").exists()


def test_video_of_a_seed_is_the_same_on_every_path(G):
    """The CLI, the metrics' generated clips, the proxies' fixed video and fixed (preview) latents
    all render the video of seed s through one owner: bit-identical frames at equal chunking (other
    chunk sizes agree to float rounding, see test_chunked_long_video_equals_one_call)."""
    from svlib.generate import iter_video
    from svlib.metrics.clips import generate_clips
    from svlib.metrics.proxies import generator_time_fn
    from svlib.utils import quantize

    seed, T = 2, 20
    t = torch.arange(float(T)).numpy()
    cli = generate_frames(G, T, seed=seed)  # [1, T, C, H, W]
    streamed = torch.cat([x.cpu() for x in iter_video(G, T, seed=seed)], dim=1)
    at = generator_time_fn(G, seed=seed, t_max=300.0)(t)  # [T, C, H, W]
    z, mz = seed_latents(G, [seed], 300.0)  # fixed latents with a longer motion draw
    preview = video_frames(G, frame_times(T), z=z, motion_z=mz, chunk_size=T)
    for x in (streamed, at[None], preview):
        assert torch.equal(x, cli)
    # FVD sample i of a run with seed 0 is the video of seed i, in any batch
    clips = generate_clips(G, 3, t, seed=0)  # [3, T, H, W, 3] uint8
    assert torch.equal(clips[seed], quantize(cli[0]).permute(0, 2, 3, 1))
    assert torch.equal(generate_clips(G, 1, t, seed=0, start=seed)[0], clips[seed])


def test_video_frames_needs_seeds_for_latents_it_is_not_given(G):
    with pytest.raises(ValueError, match="seeds"):
        video_frames(G, frame_times(4), z=torch.randn(1, G.cfg.z_dim))
    with pytest.raises(ValueError, match="t must have shape"):
        video_frames(G, torch.zeros(2, 3), seeds=[0])


def test_noise_window_reads_only_the_chunks_codes(G):
    cfg = G.cfg.motion
    rf = cfg.num_layers * (cfg.kernel_size - 1) + 1
    assert noise_window(cfg, torch.tensor([[0.0, 3.9]])) == (0, 1 + rf)
    start, stop = noise_window(cfg, torch.tensor([[9.0, 17.5]]))  # δz = 4: anchors 2 .. 4
    assert (start, stop) == (2, 4 + 1 + rf)
    w, t = G.mapping(torch.randn(1, G.cfg.z_dim)), torch.tensor([[9.0, 17.5]])
    _, mz = seed_latents(G, [0], 17.5)
    window = mz[:, start:stop]
    # the same arithmetic on a shorter sequence; oneDNN may pick another conv1d kernel for another
    # length (seen on AMD EPYC), so the frames agree to float32 rounding, not always bit for bit
    torch.testing.assert_close(
        G.synthesis(w, t, motion_z=window, first_code=start),
        G.synthesis(w, t, motion_z=mz),
        rtol=1e-5,
        atol=1e-5,
    )
