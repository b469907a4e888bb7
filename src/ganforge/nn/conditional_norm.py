"""Conditional batch normalization: per-class scale and shift after a shared normalization.

Class-conditional gains and biases were introduced for style transfer as conditional instance norm
(Dumoulin, Shlens & Kudlur 2017) and for visual question answering as conditional batch norm
(de Vries et al. 2017); Miyato & Koyama (2018) use conditional BatchNorm in the generator of their
projection-discriminator cGAN.
"""
from __future__ import annotations

from torch import Tensor, nn


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm2d without its own affine, followed by γ(y)·x̂ + β(y) looked up per class y."""

    def __init__(self, num_features: int, num_classes: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        self.norm = nn.BatchNorm2d(num_features, eps=eps, momentum=momentum, affine=False)
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        """Normalized `x` (N, C, H, W) scaled and shifted by the parameters of each sample's class."""
        gain = self.gain(labels).view(-1, self.num_features, 1, 1)
        bias = self.bias(labels).view(-1, self.num_features, 1, 1)
        return self.norm(x) * gain + bias
