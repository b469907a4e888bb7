"""Small MLP players for point data, as in the 2-D experiments of PacGAN (Lin et al. 2018).

G: a 2-D N(0, I) latent through 4 hidden layers of 400 ReLU units with BatchNorm to a point;
D: 3 hidden layers of 200 maxout units (Goodfellow et al. 2013, 5 pieces each) to one logit.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ganforge.models.packing import check_pack, pack_samples
from ganforge.nn import Configurable
from ganforge.nn.minibatch_std import MinibatchStd


class Maxout(nn.Module):
    """A linear maxout layer: `pieces` affine maps per unit, the unit outputs their maximum."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in) -> (N, out)."""
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).amax(dim=2)


class FeatureStd(nn.Module):
    """Minibatch standard deviation for feature vectors: appends one feature, the group's mean std."""

    def __init__(self, group_size: int):
        super().__init__()
        self.inner = MinibatchStd(group_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        """(N, F) -> (N, F + 1)."""
        return self.inner(x[:, :, None, None]).flatten(1)


class ToyGenerator(Configurable):
    """G: z (z_dim) -> `depth` x [Linear(width), BatchNorm, ReLU] -> a point in R^dim (no squashing)."""

    def __init__(self, z_dim: int = 2, dim: int = 2, width: int = 400, depth: int = 4, batchnorm: bool = True):
        super().__init__()
        self.z_dim, self.num_classes, self.dim = z_dim, 0, dim
        layers: list[nn.Module] = []
        previous = z_dim
        for _ in range(depth):
            layers += [nn.Linear(previous, width), *([nn.BatchNorm1d(width)] if batchnorm else []), nn.ReLU(inplace=True)]
            previous = width
        layers.append(nn.Linear(previous, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """Points (N, dim)."""
        return self.net(z)


class ToyDiscriminator(Configurable):
    """D: `pack` points joined -> `depth` maxout layers of `width` units -> one logit per pack.

    `minibatch_std` > 0 appends, before the last layer, the mean standard deviation of the features
    over groups of that many packs (Karras et al. 2018).
    """

    def __init__(self, dim: int = 2, width: int = 200, depth: int = 3, pieces: int = 5, pack: int = 1,
                 minibatch_std: int = 0):
        super().__init__()
        self.pack = check_pack(pack)
        layers: list[nn.Module] = []
        previous = dim * pack
        for _ in range(depth):
            layers.append(Maxout(previous, width, pieces))
            previous = width
        self.body = nn.Sequential(*layers)
        self.std = FeatureStd(minibatch_std) if minibatch_std > 0 else None
        self.head = nn.Linear(previous + (1 if self.std is not None else 0), 1)

    def forward(self, points: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits (N / pack,) of P(real) for points (N, dim)."""
        h = self.body(pack_samples(points, self.pack))
        if self.std is not None:
            h = self.std(h)
        return self.head(h).squeeze(1)

    @torch.no_grad()
    def probability_at(self, points: Tensor) -> Tensor:
        """D(x) = P(real) at each point (N,), each fed as a pack of `pack` copies of itself."""
        return torch.sigmoid(self(points.repeat_interleave(self.pack, dim=0)))
