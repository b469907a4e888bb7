"""Image helpers at the data edge: whole-tensor resizing and channel matching, and Pillow decoding.

Decoding turns any supported file (grayscale, RGB, RGBA, palette, 16-bit) into an 8-bit array of the
requested channels and square size. Transparent pixels are composited over white; a colour image
becomes grayscale through the ITU-R 601-2 luma transform; a JPEG or WebP EXIF orientation is applied.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganforge.errors import GanforgeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")

_RESAMPLING = getattr(Image, "Resampling", Image)
_TRANSPOSE = getattr(Image, "Transpose", Image)
ORIENTATION_TRANSPOSE = {  # EXIF orientation tag -> transpose that shows the image upright
    2: _TRANSPOSE.FLIP_LEFT_RIGHT, 3: _TRANSPOSE.ROTATE_180, 4: _TRANSPOSE.FLIP_TOP_BOTTOM,
    5: _TRANSPOSE.TRANSPOSE, 6: _TRANSPOSE.ROTATE_270, 7: _TRANSPOSE.TRANSVERSE, 8: _TRANSPOSE.ROTATE_90,
}
_GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N"}
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as used by Pillow's "L" conversion


def is_image_file(path: Path) -> bool:
    """Whether `path` names a supported image file (by suffix, any case), hidden files excluded."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


# --- tensors -------------------------------------------------------------------------------------

def resize_tensor(images: Tensor, size: int, max_elements: int = 1 << 24) -> Tensor:
    """Resize uint8 (N, C, H, W) images to (N, C, size, size) with antialiased bilinear filtering."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return images
    out = torch.empty((n, c, size, size), dtype=torch.uint8, device=images.device)
    step = max(1, max_elements // (c * max(h * w, size * size)))
    for start in range(0, n, step):
        part = images[start:start + step].float()
        part = F.interpolate(part, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + step] = part.round_().clamp_(0, 255).to(torch.uint8)
    return out


def match_channels(images: Tensor, channels: Optional[int]) -> Tensor:
    """uint8 (N, C, H, W) images with `channels` channels: gray repeated to RGB, or RGB reduced to luma."""
    have = images.shape[1]
    if channels is None or channels == have:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        weights = torch.tensor(_LUMA, dtype=torch.float32, device=images.device).view(1, 3, 1, 1)
        return (images.float() * weights).sum(1, keepdim=True).round_().clamp_(0, 255).to(torch.uint8)
    raise GanforgeError(f"Cannot turn {have}-channel images into channels={channels!r}; expected 1 or 3.")


# --- files ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: upright width and height, and whether it holds only gray values."""

    width: int
    height: int
    gray: bool


def unreadable_image(path: Path, exc: BaseException) -> GanforgeError:
    if isinstance(exc, UnidentifiedImageError):
        detail = "not a recognised image format"
    else:
        detail = str(exc).strip().rstrip(".") or exc.__class__.__name__
    return GanforgeError(f"Image file {str(path)!r} could not be read ({detail}); "
                         "expected a complete PNG, JPEG, WebP or BMP image.")


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation of a JPEG or WebP image (1 when absent), read without decoding pixels."""
    if im.format not in ("JPEG", "MPO", "WEBP"):
        return 1
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block leaves the image as stored
        return 1
    return value if value in ORIENTATION_TRANSPOSE else 1


def _palette_is_gray(im: Image.Image) -> bool:
    palette = getattr(im, "palette", None)
    raw = getattr(palette, "palette", None)
    mode = getattr(palette, "mode", "")
    if not raw or mode not in ("RGB", "RGBA"):
        return False
    colors = np.frombuffer(bytes(raw), dtype=np.uint8)
    colors = colors[: len(colors) - len(colors) % len(mode)].reshape(-1, len(mode))
    return bool((colors[:, 0] == colors[:, 1]).all() and (colors[:, 1] == colors[:, 2]).all())


def read_header(path: Path) -> ImageHeader:
    """Size (after EXIF orientation) and grayness of an image file, without decoding its pixels."""
    try:
        with Image.open(path) as im:
            width, height = im.size
            if exif_orientation(im) in (5, 6, 7, 8):
                width, height = height, width
            if im.mode in ("P", "PA"):
                gray = _palette_is_gray(im)
            else:
                gray = im.mode in _GRAY_MODES
    except Exception as exc:  # Pillow raises several types for bad files
        raise unreadable_image(path, exc) from None
    return ImageHeader(width, height, gray)


def _composite_over_white(array: np.ndarray) -> np.ndarray:
    """Colour channels of an (H, W, C+1) uint8 array with alpha, composited over white."""
    color = array[..., :-1].astype(np.uint32)
    alpha = array[..., -1:].astype(np.uint32)
    return ((color * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def to_8bit(im: Image.Image) -> Image.Image:
    """An "L" or "RGB" image from any Pillow mode; alpha composited over white, 16-bit scaled to 8."""
    mode = im.mode
    if mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):
        values = np.asarray(im).astype(np.float64)
        return Image.fromarray(np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8))
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
        mode = im.mode
    elif mode == "1":
        return im.convert("L")
    elif mode == "La":
        im, mode = im.convert("LA"), "LA"
    elif mode == "RGBa":
        im, mode = im.convert("RGBA"), "RGBA"
    elif mode == "L" and "transparency" in im.info:
        im, mode = im.convert("LA"), "LA"
    elif mode == "RGB" and "transparency" in im.info:
        im, mode = im.convert("RGBA"), "RGBA"
    if mode in ("LA", "RGBA"):
        color = _composite_over_white(np.asarray(im))
        return Image.fromarray(np.ascontiguousarray(color[..., 0] if mode == "LA" else color))
    if mode in ("L", "RGB"):
        return im
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, RGBX


FITS = ("center", "pad")  #: how a non-square image becomes square: center-crop (default) or pad


def _pad_to_square(image: Image.Image, size: int) -> Image.Image:
    """`image` scaled (Lanczos) so its longer side is `size`, centred on a black size x size canvas."""
    width, height = image.size
    scale = size / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    if inner != (width, height):
        image = image.resize(inner, _RESAMPLING.LANCZOS)
    if inner == (size, size):
        return image
    canvas = Image.new(image.mode, (size, size), 0)
    canvas.paste(image, ((size - inner[0]) // 2, (size - inner[1]) // 2))
    return canvas


def upright_8bit(im: Image.Image, channels: Optional[int]) -> Image.Image:
    """An opened image decoded, turned upright (EXIF), in 8 bits, as L or RGB when `channels` is 1 or 3 (else its own)."""
    orientation = exif_orientation(im)
    im.load()
    image = to_8bit(im)
    if orientation != 1:
        image = image.transpose(ORIENTATION_TRANSPOSE[orientation])
    if channels == 1 and image.mode != "L":
        image = image.convert("L")
    elif channels == 3 and image.mode != "RGB":
        image = image.convert("RGB")
    return image


def decode_image(path: Path, channels: int, size: Optional[int], fit: str = "center") -> np.ndarray:
    """A (channels, S, S) uint8 array: the image upright, shorter side scaled to `size`, center-cropped.

    With `size` None the central square is kept at its own size (folders check squareness first).
    Resampling is Lanczos, applied once over the central square of the source. `fit="pad"` instead
    scales the longer side to `size` and centres the image on a black square (nothing cropped).
    """
    try:
        with Image.open(path) as im:
            if size is not None and im.format == "JPEG":
                im.draft(im.mode, (size, size))  # DCT-domain downscale, never below `size`
            image = upright_8bit(im, channels)
            width, height = image.size
            side = min(width, height)
            target = side if size is None else size
            if fit == "pad":
                image = _pad_to_square(image, max(width, height) if size is None else size)
            elif (width, height) != (target, target):
                left, top = (width - side) / 2.0, (height - side) / 2.0
                image = image.resize((target, target), _RESAMPLING.LANCZOS,
                                     box=(left, top, left + side, top + side))
            array = np.asarray(image)
    except GanforgeError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decompression bombs
        raise unreadable_image(path, exc) from None
    if array.ndim == 2:
        array = array[None]
    else:
        array = array.transpose(2, 0, 1)
    return array
