"""Improved precision and recall from k-NN manifolds in feature space (Kynkäänniemi et al. 2019)."""
from __future__ import annotations

import torch
from torch import Tensor


def knn_radii(features: Tensor, k: int = 3, chunk: int = 1024) -> Tensor:
    """Distance from each vector to its k-th nearest neighbour in the same set (itself excluded)."""
    if len(features) <= k:
        raise ValueError(f"need more than k={k} feature vectors, got {len(features)}")
    radii = []
    for start in range(0, len(features), chunk):
        d = torch.cdist(features[start:start + chunk], features)
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, -1])  # the 0 to itself is the first
    return torch.cat(radii)


def coverage_by_manifold(manifold: Tensor, radii: Tensor, queries: Tensor, chunk: int = 1024) -> float:
    """Fraction of `queries` inside at least one ball (manifold[i], radii[i])."""
    inside = 0
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start:start + chunk], manifold)
        inside += int((d <= radii.unsqueeze(0)).any(dim=1).sum())
    return inside / len(queries)


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """(precision, recall): share of fake vectors on the real k-NN manifold, share of real ones on the fake manifold.

    Both sets are centred on the real mean and compared in float64, so a common offset of the
    features does not change the result (distances of far-from-origin float32 vectors would
    otherwise lose their digits to cancellation).
    """
    real, fake = real.detach().double(), fake.detach().double()
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sets of shapes {tuple(real.shape)} and {tuple(fake.shape)} do not match")
    centre = real.mean(0, keepdim=True)
    real, fake = real - centre, fake - centre
    precision = coverage_by_manifold(real, knn_radii(real, k), fake)
    recall = coverage_by_manifold(fake, knn_radii(fake, k), real)
    return precision, recall
