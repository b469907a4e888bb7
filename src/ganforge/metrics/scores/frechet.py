"""Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017, "FID")."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


class GaussianStats:
    """Running mean and covariance of feature vectors, accumulated in float64 batch by batch.

    Each batch is centred on its own mean before its scatter matrix is formed, and batches are
    merged with the pairwise update of Chan, Golub & LeVeque (1979), so features with a large
    common offset keep their precision (Σxxᵀ − nμμᵀ would cancel catastrophically).
    """

    def __init__(self, dim: int):
        self.n = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self.scatter = np.zeros((dim, dim), dtype=np.float64)  # Σ (x − mean)(x − mean)ᵀ

    def update(self, features: Tensor | np.ndarray) -> None:
        """Add a batch of features (N, dim)."""
        f = as_numpy(features)
        if f.ndim != 2 or f.shape[1] != self.mean.shape[0]:
            raise ValueError(f"features of shape {f.shape} do not fit statistics of dimension {self.mean.shape[0]}")
        m = f.shape[0]
        if m == 0:
            return
        batch_mean = f.mean(0)
        centred = f - batch_mean
        delta = batch_mean - self.mean
        total = self.n + m
        self.scatter += centred.T @ centred + np.outer(delta, delta) * (self.n * m / total)
        self.mean = self.mean + delta * (m / total)
        self.n = total

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean (dim,), unbiased covariance (dim, dim)) of everything added so far."""
        if self.n < 2:
            raise ValueError("at least two feature vectors are needed for a covariance")
        cov = self.scatter / (self.n - 1)
        return self.mean.copy(), (cov + cov.T) / 2


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
    the rank-deficient covariances of small sample sets. It is averaged with the same sum from
    S2^½ S1 S2^½, so the distance is exactly symmetric in its two arguments.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.shape[0],) * 2:
        raise ValueError(f"mismatched statistics: means {mu1.shape}/{mu2.shape}, covariances {sigma1.shape}/{sigma2.shape}")
    diff = mu1 - mu2
    trace_sqrt = (_trace_sqrt_product(sigma1, sigma2) + _trace_sqrt_product(sigma2, sigma1)) / 2
    value = diff @ diff + (np.trace(sigma1) + np.trace(sigma2)) - 2 * trace_sqrt
    return float(max(value, 0.0))


def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    root1 = _psd_sqrt(sigma1)
    middle = root1 @ sigma2 @ root1
    return float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())


def frechet_distance_features(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets `a` and `b`."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def as_numpy(x: Tensor | np.ndarray) -> np.ndarray:
    """A float64 numpy copy of a tensor or array."""
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, np.float64)
