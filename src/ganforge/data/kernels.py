"""Blur kernels of Real-ESRGAN's degradations (Wang et al. 2021), built for a whole batch at once, and their filtering.

Every kernel is a (K, K) grid, K odd, centred on the middle cell; a kernel of a smaller size k sits
in the middle of the grid with zeros around it, so kernels of different sizes share one tensor and
one grouped convolution. All are normalised to sum to one and are point-symmetric (k(-x) = k(x)),
so correlation (what conv2d computes) equals convolution.

- Gaussian: exp(-q/2), with q = xᵀ Σ⁻¹ x and Σ = R(θ) diag(σx², σy²) R(θ)ᵀ (isotropic: σx = σy, θ = 0);
- generalised Gaussian: exp(-q^β / 2) (β < 1 heavier tails, β > 1 flatter top; Liu et al. 2020);
- plateau: 1 / (1 + q^β) (a flat top with a steep edge);
- 2-D sinc (circular low-pass, ideal filter of cutoff ω): ω J₁(ω r) / (2π r), ω² / (4π) at r = 0 —
  the ringing and overshoot artefacts of sharpening and of ideal low-pass resampling;
- delta: one at the centre (the identity).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError

#: the kernel types, in the order of a probability list such as Real-ESRGAN's kernel_prob
KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


def grid(size: int, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
    """(x, y) offsets of a (size, size) kernel grid from its centre cell; x runs along columns, y along rows."""
    if size < 1 or size % 2 == 0:
        raise GanforgeError(f"Kernel size {size} is invalid; expected an odd integer >= 1.")
    ax = torch.arange(size, dtype=dtype) - size // 2
    y, x = torch.meshgrid(ax, ax, indexing="ij")
    return x, y


def size_mask(sizes: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) boolean: the cells inside each kernel's own size (odd, <= K) in the middle of the K-grid."""
    x, y = grid(grid_size)
    half = (sizes.to(torch.float64).view(-1, 1, 1) - 1) / 2
    return (x.abs() <= half) & (y.abs() <= half)


def normalise(kernels: Tensor, mask: Tensor) -> Tensor:
    """Kernels zeroed outside `mask` and scaled to sum to one each."""
    kernels = torch.where(mask, kernels, torch.zeros_like(kernels))
    return kernels / kernels.sum((-2, -1), keepdim=True)


def quadratic_form(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) q = xᵀ Σ⁻¹ x of each cell, Σ = R(θ) diag(σx², σy²) R(θ)ᵀ: the squared Mahalanobis distance to the centre."""
    x, y = grid(grid_size)
    c, s = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    u = c * x + s * y  # coordinates along the rotated axes
    v = -s * x + c * y
    return (u / sigma_x.view(-1, 1, 1)) ** 2 + (v / sigma_y.view(-1, 1, 1)) ** 2


def gaussian(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, sizes: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) anisotropic Gaussian kernels (isotropic when σx = σy), each of its own odd size, normalised."""
    q = quadratic_form(sigma_x, sigma_y, theta, grid_size)
    return normalise(torch.exp(-0.5 * q), size_mask(sizes, grid_size))


def generalized_gaussian(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor, sizes: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) generalised Gaussian kernels exp(-q^β / 2), normalised."""
    q = quadratic_form(sigma_x, sigma_y, theta, grid_size)
    return normalise(torch.exp(-0.5 * q.pow(beta.view(-1, 1, 1))), size_mask(sizes, grid_size))


def plateau(sigma_x: Tensor, sigma_y: Tensor, theta: Tensor, beta: Tensor, sizes: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) plateau kernels 1 / (1 + q^β), normalised."""
    q = quadratic_form(sigma_x, sigma_y, theta, grid_size)
    return normalise(1.0 / (1.0 + q.pow(beta.view(-1, 1, 1))), size_mask(sizes, grid_size))


def sinc(cutoff: Tensor, sizes: Tensor, grid_size: int) -> Tensor:
    """(B, K, K) circular low-pass (2-D sinc) kernels ω J₁(ω r) / (2π r) of cutoff ω (radians per pixel), normalised."""
    x, y = grid(grid_size)
    r = torch.sqrt(x * x + y * y)
    w = cutoff.to(torch.float64).view(-1, 1, 1)
    safe = torch.where(r > 0, r, torch.ones_like(r))
    kernels = torch.where(r > 0, w * torch.special.bessel_j1(w * safe) / (2 * math.pi * safe), w * w / (4 * math.pi))
    return normalise(kernels, size_mask(sizes, grid_size))


def delta(batch: int, grid_size: int) -> Tensor:
    """(B, K, K) identity kernels: one at the centre."""
    kernels = torch.zeros(batch, grid_size, grid_size, dtype=torch.float64)
    kernels[:, grid_size // 2, grid_size // 2] = 1.0
    return kernels


def flush_subnormal(kernels: Tensor, dtype: torch.dtype) -> Tensor:
    """`kernels` with every value below the smallest normal number of `dtype` set to zero (what flush-to-zero does)."""
    return kernels.masked_fill(kernels.abs() < torch.finfo(dtype).tiny, 0.0)


def filter2d(images: Tensor, kernels: Tensor) -> Tensor:
    """Images (B, C, H, W) each filtered by its own kernel of (B, K, K), in one grouped convolution.

    The borders are reflected (replicated where the image is smaller than the kernel's reach). Kernel
    values below the smallest normal number of the images' dtype are set to zero, as flush-to-zero
    arithmetic would (a Gaussian's far tail underflows there, and subnormal weights slowed the whole
    convolution ~5x on CPUs that trap them); then the kernels are trimmed to the largest non-zero
    extent in the batch.
    """
    b, c, h, w = images.shape
    if kernels.shape[0] != b or kernels.shape[-1] != kernels.shape[-2] or kernels.shape[-1] % 2 == 0:
        raise GanforgeError(f"Kernels of shape {tuple(kernels.shape)} do not suit {b} images; expected ({b}, K, K) with K odd.")
    kernels = flush_subnormal(kernels, images.dtype)
    k = kernels.shape[-1]
    used = (kernels != 0).any(0)
    reach = int(max((used.nonzero() - k // 2).abs().max(), 0)) if used.any() else 0
    kernels = kernels[:, k // 2 - reach:k // 2 + reach + 1, k // 2 - reach:k // 2 + reach + 1]
    if reach == 0:
        return images * kernels.reshape(b, 1, 1, 1).to(images)
    mode = "reflect" if reach < min(h, w) else "replicate"
    padded = F.pad(images.reshape(1, b * c, h, w), (reach, reach, reach, reach), mode=mode)
    weight = kernels.to(images).repeat_interleave(c, 0).unsqueeze(1)
    return F.conv2d(padded, weight, groups=b * c).view(b, c, h, w)
