"""MS-SSIM between random pairs of samples: a diversity score that needs no pretrained network
(Wang et al. 2003; used for GAN diversity by Odena et al. 2017). A collapsed model makes similar images
and scores high; compare with the same statistic of the real images. Computed with torchmetrics.

MS-SSIM's five scales need images of at least 161 px with the usual 11-tap window; smaller images use as
many scales as fit (64 px: 3), with the standard scale weights of those scales renormalised to sum to 1.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ganforge.errors import GanforgeError

#: Wang et al.'s weights of the five scales, finest first
BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW, SIGMA = 11, 1.5


def scales_for(size: int, window: int = WINDOW) -> int:
    """How many MS-SSIM scales (at most 5) fit an image side of `size` pixels."""
    scales = 1
    while scales < len(BETAS) and size > (window - 1) * 2 ** scales:
        scales += 1
    return scales


def betas_for(scales: int) -> tuple[float, ...]:
    """The first `scales` standard weights, renormalised to sum to 1 (all five unchanged)."""
    chosen = BETAS[:scales]
    if scales == len(BETAS):
        return chosen
    total = sum(chosen)
    return tuple(b / total for b in chosen)


def ms_ssim(a: Tensor, b: Tensor, scales: int | None = None) -> Tensor:
    """MS-SSIM of each pair (a[i], b[i]) of images in [-1, 1], (N, C, H, W) -> (N,); negative contrast terms clipped to 0."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    if a.shape != b.shape or a.dim() != 4:
        raise GanforgeError(f"Image batches of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be compared; expected equal (N, C, H, W).")
    size = min(a.shape[-2:])
    scales = scales or scales_for(size)
    if scales < 1 or size <= (WINDOW - 1) * 2 ** (scales - 1):
        raise GanforgeError(f"Images of {size} px are too small for MS-SSIM with {scales} scales; expected larger images or fewer scales.")
    x, y = (a.float() + 1) / 2, (b.float() + 1) / 2
    return multiscale_structural_similarity_index_measure(x, y, data_range=1.0, kernel_size=WINDOW, sigma=SIGMA,
                                                          betas=betas_for(scales), normalize="relu", reduction="none")


@torch.no_grad()
def pairwise_ms_ssim(images: Tensor, pairs: int = 1000, seed: int = 0, batch_size: int = 250) -> dict:
    """Mean and standard deviation of MS-SSIM over `pairs` random pairs of distinct images of one set (seeded)."""
    n = len(images)
    if n < 2:
        raise GanforgeError(f"MS-SSIM diversity needs at least 2 images; got {n}.")
    g = torch.Generator().manual_seed(seed)
    first = torch.randint(0, n, (pairs,), generator=g)
    second = (first + torch.randint(1, n, (pairs,), generator=g)) % n  # never the same image
    values = torch.cat([ms_ssim(images[first[i:i + batch_size]], images[second[i:i + batch_size]])
                        for i in range(0, pairs, batch_size)])
    return {"mean": float(values.mean()), "std": float(values.std()), "pairs": pairs, "scales": scales_for(min(images.shape[-2:]))}
