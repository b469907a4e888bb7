"""Image degradations of Real-ESRGAN (Wang et al. 2021) on batches in [0, 1]: noise, JPEG, random resizing.

Each takes its per-image parameters as tensors (one value per image of the batch) and draws its
random numbers from a given `torch.Generator` (on the CPU), so the same generator state gives the
same images on any device. Blur kernels are in `ganforge.data.kernels`.
"""
from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ganforge.errors import GanforgeError

RESIZE_MODES = ("area", "bilinear", "bicubic")  #: the interpolations of the random resizes (F.interpolate's names)
LUMA = (0.299, 0.587, 0.114)  #: ITU-R BT.601 weights of the grey image the grey Poisson noise is drawn on

_POOL: Optional[ThreadPoolExecutor] = None


def _pool() -> ThreadPoolExecutor:
    """The JPEG worker threads, started on first use (Pillow releases the GIL while it codes)."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="ganforge-jpeg")
    return _POOL


def _draw(shape: tuple, generator: torch.Generator, like: Tensor) -> Tensor:
    """Standard normal numbers drawn on the CPU with `generator`, then placed like `like`."""
    return torch.randn(shape, generator=generator).to(like)


def gaussian_noise(images: Tensor, sigma: Tensor, gray: Tensor, generator: torch.Generator) -> Tensor:
    """Images plus N(0, σ²) noise, σ per image on the [0, 1] scale; `gray` images get one noise plane shared by their channels."""
    b, c, h, w = images.shape
    gray = gray.to(images.device)
    noise = torch.empty_like(images)
    if (~gray).any():
        noise[~gray] = _draw((int((~gray).sum()), c, h, w), generator, images)
    if gray.any():
        noise[gray] = _draw((int(gray.sum()), 1, h, w), generator, images).expand(-1, c, h, w)
    return images + noise * sigma.to(images).view(b, 1, 1, 1)


def levels(images: Tensor) -> Tensor:
    """(B,) the number of distinct 8-bit levels of each image rounded up to a power of two (256 for most photos)."""
    q = images.mul(255).round_().clamp_(0, 255).long().flatten(1)
    counts = torch.zeros(q.shape[0], 256, device=images.device).scatter_add_(1, q, torch.ones_like(q, dtype=torch.float32))
    distinct = (counts > 0).sum(1).clamp_(min=1).double()
    return torch.exp2(torch.ceil(torch.log2(distinct)))


def _shot(base: Tensor, generator: torch.Generator) -> Tensor:
    """Poisson(L·x)/L − x of [0, 1] images x, with L each image's levels."""
    count = levels(base).view(-1, 1, 1, 1).float()
    return torch.poisson(base * count, generator=generator) / count - base


def poisson_noise(images: Tensor, scale: Tensor, gray: Tensor, generator: torch.Generator) -> Tensor:
    """Images plus `scale` times shot noise: Poisson(L·x)/L − x with L the image's levels, per channel or (`gray`) on its luma.

    Its standard deviation at level x is scale·sqrt(x / L), so it grows with brightness and with `scale`. A grey image's
    noise is drawn once, on its luma plane, and shared by its channels.
    """
    b, c, h, w = images.shape
    gray = gray.cpu()
    q = images.detach().float().cpu().mul(255).round_().clamp_(0, 255).div_(255)
    shot = torch.empty_like(q)
    if (~gray).any():
        shot[~gray] = _shot(q[~gray], generator)
    if gray.any():
        grey = q[gray]
        luma = (grey * torch.tensor(LUMA).view(1, 3, 1, 1)).sum(1, keepdim=True) if c == 3 else grey.mean(1, keepdim=True)
        luma = luma.mul(255).round_().clamp_(0, 255).div_(255)
        shot[gray] = _shot(luma, generator).expand(-1, c, h, w)
    return images + shot.to(images) * scale.to(images).view(b, 1, 1, 1)


def _jpeg_one(pixels: np.ndarray, quality: int) -> np.ndarray:
    mode = "L" if pixels.shape[2] == 1 else "RGB"
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        out = np.asarray(decoded.convert(mode))
    return out[..., None] if out.ndim == 2 else out


def jpeg(images: Tensor, quality: Tensor) -> Tensor:
    """Images in [0, 1] (clamped, rounded to 8 bits) compressed and decoded as JPEG by Pillow at integer `quality` per image, on worker threads."""
    if images.shape[1] not in (1, 3):
        raise GanforgeError(f"JPEG takes 1 or 3 channels; got {images.shape[1]}.")
    q = [int(v) for v in quality.round().long().tolist()]
    if any(not 1 <= v <= 100 for v in q):
        raise GanforgeError(f"JPEG quality {q} is invalid; expected integers from 1 to 100.")
    pixels = images.detach().clamp(0, 1).mul(255).round_().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = list(_pool().map(_jpeg_one, list(pixels), q))
    return torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(images.device, images.dtype).div_(255)


def resize(images: Tensor, size: tuple[int, int], mode: str) -> Tensor:
    """Images resized to `size` (H, W) by `mode`: area, bilinear or bicubic (half-pixel centres, no antialiasing, as F.interpolate)."""
    if mode not in RESIZE_MODES:
        raise GanforgeError(f"Resize mode {mode!r} is invalid; expected one of {', '.join(RESIZE_MODES)}.")
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    if mode == "area":
        return F.interpolate(images, size=size, mode="area")
    return F.interpolate(images, size=size, mode=mode, align_corners=False)
