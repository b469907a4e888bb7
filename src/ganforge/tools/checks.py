"""The tools' check of their input images: files and folders named on the command line (argument values are
checked by the argparse types of `ganforge.arguments`)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ganforge.data.images import IMAGE_SUFFIXES, is_image_file
from ganforge.errors import GanforgeError


def collect_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named, folders expanded to their image files (sorted, not recursive)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
            if not found:
                raise GanforgeError(f"Folder {str(item)!r} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}.")
            files += found
        elif path.is_file():
            if not is_image_file(path):
                raise GanforgeError(f"Input {str(item)!r} is not an image file; expected a name ending in {', '.join(IMAGE_SUFFIXES)}.")
            files.append(path)
        else:
            raise GanforgeError(f"Input {str(item)!r} does not exist; expected an image file or a folder of images.")
    if not files:
        raise GanforgeError("No input images were given; expected image files or folders.")
    return files
