"""Has the generator memorised its training images? The question a small-data user asks first.

For each sample, its nearest training image (Euclidean distance in pixels, and optionally in a feature
space such as the discriminator's last hidden layer); the same for held-out real images, which the
model never saw. A model that copies puts its samples much closer to the training set than held-out
images are: the summary gives both medians, their ratio, and the share of samples closer to a training
image than all but 1 % of held-out images are (`copies`). A grid of sample | nearest training image
lets a person look. (After the nearest-neighbour checks of Karras et al. 2018 and Webster et al. 2019.)
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor

from ganforge.errors import GanforgeError

Features = Callable[[Tensor], Tensor]


@torch.no_grad()
def embed(images: Tensor, features: Optional[Features] = None, batch_size: int = 256) -> Tensor:
    """(N, D) float vectors: the flattened pixels, or `features` of the images (flattened), in batches."""
    out = []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].float()
        out.append((features(x) if features is not None else x).float().flatten(1))
    return torch.cat(out)


@torch.no_grad()
def nearest(queries: Tensor, references: Tensor, batch_size: int = 512) -> tuple[Tensor, Tensor]:
    """(distance, index) of each query vector's nearest reference vector, Euclidean."""
    dists, indices = [], []
    for i in range(0, len(queries), batch_size):
        d = torch.cdist(queries[i:i + batch_size].double(), references.double())
        value, index = d.min(dim=1)
        dists.append(value.float())
        indices.append(index)
    return torch.cat(dists), torch.cat(indices)


def _summary(sample_d: Tensor, held_d: Tensor, quantile: float) -> dict:
    threshold = float(torch.quantile(held_d.double(), quantile))
    median_s, median_h = float(sample_d.median()), float(held_d.median())
    return {"median_sample": median_s, "median_held_out": median_h, "ratio": median_s / median_h if median_h > 0 else float("nan"),
            "threshold": threshold, "copies": float((sample_d < threshold).float().mean())}


@torch.no_grad()
def memorisation(samples: Tensor, train: Tensor, held_out: Tensor, features: Optional[Features] = None,
                 quantile: float = 0.01) -> dict:
    """Nearest-training-image distances of samples and of held-out images, in pixels (and `features`).

    Returns {"pixels": {...}, "features": {...} (when given), "summary": {space: ratio and copies}}, each
    space holding `distance` and `index` (per sample), `held_out_distance`, and the summary numbers
    median_sample, median_held_out, ratio (< 1: samples sit closer to the training set than new real
    images do), threshold (the held-out distances' `quantile`) and copies (share of samples below it).
    """
    if samples.dim() != 4 or samples.shape[1:] != train.shape[1:] or held_out.shape[1:] != train.shape[1:]:
        raise GanforgeError(f"Samples {tuple(samples.shape)}, training {tuple(train.shape)} and held-out {tuple(held_out.shape)} "
                            "images cannot be compared; expected (N, C, H, W) with equal C, H, W.")
    if len(held_out) < 2 or len(train) < 1 or len(samples) < 1:
        raise GanforgeError(f"The memorisation check needs samples, training images and at least 2 held-out images; "
                            f"got {len(samples)}, {len(train)} and {len(held_out)}.")
    spaces = {"pixels": None, **({"features": features} if features is not None else {})}
    result: dict = {"summary": {}}
    for space, fn in spaces.items():
        reference = embed(train, fn)
        sample_d, sample_i = nearest(embed(samples, fn), reference)
        held_d, _ = nearest(embed(held_out, fn), reference)
        summary = _summary(sample_d, held_d, quantile)
        result[space] = {"distance": sample_d, "index": sample_i, "held_out_distance": held_d, **summary}
        result["summary"][space] = {k: round(v, 4) for k, v in summary.items()}
    return result


@torch.no_grad()
def nearest_grid(samples: Tensor, train: Tensor, features: Optional[Features] = None) -> Tensor:
    """Images ordered sample, its nearest training image, sample, nearest, ...: a grid of 8 shows 4 pairs a row."""
    _, index = nearest(embed(samples, features), embed(train, features))
    pairs = torch.stack([samples.float(), train[index].float()], dim=1)
    return pairs.flatten(0, 1)
