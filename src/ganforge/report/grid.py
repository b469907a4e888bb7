"""Image grids: a batch of images laid out as one uint8 picture, saved as PNG, optionally with row labels."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ganforge.errors import GanforgeError

ImagesLike = Union[torch.Tensor, np.ndarray]


def to_uint8_hwc(images: ImagesLike) -> np.ndarray:
    """A batch (N, C, H, W) or one image (C, H, W), float in [-1, 1] or uint8, as uint8 (N, H, W, C)."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise GanforgeError(f"Images of type {type(images).__name__} cannot be drawn; expected a tensor or array (N, C, H, W).")
    images = images.detach()
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[0] == 0:
        raise GanforgeError(f"Images of shape {tuple(images.shape)} cannot be drawn; expected (N, C, H, W) with N >= 1.")
    if images.shape[1] not in (1, 3, 4):
        raise GanforgeError(f"Images with {images.shape[1]} channels cannot be drawn; expected 1 (gray), 3 (RGB) or 4 (RGBA).")
    images = images.cpu()
    if images.dtype != torch.uint8:
        if not images.dtype.is_floating_point:
            raise GanforgeError(f"Images of dtype {images.dtype} cannot be drawn; expected float in [-1, 1] or uint8.")
        images = torch.nan_to_num(images.float(), nan=-1.0).add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def make_grid(images: ImagesLike, nrow: Optional[int] = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """A uint8 (H, W, C) picture of the images, `nrow` per row (default ⌈√N⌉), framed by `padding` pixels."""
    pixels = to_uint8_hwc(images)
    n, h, w, c = pixels.shape
    if nrow is None:
        nrow = math.ceil(math.sqrt(n))
    if int(nrow) < 1:
        raise GanforgeError(f"Grid row length nrow={nrow!r} is invalid; expected an integer >= 1.")
    if padding < 0:
        raise GanforgeError(f"Grid padding={padding!r} is invalid; expected an integer >= 0.")
    if not 0 <= pad_value <= 255:
        raise GanforgeError(f"Grid pad_value={pad_value!r} is invalid; expected a uint8 intensity 0..255.")
    cols = min(int(nrow), n)
    rows = math.ceil(n / cols)
    cells = np.full((rows * cols, h + padding, w + padding, c), pad_value, dtype=np.uint8)
    cells[:n, padding:, padding:] = pixels
    grid = cells.reshape(rows, cols, h + padding, w + padding, c).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (h + padding), cols * (w + padding), c)
    out = np.full((grid.shape[0] + padding, grid.shape[1] + padding, c), pad_value, dtype=np.uint8)
    out[:grid.shape[0], :grid.shape[1]] = grid
    return out


def to_pil(picture: np.ndarray) -> Image.Image:
    """A Pillow image of a uint8 (H, W, C) array: gray for 1 channel, RGB for 3, RGBA for 4."""
    picture = np.ascontiguousarray(picture, dtype=np.uint8)
    return Image.fromarray(picture[:, :, 0] if picture.ndim == 3 and picture.shape[2] == 1 else picture)


def save_image(picture: Image.Image, path: Union[str, Path]) -> Path:
    """Write a Pillow image to `path` (parent folders created, written atomically); the suffix picks the format."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise GanforgeError(f"Image path {str(path)!r} has no known image suffix; expected a name ending in .png.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        picture.save(tmp, format=fmt)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise GanforgeError(f"Image {str(path)!r} could not be written ({exc.strerror or exc}); expected a writable path.") from None
    return path


def save_grid(images: ImagesLike, path: Union[str, Path], nrow: Optional[int] = None, padding: int = 2,
              pad_value: int = 255) -> Path:
    """Write the images as one grid PNG at `path` and return the path."""
    return save_image(to_pil(make_grid(images, nrow, padding, pad_value)), path)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1 or no FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_box(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the ink of `text` drawn at the origin."""
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return left, top, right - left, bottom - top


def _short(label: object, limit: int = 24) -> str:
    text = str(label)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def labeled_rows(images: ImagesLike, row_labels: Sequence[object], padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """A uint8 (H, W, C) grid with one row per label (images given row by row) and the label in a left margin."""
    labels = [_short(label) for label in row_labels]
    pixels = to_uint8_hwc(images)
    n, h, w, c = pixels.shape
    if not labels or n % len(labels) != 0:
        raise GanforgeError(f"{n} images cannot be split into {len(labels)} labelled rows; expected a multiple of the number of labels.")
    grid = make_grid(pixels.transpose(0, 3, 1, 2), n // len(labels), padding, pad_value)
    canvas = to_pil(grid)
    font = _font(max(9, min(h // 2, 28)))
    probe = ImageDraw.Draw(canvas)
    boxes = [_text_box(probe, text, font) for text in labels]
    margin = max(box[2] for box in boxes) + 3 * max(padding, 2)
    mode = canvas.mode
    background = pad_value if mode == "L" else (pad_value,) * len(mode)
    ink_level = 0 if pad_value >= 128 else 255
    ink = ink_level if mode == "L" else (ink_level,) * 3 + ((255,) if mode == "RGBA" else ())
    out = Image.new(mode, (canvas.width + margin, canvas.height), background)
    out.paste(canvas, (margin, 0))
    draw = ImageDraw.Draw(out)
    for row, (text, (left, top, width, height)) in enumerate(zip(labels, boxes)):
        cell_top = padding + row * (h + padding)
        x = margin - width - 2 * max(padding, 2) - left
        y = cell_top + (h - height) // 2 - top
        draw.text((x, y), text, fill=ink, font=font)
    return np.asarray(out).reshape(out.height, out.width, -1)


def save_labeled_rows(images: ImagesLike, path: Union[str, Path], row_labels: Sequence[object], padding: int = 2,
                      pad_value: int = 255) -> Path:
    """Write a grid with one row per class, named in a left margin (images given row by row); return the path."""
    return save_image(to_pil(labeled_rows(images, row_labels, padding, pad_value)), path)
