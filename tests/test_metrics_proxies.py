"""Weight-free proxies on analytic inputs with known answers."""

import numpy as np
import pytest

from svlib.metrics.proxies import (
    clip_params,
    dominant_period,
    long_video_drift,
    param_distance,
    random_feature_fd,
    time_continuity,
)


def dot_video(cx, cy, res=32, radius=3.0, color=(255, 200, 50), bg=20):
    """Anti-aliased disk (like the synthetic sets' shapes) at centres (cx[t], cy[t]) in pixels.

    Returns uint8 [T, res, res, 3].
    """
    y, x = np.mgrid[0:res, 0:res].astype(np.float64)
    dist = np.hypot(x - np.asarray(cx)[:, None, None], y - np.asarray(cy)[:, None, None])
    a = np.clip(0.5 - (dist - radius), 0, 1)  # coverage, continuous in the centre
    img = bg + a[..., None] * (np.array(color, np.float64) - bg)
    return np.round(img).astype(np.uint8)


def linear_dot(v, t=16, x0=8.0, y0=10.0, **kw):
    s = np.arange(t, dtype=np.float64)
    return dot_video(x0 + v[0] * s, y0 + v[1] * s, **kw)


def test_moving_dot_speed_and_static_video():
    p = clip_params(np.stack([linear_dot((0.6, 0.8)), linear_dot((0.9, 0.0))]))
    np.testing.assert_allclose(p["speed"], [1.0, 0.9], rtol=0.03)  # true speed in pixels / frame
    assert (p["accel"] < 0.1).all()  # 0 up to sub-pixel rasterisation jitter
    np.testing.assert_allclose(
        [p["color_r"], p["color_g"]], [[1, 1], [0.78, 0.78]], atol=0.02
    )  # (255, 200, 50)
    static = clip_params(np.repeat(linear_dot((0, 0))[:1], 16, 0)[None])
    assert (
        static["speed"][0] == 0 and static["accel"][0] == 0 and static["period"][0] == 16
    )  # no period in view


@pytest.mark.parametrize("period", [8.0, 12.5, 21.0])
def test_sinusoidal_dot_period(period):
    s = np.arange(64.0)
    v = dot_video(16 + 9 * np.sin(2 * np.pi * s / period + 0.7), 16 + 0 * s)
    assert clip_params(v[None])["period"][0] == pytest.approx(period, rel=0.02)
    assert clip_params(v[None], period_signal="pixels")["period"][0] > 0
    pulse = np.cos(2 * np.pi * s / period)  # a pulsing (non-moving) blob
    assert dominant_period(pulse[:, None] * np.ones((1, 4))) == pytest.approx(period, rel=0.02)


def test_param_distance_detects_speed_shift():
    rng = np.random.default_rng(0)

    def clips(speed_lo, speed_hi, n=12):
        out = []
        for _ in range(n):
            sp, ang = rng.uniform(speed_lo, speed_hi), rng.uniform(0, 2 * np.pi)
            out.append(linear_dot((sp * np.cos(ang), sp * np.sin(ang)), x0=16, y0=16))
        return np.stack(out)

    real, real2, fast = clips(0.2, 0.6), clips(0.2, 0.6), clips(0.8, 1.2)
    same, shifted = param_distance(real, real2), param_distance(real, fast)
    assert shifted["speed"] == pytest.approx(0.6, abs=0.12)  # the true shift of the speed prior
    assert shifted["speed"] > 3 * same["speed"]
    assert same["color_r"] < 0.02 and set(same) == set(shifted)
    # normalised: the shift is ~0.6 / std(U[0.2, 0.6]) = 0.6 / 0.115 ≈ 5 real-data spreads
    real_std = clip_params(real)["speed"].std()
    norm = param_distance(real, fast, normalize=True)
    assert (
        norm["speed"] == pytest.approx(shifted["speed"] / real_std, rel=1e-9)
        and 3 < norm["speed"] < 8
    )
    # linear motion has no period: the real clips have no period spread to divide by, so it is left
    # out (dividing by ~0 would swamp the mean over parameters)
    assert clip_params(real)["period"].std() == 0 and "period" not in norm and "color_r" in norm


def test_long_video_drift_stationary_vs_fading():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (1040, 8, 8, 3), dtype=np.uint8)
    fading = (noise * np.linspace(1, 0.1, 1040)[:, None, None, None]).astype(np.uint8)
    d_noise, d_fade = long_video_drift(noise), long_video_drift(fading)
    assert list(d_noise["k"]) == [0, 16, 32, 64, 128, 256, 512, 1024]
    assert (
        d_noise["mean_shift"] < 0.02
        and d_noise["std_log_ratio"] < 0.05
        and d_noise["motion_log_ratio"] < 0.05
    )
    assert d_fade["mean_shift"] > 0.3 and d_fade["std_log_ratio"] > 1.0
    with pytest.raises(ValueError, match="long_video_drift"):
        long_video_drift(noise[:10])


def test_time_continuity_smooth_vs_jumpy():
    smooth = lambda t: dot_video(8 + 1.5 * t, 16 + 0.5 * t).astype(np.float64)  # continuous motion
    rng = np.random.default_rng(0)
    jumpy = lambda t: (
        smooth(t) + rng.normal(0, 8, (len(t), 32, 32, 3))
    )  # re-sampled noise every call
    c_s, c_j = time_continuity(smooth, t0=(0.0, 3.3)), time_continuity(jumpy)
    assert 0.8 < c_s["slope"] < 1.2 and (np.diff(c_s["dist"]) < 0).all()
    assert abs(c_j["slope"]) < 0.3


def test_random_feature_fd_ratio():
    rng = np.random.default_rng(1)

    def clips(speed):
        return np.stack(
            [
                linear_dot(
                    (speed, 0.3), t=8, res=16, radius=2, x0=rng.uniform(3, 6), y0=rng.uniform(3, 6)
                )
                for _ in range(24)
            ]
        )

    real, real2, broken = clips(0.5), clips(0.5), np.full((24, 8, 16, 16, 3), 128, np.uint8)
    broken = broken + rng.integers(0, 60, broken.shape).astype(np.uint8)
    assert random_feature_fd(real, broken) > 3 * random_feature_fd(real, real2)
