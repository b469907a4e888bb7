"""Has the generator memorised its training images? The question a small-data user asks first.

For each sample, its nearest training image (Euclidean distance in pixels, and optionally in a feature
space such as the discriminator's last hidden layer); the same for held-out real images, which the
model never saw. A model that copies puts its samples much closer to the training set than held-out
images are: the summary gives both medians, their ratio, and the share of samples closer to a training
image than all but 1 % of held-out images are (`copies`). A grid of sample | nearest training image
lets a person look. (After the nearest-neighbour checks of Karras et al. 2018 and Webster et al. 2019.)

Without held-out images (a plain folder), `copy_check` puts the training images' own leave-one-out
nearest-neighbour distances in their place: a training image's distance to its nearest *other* training
image is that of a new draw from the data to a training set one image smaller, so it stands in for a
held-out image without taking any image away from training (Meehan et al. 2020 and Alaa et al. 2022 use the
same nearest-neighbour reasoning for copy and authenticity tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor

from ganforge.data.dataset import to_float
from ganforge.errors import GanforgeError

Features = Callable[[Tensor], Tensor]


def as_float(images: Tensor) -> Tensor:
    """Images as float: uint8 read into [-1, 1], floats as they are."""
    return to_float(images) if images.dtype == torch.uint8 else images.float()


@torch.no_grad()
def embed(images: Tensor, features: Optional[Features] = None, batch_size: int = 256) -> Tensor:
    """(N, D) float vectors: the flattened pixels, or `features` of the images (flattened), in batches; uint8
    images are read as [-1, 1] floats like the library's own."""
    out = []
    for i in range(0, len(images), batch_size):
        x = as_float(images[i:i + batch_size])
        out.append((features(x) if features is not None else x).float().flatten(1))
    return torch.cat(out)


REFERENCE_CHUNK = 4096  #: reference images embedded at a time by the nearest-neighbour search


@torch.no_grad()
def nearest_two(queries: Tensor, references: Tensor, batch_size: int = 512, exclude: Optional[Tensor] = None,
                features: Optional[Features] = None, chunk: int = REFERENCE_CHUNK) -> tuple[Tensor, Tensor, Tensor]:
    """(distance, index, second distance) of each query vector's nearest reference and its second nearest, Euclidean
    (the second is inf with one reference); `exclude[i]` is a reference index query i may not pick (itself, for
    leave-one-out). `references` are vectors, or images embedded `chunk` at a time by `embed(..., features)` (which
    must treat each image on its own), so memory does not grow with their number. Candidates are found in float32,
    the nearest distance recomputed exactly."""
    best = torch.full((len(queries), 2), float("inf"))
    best_index = torch.zeros((len(queries), 2), dtype=torch.long)
    for start in range(0, len(references), chunk):
        refs = embed(references[start:start + chunk], features)
        for i in range(0, len(queries), batch_size):
            q = queries[i:i + batch_size].float()
            d = torch.cdist(q, refs)
            if exclude is not None:
                rows = torch.arange(len(q))
                own = exclude[i:i + batch_size] - start
                inside = (own >= 0) & (own < len(refs))
                d[rows[inside], own[inside]] = float("inf")
            values, index = d.topk(min(2, d.shape[1]), dim=1, largest=False)
            merged = torch.cat([best[i:i + batch_size], values], dim=1)
            merged_index = torch.cat([best_index[i:i + batch_size], index + start], dim=1)
            kept, order = merged.topk(2, dim=1, largest=False)
            best[i:i + batch_size], best_index[i:i + batch_size] = kept, merged_index.gather(1, order)
    nearest_vectors = embed(references[best_index[:, 0]], features)
    distance = (queries.double().flatten(1) - nearest_vectors.double()).norm(dim=1).float()
    return distance, best_index[:, 0], best[:, 1]


def nearest(queries: Tensor, references: Tensor, batch_size: int = 512, exclude: Optional[Tensor] = None,
            features: Optional[Features] = None) -> tuple[Tensor, Tensor]:
    """(distance, index) of each query vector's nearest reference, Euclidean (`references`, `exclude` and `features`
    as in `nearest_two`)."""
    distance, index, _ = nearest_two(queries, references, batch_size, exclude, features)
    return distance, index


@torch.no_grad()
def memorisation(samples: Tensor, train: Tensor, held_out: Tensor, features: Optional[Features] = None,
                 quantile: float = 0.01) -> dict:
    """Nearest-training-image distances of samples and of held-out images, in pixels (and `features`).

    Returns {"pixels": {...}, "features": {...} (when given), "summary": {space: ratio and copies}}, each
    space holding `distance` and `index` (per sample), `held_out_distance`, and the summary numbers
    median_sample, median_held_out, ratio (< 1: samples sit closer to the training set than new real
    images do), threshold (the held-out distances' `quantile`) and copies (share of samples at or below it).
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
        check = copy_check(samples, train, held_out, fn, space, quantile, max_reference=None)
        figures = check.summary()
        summary = {"median_sample": figures["median_sample"], "median_held_out": figures["median_reference"],
                   "ratio": figures["ratio"], "threshold": figures["threshold"], "copies": figures["copies"]}
        result[space] = {"distance": check.distance, "index": check.index, "held_out_distance": check.reference_distance, **summary}
        result["summary"][space] = summary
    return result


@torch.no_grad()
def nearest_grid(samples: Tensor, train: Tensor, features: Optional[Features] = None) -> Tensor:
    """Images ordered sample, its nearest training image, sample, nearest, ...: a grid of 8 shows 4 pairs a row."""
    _, index = nearest(embed(samples, features), train, features=features)
    pairs = torch.stack([samples.float(), train[index].float()], dim=1)
    return pairs.flatten(0, 1)


REFERENCE_IMAGES = 2000  #: at most this many held-out (or leave-one-out training) images set the reference distances
SPECIFIC_MATCH = 0.5  #: a copy is at most this share of its distance to the second-nearest training image from the nearest


@dataclass
class CopyCheck:
    """Nearest-training-image distances of samples against a reference distribution of real images' own distances."""

    distance: Tensor  #: per sample, to its nearest training image
    index: Tensor  #: per sample, the index of that training image
    second_distance: Tensor  #: per sample, to its second-nearest training image
    reference_distance: Tensor  #: per reference image, to its nearest (other) training image
    reference: str  #: "held-out" or "leave-one-out"
    space: str  #: "pixels" or the feature network's name
    n_train: int
    quantile: float

    @property
    def threshold(self) -> float:
        """The reference distances' `quantile`: a sample at or below it is flagged as a likely copy."""
        return float(torch.quantile(self.reference_distance.double(), self.quantile))

    @property
    def flagged(self) -> Tensor:
        """Per sample, whether it sits at least as close to a training image as the nearest `quantile` of real images do,
        and near that one image in particular (at most SPECIFIC_MATCH of the way to the second nearest): a blurred or
        average picture, about as near to many training images, is not a copy of any."""
        return (self.distance <= self.threshold) & (self.distance <= SPECIFIC_MATCH * self.second_distance)

    def summary(self) -> dict:
        """The JSON-ready figures: space, reference, counts, medians, their ratio, threshold, copies (share) and flagged (count)."""
        median_s, median_r = float(self.distance.median()), float(self.reference_distance.median())
        flagged = self.flagged
        return {"space": self.space, "reference": self.reference, "n_samples": len(self.distance), "n_train": self.n_train,
                "n_reference": len(self.reference_distance), "median_sample": round(median_s, 4),
                "median_reference": round(median_r, 4), "ratio": round(median_s / median_r, 4) if median_r > 0 else float("nan"),
                "quantile": self.quantile, "threshold": round(self.threshold, 4), "specific_match": SPECIFIC_MATCH,
                "copies": round(float(flagged.float().mean()), 4), "flagged": int(flagged.sum())}


def _subset(n: int, limit: Optional[int], seed: int) -> Tensor:
    """Indices of a seeded random subset of range(n) of at most `limit` (all of them, in order, when None or enough)."""
    if limit is None or n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit]


@torch.no_grad()
def copy_check(samples: Tensor, train: Tensor, held_out: Optional[Tensor] = None, features: Optional[Features] = None,
               space: str = "pixels", quantile: float = 0.01, max_reference: Optional[int] = REFERENCE_IMAGES,
               seed: int = 0) -> CopyCheck:
    """Each sample's nearest training image, against held-out images' distances or, without them, the training
    images' leave-one-out distances (a seeded subset of at most `max_reference` of either), in pixels or `features`."""
    if samples.dim() != 4 or samples.shape[1:] != train.shape[1:] or (held_out is not None and held_out.shape[1:] != train.shape[1:]):
        shapes = f"Samples {tuple(samples.shape)}, training {tuple(train.shape)}" + (
            f" and held-out {tuple(held_out.shape)}" if held_out is not None else "")
        raise GanforgeError(f"{shapes} images cannot be compared; expected (N, C, H, W) with equal C, H, W.")
    reference_count = len(held_out) if held_out is not None else len(train)
    if len(samples) < 1 or len(train) < 2 or reference_count < 2:
        raise GanforgeError(f"The copy check needs samples, at least 2 training images and at least 2 reference images; "
                            f"got {len(samples)}, {len(train)} and {reference_count}.")
    if not 0 < quantile < 1:
        raise GanforgeError(f"Copy-check quantile {quantile!r} is invalid; expected a number between 0 and 1.")
    distance, index, second = nearest_two(embed(samples, features), train, features=features)  # train embedded chunk by chunk
    if held_out is not None:
        chosen = _subset(len(held_out), max_reference, seed)
        reference_distance, _ = nearest(embed(held_out[chosen], features), train, features=features)
    else:
        chosen = _subset(len(train), max_reference, seed)
        reference_distance, _ = nearest(embed(train[chosen], features), train, exclude=chosen, features=features)
    return CopyCheck(distance, index, second, reference_distance, "held-out" if held_out is not None else "leave-one-out",
                     space, len(train), quantile)


def closest_pairs(check: CopyCheck, samples: Tensor, train: Tensor, pairs: int = 8) -> Tensor:
    """The `pairs` samples nearest to a training image, each followed by that image: (2 · pairs, C, H, W) floats in [-1, 1]."""
    order = check.distance.argsort()[:pairs]
    return torch.stack([as_float(samples[order]), as_float(train[check.index[order]])], dim=1).flatten(0, 1)
