import json

import numpy as np
import pytest

from svlib.data.synthetic import (
    SYNTHETIC,
    DigitsVideos,
    PeriodicVideos,
    ShapesVideos,
    SkyVideos,
    load_digit_images,
    make_synthetic,
    reflect,
)

KINDS = sorted(SYNTHETIC)


def diff(a, b):
    return float(np.abs(a.astype(np.float64) - b).mean())


@pytest.mark.parametrize("kind", KINDS)
def test_render_shapes_determinism_params(kind):
    ds = make_synthetic(kind, n=6, length=40, resolution=32, seed=1)
    v = ds.read_frames(2, np.array([0, 5, 39]))
    assert v.shape == (3, 32, 32, 3) and v.dtype == np.uint8
    assert np.array_equal(v, ds.render(2, [0.0, 5.0, 39.0]))
    assert v.std() > 5  # not a blank frame
    again = make_synthetic(kind, n=6, length=40, resolution=32, seed=1)
    assert np.array_equal(again.read_frames(2, [0, 5, 39]), v)  # deterministic by (seed, index)
    other = make_synthetic(kind, n=6, length=40, resolution=32, seed=2)
    assert not np.array_equal(other.read_frames(2, [0, 5, 39]), v)
    assert not np.array_equal(ds.read_frames(3, [0, 5, 39]), v)
    p = ds.params(2)
    assert json.loads(json.dumps(p)) == p and p == again.params(2)  # stored, JSON-friendly
    with pytest.raises(IndexError):
        ds.read_frames(2, [40])
    with pytest.raises(IndexError):
        ds.params(6)


@pytest.mark.parametrize("kind", KINDS)
def test_continuous_in_time(kind):
    ds = make_synthetic(kind, n=4, resolution=32, seed=0)
    for i, t in [(0, 10.3), (1, 57.0), (3, 101.7)]:
        f0 = ds.render_float(i, [t])
        d = [diff(ds.render_float(i, [t + dt]), f0) for dt in (2.0, 0.5, 0.1, 0.01)]
        assert d[0] > 0 and d[-1] < 0.25 * d[0] and d[-1] < 2e-3, d  # shrinks as δ -> 0
        # a half-frame sits between its neighbouring frames
        mid, f1 = ds.render_float(i, [t + 0.5]), ds.render_float(i, [t + 1])
        assert diff(mid, f0) < diff(f1, f0) and diff(mid, f1) < diff(f1, f0)


def test_shapes_bounce_physics():
    ds = ShapesVideos(n=8, resolution=32, seed=0)
    t = np.arange(0, 400, 0.5)
    for i in range(8):
        for s in ds.params(i)["shapes"]:
            pos = ds.position(s, t)  # [T, 2]
            r = s["radius"]
            assert pos.min() >= r - 1e-9 and pos.max() <= 1 - r + 1e-9  # stays inside the frame
            step = np.abs(np.diff(pos, axis=0))  # per-axis speed is constant
            assert np.allclose(step.max(0), np.abs(s["velocity"]) * 0.5, rtol=1e-6)
    assert reflect(np.array([0.0, 0.3, 1.0, 1.3, 2.0]), 1.0).tolist() == pytest.approx(
        [0, 0.3, 1, 0.7, 0]
    )
    # a single centred circle: rendered colour equals its parameters
    p = {
        "background": [0.0, 0.0, 0.0],
        "shapes": [
            {
                "shape": "circle",
                "radius": 0.2,
                "color": [1.0, 0.5, 0.25],
                "phase": [0.3, 0.3],
                "velocity": [0, 0],
                "angle": 0,
                "angular_velocity": 0,
            }
        ],
    }
    img = ds._render(p, np.zeros(1))[0]
    assert np.allclose(img[16, 16], [1, 0.5, 0.25]) and np.allclose(img[0, 0], 0)
    assert img[..., 0].sum() / 32**2 == pytest.approx(np.pi * 0.2**2, rel=0.03)  # anti-aliased area


def test_periodic_period_prior_and_periodicity():
    ds = PeriodicVideos(n=24, resolution=32, seed=0)
    kinds = set()
    for i in range(24):
        p = ds.params(i)
        kinds.add(p["kind"])
        assert 16 <= p["period"] <= 64
        t = np.array([3.2, 11.0])
        f0, fp = ds.render_float(i, t), ds.render_float(i, t + p["period"])
        assert diff(fp, f0) < 1e-4  # exactly periodic
        assert diff(ds.render_float(i, t + p["period"] / 2), f0) > 1e-3  # but moving
    assert kinds == set(PeriodicVideos.kinds)


def test_sky_stationary_and_alive_at_long_times():
    ds = SkyVideos(n=6, resolution=32, seed=0)

    def stats(t0):  # fBm mean, contrast and spatial detail over 6 videos x 16 well-separated frames
        d = np.stack([ds.fbm(ds.params(i), t0 + np.arange(0, 800, 50.0)) for i in range(6)])
        return np.array([d.mean(), d.std(), np.abs(np.diff(d, axis=-1)).mean()])

    early, late = stats(0.0), stats(1e6)
    assert np.allclose(early, late, rtol=0.08), (
        early,
        late,
    )  # same statistics a million frames later
    for i in range(3):
        late = ds.render_float(i, 1e6 + np.array([0.0, 4.0]))
        assert diff(late[1], late[0]) > 1e-3  # clouds still move (no freezing)
        assert late.std() > 0.02


def test_digits_identity_and_split():
    images, labels = load_digit_images()
    train, test = (
        DigitsVideos(n=30, seed=0, split="train"),
        DigitsVideos(n=30, seed=1, split="test"),
    )
    tr = {d["image"] for i in range(30) for d in train.params(i)["digits"]}
    te = {d["image"] for i in range(30) for d in test.params(i)["digits"]}
    assert not tr & te
    for i in range(5):
        for d in train.params(i)["digits"]:
            assert d["label"] == labels[d["image"]] and 1 <= len(train.params(i)["digits"]) <= 2
    # a digit rendered at a stand-still reproduces its 8x8 image when downsampled
    ds = DigitsVideos(n=1, resolution=64)
    d = {
        "image": 5,
        "label": int(labels[5]),
        "size": 0.5,
        "color": [1.0, 1.0, 1.0],
        "phase": [0.25, 0.25],
        "velocity": [0.0, 0.0],
    }
    img = ds._render({"digits": [d]}, np.zeros(1))[0, 16:48, 16:48, 0]  # the 32x32 digit box
    small = img.reshape(8, 4, 8, 4).mean(axis=(1, 3))
    assert np.corrcoef(small.ravel(), images[5].ravel())[0, 1] > 0.9


def test_shapes_prior_ranges_from_a_spec():
    from svlib.data import open_dataset

    ds = open_dataset("synthetic:shapes?n=40&max_shapes=1&speed=0.03,0.04&radius=0.2,0.25&spin=0.1")
    ps = [ds.params(i)["shapes"] for i in range(len(ds))]
    assert all(len(p) == 1 for p in ps)
    speeds = [np.hypot(*p[0]["velocity"]) for p in ps]
    assert 0.03 <= min(speeds) and max(speeds) <= 0.04
    assert all(0.2 <= p[0]["radius"] <= 0.25 and p[0]["angular_velocity"] == 0.1 for p in ps)
    # the defaults keep the draws (and so the videos and the shipped models' data) as they were
    s0 = make_synthetic("shapes", n=4, seed=1).params(3)["shapes"]
    assert len(s0) == 3 and (s0[0]["radius"], s0[0]["angular_velocity"]) == pytest.approx(
        (0.12454106570528581, 0.03489741150738668), rel=1e-12
    )
    with pytest.raises(ValueError, match="radius"):
        make_synthetic("shapes", radius=(0.3, 0.6))
    with pytest.raises(ValueError, match="speed"):
        make_synthetic("shapes", speed=(0.05, 0.01))
    with pytest.raises(ValueError, match="spin"):
        make_synthetic("shapes", spin=(0.1, 0.2, 0.3))


def test_bad_synthetic_arguments():
    with pytest.raises(ValueError, match="clouds"):
        make_synthetic("clouds")
    with pytest.raises(ValueError, match="wobble"):
        make_synthetic("shapes", wobble=3)
    with pytest.raises(ValueError, match="length"):
        make_synthetic("sky", length=0)
    with pytest.raises(ValueError, match="split"):
        make_synthetic("digits", split="val")


@pytest.mark.parametrize("name", ["shapes", "periodic", "sky", "digits"])
def test_no_pixel_jumps_in_time(name):
    """Each pixel changes by O(δ) as t moves by δ (no colour switch at blade edges, hub, bounce)."""
    ds = make_synthetic(name, n=24, length=64, resolution=32, seed=1)
    t0 = np.linspace(0.0, 60.0, 41)
    for i in range(len(ds)):
        jump = np.abs(ds.render_float(i, t0 + 1e-3) - ds.render_float(i, t0)).max()
        assert jump < 0.02, (
            f"{name} video {i} ({ds.params(i).get('kind', '')}) jumps by {jump:.3f} in t"
        )
