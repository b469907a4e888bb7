"""Densities for the theory figures: a Gaussian kernel density estimate and the optimal discriminator.

For a fixed generator the discriminator that maximises V(D, G) is D*(x) = p_data(x) / (p_data(x) + p_g(x))
(Goodfellow et al. 2014, Proposition 1); it is ½ wherever p_g = p_data. p_g is known only through samples,
so it is estimated by a kernel density with bandwidth h; for a fair ratio the exact p_data may be
convolved with the same kernel (for a Gaussian mixture that only adds h² to each component's variance).
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

from ganforge.errors import GanforgeError


def scott_bandwidth(samples: Tensor) -> float:
    """Scott's rule h = σ̄ · n^(-1/(d+4)), σ̄ the mean per-dimension standard deviation of the samples."""
    n, d = samples.shape
    if n < 2:
        raise GanforgeError(f"A bandwidth needs at least 2 samples, got {n}; expected more generated samples.")
    spread = float(samples.double().std(dim=0).mean())
    return max(spread, 1e-12) * n ** (-1.0 / (d + 4))


def gaussian_kde(samples: Tensor, points: Tensor, bandwidth: Optional[float] = None, chunk: int = 4096) -> Tensor:
    """Density at `points` (M, d) of the Gaussian kernel estimate over `samples` (N, d), float64 (M,).

    p̂(x) = (1/N) Σ_i N(x; x_i, h² I); `bandwidth` None takes Scott's rule.
    """
    samples = samples.detach().double().reshape(samples.shape[0], -1)
    points = points.detach().double().reshape(points.shape[0], -1)
    if samples.shape[1] != points.shape[1]:
        raise GanforgeError(f"Samples of dimension {samples.shape[1]} cannot estimate a density at points of dimension "
                            f"{points.shape[1]}; expected the same dimension.")
    h = scott_bandwidth(samples) if bandwidth is None else float(bandwidth)
    if not h > 0:
        raise GanforgeError(f"Bandwidth {bandwidth!r} is invalid; expected a number > 0.")
    n, d = samples.shape
    log_norm = -math.log(n) - 0.5 * d * math.log(2 * math.pi * h * h)
    out = []
    for start in range(0, points.shape[0], chunk):
        sq = torch.cdist(points[start:start + chunk], samples).square()
        out.append(torch.logsumexp(-0.5 * sq / (h * h), dim=1) + log_norm)
    return torch.cat(out).exp() if out else torch.empty(0, dtype=torch.float64)


def optimal_discriminator(p_data: Tensor, p_g: Tensor, eps: float = 1e-300) -> Tensor:
    """D*(x) = p_data / (p_data + p_g) pointwise; ½ where both densities vanish."""
    p_data, p_g = p_data.double(), p_g.double()
    total = p_data + p_g
    return torch.where(total > eps, p_data / total.clamp(min=eps), torch.full_like(total, 0.5))


def gaussian_density(x: Tensor, mean: float, std: float) -> Tensor:
    """The 1-D normal density N(x; mean, std²), float64 — the closed form the estimates are checked against."""
    x = x.double()
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def plane_grid(low: float, high: float, resolution: int, dim: int = 2) -> Tensor:
    """Evaluation points: a resolution^dim grid over [low, high]^dim, (resolution^dim, dim) float32, y-major for 2-D."""
    axis = torch.linspace(low, high, resolution)
    if dim == 1:
        return axis[:, None]
    if dim != 2:
        raise GanforgeError(f"A plane grid has dimension {dim}; expected 1 or 2.")
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([xx.flatten(), yy.flatten()], dim=1)
