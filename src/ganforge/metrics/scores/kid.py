"""Kernel Inception Distance: unbiased polynomial-kernel MMD² averaged over random subsets
(Bińkowski et al. 2018, "Demystifying MMD GANs")."""
from __future__ import annotations

import torch
from torch import Tensor


def polynomial_kernel(x: Tensor, y: Tensor, degree: int = 3, coef: float = 1.0) -> Tensor:
    """The kernel matrix k(x_i, y_j) = (x_i·y_j / d + coef)^degree of feature sets (m, d) and (n, d)."""
    return (x @ y.T / x.shape[1] + coef) ** degree


def mmd2_unbiased(x: Tensor, y: Tensor, degree: int = 3, coef: float = 1.0) -> Tensor:
    """Unbiased MMD² estimate between equal-size samples x, y (m, d) under the polynomial kernel.

    Σ_{i≠j} k(x_i, x_j) / (m(m−1)) + Σ_{i≠j} k(y_i, y_j) / (m(m−1)) − 2 Σ_{i,j} k(x_i, y_j) / m²,
    the estimator of Bińkowski et al. 2018 (it can be slightly negative when the sets agree).
    """
    m = x.shape[0]
    if y.shape[0] != m or m < 2:
        raise ValueError(f"MMD² needs two equal-size sets of at least 2 vectors, got {x.shape[0]} and {y.shape[0]}")
    kxx, kyy, kxy = polynomial_kernel(x, x, degree, coef), polynomial_kernel(y, y, degree, coef), polynomial_kernel(x, y, degree, coef)
    within = (kxx.sum() - kxx.diagonal().sum() + kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return within - 2 * kxy.sum() / (m * m)


def kid_subset_size(subset_size: int, n_real: int, n_fake: int) -> int:
    """The subset size KID actually uses: `subset_size`, capped at the smaller of the two sets."""
    return min(int(subset_size), int(n_real), int(n_fake))


def kernel_inception_distance(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, degree: int = 3, coef: float = 1.0) -> tuple[float, float]:
    """(mean, std) over `subsets` draws of the unbiased MMD² with kernel (x·y / dim + coef)^degree.

    Each draw takes `kid_subset_size(subset_size, len(real), len(fake))` vectors from each side
    without replacement, so fewer samples than `subset_size` mean smaller subsets (callers should
    report that size). The draws are seeded: the same inputs give the same score.
    """
    real, fake = real.detach().double(), fake.detach().double()
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sets of shapes {tuple(real.shape)} and {tuple(fake.shape)} do not match")
    size = kid_subset_size(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least two feature vectors on each side")
    if subsets < 1:
        raise ValueError(f"KID needs at least one subset, got {subsets}")
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        r = real[torch.randperm(len(real), generator=gen)[:size].to(real.device)]
        f = fake[torch.randperm(len(fake), generator=gen)[:size].to(fake.device)]
        values.append(mmd2_unbiased(r, f, degree, coef))
    scores = torch.stack(values)
    return float(scores.mean()), float(scores.std(unbiased=False))
