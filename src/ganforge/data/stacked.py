"""Stacked MNIST (Metz et al. 2017; Srivastava et al. 2017; Lin et al. 2018): 3 MNIST digits as the 3 colour channels.

Each image stacks three embedded-MNIST digits drawn at random as its red, green and blue channels, so
the data has 10³ = 1,000 modes; the label of an image is 100·d_R + 10·d_G + d_B. The draw is a fixed
function of the split, so every run sees the same dataset (60,000 training, 10,000 test images).
"""
from __future__ import annotations

from typing import Optional

import torch

from ganforge.data.dataset import ImageDataset
from ganforge.data.embedded import load_mnist
from ganforge.errors import GanforgeError

STACKED_CLASSES = tuple(f"{i:03d}" for i in range(1000))
_SEEDS = {"train": 20170101, "test": 20170102}


def stack_digits(digits: torch.Tensor, labels: torch.Tensor, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` 3-channel images from single-channel uint8 digits (N, 1, H, W) and their 0..999 labels."""
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(0, digits.shape[0], (count, 3), generator=g)
    images = digits[index.flatten(), 0].view(count, 3, *digits.shape[-2:])
    picked = labels[index]
    return images.contiguous(), 100 * picked[:, 0] + 10 * picked[:, 1] + picked[:, 2]


def load_stacked_mnist(split: str = "train", image_size: Optional[int] = None,
                       channels: Optional[int] = None) -> ImageDataset:
    """Stacked MNIST for a split ("train": 60,000, "test": 10,000 images), uint8 (N, 3, S, S), labels 0..999."""
    if channels not in (None, 3):
        raise GanforgeError(f"Channels {channels!r} do not fit stacked-mnist; expected 3 (one digit per colour channel) or None.")
    mnist = load_mnist(split=split, image_size=image_size)
    images, labels = stack_digits(mnist.images, mnist.labels, len(mnist), _SEEDS[split])
    return ImageDataset(images, labels, STACKED_CLASSES, "stacked-mnist")
