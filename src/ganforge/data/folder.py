"""A folder of images as one uint8 tensor: class sub-folders become labels.

Layout rules (documented in docs/data.md):
- images directly in the folder: one unlabelled dataset;
- sub-folders holding images: each is a class (sorted names, labels 0..K-1); sub-folders without
  images are ignored, and images next to class sub-folders are an error (the intent is ambiguous);
- a folder with `train/` and `test/` sub-folders (and no images of its own): the split picks one, each
  laid out as above, with the class names of `train/`; without them, split "test" is an error.
Hidden files and folders (names starting with ".") are skipped.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

from ganforge.data.dataset import ImageDataset
from ganforge.data.images import IMAGE_SUFFIXES, ImageHeader, decode_image, is_image_file, read_header
from ganforge.errors import GanforgeError

_CHUNK = 32  # files per thread-pool task


@dataclass
class Listing:
    """The image files of a folder in load order, their labels, and the class names (empty: unlabelled)."""

    files: list
    labels: list
    class_names: tuple


def _entries(folder: Path) -> list:
    """The folder's entries sorted by name, with a clear error when it cannot be listed."""
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        raise GanforgeError(f"Folder {str(folder)!r} could not be listed ({exc.strerror or exc}); "
                            "expected a readable folder of images.") from None


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"


def _image_files(folder: Path) -> list:
    return [p for p in _entries(folder) if p.is_file() and is_image_file(p)]


def scan_folder(folder: Path, expected_classes: Optional[tuple] = None) -> Listing:
    """List a folder's images by the layout rules; `expected_classes` pins the class names (test split)."""
    entries = _entries(folder)
    visible = [p for p in entries if not p.name.startswith(".")]
    top = [p for p in visible if p.is_file() and is_image_file(p)]
    classes = []
    for sub in (p for p in visible if p.is_dir()):
        files = _image_files(sub)
        if files:
            classes.append((sub.name, files))
    if top and classes:
        raise GanforgeError(f"Folder {str(folder)!r} mixes {_count(len(top), 'image')} at its top level (e.g. {top[0].name!r}) "
                            f"with class sub-folders ({', '.join(name for name, _ in classes[:3])}); "
                            "expected either only images or only class sub-folders of images.")
    if not top and not classes:
        if not entries:
            raise GanforgeError(f"Folder {str(folder)!r} is empty; expected images ({', '.join(IMAGE_SUFFIXES)}) "
                                "or class sub-folders of images.")
        raise GanforgeError(f"Folder {str(folder)!r} holds no images (only {_count(len(entries), 'other entry')}, "
                            f"e.g. {entries[0].name!r}); expected files ending in {', '.join(IMAGE_SUFFIXES)} there or in class sub-folders.")
    if top:
        listing = Listing(top, [], ())
    else:
        names = tuple(name for name, _ in classes)
        files = [f for _, group in classes for f in group]
        labels = [label for label, (_, group) in enumerate(classes) for _ in group]
        listing = Listing(files, labels, names)
    if expected_classes is not None and listing.class_names != expected_classes:
        if not listing.class_names or not set(listing.class_names) <= set(expected_classes):
            found = ", ".join(listing.class_names) or "no class sub-folders"
            wanted = ", ".join(expected_classes) or "no class sub-folders"
            raise GanforgeError(f"Folder {str(folder)!r} has classes ({found}); expected those of train/ ({wanted}).")
        index = {name: i for i, name in enumerate(expected_classes)}
        listing.labels = [index[listing.class_names[label]] for label in listing.labels]
        listing.class_names = expected_classes
    return listing


def split_dirs(root: Path) -> Optional[tuple]:
    """(train/, test/) when the folder is laid out by split, else None."""
    train, test = root / "train", root / "test"
    if train.is_dir() and test.is_dir() and not any(p.is_file() and is_image_file(p) for p in _entries(root)):
        return train, test
    return None


def parallel_map(function: Callable[[int], object], count: int) -> list:
    """[function(i) for i in range(count)], on a thread pool; the first failing index raises."""
    workers = min(8, os.cpu_count() or 1, max(1, count // _CHUNK))
    if workers <= 1:
        return [function(i) for i in range(count)]

    def run(start: int) -> list:
        return [function(i) for i in range(start, min(start + _CHUNK, count))]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, start) for start in range(0, count, _CHUNK)]
        results = []
        try:
            for future in futures:
                results.extend(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def _headers(files: Sequence[Path]) -> list:
    return parallel_map(lambda i: read_header(files[i]), len(files))


def _common_size(folder: Path, files: Sequence[Path], headers: Sequence[ImageHeader]) -> int:
    """The one square size shared by all images, or an error asking for image_size."""
    first = headers[0]
    for path, header in zip(files, headers):
        if (header.width, header.height) != (first.width, first.height):
            raise GanforgeError(f"Images in {str(folder)!r} have different sizes ({first.width}x{first.height} in "
                                f"{files[0].name!r}, {header.width}x{header.height} in {path.name!r}); "
                                "pass image_size to resize them to one square size.")
    if first.width != first.height:
        raise GanforgeError(f"Images in {str(folder)!r} are {first.width}x{first.height}, not square; "
                            "pass image_size to resize and center-crop them.")
    return first.width


def _check_memory(folder: Path, shape: tuple, budget: Optional[int] = None) -> None:
    needed = 1
    for d in shape:
        needed *= int(d)
    if budget is not None and needed > budget:
        raise GanforgeError(f"Folder {str(folder)!r} needs {needed / 2**30:.3g} GiB as uint8 {tuple(shape)}, more than the memory budget "
                            f"of {budget / 2**30:.3g} GiB; expected a prepared copy instead: `ganforge prepare {str(folder)} --out DATA "
                            f"--size {shape[-1]}`, then train with --data DATA.")
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if needed > 0.8 * total:
        raise GanforgeError(f"Folder {str(folder)!r} needs {needed / 2**30:.1f} GiB as uint8 {tuple(shape)}; "
                            f"expected it to fit in {total / 2**30:.1f} GiB of memory (pass a smaller image_size).")


def load_folder(path: str | os.PathLike, image_size: Optional[int] = None, channels: Optional[int] = None,
                split: str = "train", fit: str = "center", memory_budget: Optional[int] = None) -> ImageDataset:
    """The images of a folder as uint8 (N, C, S, S), with labels when it has class sub-folders.

    `fit` makes non-square images square: "center" (crop) or "pad"; `memory_budget` (bytes) refuses a
    folder whose images would need more, asking for `ganforge prepare`.
    """
    root = Path(path).expanduser()
    if not root.exists():
        raise GanforgeError(f"Data path {str(root)!r} does not exist; expected mnist, fashion-mnist or a folder of images.")
    if not root.is_dir():
        raise GanforgeError(f"Data path {str(root)!r} is not a directory; expected a folder of images.")
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")
    dirs = split_dirs(root)
    other: Optional[Listing] = None
    if dirs is None:
        if split == "test":
            raise GanforgeError(f"Folder {str(root)!r} has no train/ and test/ sub-folders; expected them for "
                                "split 'test' (or use split 'train').")
        folder, listing = root, scan_folder(root)
    elif split == "train":
        folder, listing = dirs[0], scan_folder(dirs[0])
    else:
        other = scan_folder(dirs[0])
        folder, listing = dirs[1], scan_folder(dirs[1], expected_classes=other.class_names)
    files = listing.files
    headers = _headers(files)
    if channels is None:
        gray = all(h.gray for h in headers) and (other is None or all(h.gray for h in _headers(other.files)))
        channels = 1 if gray else 3
    size = image_size if image_size is not None else _common_size(folder, files, headers)
    shape = (len(files), channels, size, size)
    _check_memory(folder, shape, memory_budget)
    images = torch.empty(shape, dtype=torch.uint8)
    target = images.numpy()

    def fill(i: int) -> None:
        target[i] = decode_image(files[i], channels, size, fit)

    parallel_map(fill, len(files))
    labels = torch.tensor(listing.labels, dtype=torch.int64) if listing.class_names else None
    return ImageDataset(images, labels, listing.class_names, root.resolve().name or "images")


SIZE_SAMPLE = 256  #: image headers read, evenly spaced in load order, to find a folder's typical size


def typical_size(path: str | os.PathLike) -> Optional[int]:
    """The median shorter side of an image folder's pictures (of its train/ split where it has one), read from up to
    SIZE_SAMPLE headers; None when `path` is not a folder of images (MNIST, a prepared set), which the loader reports."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return None
    dirs = split_dirs(root)
    try:
        files = scan_folder(dirs[0] if dirs else root).files
    except GanforgeError:
        return None
    picked = files[::max(1, len(files) // SIZE_SAMPLE)][:SIZE_SAMPLE]
    sides = sorted(min(h.width, h.height) for h in _headers(picked))
    return sides[(len(sides) - 1) // 2]
