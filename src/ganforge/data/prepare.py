"""Write a prepared dataset: decode, resize and crop (or pad) a folder of images once into a uint8 array file.

The role of StyleGAN2-ADA's dataset_tool (Karras et al. 2020), in the layout of `ganforge.data.prepared`.
Writing goes chunk by chunk: after each chunk the array and label files are flushed to disk and the
header records how far it got, so a run that is interrupted (or killed) continues where it stopped
when the same command runs again. Only the header's `complete` marker makes the set readable.
"""
from __future__ import annotations

import errno
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Union

import numpy as np

from ganforge.atomic import nearest_existing, write_text_atomic
from ganforge.data.folder import Listing, scan_folder, split_dirs
from ganforge.data.images import FITS, decode_image, read_header
from ganforge.data.prepared import HEADER, IMAGES, LABELS, PreparedHeader
from ganforge.data.prepared import read_header as read_prepared_header
from ganforge.errors import GanforgeError

CHUNK = 512  #: images decoded and flushed per progress record


def _listing(root: Path, split: str) -> tuple[Path, Listing]:
    """The folder that holds `split` and its images by the folder loader's layout rules."""
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a directory"
        raise GanforgeError(f"Folder {str(root)!r} {what}; expected a folder of images to prepare.")
    dirs = split_dirs(root)
    if dirs is None:
        if split == "test":
            raise GanforgeError(f"Folder {str(root)!r} has no train/ and test/ sub-folders; expected them for "
                                "--split test (or use --split train).")
        return root, scan_folder(root)
    if split == "train":
        return dirs[0], scan_folder(dirs[0])
    return dirs[1], scan_folder(dirs[1], expected_classes=scan_folder(dirs[0]).class_names)


def _check_arguments(size: object, fit: object, channels: object, split: object, chunk: object) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise GanforgeError(f"Size {size!r} is invalid; expected a positive integer (the side of the square images).")
    if fit not in FITS:
        raise GanforgeError(f"Crop {fit!r} is invalid; expected one of {', '.join(FITS)}.")
    if channels is not None and (isinstance(channels, bool) or channels not in (1, 3)):
        raise GanforgeError(f"Channels {channels!r} is invalid; expected 1, 3 or None.")
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise GanforgeError(f"Chunk {chunk!r} is invalid; expected a positive integer.")


def _check_names(root: Path, rel: list) -> None:
    """Refuse file names that are not UTF-8 (the header records them as text) before anything is written."""
    for name in rel:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            raise GanforgeError(f"File {shown!r} in {str(root)!r} has a name that is not UTF-8; expected UTF-8 file names "
                                "(rename it; nothing was written).") from None


def _memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2 ** 30


def _check_room(target: Path, count: int, size: int, channels: int, labelled: bool) -> None:
    """Refuse a size whose decoding cannot fit in memory, or a set that cannot fit on the disk, before writing."""
    row = channels * size * size
    per_image = 4 * 4 * row * _workers()  # each worker holds a few float copies of its image while resizing
    if per_image > 0.5 * _memory():
        raise GanforgeError(f"Size {size} needs about {per_image / 2**30:.3g} GiB to decode {_workers()} images at once, more than "
                            f"half of this machine's {_memory() / 2**30:.3g} GiB; expected a smaller --size.")
    needed = count * (row + (8 if labelled else 0))
    free = shutil.disk_usage(nearest_existing(target)).free
    if needed > free:
        raise GanforgeError(f"Prepared data of {count} images at {channels}x{size}x{size} needs {needed / 2**30:.3g} GiB, more than "
                            f"the {free / 2**30:.3g} GiB free at {str(nearest_existing(target))!r}; expected a smaller --size or more room.")


def _workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def _detect_channels(files: list, skip_unreadable: bool) -> int:
    """1 when every (readable) file is gray, else 3; an unreadable header is an error unless skipping."""
    def gray(path: Path) -> Optional[bool]:
        try:
            return read_header(path).gray
        except GanforgeError:
            if skip_unreadable:
                return None
            raise

    with ThreadPoolExecutor(_workers()) as pool:
        found = [g for g in pool.map(gray, files) if g is not None]
    return 1 if found and all(found) else 3


def _same_source(header: PreparedHeader, root: Path, rel: list, classes: tuple, size: int, fit: str,
                 channels: Optional[int], split: str) -> Optional[str]:
    """What differs between a stored preparation and this request (None: the same)."""
    stored = set(header.files) | {s["file"] for s in header.skipped} if header.complete else set(header.files)
    for name, have, want in (("source folder", header.source, str(root)), ("size", header.size, size),
                             ("crop", header.fit, fit), ("split", header.split, split),
                             ("class names", tuple(header.class_names), classes)):
        if have != want:
            return f"its {name} is {have!r}, not {want!r}"
    if channels is not None and channels != header.channels:
        return f"its channels are {header.channels}, not {channels}"
    if (header.complete and stored != set(rel)) or (not header.complete and header.files != rel):
        return f"the folder's files changed ({len(stored)} then, {len(rel)} now)"
    return None


def prepare_folder(folder: Union[str, os.PathLike], out: Union[str, os.PathLike], size: int, fit: str = "center",
                   channels: Optional[int] = None, split: str = "train", skip_unreadable: bool = False,
                   chunk: int = CHUNK, progress: bool = True) -> PreparedHeader:
    """Decode `folder` (layout as for the folder loader) into the prepared folder `out` at `size` x `size`.

    Non-square images are center-cropped (`fit="center"`) or padded (`"pad"`) as by the folder loader;
    `channels` None picks 1 for all-gray folders, else 3. An unreadable file stops the run naming the
    file (what was written is kept), unless `skip_unreadable`, which leaves it out and lists it in the
    header. Running the same call again continues an interrupted preparation, or returns a finished
    one unchanged. Returns the header.
    """
    _check_arguments(size, fit, channels, split, chunk)
    root = Path(folder).expanduser().resolve()
    target = Path(out).expanduser()
    where, listing = _listing(root, split)
    rel = [p.relative_to(root).as_posix() for p in listing.files]
    _check_names(root, rel)
    classes = tuple(listing.class_names)
    if target.exists() and not target.is_dir():
        raise GanforgeError(f"Output {str(target)!r} is a file; expected a new or empty folder for the prepared data.")
    if target.is_dir() and (target / HEADER).is_file():
        header = read_prepared_header(target)
        differs = _same_source(header, root, rel, classes, size, fit, channels, split)
        if differs is not None:
            raise GanforgeError(f"Output {str(target)!r} already holds another preparation ({differs}); expected the same "
                                f"folder, --size, --crop and --split to continue it, or a new --out.")
        if header.complete:
            return header
    elif target.is_dir() and any(target.iterdir()):
        raise GanforgeError(f"Output {str(target)!r} is a folder that already holds other files; expected a new or empty "
                            f"folder for the prepared data (nothing was written).")
    else:
        _check_room(target, len(rel), size, channels or 1, bool(classes))
        chosen = channels if channels is not None else _detect_channels(listing.files, skip_unreadable)
        _check_room(target, len(rel), size, chosen, bool(classes))
        header = PreparedHeader(count=len(rel), channels=chosen, size=size, fit=fit, split=split, class_names=list(classes),
                                source=str(root), files=rel)
        target.mkdir(parents=True, exist_ok=True)
        with open(target / IMAGES, "wb") as f:
            f.truncate(header.count * header.row_bytes)
        if header.labelled:
            with open(target / LABELS, "wb") as f:
                f.truncate(8 * header.count)
        write_text_atomic(target / HEADER, header.to_json())
    try:
        _write(header, target, root, listing, skip_unreadable, max(1, min(chunk, int(0.1 * _memory()) // header.row_bytes)), progress)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise GanforgeError(f"The disk is full while preparing {str(target)!r} ({header.rows} images are written and kept); "
                            "expected free space: make room and run the same command again to continue.") from None
    return header


def _decode(path: Path, channels: int, size: int, fit: str, skip: bool):
    try:
        return decode_image(path, channels, size, fit)
    except GanforgeError as exc:
        if skip:
            return exc
        raise


def _write(header: PreparedHeader, target: Path, root: Path, listing: Listing, skip: bool, chunk: int, progress: bool) -> None:
    """Decode the files after `header.next_file` chunk by chunk, recording progress after each."""
    from tqdm.auto import tqdm

    files, labels = listing.files, np.asarray(listing.labels, dtype="<i8")
    row = header.row_bytes
    bar = tqdm(total=len(files), initial=header.next_file, unit="img", desc=f"prepare {target.name}", disable=not progress)
    try:
        with open(target / IMAGES, "r+b") as images, \
                (open(target / LABELS, "r+b") if header.labelled else open(os.devnull, "wb")) as label_file, \
                ThreadPoolExecutor(_workers()) as pool:
            while header.next_file < len(files):
                start, stop = header.next_file, min(header.next_file + chunk, len(files))
                try:
                    decoded = list(pool.map(lambda p: _decode(p, header.channels, header.size, header.fit, skip), files[start:stop]))
                except GanforgeError as exc:
                    raise GanforgeError(f"{str(exc).rstrip('.')} ({header.next_file} of {len(files)} files are prepared and kept in "
                                        f"{str(target)!r}; fix or replace the file and run the same command again to continue, "
                                        f"or add --skip-unreadable to leave it out).") from None
                kept = [i for i, d in enumerate(decoded, start) if not isinstance(d, GanforgeError)]
                header.skipped += [{"file": header.files[i], "reason": str(d)} for i, d in enumerate(decoded, start)
                                   if isinstance(d, GanforgeError)]
                if kept:
                    block = np.stack([decoded[i - start] for i in kept])
                    images.seek(header.rows * row)
                    images.write(block.tobytes())
                    images.flush()
                    os.fsync(images.fileno())
                    if header.labelled:
                        label_file.seek(header.rows * 8)
                        label_file.write(labels[kept].tobytes())
                        label_file.flush()
                        os.fsync(label_file.fileno())
                header.rows += len(kept)
                header.next_file = stop
                write_text_atomic(target / HEADER, header.to_json())
                bar.update(stop - start)
    finally:
        bar.close()
    if header.rows == 0:
        raise GanforgeError(f"Folder {str(root)!r} holds no readable image ({len(header.skipped)} skipped, e.g. "
                            f"{header.skipped[0]['file']!r}); expected at least one.")
    skipped = {s["file"] for s in header.skipped}
    for name, width in ((IMAGES, row), (LABELS, 8)):
        if name == IMAGES or header.labelled:
            with open(target / name, "r+b") as f:
                f.truncate(header.rows * width)
                f.flush()
                os.fsync(f.fileno())
    header.files = [f for f in header.files if f not in skipped]
    header.count = header.rows
    header.complete = True
    write_text_atomic(target / HEADER, header.to_json())
