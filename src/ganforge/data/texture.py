"""How much texture a training crop holds: its mean absolute luma gradient, from a summed-area table per image.

Texture of a crop = mean over its pixels of |Y(x+1, y) − Y(x, y)| + |Y(x, y+1) − Y(x, y)|, Y being the
BT.601 luma 0.299 R + 0.587 G + 0.114 B on the 0–255 scale (a one-channel image is its own Y). A flat
sky or an out-of-focus background scores below 1–2 levels; grass, bark, fabric and text 5–30. The
gradients are summed in `block`-px squares (the super-resolution scale, the grid crops are placed on)
and integrated once per image, so the texture of any crop on that grid is four look-ups.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

LUMA = (0.299, 0.587, 0.114)  #: BT.601 weights of R, G, B
CHUNK = 1 << 24  #: pixels of equal-sized images turned into gradients at a time


@dataclass
class TextureTable:
    """Summed-area tables of block gradient sums: image i's table is sums[offsets[i]:…] as (rows[i], cols[i]), float64."""

    sums: Tensor
    offsets: Tensor
    rows: Tensor
    cols: Tensor
    block: int


def _block_gradients(images: Tensor, block: int) -> Tensor:
    """(N, H // block, W // block) sums of the gradient magnitude of uint8 (N, H, W, C) images (float32 within a block, then float64)."""
    x = images.float()
    y = x[..., 0] if x.shape[-1] == 1 else x @ torch.tensor(LUMA)
    g = torch.zeros_like(y)
    g[:, :, :-1] += (y[:, :, 1:] - y[:, :, :-1]).abs()
    g[:, :-1, :] += (y[:, 1:, :] - y[:, :-1, :]).abs()
    n, h, w = g.shape
    hb, wb = h // block, w // block
    g = g[:, :hb * block, :wb * block].reshape(n, hb, block, wb, block)
    return g.sum((2, 4)).double()


def _integral(blocks: Tensor) -> Tensor:
    """(N, hb + 1, wb + 1) summed-area tables, a zero first row and column."""
    n, hb, wb = blocks.shape
    table = torch.zeros(n, hb + 1, wb + 1, dtype=torch.float64)
    table[:, 1:, 1:] = blocks.cumsum(1).cumsum(2)
    return table


def image_texture(images: Tensor) -> Tensor:
    """(N,) mean absolute luma gradient (levels per pixel) of whole uint8 (N, H, W, C) images."""
    n, h, w, _ = images.shape
    return _block_gradients(images, 1).flatten(1).sum(1) / (h * w)


def texture_table(store: Tensor, offsets: Tensor, heights: Tensor, widths: Tensor, channels: int, block: int) -> TextureTable:
    """The TextureTable of images kept in a flat uint8 (H, W, C)-ordered `store` (see data.superres.SuperResData)."""
    n = len(offsets)
    rows, cols = heights // block + 1, widths // block + 1
    sizes = rows * cols
    starts = torch.cat([torch.zeros(1, dtype=torch.int64), sizes.cumsum(0)[:-1]])
    sums = torch.empty(int(sizes.sum()), dtype=torch.float64)
    store = store.cpu()
    if n and bool((heights == heights[0]).all() and (widths == widths[0]).all()):  # one size: whole chunks at a time
        h, w = int(heights[0]), int(widths[0])
        per = max(1, CHUNK // (h * w))
        first = int(offsets[0])
        for i in range(0, n, per):
            k = min(per, n - i)
            images = store[first + i * h * w * channels:first + (i + k) * h * w * channels].view(k, h, w, channels)
            sums[int(starts[i]):int(starts[i]) + k * int(sizes[0])] = _integral(_block_gradients(images, block)).flatten()
    else:
        for i in range(n):
            h, w, start = int(heights[i]), int(widths[i]), int(offsets[i])
            image = store[start:start + h * w * channels].view(1, h, w, channels)
            sums[int(starts[i]):int(starts[i] + sizes[i])] = _integral(_block_gradients(image, block)).flatten()
    return TextureTable(sums, starts, rows, cols, block)


def crop_texture(table: TextureTable, index: Tensor, top: Tensor, left: Tensor, side: int) -> Tensor:
    """Mean absolute luma gradient (levels per pixel) of the `side`-px crops at (top, left) of images `index` (any equal shapes).

    `top`, `left` and `side` must be multiples of the table's block.
    """
    b = table.block
    r0, c0, r1, c1 = top // b, left // b, (top + side) // b, (left + side) // b
    base, cols = table.offsets[index], table.cols[index]

    def at(r: Tensor, c: Tensor) -> Tensor:
        return table.sums[base + r * cols + c]

    return (at(r1, c1) - at(r0, c1) - at(r1, c0) + at(r0, c0)) / (side * side)
