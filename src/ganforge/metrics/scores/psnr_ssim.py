"""PSNR and SSIM under one convention, the space named in every key and the rest in a `protocol` field.

The convention (that of the super-resolution papers and MATLAB's ``ssim_index``):
- per image, then averaged over images;
- PSNR = 10 · log10(peak² / MSE), the MSE over every pixel and channel of the image (inf where equal);
- SSIM is Wang et al. 2004's: 11 × 11 Gaussian window, σ = 1.5, K1 = 0.01, K2 = 0.03, averaged over the
  positions where the whole window fits and over channels (torchmetrics averages a reflection-padded image
  instead, which moves the value, so it is not used).

Two spaces, named in the key:
- ``psnr_y`` / ``ssim_y``: the luma Y of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` defines it
  (Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in 0..255, range 16..235, peak 255),
  usually after a border cut (super-resolution);
- ``psnr_rgb`` / ``ssim_rgb``: every channel, images mapped from [-1, 1] to [0, 1] (peak 1)
  (translation, projection).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError

Y_WEIGHTS = (65.481, 128.553, 24.966)  #: MATLAB rgb2ycbcr's Y row, for R, G, B in [0, 1] giving Y in [0, 255] minus 16
SSIM_WINDOW = 11  #: side of SSIM's Gaussian window, px
SSIM_SIGMA = 1.5  #: standard deviation of SSIM's Gaussian window, px
SSIM_K1, SSIM_K2 = 0.01, 0.03  #: SSIM's stabilising constants, times the data range
Y_PEAK, RGB_PEAK = 255.0, 1.0  #: data ranges of the two spaces


def protocol(space: str, border: int = 0) -> dict:
    """The `protocol` field of a result: which space, data range, SSIM window, border cut and averaging were used."""
    if space not in ("y", "rgb"):
        raise GanforgeError(f"PSNR/SSIM space {space!r} is unknown; expected 'y' or 'rgb'.")
    return {"space": "BT.601 luma Y, 16..235" if space == "y" else "RGB (all channels), [0, 1]",
            "data_range": Y_PEAK if space == "y" else RGB_PEAK,
            "ssim": f"Wang et al. 2004, Gaussian window {SSIM_WINDOW} px, sigma {SSIM_SIGMA}, valid positions",
            "border": border, "average": "per image, then the mean over images"}


def rgb_to_y(images: Tensor) -> Tensor:
    """(N, 1, H, W) float luma Y in 16..235 of (N, 3, H, W) RGB images in 0..255 (uint8 or float), as MATLAB's rgb2ycbcr; gray passes through."""
    x = images.float()
    if x.shape[1] == 1:
        return x
    if x.shape[1] != 3:
        raise GanforgeError(f"Images with {x.shape[1]} channels have no luma; expected 1 or 3 channels.")
    w = torch.tensor(Y_WEIGHTS, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return 16.0 + (x * w).sum(1, keepdim=True) / 255.0


def shave(images: Tensor, border: int) -> Tensor:
    """Images with `border` pixels cut from every side."""
    if border <= 0:
        return images
    if images.shape[-1] <= 2 * border or images.shape[-2] <= 2 * border:
        raise GanforgeError(f"Images of {tuple(images.shape[-2:])} px are too small to cut a {border}-px border; expected larger images.")
    return images[..., border:-border, border:-border]


def psnr(a: Tensor, b: Tensor, peak: float = Y_PEAK) -> Tensor:
    """Per-image PSNR in dB of (N, C, H, W) float images a vs b with peak value `peak` (inf where equal)."""
    mse = (a.double() - b.double()).square().flatten(1).mean(1)
    return 10 * torch.log10(peak ** 2 / mse)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """The (1, 1, size, size) float64 Gaussian window of SSIM, summing to one."""
    g = torch.exp(-((torch.arange(size, dtype=torch.float64) - (size - 1) / 2) ** 2) / (2 * sigma ** 2))
    w = torch.outer(g, g)
    return (w / w.sum()).view(1, 1, size, size)


def ssim(a: Tensor, b: Tensor, peak: float = Y_PEAK, size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> Tensor:
    """Per-image SSIM (Wang et al. 2004) of (N, C, H, W) float images, each channel on its own, mean over valid positions and channels."""
    if a.shape != b.shape:
        raise GanforgeError(f"Images {tuple(a.shape)} and {tuple(b.shape)} differ in shape; expected the same.")
    if a.shape[-1] < size or a.shape[-2] < size:
        raise GanforgeError(f"Images of {tuple(a.shape[-2:])} px are smaller than the {size}-px SSIM window; expected larger images.")
    channels = a.shape[1]
    x, y = a.double(), b.double()
    w = gaussian_window(size, sigma).to(x.device).expand(channels, 1, size, size)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, w, groups=channels)

    c1, c2 = (SSIM_K1 * peak) ** 2, (SSIM_K2 * peak) ** 2
    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    index = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return index.flatten(1).mean(1).float()


def _unit(images: Tensor) -> Tensor:
    return images.double().clamp(-1, 1).add(1).div(2)


def psnr_rgb(a: Tensor, b: Tensor) -> float:
    """Mean per-image PSNR in dB over every channel of two (N, C, H, W) image batches in [-1, 1], mapped to [0, 1]."""
    if a.shape != b.shape:
        raise GanforgeError(f"Images {tuple(a.shape)} and {tuple(b.shape)} differ in shape; expected the same.")
    return float(psnr(_unit(a), _unit(b), RGB_PEAK).mean())


def ssim_rgb(a: Tensor, b: Tensor) -> float:
    """Mean per-image SSIM over every channel of two (N, C, H, W) image batches in [-1, 1], mapped to [0, 1]."""
    return float(ssim(_unit(a), _unit(b), RGB_PEAK).mean())
