"""Super-resolution data: a folder of full-resolution images, random HR crops, LR made on the fly.

The images keep their own sizes. All of them live in one flat uint8 store (each image's pixels in
H, W, C order, one after the other), so a batch of crops from images of different sizes is cut by
one gather, with no per-image Python on the hot path. The LR input of each crop is made by the
antialiased bicubic downscaling of MATLAB's ``imresize`` (the degradation the SRGAN / ESRGAN papers
train and evaluate with) and rounded to 8-bit levels, as a saved LR image would be.

MATLAB's ``imresize(x, 1/s, 'bicubic')`` differs from Pillow's ``BICUBIC`` in two ways: MATLAB
mirrors the image at its borders (symmetric padding) while Pillow cuts the kernel off and
renormalises it, and Pillow rounds 8-bit images to integers between its horizontal and vertical
passes. Away from the borders and in float ("F" mode) the two agree (both use a = -0.5 and widen the
kernel by the scale when shrinking); the tests check both facts.

With a `RealESRGANDegradation` (``degradation=realesrgan`` in the srgan family) the LR is instead
made by Real-ESRGAN's two-round blind degradation of the HR crop (``ganforge.data.realesrgan``),
its random draws seeded from (seed, epoch, position) like the crops.

Held-out split by file: with ``train/`` and ``test/`` sub-folders those are the splits; otherwise
every ``holdout_every``-th file in name order is held out (0: none).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.data.batches import ShuffledOrder
from ganforge.data.dataset import to_float
from ganforge.data.folder import parallel_map
from ganforge.data.images import IMAGE_SUFFIXES, is_image_file, read_header, unreadable_image, upright_8bit
from ganforge.data.realesrgan import RealESRGANConfig, RealESRGANDegradation
from ganforge.data.texture import crop_texture, texture_table
from ganforge.errors import GanforgeError
from ganforge.nn.bicubic import CUBIC_A, cubic  # noqa: F401  (CUBIC_A: part of this module's interface)

SCALES = (2, 4)  #: upscaling factors the family trains
DEGRADATIONS = ("bicubic", "realesrgan")  #: how the LR of a training crop is made
MARGIN = 2  #: LR pixels cut around each crop so its LR equals the whole image's LR there (the kernel reaches 2 LR pixels)
TEXTURE_TRIES = 8  #: crop places drawn per crop when flat crops are refused (min_texture > 0)


# --- MATLAB-style bicubic resizing -------------------------------------------------------------------

def resize_weights(in_size: int, out_size: int, scale: float, antialias: bool = True) -> tuple[Tensor, Tensor]:
    """(indices, weights), each (out_size, P): output i is sum_p weights[i, p] * input[indices[i, p]], as MATLAB's imresize.

    Output pixel i (0-based) sits at input coordinate (i + 0.5) / scale - 0.5; when shrinking with
    `antialias` the kernel is widened by 1/scale (and its height lowered by scale); each row of weights
    sums to one; indices past an edge are mirrored back (symmetric padding).
    """
    if in_size < 1 or out_size < 1 or not scale > 0:
        raise GanforgeError(f"Resize of {in_size} to {out_size} pixels by {scale} is invalid; expected positive sizes and scale.")
    shrink = antialias and scale < 1
    width = 4.0 / scale if shrink else 4.0
    x = torch.arange(out_size, dtype=torch.float64)
    center = (x + 0.5) / scale - 0.5
    left = torch.floor(center - width / 2)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + torch.arange(taps, dtype=torch.float64)[None]
    distance = center[:, None] - indices
    weights = scale * cubic(scale * distance) if shrink else cubic(distance)
    weights = weights / weights.sum(1, keepdim=True)
    keep = (weights != 0).any(0)
    indices, weights = indices[:, keep].long(), weights[:, keep]
    period = 2 * in_size  # mirror: ..., 1, 0 | 0, 1, ..., n-1 | n-1, n-2, ...
    folded = indices.remainder(period)
    indices = torch.where(folded < in_size, folded, period - 1 - folded)
    return indices, weights


def _resize_axis(images: Tensor, dim: int, out_size: int, scale: float, antialias: bool) -> Tensor:
    index, weight = resize_weights(images.shape[dim], out_size, scale, antialias)
    index, weight = index.to(images.device), weight.to(images.device, images.dtype)
    shape = [1] * images.dim()
    shape[dim] = out_size
    out = None
    for p in range(index.shape[1]):  # a few taps: no (out, taps, ...) intermediate, memory stays one output
        term = images.index_select(dim, index[:, p]) * weight[:, p].view(shape)
        out = term if out is None else out.add_(term)
    return out


def imresize(images: Tensor, scale: float, antialias: bool = True) -> Tensor:
    """Float images (..., H, W) resized by `scale` with MATLAB imresize's bicubic kernel; rows first, then columns.

    The output side is ceil(side * scale), as in MATLAB; values are not clamped (the kernel overshoots).
    """
    if not images.is_floating_point():
        raise GanforgeError(f"imresize takes float images; got {images.dtype}.")
    h, w = images.shape[-2:]
    out_h, out_w = math.ceil(h * scale - 1e-9), math.ceil(w * scale - 1e-9)
    out = _resize_axis(images, images.dim() - 2, out_h, scale, antialias)
    return _resize_axis(out, images.dim() - 1, out_w, scale, antialias)


def quantize(images: Tensor) -> Tensor:
    """Float [-1, 1] images rounded to the 256 levels of an 8-bit image (and clamped), still float."""
    return images.add(1).mul_(127.5).round_().clamp_(0, 255).div_(127.5).sub_(1)


def degrade(hr: Tensor, scale: int) -> Tensor:
    """The LR input of float [-1, 1] HR images: MATLAB bicubic downscaling by 1/`scale`, rounded to 8-bit levels."""
    return quantize(imresize(hr.float(), 1.0 / scale))


def bicubic_upscale(lr: Tensor, scale: int) -> Tensor:
    """The papers' baseline: float LR images upscaled by `scale` with MATLAB's bicubic kernel, clamped to [-1, 1]."""
    return imresize(lr.float(), float(scale)).clamp_(-1, 1)


def make_degradation(name: str, options: Optional[dict] = None) -> Optional[RealESRGANDegradation]:
    """The LR maker called `name`: None for bicubic (the default path), else Real-ESRGAN's with `options` over its defaults."""
    if name not in DEGRADATIONS:
        raise GanforgeError(f"Degradation {name!r} is unknown; expected one of {', '.join(DEGRADATIONS)}.")
    if name == "bicubic":
        if options:
            raise GanforgeError(f"Degradation options {sorted(options)} are not read by the bicubic degradation; expected degradation=realesrgan.")
        return None
    return RealESRGANDegradation(RealESRGANConfig.from_options(dict(options or {})))


# --- files ---------------------------------------------------------------------------------------

def decode_full(path: Path, channels: Optional[int] = None) -> np.ndarray:
    """An (H, W, C) uint8 array of an image file at its own size, upright (EXIF), alpha over white; C = `channels` or its own (1 or 3)."""
    try:
        with Image.open(path) as im:
            image = upright_8bit(im, channels)
            array = np.asarray(image)
    except GanforgeError:
        raise
    except Exception as exc:  # truncated data, bad chunks, decompression bombs
        raise unreadable_image(path, exc) from None
    return np.ascontiguousarray(array[..., None] if array.ndim == 2 else array)


def image_files(folder: Path) -> list[Path]:
    """The image files directly in `folder`, in name order (other files are not images and are skipped)."""
    try:
        return sorted((p for p in folder.iterdir() if p.is_file() and is_image_file(p)), key=lambda p: p.name)
    except OSError as exc:
        raise GanforgeError(f"Folder {str(folder)!r} could not be listed ({exc.strerror or exc}); expected a readable folder.") from None


def split_files(root: Path, holdout_every: int) -> tuple[list[Path], list[Path]]:
    """(train files, held-out files) of a folder: its train/ and test/ sub-folders, else every `holdout_every`-th file held out."""
    if not root.is_dir():
        raise GanforgeError(f"Data {str(root)!r} is not a folder; expected a folder of images for super-resolution.")
    if (root / "train").is_dir() and (root / "test").is_dir():
        train, test = image_files(root / "train"), image_files(root / "test")
    else:
        files = image_files(root)
        if holdout_every < 0:
            raise GanforgeError(f"holdout_every={holdout_every} is invalid; expected 0 (no held-out files) or a count >= 2.")
        every = holdout_every if holdout_every >= 2 else 0
        test = [p for i, p in enumerate(files) if every and i % every == every - 1]
        train = [p for p in files if p not in test]
    if not train:
        raise GanforgeError(f"Folder {str(root)!r} holds no training images; expected files ending in {', '.join(IMAGE_SUFFIXES)}.")
    return train, test


@dataclass
class SuperResData:
    """Full-resolution images in one flat uint8 store: image i is store[offsets[i]:offsets[i] + h*w*c] in (H, W, C) order."""

    store: Tensor
    offsets: Tensor
    heights: Tensor
    widths: Tensor
    channels: int
    names: list = field(default_factory=list)
    name: str = "images"

    def __len__(self) -> int:
        return int(self.offsets.shape[0])

    def image(self, i: int) -> Tensor:
        """uint8 (C, H, W) of image `i` (a view into the store)."""
        h, w, c = int(self.heights[i]), int(self.widths[i]), self.channels
        start = int(self.offsets[i])
        return self.store[start:start + h * w * c].view(h, w, c).permute(2, 0, 1)


def load_images(files: list[Path], channels: Optional[int] = None, name: str = "images") -> SuperResData:
    """Decode `files` at their own sizes into one SuperResData; `channels` None: 1 when every file is gray, else 3."""
    headers = parallel_map(lambda i: read_header(files[i]), len(files))
    c = channels or (1 if headers and all(h.gray for h in headers) else 3)
    sizes = [h.width * h.height * c for h in headers]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64) if sizes else np.zeros(0, np.int64)
    store = torch.empty(int(sum(sizes)), dtype=torch.uint8)
    target = store.numpy()

    def fill(i: int) -> None:
        array = decode_full(files[i], c)
        if array.shape[:2] != (headers[i].height, headers[i].width):
            raise GanforgeError(f"Image file {str(files[i])!r} decoded to {array.shape[1]}x{array.shape[0]}, not the "
                                f"{headers[i].width}x{headers[i].height} its header says; expected a consistent file.")
        target[offsets[i]:offsets[i] + sizes[i]] = array.reshape(-1)

    parallel_map(fill, len(files))
    return SuperResData(store, torch.from_numpy(offsets), torch.tensor([h.height for h in headers], dtype=torch.int64),
                        torch.tensor([h.width for h in headers], dtype=torch.int64), c, [f.name for f in files], name)


def load_superres(folder: str | Path, split: str = "train", channels: Optional[int] = None, holdout_every: int = 4) -> SuperResData:
    """The train or held-out ("test") images of `folder` at full resolution."""
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")
    root = Path(folder).expanduser()
    train, test = split_files(root, holdout_every)
    files = train if split == "train" else test
    if not files:
        raise GanforgeError(f"Folder {str(root)!r} has no held-out images (holdout_every={holdout_every}); expected a test/ "
                            "sub-folder or holdout_every >= 2 with enough files.")
    return load_images(files, channels, root.resolve().name)


def check_crop_fits(data: SuperResData, crop: int, scale: int) -> None:
    """Refuse an image too small for a `crop`-px HR crop and the downscaling margin around it, naming the first."""
    need = crop + 2 * MARGIN * scale
    small = ((data.heights < need) | (data.widths < need)).nonzero()
    if len(small):
        i = int(small[0])
        h, w = int(data.heights[i]), int(data.widths[i])
        raise GanforgeError(f"Image {data.names[i]!r} is {w}x{h}, smaller than the {crop}-px training crop with its "
                            f"{MARGIN * scale}-px margin; expected at least {need}x{need} (or a smaller crop option).")


def auto_crop(data: SuperResData, scale: int, largest: int = 128, multiple: int = 8) -> int:
    """The HR crop side: `largest`, or the largest multiple of lcm(scale, `multiple`) that the smallest image holds with its margin."""
    step = math.lcm(scale, multiple)
    room = int(torch.minimum(data.heights, data.widths).min()) - 2 * MARGIN * scale
    crop = min(largest, room // step * step)
    if crop < step:
        i = int(torch.minimum(data.heights, data.widths).argmin())
        raise GanforgeError(f"Image {data.names[i]!r} is {int(data.widths[i])}x{int(data.heights[i])}, too small for any "
                            f"training crop at scale {scale}; expected at least {step + 2 * MARGIN * scale} px a side.")
    return crop


# --- batches --------------------------------------------------------------------------------------

class SuperResBatchSource(ShuffledOrder):
    """Batches {"a": LR (B, C, crop/s, crop/s), "b": HR (B, C, crop, crop)}, float in [-1, 1], from full-resolution images.

    Images are drawn in a shuffled order over the files (ShuffledOrder), each with a random crop at a
    multiple of the scale, mirrored and transposed at random (the eight symmetries of the square,
    when `augment`). The crop is cut with a margin of MARGIN LR pixels, downscaled, and the margin
    dropped, so the LR of a crop equals the LR of the whole image at that place. Crop positions are
    a function of (seed, epoch, position), so the state is two integers.

    With `min_texture` > 0 flat crops are refused: each crop draws up to TEXTURE_TRIES places and takes
    the first whose HR crop has a mean absolute luma gradient (data.texture) of at least `min_texture`
    levels, else the most textured of them.

    With a `degradation` (Real-ESRGAN's), the LR is that degradation of the HR crop instead, its
    random draws also a function of (seed, epoch, position); the state stays two integers.
    """

    def __init__(self, data: SuperResData, batch_size: int, seed: int, device: torch.device, crop: int, scale: int,
                 channels_last: bool = False, rank: int = 0, world_size: int = 1, augment: bool = True,
                 info: Optional[DataInfo] = None, degradation: Optional[RealESRGANDegradation] = None,
                 min_texture: float = 0.0):
        if len(data) == 0:
            raise GanforgeError(f"Super-resolution data {data.name!r} holds no images; expected at least one.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GanforgeError(f"Batch size {batch_size!r} is invalid; expected a positive integer.")
        if scale not in SCALES:
            raise GanforgeError(f"Scale {scale!r} is not supported; expected one of {', '.join(map(str, SCALES))}.")
        if crop < scale or crop % scale:
            raise GanforgeError(f"Crop {crop} is invalid for scale {scale}; expected a multiple of {scale}.")
        check_crop_fits(data, crop, scale)
        if not (math.isfinite(min_texture) and min_texture >= 0):
            raise GanforgeError(f"min_texture={min_texture!r} is invalid; expected a number >= 0 (mean luma gradient in 8-bit levels).")
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.info = info or DataInfo(data.channels, crop)
        self.crop, self.scale, self.augment, self.degradation = crop, scale, augment, degradation
        self.channels_last, self.rank, self.world_size = channels_last, rank, world_size
        self.extent = crop + 2 * MARGIN * scale
        self.store = data.store.to(device)
        self.offsets, self.heights, self.widths = data.offsets.to(device), data.heights.to(device), data.widths.to(device)
        self._grid = torch.arange(self.extent, device=device)
        self.min_texture = min_texture
        self.texture = (texture_table(data.store, data.offsets, data.heights, data.widths, data.channels, scale)
                        if min_texture > 0 else None)
        self._start_order(len(data))

    def batch_key(self, epoch: int, position: int) -> int:
        """The number every random draw of batch `position` in `epoch` (on this rank) is seeded from."""
        return ((self.seed * 1_000_003 + epoch) * 1_000_033 + position) * 8 + self.rank

    def degradation_generator(self, epoch: int, position: int) -> torch.Generator:
        """The generator of the degradation's draws for batch `position` in `epoch`: a stream apart from the crops'."""
        digest = hashlib.blake2b(f"{self.batch_key(epoch, position)}:degradation".encode(), digest_size=8).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest, "little") >> 1)

    def crop_params(self, index: Tensor, epoch: int, position: int) -> dict[str, Tensor]:
        """Top-left corners (multiples of the scale) of the extended crops and the flips of batch `position` in `epoch`."""
        g = torch.Generator().manual_seed(self.batch_key(epoch, position) % (2 ** 63))
        index = index.cpu()
        rows = (self.data.heights[index] - self.extent) // self.scale + 1  # choices per image
        cols = (self.data.widths[index] - self.extent) // self.scale + 1
        u = torch.rand(2, len(index), generator=g, dtype=torch.float64)
        flips = torch.rand(3, len(index), generator=g) < 0.5
        if not self.augment:
            flips = torch.zeros_like(flips)
        if self.texture is not None:  # more places, drawn after the flips so those stay as without texture selection
            u = torch.cat([u[:, None], torch.rand(2, TEXTURE_TRIES - 1, len(index), generator=g, dtype=torch.float64)], 1)
            rows, cols = rows[None], cols[None]
        top = (u[0] * rows).long().clamp_(max=rows - 1) * self.scale
        left = (u[1] * cols).long().clamp_(max=cols - 1) * self.scale
        if self.texture is not None:
            inset = MARGIN * self.scale
            energy = crop_texture(self.texture, index.expand_as(top), top + inset, left + inset, self.crop)
            ok = energy >= self.min_texture
            pick = torch.where(ok.any(0), ok.to(torch.uint8).argmax(0), energy.argmax(0))[None]
            top, left = top.gather(0, pick)[0], left.gather(0, pick)[0]
        return {"top": top, "left": left, "vflip": flips[0], "hflip": flips[1], "transpose": flips[2]}

    def cut(self, index: Tensor, params: dict[str, Tensor]) -> Tensor:
        """uint8 (B, C, E, E) extended crops of images `index` at `params`, in one gather from the flat store."""
        d, e, c = self.device, self.extent, self.data.channels
        p = {k: v.to(d) for k, v in params.items()}
        index = index.to(d)
        i = self._grid.view(1, e, 1).expand(len(index), e, e)
        j = self._grid.view(1, 1, e).expand(len(index), e, e)
        t = p["transpose"].view(-1, 1, 1)
        r, q = torch.where(t, j, i), torch.where(t, i, j)
        r = torch.where(p["vflip"].view(-1, 1, 1), e - 1 - r, r)
        q = torch.where(p["hflip"].view(-1, 1, 1), e - 1 - q, q)
        width = self.widths[index].view(-1, 1, 1)
        pixel = (p["top"].view(-1, 1, 1) + r) * width + p["left"].view(-1, 1, 1) + q
        flat = self.offsets[index].view(-1, 1, 1, 1) + pixel.unsqueeze(-1) * c + torch.arange(c, device=d)
        return self.store[flat].permute(0, 3, 1, 2)

    def make_pair(self, extended: Tensor, generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
        """(LR, HR) float [-1, 1] of uint8 extended crops: the HR centre and the centre of the extended crop's LR.

        With a degradation, the LR is the degradation of the HR centre, drawn from `generator`.
        """
        hr_ext = to_float(extended)
        m, s = MARGIN, self.scale
        hr = hr_ext[..., m * s:-m * s, m * s:-m * s]
        if self.degradation is not None:
            if generator is None:
                raise GanforgeError("A degraded pair needs the batch's generator; expected degradation_generator(epoch, position).")
            return self.degradation(hr, s, generator), hr
        lr = degrade(hr_ext, s)[..., m:-m, m:-m]
        return lr, hr

    def next(self) -> dict[str, Tensor]:
        """The next batch of (LR, HR) crops."""
        index = self._next_index()
        epoch, position = self.epoch, self.position - 1
        params = self.crop_params(index, epoch, position)
        generator = self.degradation_generator(epoch, position) if self.degradation is not None else None
        lr, hr = self.make_pair(self.cut(index, params), generator)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        return {"a": lr.contiguous(memory_format=fmt), "b": hr.contiguous(memory_format=fmt)}


def superres_from_tensor(images: Tensor, name: str = "images") -> SuperResData:
    """SuperResData of same-sized uint8 (N, C, H, W) images, e.g. an embedded dataset."""
    n, c, h, w = images.shape
    store = images.permute(0, 2, 3, 1).contiguous().view(-1)
    offsets = torch.arange(n, dtype=torch.int64) * (h * w * c)
    full = torch.full((n,), 1, dtype=torch.int64)
    return SuperResData(store, offsets, full * h, full * w, c, [f"{name}-{i}" for i in range(n)], name)
