"""Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, Zalando Research) read from IDX files on disk.

The files are looked for in $GANFORGE_FASHION_MNIST_DIR, else /usr/share/datasets/fashion-mnist (the
Debian package dataset-fashion-mnist), plain or gzip-compressed. Nothing is downloaded.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ganforge.data.dataset import ImageDataset
from ganforge.data.images import match_channels, resize_tensor
from ganforge.errors import GanforgeError

FASHION_ENV = "GANFORGE_FASHION_MNIST_DIR"
FASHION_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

# IDX type codes (LeCun's format): element type of the array, stored big-endian.
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_PREFIX = {"train": "train", "test": "t10k"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (plain or gzip), in native byte order."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise GanforgeError(f"IDX file {str(path)!r} could not be read ({exc}); expected a readable IDX file.") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES or raw[3] == 0:
        raise GanforgeError(f"File {str(path)!r} has magic number {raw[:4].hex() or 'none'}; "
                            "expected an IDX file starting 0x0000 then a type code and a dimension count.")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise GanforgeError(f"IDX file {str(path)!r} ends inside its header; expected {ndim} dimension sizes.")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise GanforgeError(f"IDX file {str(path)!r} holds {len(raw)} bytes; expected {expected} for shape {shape}.")
    array = np.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native order


def fashion_dir() -> Path:
    """Where Fashion-MNIST is looked for: $GANFORGE_FASHION_MNIST_DIR, else the Debian package folder."""
    return Path(os.environ.get(FASHION_ENV) or FASHION_DEFAULT_DIR).expanduser()


def idx_file(folder: Path, stem: str) -> Path:
    """The file for `stem` (e.g. train-images-idx3-ubyte), plain or .gz, dotted variant accepted."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        if (folder / name).is_file():
            return folder / name
    raise GanforgeError(f"Fashion-MNIST file {stem}(.gz) is missing from {str(folder)!r}; expected the four IDX "
                        "files there (apt-get install dataset-fashion-mnist).")


def load_fashion_mnist(split: str = "train", image_size: Optional[int] = None,
                       channels: Optional[int] = None) -> ImageDataset:
    """Fashion-MNIST split ("train" or "test") as uint8 (N, C, S, S) images with its ten class labels."""
    if split not in _PREFIX:
        raise GanforgeError(f"Split {split!r} is not available for fashion-mnist; expected 'train' or 'test'.")
    folder = fashion_dir()
    if not folder.is_dir():
        raise GanforgeError(f"Fashion-MNIST folder {str(folder)!r} does not exist; expected its IDX files there "
                            f"(apt-get install dataset-fashion-mnist, or set {FASHION_ENV}).")
    prefix = _PREFIX[split]
    images_path = idx_file(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = idx_file(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise GanforgeError(f"IDX file {str(images_path)!r} holds {images.dtype} of shape {images.shape}; "
                            "expected uint8 images of shape (N, H, W).")
    if labels.shape != (images.shape[0],) or (labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < 10):
        raise GanforgeError(f"IDX file {str(labels_path)!r} holds labels of shape {labels.shape}; "
                            f"expected {images.shape[0]} labels in 0..{len(FASHION_CLASSES) - 1}.")
    tensor = torch.from_numpy(images).unsqueeze(1)
    if image_size is not None:
        tensor = resize_tensor(tensor, image_size)
    tensor = match_channels(tensor, channels)
    return ImageDataset(tensor, torch.from_numpy(labels.astype(np.int64)), FASHION_CLASSES, "fashion-mnist")
