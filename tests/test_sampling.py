import numpy as np
import pytest

from svlib.config import SamplingConfig
from svlib.sampling import allowed_spans, sample_clip_times, sample_fake_times, span_distribution


def draws(n, length, F=3, max_dist=32, fractional=False, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack(
        [sample_clip_times(length, F, max_dist, rng, fractional=fractional) for _ in range(n)]
    )


def test_allowed_spans_are_powers_of_two_within_limits():
    assert allowed_spans(1000, 3, 32).tolist() == [2, 4, 8, 16, 32]  # the paper's set
    assert allowed_spans(10, 3, 32).tolist() == [2, 4, 8]  # capped by length − 1
    assert allowed_spans(10, 2, 32).tolist() == [1, 2, 4, 8]  # F=2 allows T=1
    assert allowed_spans(5000, 3, 4096).tolist()[-1] == 2048  # largest candidate
    assert allowed_spans(4, 4, 32).tolist() == [3]  # no power of two fits: fallback span


@pytest.mark.parametrize("F,length,max_dist", [(3, 100, 32), (2, 7, 32), (4, 40, 16), (5, 5, 32)])
def test_clip_times_structure(F, length, max_dist):
    t = draws(400, length, F, max_dist)  # [N, F]
    assert t.shape == (400, F) and t.dtype == np.float64
    gaps = np.diff(t, axis=1)
    assert (gaps >= 1).all() and (gaps == np.round(gaps)).all()  # sorted, distinct, integer gaps
    spans = t[:, -1] - t[:, 0]  # ends included: span = T exactly
    assert set(spans.astype(int).tolist()) <= set(allowed_spans(length, F, max_dist).tolist())
    assert t.min() >= 0 and t.max() <= length - 1


def test_span_distribution_uniform_and_offsets_cover_range():
    t = draws(5000, 100, 3, 32, seed=1)
    spans = (t[:, -1] - t[:, 0]).astype(int)
    values, counts = np.unique(spans, return_counts=True)
    assert values.tolist() == [2, 4, 8, 16, 32]
    expected = 5000 / 5
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 18.5, chi2  # 4 dof, p ≈ 0.001
    # offset o uniform on 0..length−T−1: both ends reached for the smallest span
    o = t[spans == 2, 0]
    assert o.min() == 0 and o.max() == 100 - 2 - 1
    # interior frames: every position 1..T−1 is used
    inner = (t[spans == 8, 1] - t[spans == 8, 0]).astype(int)
    assert set(inner.tolist()) == set(range(1, 8))
    # exact distribution helper agrees
    assert span_distribution(100, 3, 32) == pytest.approx(
        {2: 0.2, 4: 0.2, 8: 0.2, 16: 0.2, 32: 0.2}
    )
    mixed = span_distribution([5, 100], 3, 32)
    assert mixed[2] == pytest.approx(0.5 / 2 + 0.5 / 5) and sum(mixed.values()) == pytest.approx(1)


def test_fractional_offsets_keep_integer_gaps():
    t = draws(200, 64, 3, 16, fractional=True)
    frac = t[:, 0] - np.floor(t[:, 0])
    assert (frac > 1e-6).mean() > 0.9  # offsets are real-valued
    gaps = np.diff(t, axis=1)
    assert (gaps == np.round(gaps)).all() and (gaps >= 1).all()  # exactly integer, not 0.9999
    assert (np.diff(t.astype(np.float32), axis=1) == gaps).all()  # also after the float32 cast
    assert t.max() <= 64 - 1


def test_deterministic_by_rng_and_errors():
    assert np.array_equal(draws(10, 50, seed=3), draws(10, 50, seed=3))
    assert not np.array_equal(draws(10, 50, seed=3), draws(10, 50, seed=4))
    with pytest.raises(ValueError, match="length 2"):
        sample_clip_times(2, 3, 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_frames"):
        sample_clip_times(10, 1, 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_dist"):
        sample_clip_times(100, 5, 2, np.random.default_rng(0))


def test_sample_fake_times_uses_clipped_lengths():
    s = SamplingConfig(num_frames=3, max_dist=32, max_num_frames=20)
    rng = np.random.default_rng(0)
    t = sample_fake_times(64, [5], s, rng)
    assert t.shape == (64, 3) and t.dtype == np.float32 and t.max() <= 4
    t = sample_fake_times(256, [10_000], s, rng)  # capped by max_num_frames
    assert t.max() <= 19 and (t[:, -1] - t[:, 0]).max() == 16  # T <= min(19, 32) -> 16
    t, idx = sample_fake_times(32, [5, 1000], s, rng, return_indices=True)
    assert set(idx.tolist()) == {0, 1} and (t[idx == 0].max() <= 4)
    gaps = np.diff(t, axis=1)
    assert (gaps == np.round(gaps)).all() and (t != np.round(t)).any()
    with pytest.raises(ValueError, match="lengths"):
        sample_fake_times(4, [], s, rng)
