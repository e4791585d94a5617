"""Feature statistics, the Fréchet distance (FVD/FID) and the kernel distance (KID/KVD).

Protocol choices (the original StyleGAN-V / StyleGAN2-ADA ones, so numbers are comparable):
- mean and covariance come from running float64 sums; the covariance is the *biased* one
  (divide by N, not N-1): Σ = E[x xᵀ] - μ μᵀ.
- FD = ‖μ1-μ2‖² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½). The trace term uses eigh instead of scipy's sqrtm:
  with R = Σ1^½ (eigh, eigenvalues clipped at 0), Σ1 Σ2 = R (R Σ2 R) R⁻¹ has the eigenvalues of the
  symmetric PSD matrix R Σ2 R, so tr (Σ1 Σ2)^½ = Σ sqrt(clip(eigvalsh(R Σ2 R), 0)). Real, stable,
  no `disp`.
- FD is strongly biased at small N (same distribution, d=400: ≈462 at N=64, ≈24 at N=2048):
  only compare FDs computed with the same N and feature extractor.
- KID/KVD: unbiased MMD² with the cubic polynomial kernel k(x,y) = (x·y/d + 1)³ averaged over
  random subsets (num_subsets, subset_size), as in the common KID implementations; unbiased, so ≈0
  for equal distributions at any N.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_np64(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


class FeatureStats:
    """Accumulates feature vectors [N, D] as float64 running sums (and optionally the raw features).

    capture_all=True keeps every row (needed for KID/KVD); max_items stops accepting rows beyond it.
    """

    def __init__(self, capture_all: bool = False, max_items: int | None = None):
        self.capture_all, self.max_items = capture_all, max_items
        self.num_items, self.dim = 0, None
        self.sum = self.sum_outer = None
        self._all: list[np.ndarray] = []

    def is_full(self) -> bool:
        return self.max_items is not None and self.num_items >= self.max_items

    def append(self, x) -> None:
        x = _as_np64(x)  # [N, D]
        if x.ndim != 2:
            raise ValueError(f"FeatureStats.append: features must be [N, D], got shape {x.shape}")
        if self.max_items is not None:
            x = x[: max(self.max_items - self.num_items, 0)]
        if self.dim is None:
            self.dim = x.shape[1]
            self.sum, self.sum_outer = np.zeros(self.dim), np.zeros((self.dim, self.dim))
        if x.shape[1] != self.dim:
            raise ValueError(f"FeatureStats.append: feature dim {x.shape[1]} != {self.dim}")
        self.num_items += x.shape[0]
        self.sum += x.sum(0)
        self.sum_outer += x.T @ x
        if self.capture_all:
            self._all.append(x)

    def get_all(self) -> np.ndarray:
        if not self.capture_all:
            raise ValueError("FeatureStats.get_all needs capture_all=True")
        return np.concatenate(self._all, 0) if self._all else np.zeros((0, self.dim or 0))

    def get_mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(μ [D], biased Σ [D, D]) in float64."""
        if self.num_items == 0:
            raise ValueError("FeatureStats.get_mean_cov: no features were appended")
        mu = self.sum / self.num_items
        return mu, self.sum_outer / self.num_items - np.outer(mu, mu)

    @classmethod
    def from_features(cls, x, capture_all: bool = True) -> FeatureStats:
        s = cls(capture_all=capture_all)
        s.append(x)
        return s


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    lam, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(lam, 0, None))) @ v.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(μ1, Σ1) and N(μ2, Σ2).

    float64, eigh form; see the module docstring.
    """
    mu1, mu2, sigma1, sigma2 = map(_as_np64, (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(
            f"frechet_distance: shapes differ: mu {mu1.shape}/{mu2.shape}, "
            f"sigma {sigma1.shape}/{sigma2.shape}"
        )
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2  # exact symmetry for eigh
    r = _sqrt_psd(sigma1)  # R = Σ1^½
    m = r @ sigma2 @ r
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
    return float(np.square(mu1 - mu2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_sqrt)


def frechet_distance_from_features(x1, x2) -> float:
    """FD between two feature sets [N1, D] and [N2, D] (biased covariances)."""
    return frechet_distance(
        *FeatureStats.from_features(x1, False).get_mean_cov(),
        *FeatureStats.from_features(x2, False).get_mean_cov(),
    )


def kernel_distance(
    x1, x2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD² with the cubic polynomial kernel (KID on Inception, KVD on I3D features).

    Averages over `num_subsets` random subsets of `min(subset_size, N1, N2)` rows drawn without
    replacement from each set. Returns (mean, std over subsets).
    """
    x1, x2 = _as_np64(x1), _as_np64(x2)  # [N1, D], [N2, D]
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[1] != x2.shape[1]:
        raise ValueError(
            f"kernel_distance: need [N, D] features with equal D, got {x1.shape} and {x2.shape}"
        )
    m = min(subset_size, len(x1), len(x2))
    if m < 2:
        raise ValueError(
            f"kernel_distance: need at least 2 samples per set, got {len(x1)} and {len(x2)}"
        )
    d, rng, vals = x1.shape[1], np.random.default_rng(seed), []
    for _ in range(num_subsets):
        a = x1[rng.choice(len(x1), m, replace=False)]
        b = x2[rng.choice(len(x2), m, replace=False)]
        kaa, kbb, kab = ((a @ a.T / d + 1) ** 3, (b @ b.T / d + 1) ** 3, (a @ b.T / d + 1) ** 3)
        off = lambda k: (k.sum() - np.trace(k)) / (m * (m - 1))  # unbiased: drop the i == j terms
        vals.append(off(kaa) + off(kbb) - 2 * kab.mean())
    return float(np.mean(vals)), float(np.std(vals))


kid = kvd = kernel_distance
