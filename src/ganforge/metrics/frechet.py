"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, "FID")."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class GaussianStats:
    """Running mean and covariance of feature vectors, accumulated in float64 batch by batch."""

    def __init__(self, dim: int):
        self.n = 0
        self.total = np.zeros(dim, dtype=np.float64)
        self.outer = np.zeros((dim, dim), dtype=np.float64)

    def update(self, features: Tensor | np.ndarray) -> None:
        """Add a batch of features (N, dim)."""
        f = features.detach().cpu().double().numpy() if isinstance(features, Tensor) else np.asarray(features, np.float64)
        self.n += f.shape[0]
        self.total += f.sum(0)
        self.outer += f.T @ f

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (dim,), unbiased covariance (dim, dim)) of everything added so far."""
        if self.n < 2:
            raise ValueError("at least two feature vectors are needed for a covariance")
        mean = self.total / self.n
        cov = (self.outer - self.n * np.outer(mean, mean)) / (self.n - 1)
        return mean, (cov + cov.T) / 2


def gaussian_stats(features: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, unbiased covariance) in float64 of features (N, dim)."""
    stats = GaussianStats(int(features.shape[1]))
    stats.update(features)
    return stats.mean_cov()


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """d² = |mu1 - mu2|² + Tr(S1 + S2 - 2 (S1 S2)^½) between N(mu1, S1) and N(mu2, S2).

    Tr((S1 S2)^½) is computed as the sum of square roots of the eigenvalues of the symmetric
    matrix S1^½ S2 S1^½ (same spectrum as S1 S2), in float64, which stays real and stable for
    the rank-deficient covariances of small sample sets.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"mismatched statistics: means {mu1.shape}/{mu2.shape}, covariances {sigma1.shape}/{sigma2.shape}")
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return float(max(value, 0.0))


def frechet_distance_features(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets `a` and `b`."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def as_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    """A float64 numpy copy of a tensor or array."""
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)
