"""Where batches come from: the embedded MNIST, Fashion-MNIST, and folders of images.

`load_dataset(spec)` returns an `ImageDataset` (uint8 images in memory); `BatchSource` draws
reproducible, resumable batches in [-1, 1] from it. A folder written by `ganforge prepare` is read
with `open_prepared` and `PreparedSource`, which take only each batch's rows from disk.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from ganforge.data.batches import BatchSource
from ganforge.data.dataset import ImageDataset, to_float, to_uint8
from ganforge.data.embedded import load_mnist
from ganforge.data.fashion import load_fashion_mnist
from ganforge.data.folder import load_folder
from ganforge.data.prepared import PreparedData, PreparedSource, is_prepared, memory_budget_bytes, open_prepared
from ganforge.data.stacked import load_stacked_mnist
from ganforge.errors import GanforgeError

DATASETS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "stacked-mnist": load_stacked_mnist}  #: named datasets (spec, lower case)
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "stacked_mnist": "stacked-mnist"}

__all__ = ["BatchSource", "DATASETS", "ImageDataset", "PreparedData", "PreparedSource", "is_prepared", "load_dataset",
           "memory_budget_bytes", "open_prepared", "prepared_path", "to_float", "to_uint8"]


def _check_arguments(image_size: object, channels: object, split: object) -> None:
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1):
        raise GanforgeError(f"Image size {image_size!r} is invalid; expected a positive integer or None.")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GanforgeError(f"Channels {channels!r} is invalid; expected 1, 3 or None.")
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")


_NAMED_SHAPES = {"mnist": (1, 28), "fashion-mnist": (1, 28), "stacked-mnist": (3, 28)}  #: (channels, side) as stored
_SPLIT_SIZES = {"train": 60000, "test": 10000}  #: images per split of every named dataset


def _check_named_memory(key: str, split: str, image_size: Optional[int], channels: Optional[int],
                        budget: Optional[int]) -> None:
    """Refuse a named dataset whose resized copy would exceed `budget` bytes, before any image is resized."""
    stored_channels, side = _NAMED_SHAPES[key]
    shape = (_SPLIT_SIZES[split], channels or stored_channels, image_size or side, image_size or side)
    needed = shape[0] * shape[1] * shape[2] * shape[3]
    if budget is not None and needed > budget:
        raise GanforgeError(f"Dataset {key!r} at image size {shape[2]} needs {needed / 2**30:.3g} GiB as uint8 {shape}, more than "
                            f"the memory budget of {budget / 2**30:.3g} GiB; expected a smaller image size (or memory_budget_gb).")


def prepared_path(spec: Union[str, os.PathLike, None]) -> Optional[Path]:
    """The folder `spec` names when it is a prepared set (and not a dataset name), else None."""
    if spec is None or (isinstance(spec, str) and (not spec.strip() or _ALIASES.get(spec.strip().lower(), spec.strip().lower()) in DATASETS)):
        return None
    path = Path(spec).expanduser()
    return path if is_prepared(path) else None


def load_dataset(spec: Union[str, os.PathLike], image_size: Optional[int] = None, channels: Optional[int] = None,
                 split: str = "train", fit: str = "center", memory_budget: Optional[int] = None,
                 map_prepared: bool = False) -> ImageDataset:
    """Load "mnist", "fashion-mnist" or a folder of images as uint8 (N, C, S, S) with optional labels.

    `image_size` resizes (named datasets) or resizes and center-crops (folders) to S x S; `channels`
    forces 1 or 3 channels (default: the data's own); `split` is "train" or "test" (held-out set).
    Named datasets take precedence over a folder of the same name; write "./mnist" for the folder.
    A prepared folder (`ganforge prepare`) is loaded whole and must hold the requested size and
    channels (`map_prepared`: memory-mapped instead, for reading through once at any size). `fit` ("center"
    or "pad") squares non-square folder images; `memory_budget` (bytes) refuses a folder or prepared set
    larger than that.
    """
    _check_arguments(image_size, channels, split)
    if spec is None or (isinstance(spec, str) and not spec.strip()):
        raise GanforgeError(f"Data {spec!r} is missing; expected mnist, fashion-mnist or a folder of images.")
    if isinstance(spec, str):
        key = spec.strip().lower()
        key = _ALIASES.get(key, key)
        if key in DATASETS:
            _check_named_memory(key, split, image_size, channels, memory_budget)
            return DATASETS[key](split=split, image_size=image_size, channels=channels)
    path = Path(spec).expanduser()
    if not path.exists():
        raise GanforgeError(f"Data {str(spec)!r} is neither a known dataset ({', '.join(DATASETS)}) "
                            "nor an existing path; expected one of those names or a folder of images.")
    if is_prepared(path):
        with open_prepared(path) as data:
            data.check_request(image_size, channels, split)
            if map_prepared:
                return data.mapped()
            if memory_budget is not None and data.nbytes > memory_budget:
                raise GanforgeError(f"Prepared data {str(spec)!r} needs {data.nbytes / 2**30:.2f} GiB, more than the memory budget of "
                                    f"{memory_budget / 2**30:.2f} GiB; expected to read it batch by batch with PreparedSource.")
            return data.load()
    return load_folder(path, image_size=image_size, channels=channels, split=split, fit=fit, memory_budget=memory_budget)
