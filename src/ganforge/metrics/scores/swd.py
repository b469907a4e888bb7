"""Sliced Wasserstein distance over Laplacian-pyramid patches, as ProGAN defines it (Karras et al. 2018, §5
and appendix D; after Rabin et al. 2011): a score of colour images that needs no pretrained network.

Each image set becomes a Laplacian pyramid (Gaussian 5-tap [1, 4, 6, 4, 1]/16 down to `min_size`); from each
level, `patches` random 7×7 neighbourhoods per image are descriptors (7·7·C values), normalised per
channel by that set's mean and standard deviation; the distance between two descriptor sets is the
mean, over random unit directions, of the 1-D Wasserstein-1 distance between their projections (sorted
and compared), times 1000 as ProGAN reports it. Finer levels measure detail, coarser ones structure;
lower is better; 0 for identical sets.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError

PATCH, PATCHES_PER_IMAGE, DIRECTIONS, REPEATS, MIN_SIZE = 7, 128, 512, 4, 16


def _gaussian(channels: int, device, dtype) -> Tensor:
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=device, dtype=dtype)
    k = torch.outer(k, k) / 256.0
    return k.expand(channels, 1, 5, 5).contiguous()


def pyr_down(x: Tensor) -> Tensor:
    """Blur with the 5-tap binomial filter (reflected edges) and keep every second pixel."""
    kernel = _gaussian(x.shape[1], x.device, x.dtype)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, stride=2, groups=x.shape[1])


def pyr_up(x: Tensor) -> Tensor:
    """Double the size: zeros between pixels, then the binomial filter times 4."""
    n, c, h, w = x.shape
    up = torch.zeros(n, c, h * 2, w * 2, device=x.device, dtype=x.dtype)
    up[:, :, ::2, ::2] = x
    return F.conv2d(F.pad(up, (2, 2, 2, 2), mode="reflect"), _gaussian(c, x.device, x.dtype) * 4, groups=c)


def laplacian_pyramid(x: Tensor, min_size: int = MIN_SIZE) -> list[Tensor]:
    """[finest band-pass, ..., coarsest low-pass] levels, halving until the side reaches `min_size`."""
    levels = []
    while x.shape[-1] > min_size:
        low = pyr_down(x)
        levels.append(x - pyr_up(low))
        x = low
    levels.append(x)
    return levels


def level_sizes(image_size: int, min_size: int = MIN_SIZE) -> list[int]:
    """Side lengths of the pyramid levels of an image of `image_size` pixels."""
    sizes = [image_size]
    while sizes[-1] > min_size:
        sizes.append(sizes[-1] // 2)
    return sizes


def descriptors(level: Tensor, patches: int, generator: torch.Generator) -> Tensor:
    """(N·patches, 7·7·C) random 7×7 neighbourhoods of one pyramid level."""
    n, c, h, w = level.shape
    ys = torch.randint(0, h - PATCH + 1, (n, patches), generator=generator)
    xs = torch.randint(0, w - PATCH + 1, (n, patches), generator=generator)
    offsets = torch.arange(PATCH)
    rows = (ys[..., None] + offsets).to(level.device)  # (n, p, 7)
    cols = (xs[..., None] + offsets).to(level.device)
    batch = torch.arange(n, device=level.device).view(n, 1, 1, 1)
    patch = level.permute(0, 2, 3, 1)[batch, rows[..., :, None], cols[..., None, :]]  # (n, p, 7, 7, c)
    return patch.reshape(n * patches, PATCH * PATCH, c)


def normalise(desc: Tensor) -> Tensor:
    """Descriptors with each channel at zero mean and unit standard deviation over the set, flattened."""
    mean = desc.mean(dim=(0, 1), keepdim=True)
    std = desc.std(dim=(0, 1), keepdim=True).clamp_min(1e-8)
    return ((desc - mean) / std).flatten(1)


def sliced_wasserstein_1d(a: Tensor, b: Tensor, directions: int = DIRECTIONS, repeats: int = REPEATS,
                          generator: Optional[torch.Generator] = None) -> float:
    """Mean over `repeats`×`directions` random unit directions of the mean |sorted(a·d) − sorted(b·d)| (equal row counts)."""
    if a.shape != b.shape:
        raise GanforgeError(f"Descriptor sets of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be compared; expected equal shapes.")
    results = []
    for _ in range(repeats):
        d = torch.randn(a.shape[1], directions, generator=generator).to(a)
        d = d / d.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ d, dim=0)
        pb, _ = torch.sort(b @ d, dim=0)
        results.append((pa - pb).abs().mean())
    return float(torch.stack(results).mean())


@torch.no_grad()
def sliced_wasserstein(images_a: Tensor, images_b: Tensor, patches: int = PATCHES_PER_IMAGE, directions: int = DIRECTIONS,
                       repeats: int = REPEATS, min_size: int = MIN_SIZE, seed: int = 0) -> dict:
    """ProGAN's SWD (×1e3) between two sets of images in [-1, 1] (N, C, H, W): {"levels": {size: swd}, "average": mean}.

    The larger set is cut to the smaller one's size (its first images), so both give as many descriptors;
    the patch positions and directions come from `seed`, the same for both sets.
    """
    if images_a.dim() != 4 or images_a.shape[1:] != images_b.shape[1:]:
        raise GanforgeError(f"Image sets of shapes {tuple(images_a.shape)} and {tuple(images_b.shape)} cannot be compared; "
                            "expected (N, C, H, W) with equal C, H, W.")
    if images_a.shape[-1] < PATCH or images_a.shape[-1] < min_size:
        raise GanforgeError(f"Images of {images_a.shape[-1]} px are too small for SWD; expected at least {max(PATCH, min_size)} px.")
    n = min(len(images_a), len(images_b))
    if n < 2:
        raise GanforgeError(f"SWD needs at least 2 images in each set; got {len(images_a)} and {len(images_b)}.")
    pyr_a = laplacian_pyramid(images_a[:n].float(), min_size)
    pyr_b = laplacian_pyramid(images_b[:n].float(), min_size)
    levels = {}
    for i, (la, lb) in enumerate(zip(pyr_a, pyr_b)):
        position = torch.Generator().manual_seed(seed + 1000 * i)
        da = normalise(descriptors(la, patches, position))
        db = normalise(descriptors(lb, patches, torch.Generator().manual_seed(seed + 1000 * i)))
        direction = torch.Generator().manual_seed(seed + 1000 * i + 1)
        levels[int(la.shape[-1])] = 1e3 * sliced_wasserstein_1d(da, db, directions, repeats, direction)
    return {"levels": levels, "average": sum(levels.values()) / len(levels)}
