"""FVD/KVD protocol, clip sources and plumbing, with stand-in data, generators and detectors (no
weights needed)."""

import numpy as np
import pytest
import torch
from metric_stand_ins import StatsDetector, TinyGenerator, dots

from svlib.metrics import clips, fvd
from svlib.metrics.i3d import load_i3d
from svlib.metrics.registry import calc_metrics


def test_real_clip_protocol_drops_short_and_takes_first():
    vids = [np.zeros((n, 4, 4, 3), np.uint8) for n in (5, 20, 40, 3, 30)]
    idx, offs = clips.real_clips(vids, num_frames=8, subsample=2, max_real=10, seed=0)  # span 15
    assert idx.tolist() == [1, 2, 4]
    assert all(0 <= o <= len(vids[i]) - 15 for i, o in zip(idx, offs))
    assert clips.real_clips(vids, 8, 2, max_real=2, seed=0)[0].tolist() == [1, 2]
    np.testing.assert_array_equal(offs, clips.real_clips(vids, 8, 2, 10, seed=0)[1])  # seeded
    with pytest.raises(ValueError, match="no video"):
        clips.real_clips(vids, num_frames=50)


def test_generated_clip_quantisation_and_callables():
    x = torch.linspace(-1.2, 1.2, 2 * 3 * 3 * 2 * 2).reshape(2, 3, 3, 2, 2)  # [B, F, C, H, W]
    u = clips.to_uint8_clips(x)
    assert u.shape == (2, 3, 2, 2, 3) and u.dtype == torch.uint8
    assert torch.equal(u, (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 1, 3, 4, 2))
    seen = {}

    def gen_nt(n, t):
        seen["t"] = t
        return torch.zeros(n, len(t), 1, 8, 8)  # grey, 1 channel -> repeated to 3

    out = clips.generate_clips(gen_nt, 3, np.arange(4) * 2.0, seed=0)
    assert (
        out.shape == (3, 4, 8, 8, 3) and (out == 128).all() and seen["t"].tolist() == [0, 2, 4, 6]
    )
    assert (
        clips.generate_clips(
            lambda n: np.zeros((n, 4, 8, 8, 3), np.uint8), 2, np.arange(4.0), 0
        ).shape[0]
        == 2
    )
    with pytest.raises(ValueError, match="generate_fn returned"):
        clips.generate_clips(lambda n: np.zeros((n, 3, 8, 8, 3), np.uint8), 2, np.arange(4.0), 0)


def test_fvd_kvd_separate_good_and_broken_generators():
    real = dots(48, seed=0)
    good = lambda n, t: np.stack([v[: len(t)] for v in dots(n, seed=int(1000 + n + t[0]))])
    broken = lambda n: np.full((n, 16, 16, 16, 3), 128, np.uint8)
    det = StatsDetector()
    kw = dict(max_real=48, num_gen=48, detector=det, batch_size=16, progress=False, device="cpu")
    r_good, r_bad = fvd.compute_fvd(good, real, **kw), fvd.compute_fvd(broken, real, **kw)
    assert r_bad["value"] > 5 * r_good["value"]  # a ratio, never an absolute FD value
    for k in (
        "N_real",
        "N_fake",
        "num_frames",
        "stride",
        "resolution",
        "detector",
        "metric",
        "label",
    ):
        assert k in r_good
    assert (r_good["N_real"], r_good["N_fake"], r_good["num_frames"], r_good["resolution"]) == (
        48,
        48,
        16,
        16,
    )
    assert r_good["untrained"] and "UNTRAINED" in r_good["label"]
    k_good, k_bad = fvd.compute_kvd(good, real, **kw), fvd.compute_kvd(broken, real, **kw)
    assert k_bad["value"] > 10 * abs(k_good["value"]) and k_good["metric"] == "kvd16"


def test_calc_metrics_shares_features_and_caches(tmp_path):
    real, det = dots(6, length=130), StatsDetector()  # fvd128_sub8 spans 121 frames
    gen = lambda n, t: np.stack([v[np.asarray(t, int)] for v in dots(n, length=130, seed=5)])
    kw = dict(max_real=6, num_gen=4, detector=det, batch_size=4, progress=False, device="cpu")
    res = calc_metrics(gen, real, ["fvd16", "kvd16", "fvd128_sub8", "params16"], **kw)
    assert set(res) == {"fvd16", "kvd16", "fvd128_sub8", "params16"}
    assert det.clips == 2 * (6 + 4)  # one feature pass per clip protocol
    assert (
        res["fvd128_sub8"]["num_frames"],
        res["fvd128_sub8"]["stride"],
        res["kvd16"]["stride"],
    ) == (16, 8, 1)
    assert "per_param" in res["params16"] and "not FVD" in res["params16"]["label"]
    with pytest.raises(ValueError, match="unknown metrics"):
        calc_metrics(gen, real, ["fvd17"])
    # real-feature cache: a second run reads the real features instead of recomputing them
    det2 = StatsDetector()
    det2.untrained = False  # untrained detectors are never cached
    a = fvd.compute_fvd(gen, real, **{**kw, "detector": det2, "cache_dir": str(tmp_path)})
    b = fvd.compute_fvd(gen, real, **{**kw, "detector": det2, "cache_dir": str(tmp_path)})
    assert det2.clips == 6 + 4 + 4 and a["value"] == pytest.approx(b["value"])


def test_fvd_end_to_end_untrained_i3d():
    """The real detector path: 2 real + 2 fake clips of 10 frames (the shortest I3D takes is 9) at
    32 px -> 224."""
    real = dots(2, length=20, res=32)
    gen = lambda n: np.stack(dots(n, length=10, res=32, seed=3))
    det = load_i3d(untrained=True)
    r = fvd.compute_fvd(
        gen,
        real,
        num_frames=10,
        max_real=2,
        num_gen=2,
        detector=det,
        batch_size=4,
        progress=False,
        device="cpu",
    )
    assert np.isfinite(r["value"]) and r["value"] >= 0
    assert (
        r["detector"] == "UNTRAINED i3d (plumbing only)"
        and r["untrained"]
        and "UNTRAINED" in r["label"]
    )
    assert (r["N_real"], r["N_fake"], r["num_frames"], r["stride"], r["resolution"]) == (
        2,
        2,
        10,
        1,
        32,
    )


def test_generator_path_is_seeded_and_batch_independent():
    G = TinyGenerator()
    a = clips.generate_clips(G, 4, np.arange(16.0), seed=1)
    b = torch.cat([clips.generate_clips(G, 2, np.arange(16.0), seed=1, start=s) for s in (0, 2)])
    assert a.shape == (4, 16, 16, 16, 3) and torch.equal(a, b)
    assert not torch.equal(a, clips.generate_clips(G, 4, np.arange(16.0), seed=2))
    res = calc_metrics(
        G, dots(4, length=20), ["continuity", "drift"], progress=False, device="cpu", seed=0
    )
    assert 0.7 < res["continuity"]["value"] < 1.3  # smooth in t
    assert res["drift"]["k"][-1] == 1024 and res["drift"]["mean_shift"] < 0.05
