"""The one output rule of every tool: never write over an input, never two results to one name, never replace
an existing output without --force; and the bounds on how much one command draws. Each breach is one sentence
before any work is done."""
from __future__ import annotations

import argparse
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ganforge.atomic import check_writable_folder
from ganforge.errors import GanforgeError

MAX_PICTURE_IMAGES = 4096  #: images drawn into one PNG (a 64 x 64 grid)
MAX_GIF_FRAMES = 2000  #: frames of one GIF


def at_most(count: int, limit: int, what: str) -> int:
    """`count` if it is at most `limit`; else an error naming `what` asked for it, before anything is drawn."""
    if count > limit:
        raise GanforgeError(f"{what} asks for {count:,}; expected at most {limit:,}.")
    return count


def add_force(parser: argparse.ArgumentParser) -> None:
    """The `--force` flag every file-writing tool takes."""
    parser.add_argument("--force", action="store_true", help="replace output files that already exist")


def picture_and_arrays(out: str) -> tuple[Path, Path]:
    """(PNG, npz) paths of a tool that writes a picture and its arrays, for an --out value with or without either suffix."""
    base = Path(out)
    if base.suffix.lower() in (".png", ".npz"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".png"), base.with_name(base.name + ".npz")


def _identity(path: Path) -> object:
    """What makes two names one file: (device, inode) for an existing file, else the resolved path."""
    try:
        st = os.stat(path)
        return (st.st_dev, st.st_ino)
    except OSError:
        return str(Path(path).expanduser().resolve())


def _files(inputs: Iterable[Path]) -> list[Path]:
    """The input files, a folder standing for the files directly in it."""
    files: list[Path] = []
    for item in map(Path, inputs):
        files += sorted(p for p in item.iterdir() if p.is_file()) if item.is_dir() else [item]
    return files


def claim_outputs(paths: Sequence[Path], inputs: Iterable[Path] = (), *, force: bool = False) -> list[Path]:
    """`paths`, once sure each can be written: none is an input, no two name one file, none exists unless
    `force`, and their folders exist or can be made (they are created)."""
    paths = [Path(p) for p in paths]
    sources = {_identity(p): p for p in _files(inputs)}
    claimed: dict[object, Path] = {}
    for path in paths:
        key = _identity(path)
        if key in sources:
            raise GanforgeError(f"Output {str(path)!r} is the input {str(sources[key])!r}; expected --out to name a place "
                                "where no input would be written over.")
        if key in claimed:
            raise GanforgeError(f"Outputs of {str(claimed[key])!r} and {str(path)!r} would be one file; expected inputs "
                                "whose results have distinct names (rename one, or run them separately).")
        claimed[key] = path
        if path.is_dir():
            raise GanforgeError(f"Output {str(path)!r} is a folder; expected a file path for --out.")
        if (path.exists() or path.is_symlink()) and not force:
            raise GanforgeError(f"Output {str(path)!r} already exists; expected a new --out path, or --force to replace it.")
    for parent in dict.fromkeys(p.parent for p in paths):
        check_writable_folder(parent, "--out inside a folder you can write into")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GanforgeError(f"Output folder {str(parent)!r} cannot be created ({exc.strerror or type(exc).__name__}); "
                                f"expected a writable place for --out.") from None
    return paths


def output_folder(out: Path) -> Path:
    """`out` when it is a folder or can become one; an error naming it when it is a file."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"Output {str(out)!r} is a file; expected a folder (new or existing).")
    return out


@contextmanager
def removed_on_failure(paths: Sequence[Path]) -> Iterator[None]:
    """Remove those of `paths` that the block wrote if it fails (a full disk, a kill by Ctrl-C), so that no
    truncated output is left to block the same command run again."""
    before = {Path(p): _stamp(Path(p)) for p in paths}
    try:
        yield
    except BaseException:
        for path, stamp in before.items():
            if _stamp(path) != stamp:
                path.unlink(missing_ok=True)
        raise


def _stamp(path: Path) -> object:
    try:
        st = os.stat(path)
        return (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        return None
