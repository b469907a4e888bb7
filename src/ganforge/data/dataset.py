"""An image dataset held as one uint8 tensor in memory."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor


@dataclass
class ImageDataset:
    """Images as uint8 (N, C, H, W), optional int64 labels (N,), and the class names."""

    images: Tensor
    labels: Optional[Tensor] = None
    class_names: tuple = field(default_factory=tuple)
    name: str = "images"

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def channels(self) -> int:
        """Number of colour channels (1 or 3)."""
        return int(self.images.shape[1])

    @property
    def image_size(self) -> int:
        """Side of the square images."""
        return int(self.images.shape[-1])

    @property
    def num_classes(self) -> int:
        """Number of classes, 0 when unlabelled."""
        return len(self.class_names) if self.labels is not None else 0

    def subset(self, index: Tensor) -> ImageDataset:
        """The images (and labels) at `index`."""
        labels = self.labels[index] if self.labels is not None else None
        return ImageDataset(self.images[index], labels, self.class_names, self.name)


def to_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().mul_(2.0 / 255.0).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clamped."""
    return images.detach().float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)
