"""An animated GIF of a run's sample grids, to watch the generator learn."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

from PIL import Image

from ganforge.errors import GanforgeError

#: Pillow >= 9.1 groups its constants in enums; older releases keep them on the module.
_RESAMPLING = getattr(Image, "Resampling", Image)
_QUANTIZE = getattr(Image, "Quantize", Image)


def pick_frames(count: int, max_frames: int) -> list[int]:
    """Indices of at most `max_frames` of `count` frames, evenly spread, always keeping the first and last."""
    if count <= max_frames:
        return list(range(count))
    if max_frames < 2:
        return [count - 1]
    return sorted({round(i * (count - 1) / (max_frames - 1)) for i in range(max_frames)})


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            return image
    except (OSError, ValueError) as exc:
        raise GanforgeError(f"Frame {str(path)!r} could not be read ({exc.__class__.__name__}); expected a PNG image.") from None


def _fit(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    smaller = size[0] < image.width
    return image.resize(size, _RESAMPLING.LANCZOS if smaller else _RESAMPLING.NEAREST)


def make_gif(png_paths: Sequence[Union[str, Path]], out_path: Union[str, Path], duration_ms: int = 200,
             hold_last_ms: Optional[int] = None, max_frames: int = 150, max_side: int = 1024) -> Path:
    """Write the images as an endlessly looping GIF, in the order given, the last frame held longer."""
    paths = [Path(p) for p in png_paths]
    if not paths:
        raise GanforgeError("No frames were given for the GIF; expected at least one sample grid PNG.")
    if duration_ms < 10:
        raise GanforgeError(f"GIF frame duration {duration_ms!r} ms is invalid; expected at least 10 ms.")
    for path in paths:
        if not path.is_file():
            raise GanforgeError(f"Frame {str(path)!r} does not exist; expected a PNG image.")
    paths = [paths[i] for i in pick_frames(len(paths), max(1, max_frames))]
    last = _open(paths[-1])
    scale = min(1.0, max_side / max(last.size))
    size = (max(1, round(last.width * scale)), max(1, round(last.height * scale)))
    gray = last.mode in ("L", "LA", "1")
    frames = []
    for path in paths[:-1]:
        frames.append(_to_frame(_fit(_open(path), size), gray))
    frames.append(_to_frame(_fit(last, size), gray))
    hold = hold_last_ms if hold_last_ms is not None else max(1000, 5 * duration_ms)
    durations = [duration_ms] * (len(frames) - 1) + [hold]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                       disposal=1)
        os.replace(tmp, out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GanforgeError(f"GIF {str(out_path)!r} could not be written ({exc.strerror or exc}); expected a writable path.") from None
    return out_path


def _to_frame(image: Image.Image, gray: bool) -> Image.Image:
    """An 'L' frame for grayscale runs, else a 256-colour adaptive palette of the RGB image."""
    if gray:
        return image.convert("L")
    return image.convert("RGB").quantize(colors=256, method=_QUANTIZE.FASTOCTREE)
