"""Kernel Inception Distance: unbiased polynomial-kernel MMD² averaged over random subsets
(Bińkowski et al. 2018, "Demystifying MMD GANs")."""
from __future__ import annotations

import torch
from torch import Tensor


def kernel_inception_distance(real: Tensor, fake: Tensor, subsets: int = 100, subset_size: int = 1000,
                              seed: int = 0, degree: int = 3, coef: float = 1.0) -> tuple[float, float]:
    """(mean, std) over `subsets` draws of the unbiased MMD² with kernel (x·y / dim + coef)^degree.

    Each draw takes `subset_size` vectors (capped at the smaller set) from each side without
    replacement; the draws are seeded, so the same inputs give the same score.
    """
    from torchmetrics.image.kid import poly_mmd  # imported here: torchmetrics takes a while to import

    real, fake = real.detach().double(), fake.detach().double()
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sizes differ: {real.shape[1]} vs {fake.shape[1]}")
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise ValueError("KID needs at least two feature vectors on each side")
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        r = real[torch.randperm(len(real), generator=gen)[:size].to(real.device)]
        f = fake[torch.randperm(len(fake), generator=gen)[:size].to(fake.device)]
        values.append(poly_mmd(r, f, degree=degree, gamma=1.0 / real.shape[1], coef=coef))
    scores = torch.stack(values)
    return float(scores.mean()), float(scores.std(unbiased=False))
