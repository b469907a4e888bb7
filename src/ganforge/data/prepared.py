"""Prepared datasets: a folder's images decoded once into a uint8 array file, read back batch by batch.

A prepared folder DATA (written by `ganforge prepare`, see `ganforge.data.prepare`) holds:

- `prepared.json`, the header: format name and version, image count, channels, size, how non-square
  images were made square (`fit`), the split, class names, the source folder and its files in row
  order, the files skipped as unreadable, and `complete`, the completion marker (false while writing);
- `images.u8`: the images as uint8 (N, C, S, S) in C order with no header of its own, so
  `numpy.memmap(path, uint8, "r", shape=(N, C, S, S))` or `torch.from_file` read it as it is;
- `labels.i64`: little-endian int64 (N,), present when the source had class sub-folders.

`PreparedSource` draws the same shuffled, resumable, rank-sharded batches as `BatchSource`, but reads
only each batch's rows from the file (positioned reads, on a background thread), so a dataset larger
than memory trains with a few batches resident.
"""
from __future__ import annotations

import json
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.data.batches import ShuffledOrder
from ganforge.data.dataset import ImageDataset, to_float
from ganforge.data.loader import Prefetcher
from ganforge.errors import GanforgeError

FORMAT = "ganforge-prepared"  #: the header's "format" value
VERSION = 1  #: the newest format version this code reads and writes
HEADER, IMAGES, LABELS = "prepared.json", "images.u8", "labels.i64"  #: file names inside a prepared folder


@dataclass
class PreparedHeader:
    """What `prepared.json` says about a prepared folder (and, while writing, how far it got)."""

    count: int  #: images (rows) in images.u8; while writing, the rows planned
    channels: int
    size: int  #: side of the square images
    fit: str = "center"  #: "center" (center-crop) or "pad"
    split: str = "train"
    class_names: list = field(default_factory=list)  #: empty: unlabelled
    source: str = ""  #: the folder the images came from
    files: list = field(default_factory=list)  #: source files relative to `source`, in row order once complete
    skipped: list = field(default_factory=list)  #: unreadable files left out, with the reason
    complete: bool = False  #: the completion marker
    next_file: int = 0  #: progress while writing: files of `files` handled so far
    rows: int = 0  #: progress while writing: rows of images.u8 written so far
    format: str = FORMAT
    version: int = VERSION

    @property
    def labelled(self) -> bool:
        """Whether labels.i64 is part of the set."""
        return bool(self.class_names)

    @property
    def row_bytes(self) -> int:
        """Bytes of one image row."""
        return self.channels * self.size * self.size

    def to_json(self) -> str:
        """The header as JSON text."""
        return json.dumps(self.__dict__, indent=1, ensure_ascii=False)


def is_prepared(path: Union[str, os.PathLike]) -> bool:
    """Whether `path` is a folder that `ganforge prepare` wrote into (its header or its image file is there)."""
    p = Path(path).expanduser()
    return p.is_dir() and ((p / HEADER).is_file() or (p / IMAGES).is_file())


def read_header(path: Union[str, os.PathLike]) -> PreparedHeader:
    """The header of a prepared folder, checked for format and version, complete or not."""
    folder = Path(path).expanduser()
    where = folder / HEADER
    if not where.is_file():
        raise GanforgeError(f"Prepared data {str(folder)!r} has no header {HEADER}; expected the output of a finished "
                            f"`ganforge prepare` (run it again to rebuild the header).")
    try:
        values = json.loads(where.read_text(encoding="utf-8"))
        if not isinstance(values, dict):
            raise ValueError("not an object")
        if values.get("format") != FORMAT:
            raise ValueError(f"format {values.get('format')!r}")
        if int(values.get("version", 0)) > VERSION:
            raise GanforgeError(f"Prepared data {str(folder)!r} has format version {values.get('version')!r}; expected version "
                                f"{VERSION} or older (it was written by a newer ganforge).")
        header = PreparedHeader(**{k: v for k, v in values.items() if k in PreparedHeader.__dataclass_fields__})
        if header.count < 0 or header.channels not in (1, 3) or header.size < 1:
            raise ValueError(f"count {header.count}, channels {header.channels}, size {header.size}")
    except GanforgeError:
        raise
    except (OSError, ValueError, TypeError) as exc:
        raise GanforgeError(f"Prepared data {str(folder)!r} has an unreadable header {HEADER} ({exc}); "
                            f"expected the JSON that `ganforge prepare` writes (prepare it again).") from None
    return header


def _check_file(folder: Path, name: str, expected: int, what: str) -> None:
    path = folder / name
    if not path.is_file():
        raise GanforgeError(f"Prepared data {str(folder)!r} has no {name}; expected {what} of {expected} bytes beside {HEADER}.")
    actual = path.stat().st_size
    if actual != expected:
        state = "is truncated" if actual < expected else "is longer than its header says"
        raise GanforgeError(f"Prepared file {str(path)!r} {state} ({actual} bytes); expected {expected} bytes for {what} "
                            f"(prepare it again).")


class PreparedData:
    """An opened prepared folder: its header, labels in memory, and image rows read on demand."""

    def __init__(self, path: Union[str, os.PathLike]):
        self.path = Path(path).expanduser()
        self.header = h = read_header(self.path)
        if not h.complete:
            raise GanforgeError(f"Prepared data {str(self.path)!r} is incomplete ({h.next_file} of {len(h.files)} files done); "
                                f"expected a finished `ganforge prepare` (run the same command again to continue it).")
        shape = (h.count, h.channels, h.size, h.size)
        _check_file(self.path, IMAGES, h.count * h.row_bytes, f"uint8 images {shape}")
        self.labels: Optional[Tensor] = None
        if h.labelled:
            _check_file(self.path, LABELS, 8 * h.count, f"int64 labels ({h.count},)")
            labels = np.fromfile(self.path / LABELS, dtype="<i8")
            if labels.size and (labels.min() < 0 or labels.max() >= len(h.class_names)):
                raise GanforgeError(f"Prepared file {str(self.path / LABELS)!r} holds labels outside 0..{len(h.class_names) - 1}; "
                                    f"expected one of its {len(h.class_names)} classes per image (prepare it again).")
            self.labels = torch.from_numpy(labels.astype(np.int64))
        self._file = open(self.path / IMAGES, "rb", buffering=0)
        self._lock = threading.Lock()
        self._memmap: Optional[np.memmap] = None

    # --- what it holds ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.header.count

    @property
    def shape(self) -> tuple:
        """(N, C, S, S) of the image array."""
        h = self.header
        return (h.count, h.channels, h.size, h.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the image array (what loading it whole would take)."""
        return self.header.count * self.header.row_bytes

    @property
    def channels(self) -> int:
        """Number of colour channels (1 or 3)."""
        return self.header.channels

    @property
    def image_size(self) -> int:
        """Side of the square images."""
        return self.header.size

    @property
    def class_names(self) -> tuple:
        """The class names (empty when unlabelled)."""
        return tuple(self.header.class_names)

    @property
    def num_classes(self) -> int:
        """Number of classes, 0 when unlabelled."""
        return len(self.header.class_names)

    @property
    def name(self) -> str:
        """The prepared folder's name."""
        return self.path.resolve().name or "images"

    @property
    def images(self) -> np.memmap:
        """The whole image array as a read-only numpy.memmap (N, C, S, S); pages are read as touched."""
        if self._memmap is None:
            self._memmap = np.memmap(self.path / IMAGES, dtype=np.uint8, mode="r", shape=self.shape)
        return self._memmap

    def check_request(self, image_size: Optional[int] = None, channels: Optional[int] = None, split: str = "train") -> None:
        """Refuse a run that asks for another size, channel count or split than this set holds."""
        h = self.header
        if image_size is not None and image_size != h.size:
            raise GanforgeError(f"Prepared data {str(self.path)!r} holds {h.size} px images but image_size is {image_size}; "
                                f"expected --image-size {h.size}, or prepare the folder again with --size {image_size}.")
        if channels is not None and channels != h.channels:
            raise GanforgeError(f"Prepared data {str(self.path)!r} holds {h.channels}-channel images but channels is {channels}; "
                                f"expected --channels {h.channels}, or prepare the folder again with --channels {channels}.")
        if split != h.split:
            raise GanforgeError(f"Prepared data {str(self.path)!r} holds the {h.split} split; expected split {split!r} to be "
                                f"prepared into its own folder (ganforge prepare --split {split}).")

    # --- reading ------------------------------------------------------------------------------------
    def read(self, index: Union[Tensor, np.ndarray, list], out: Optional[Tensor] = None) -> Tensor:
        """The images at `index` as uint8 (B, C, S, S), read from the file row by row (into `out` if given).

        Rows are read in file order (positioned reads, safe from several threads); nothing else of the
        file is kept in this process's memory.
        """
        index = np.asarray(index.cpu() if isinstance(index, Tensor) else index, dtype=np.int64).reshape(-1)
        h = self.header
        if index.size and (index.min() < 0 or index.max() >= h.count):
            raise GanforgeError(f"Row index {int(index.max() if index.max() >= h.count else index.min())} is outside "
                                f"prepared data {str(self.path)!r}; expected 0 <= index < {h.count}.")
        if out is None:
            out = torch.empty((index.size, h.channels, h.size, h.size), dtype=torch.uint8)
        buffer = memoryview(out.numpy()).cast("B")
        row = h.row_bytes
        for position in np.argsort(index, kind="stable"):
            self._read_into(buffer[position * row:(position + 1) * row], int(index[position]) * row)
        return out

    def _read_into(self, target: memoryview, offset: int) -> None:
        fd = self._file.fileno()
        if hasattr(os, "preadv"):
            got = os.preadv(fd, [target], offset)
        else:  # no positioned reads (Windows): one reader at a time
            with self._lock:
                self._file.seek(offset)
                got = self._file.readinto(target)
        if got != len(target):
            raise GanforgeError(f"Prepared file {str(self.path / IMAGES)!r} ended early (at byte {offset + (got or 0)}); "
                                f"expected {self.nbytes} bytes (was it truncated while training? prepare it again).")

    def load(self) -> ImageDataset:
        """The whole set in memory as an ImageDataset (for small prepared sets)."""
        images = torch.empty(self.shape, dtype=torch.uint8)
        view = memoryview(images.numpy()).cast("B")
        step = max(1, (64 << 20) // max(1, self.header.row_bytes)) * self.header.row_bytes
        for start in range(0, self.nbytes, step):
            self._read_into(view[start:start + step], start)
        return self._dataset(images)

    def mapped(self) -> ImageDataset:
        """The whole set as an ImageDataset over a copy-on-write memory map: pages are read from disk as
        touched and stay reclaimable page cache, so scoring a set larger than memory streams it."""
        return self._dataset(torch.from_numpy(np.memmap(self.path / IMAGES, dtype=np.uint8, mode="c", shape=self.shape)))

    def _dataset(self, images: Tensor) -> ImageDataset:
        labels = self.labels.clone() if self.labels is not None else None
        return ImageDataset(images, labels, self.class_names, self.name)

    def close(self) -> None:
        """Close the image file."""
        self._memmap = None
        self._file.close()

    def __enter__(self) -> PreparedData:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_prepared(path: Union[str, os.PathLike]) -> PreparedData:
    """Open a finished prepared folder, checking its header and file sizes (one sentence on any fault)."""
    return PreparedData(path)


class PreparedSource(ShuffledOrder):
    """Shuffled batches read from a prepared set: the same order, state and rank shards as BatchSource.

    A background thread reads the next `prefetch` batches' rows (into pinned memory on CUDA, copied
    with non_blocking=True); which rows a batch holds is decided here, in order, so the stream does
    not depend on the thread's timing and `state_dict()` counts only the batches handed out.
    """

    def __init__(self, data: PreparedData, batch_size: int, seed: int, device: torch.device,
                 channels_last: bool = False, rank: int = 0, world_size: int = 1, prefetch: int = 2,
                 info: Optional[DataInfo] = None):
        if len(data) == 0:
            raise GanforgeError(f"Prepared data {str(data.path)!r} holds no images; expected at least one.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GanforgeError(f"Batch size {batch_size!r} is invalid; expected a positive integer.")
        if not 0 <= rank < world_size:
            raise GanforgeError(f"Rank {rank!r} is invalid for world size {world_size!r}; expected 0 <= rank < world size.")
        self.data = data
        self.info = info or DataInfo(data.channels, data.image_size, data.num_classes, tuple(data.class_names))
        self.batch_size, self.seed, self.device = batch_size, seed, torch.device(device)
        self.channels_last = channels_last
        self.rank, self.world_size = rank, world_size
        self._pin = self.device.type == "cuda"
        self._start_order(len(data))
        self._handed = (0, 0)  # (epoch, position) after the batches handed out
        self._prefetch = max(0, int(prefetch))
        self._loader = Prefetcher(self._gather) if self._prefetch > 0 else None
        self._pending: deque = deque()

    def _gather(self, index: Tensor) -> dict[str, Tensor]:
        """Read one batch's rows as uint8 (on the loader thread: file reads only, no torch kernels)."""
        out = torch.empty((index.numel(), *self.data.shape[1:]), dtype=torch.uint8, pin_memory=self._pin)
        batch = {"images": self.data.read(index, out)}
        if self.data.labels is not None:
            labels = self.data.labels.index_select(0, index)
            batch["labels"] = labels.pin_memory() if self._pin else labels
        return batch

    def _finish(self, images: Tensor) -> Tensor:
        images = to_float(images)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def _plan(self) -> None:
        """Queue reads until `prefetch` batches are ahead of the consumer."""
        while len(self._pending) < self._prefetch:
            self._pending.append(self._loader.submit(self._next_index()))

    def next(self) -> dict[str, Tensor]:
        """The next batch: {"images": float [-1, 1] (B, C, S, S) on the device, "labels": int64 (B,) if labelled}."""
        if self._loader is None:
            batch = self._gather(self._next_index())
        else:
            self._plan()
            batch = self._pending.popleft().result()
            self._plan()
        # Scaling runs here, not on the loader thread: a second thread's CPU kernels would start their own
        # OpenMP team, whose spinning threads slowed training on 2 cores 4x (benchmarks/data_speed.py).
        if self.device.type != "cpu":
            batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        batch["images"] = self._finish(batch["images"])
        epoch, position = self._handed
        if position >= self.steps_per_epoch:
            epoch, position = epoch + 1, 0
        self._handed = (epoch, position + 1)
        return batch

    def state_dict(self) -> dict:
        """Where in the data stream this source stands (batches handed out, not those read ahead)."""
        return {"epoch": self._handed[0], "position": self._handed[1]}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position, dropping any batches read ahead."""
        for future in self._pending:
            future.cancel()
        for future in self._pending:
            if not future.cancelled():
                future.exception()  # wait for reads in flight before the order changes under them
        self._pending.clear()
        super().load_state_dict(state)
        self._handed = (self.epoch, self.position)

    def close(self) -> None:
        """Stop the loader thread."""
        self._pending.clear()
        if self._loader is not None:
            self._loader.close()


def memory_budget_bytes(gib: Optional[float] = None) -> int:
    """Bytes of decoded images a run may hold in memory: `gib` GiB, or by default a quarter of this machine's memory."""
    if gib is not None:
        return int(gib * 2**30)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return int(total // 4)
