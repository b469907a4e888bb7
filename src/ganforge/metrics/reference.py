"""Statistics of the real data under an extractor, computed once and cached on disk.

A cache entry is keyed by the dataset, split, image size, channels, the extractor and a hash of
its weights, and a hash of the images themselves (so a changed folder never reuses stale numbers).
It holds the mean and covariance of every reference image's features (for FD) and the features
of a seeded random subset, in random order (for KID and precision/recall).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from ganforge.data.dataset import ImageDataset, to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import DATASET_CLASSIFIERS, FeatureExtractor, normalise_data_name
from ganforge.metrics.scores.frechet import GaussianStats

CACHE_ENV = "GANFORGE_CACHE"
MAX_FEATURES = 10_000
FORMAT = 2  # 2: the features subset is stored in random draw order, not dataset order


@dataclass
class Reference:
    """Real-data statistics: feature mean and covariance over `n` images, and a features subset."""

    mean: np.ndarray
    cov: np.ndarray
    features: Tensor
    n: int
    key: dict


def cache_dir() -> Path:
    """Folder of cached reference statistics: $GANFORGE_CACHE/reference, else ~/.cache/ganforge/reference."""
    root = os.environ.get(CACHE_ENV)
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "ganforge"
    return base / "reference"


def default_split(data: str) -> str:
    """The split scored against: "test" when the data has one (MNIST, Fashion-MNIST, folders with
    train/ and test/), else "train" (all the folder's images)."""
    if normalise_data_name(data) in DATASET_CLASSIFIERS:
        return "test"
    root = Path(str(data)).expanduser()
    return "test" if (root / "train").is_dir() and (root / "test").is_dir() else "train"


def load_reference_images(data: str, image_size: Optional[int], channels: Optional[int], split: str) -> ImageDataset:
    """The real images of `data` at the given size and channels (a prepared set memory-mapped, not loaded)."""
    from ganforge.data import load_dataset

    return load_dataset(str(data), image_size=image_size, channels=channels, split=split, map_prepared=True)


def images_digest(images: Tensor) -> str:
    """First 16 hex digits of the SHA-256 of uint8 images and their shape."""
    h = hashlib.sha256(str(tuple(images.shape)).encode())
    rows = max(1, (64 << 20) // max(1, images[0].numel())) if len(images) else 1
    for start in range(0, len(images), rows):  # in 64 MiB pieces: a memory-mapped set is never copied whole
        h.update(images[start:start + rows].contiguous().cpu().numpy())
    return h.hexdigest()[:16]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "-", Path(str(text)).name or str(text)).strip("-")[:40] or "data"


@torch.no_grad()
def compute_reference(images: Tensor, extractor: FeatureExtractor, batch_size: int = 500,
                      max_features: int = MAX_FEATURES, seed: int = 0) -> tuple[np.ndarray, np.ndarray, Tensor]:
    """(mean, covariance, features of a seeded random subset) of uint8 images (N, C, H, W) under `extractor`.

    The subset (min(N, max_features) images) is kept in its random draw order, not in dataset
    order, so any leading part of it is itself a random sample of the data: a folder whose class
    sub-folders follow one another still gives every class its share.
    """
    n = len(images)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:max_features]
    rank = torch.full((n,), -1, dtype=torch.long)
    rank[order] = torch.arange(len(order))  # position of each kept image in the draw, -1 when not kept
    stats = GaussianStats(extractor.num_features)
    kept: Optional[Tensor] = None
    for start in range(0, n, batch_size):
        feats, _ = extractor.extract(to_float(images[start:start + batch_size].to(extractor.device)))
        feats = feats.cpu()
        stats.update(feats)
        if kept is None:
            kept = torch.empty(len(order), feats.shape[1], dtype=feats.dtype)
        where = rank[start:start + batch_size]
        kept[where[where >= 0]] = feats[where >= 0]
    mean, cov = stats.mean_cov()
    return mean, cov, kept


def reference_stats(data: Union[str, ImageDataset], extractor: FeatureExtractor, image_size: Optional[int] = None,
                    channels: Optional[int] = None, split: Optional[str] = None, batch_size: int = 500,
                    max_features: int = MAX_FEATURES, use_cache: bool = True) -> Reference:
    """Reference statistics of `data` (a dataset spec or an ImageDataset) under `extractor`, from the cache when there."""
    if isinstance(data, ImageDataset):
        dataset, name, split = data, data.name, split or "given"
        if image_size is not None and dataset.image_size != image_size or channels is not None and dataset.channels != channels:
            raise GanforgeError(f"Reference images are {dataset.channels}x{dataset.image_size}px; expected {channels}x{image_size}px like the scored images.")
    else:
        name = normalise_data_name(data)
        split = split or default_split(name)
        dataset = load_reference_images(name, image_size, channels, split)
    if len(dataset) < 2:
        raise GanforgeError(f"Reference data {name!r} has {len(dataset)} image(s); expected at least 2.")
    key = {"format": FORMAT, "data": str(name), "split": split, "image_size": dataset.image_size,
           "channels": dataset.channels, "extractor": extractor.name, "weights": extractor.digest,
           "images": images_digest(dataset.images), "max_features": max_features}
    key_hash = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = cache_dir() / (f"{_slug(name)}-{split}-{dataset.image_size}px-{dataset.channels}c-"
                          f"{extractor.name}-{key_hash}.safetensors")
    if use_cache and path.is_file():
        loaded = _read(path, key)
        if loaded is not None:
            return loaded
    mean, cov, features = compute_reference(dataset.images, extractor, batch_size, max_features)
    ref = Reference(mean, cov, features, len(dataset), key)
    if use_cache:
        _write(path, ref)
    return ref


def _read(path: Path, key: dict) -> Optional[Reference]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            if json.loads(meta.get("key", "null")) != key:
                return None
            tensors = {k: fh.get_tensor(k) for k in ("mean", "cov", "features")}
        return Reference(tensors["mean"].numpy(), tensors["cov"].numpy(), tensors["features"], int(meta["n"]), key)
    except Exception:  # noqa: BLE001 - an unreadable cache entry is recomputed
        return None


def _write(path: Path, ref: Reference) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tensors = {"mean": torch.from_numpy(np.ascontiguousarray(ref.mean)), "cov": torch.from_numpy(np.ascontiguousarray(ref.cov)),
               "features": ref.features.contiguous()}
    save_file(tensors, str(tmp), metadata={"key": json.dumps(ref.key, sort_keys=True), "n": str(ref.n)})
    os.replace(tmp, path)
