"""Differentiable augmentation (Zhao et al. 2020): the same random color, translation and cutout
transforms applied to real and generated images before the discriminator, so a GAN trains on small
datasets without the discriminator memorizing them.  Randomness comes from the global torch RNG."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError

TRANSFORMS = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """The transform names of a comma-separated policy ("" for none), checked against TRANSFORMS."""
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    for name in names:
        if name not in TRANSFORMS:
            raise GanforgeError(f"DiffAugment transform {name!r} is unknown; expected a comma-separated subset of {', '.join(TRANSFORMS)}.")
    return names


def _uniform(x: Tensor, low: float, high: float) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * (high - low) + low


def color(x: Tensor) -> Tensor:
    """Random brightness shift, saturation and contrast scaling per sample."""
    x = x + _uniform(x, -0.5, 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * _uniform(x, 0.0, 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(x, 0.5, 1.5) + mean


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each sample by up to `ratio` of its size in each direction, filling with zeros."""
    n, _, h, w = x.shape
    max_y, max_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_y, max_y + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-max_x, max_x + 1, (n, 1, 1), device=x.device)
    # index into a copy padded by one zero pixel on each side; clamping lands outside reads on the pad
    ys = (torch.arange(h, device=x.device).view(1, h, 1) + dy + 1).clamp(0, h + 1)
    xs = (torch.arange(w, device=x.device).view(1, 1, w) + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, (1, 1, 1, 1))
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, ys, xs].permute(0, 3, 1, 2).contiguous()


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of `ratio` times the image size at a random place in each sample."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - size_y // 2, cx - size_x // 2
    inside = (ys >= top) & (ys < top + size_y) & (xs >= left) & (xs < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...] | str) -> Tensor:
    """Apply the policy's transforms in order; gradients flow to `x`."""
    names = parse_policy(policy) if isinstance(policy, str) else policy
    for name in names:
        x = _FUNCTIONS[name](x)
    return x
