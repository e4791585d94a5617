"""Fréchet distance and KID/KVD against closed forms and scipy."""

import numpy as np
import pytest
import scipy.linalg

from svlib.metrics.frechet import (
    FeatureStats,
    frechet_distance,
    frechet_distance_from_features,
    kernel_distance,
)


def _spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def test_feature_stats_biased_cov_and_chunking():
    x = np.random.default_rng(0).standard_normal((50, 4)) * [1, 2, 3, 4] + 5
    s = FeatureStats(capture_all=True)
    for chunk in np.array_split(x, 7):
        s.append(chunk)
    mu, cov = s.get_mean_cov()
    np.testing.assert_allclose(mu, x.mean(0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, bias=True), atol=1e-10)  # divide by N
    np.testing.assert_array_equal(s.get_all(), x)
    capped = FeatureStats(max_items=10)
    capped.append(x)
    assert capped.num_items == 10 and capped.is_full()
    with pytest.raises(ValueError, match="FeatureStats"):
        s.append(np.zeros((3, 5)))


def test_fd_identical_is_zero():
    rng = np.random.default_rng(1)
    mu, sig = rng.standard_normal(64), _spd(rng, 64)
    assert abs(frechet_distance(mu, sig, mu, sig)) < 1e-8


def test_fd_diagonal_closed_form():
    mu1, mu2 = np.array([0.0, 1, 2, 3]), np.array([1.0, -1, 2, 0.5])
    s1, s2 = np.array([1.0, 2, 3, 0.5]), np.array([2.0, 1, 0.5, 0.5])  # standard deviations
    want = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    got = frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2))
    assert got == pytest.approx(want, abs=1e-10)


def test_fd_symmetry_scaling_rotation():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) * 1.5 + 0.3
    fd = frechet_distance_from_features(x, y)
    assert fd > 0.5
    assert frechet_distance_from_features(y, x) == pytest.approx(fd, rel=1e-9)
    assert frechet_distance_from_features(3 * x, 3 * y) == pytest.approx(9 * fd, rel=1e-9)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))  # orthogonal rotation
    assert frechet_distance_from_features(x @ q, y @ q) == pytest.approx(fd, rel=1e-8)


def test_fd_matches_scipy_sqrtm():
    rng = np.random.default_rng(3)
    for d in (5, 40):
        mu1, mu2, s1, s2 = (
            rng.standard_normal(d),
            rng.standard_normal(d),
            _spd(rng, d),
            _spd(rng, d),
        )
        covmean = scipy.linalg.sqrtm(s1 @ s2).real
        ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(ref, rel=1e-8, abs=1e-8)


def test_fd_singular_covariance_ok():
    # N < D gives a rank-deficient covariance; the eigh form must stay real and finite.
    rng = np.random.default_rng(4)
    fd = frechet_distance_from_features(
        rng.standard_normal((10, 30)), rng.standard_normal((10, 30))
    )
    assert np.isfinite(fd) and fd > 0


def test_kid_unbiased_same_vs_shifted():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((400, 16)), rng.standard_normal((400, 16))
    same, same_std = kernel_distance(a, b, num_subsets=20, subset_size=200)
    shifted, _ = kernel_distance(a, b + 0.5, num_subsets=20, subset_size=200)
    assert abs(same) < 3 * same_std + 1e-3  # unbiased: centred on 0 for equal distributions
    assert shifted > 20 * max(abs(same), same_std)
    assert kernel_distance(a, b + 0.5, num_subsets=5, subset_size=50, seed=1)[0] > 0
    with pytest.raises(ValueError, match="kernel_distance"):
        kernel_distance(a, b[:, :3])
