"""Super-resolution players: ESRGAN's RRDB generator and two discriminators, plus tiled inference.

Generator (Wang et al. 2018, ESRGAN): a first convolution, a trunk of residual-in-residual dense
blocks (RRDB) without batch norm, residual scaling 0.2, a long skip over the trunk, then ×2 steps of
nearest-neighbour upsampling + convolution (or sub-pixel convolution, Shi et al. 2016) and two
output convolutions. With `image_skip` the network predicts a correction added to the upscaled
input — by default MATLAB's bicubic upscaling (`skip_upscale="bicubic"`, the papers' baseline), so an
untrained network starts at bicubic and training only has to add what bicubic misses; "bilinear" was
the earlier skip (on photos it starts 0.7 dB below bicubic). The skip makes small, short-trained
networks converge much faster; it reads 2 LR pixels around each place, well inside the trunk's
receptive field, so tiled inference stays exact.

Discriminators, both scoring HR images alone (unconditional): "vgg", the VGG-style stack of SRGAN /
ESRGAN (3x3 and 4x4 stride-2 convolutions, batch norm, leaky ReLU) ending in global average pooling
and a linear score per image (any input size); "unet", the U-Net with spectral normalisation of
Real-ESRGAN (Wang et al. 2021), one score per pixel. Both can return their intermediate features
for the discriminator feature-matching loss (Wang et al. 2018, pix2pixHD).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganforge.errors import GanforgeError
from ganforge.nn import Configurable
from ganforge.nn.bicubic import CubicUpscale

UPSAMPLES = ("nearest", "pixelshuffle")
SKIP_UPSCALES = ("bicubic", "bilinear")  #: how the image skip upscales the input
SCALES = (2, 4)
DISCRIMINATORS = ("unet", "vgg")


def scaled_kaiming_(module: nn.Module, scale: float = 0.1) -> None:
    """Kaiming-normal convolution weights times `scale` and zero biases (ESRGAN's initialisation for deep residual trunks)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data.mul_(scale)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class DenseBlock(nn.Module):
    """Five 3x3 convolutions, each fed every earlier output (Huang et al. 2017), leaky ReLU, output scaled by 0.2 onto the input."""

    def __init__(self, features: int, growth: int):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(features + i * growth, growth if i < 4 else features, 3, padding=1) for i in range(5))
        scaled_kaiming_(self)

    def forward(self, x: Tensor) -> Tensor:
        """x + 0.2 · dense(x)."""
        outs = [x]
        for i, conv in enumerate(self.convs):
            h = conv(torch.cat(outs, 1))
            if i < 4:
                outs.append(F.leaky_relu(h, 0.2))
        return x + 0.2 * h


class RRDB(nn.Module):
    """Residual in residual dense block: three dense blocks, their result scaled by 0.2 onto the input."""

    def __init__(self, features: int, growth: int):
        super().__init__()
        self.blocks = nn.Sequential(*(DenseBlock(features, growth) for _ in range(3)))

    def forward(self, x: Tensor) -> Tensor:
        """x + 0.2 · RDB(RDB(RDB(x)))."""
        return x + 0.2 * self.blocks(x)


class RRDBGenerator(Configurable):
    """ESRGAN G: LR (B, C, h, w) in [-1, 1] -> SR (B, C, h·scale, w·scale), fully convolutional, no batch norm.

    `blocks` RRDBs of `features` channels and `growth` channels per dense layer (paper: 23, 64, 32);
    ×`scale` (2 or 4) in ×2 steps of `upsample`: "nearest" (nearest + 3x3 conv, ESRGAN) or
    "pixelshuffle" (a 3x3 conv to 4× channels, then sub-pixel shuffle). With `image_skip` the output is
    a correction added to the `skip_upscale` ("bicubic" or "bilinear") upscaling of the input.
    """

    added_since = {"skip_upscale": "bilinear"}  # exports made before the option had a bilinear skip

    def __init__(self, channels: int = 3, features: int = 64, blocks: int = 23, growth: int = 32, scale: int = 4,
                 upsample: str = "nearest", image_skip: bool = True, skip_upscale: str = "bicubic"):
        super().__init__()
        if channels < 1 or features < 1 or blocks < 1 or growth < 1:
            raise GanforgeError(f"RRDBGenerator sizes channels={channels}, features={features}, blocks={blocks}, growth={growth} "
                                "are invalid; expected positive integers.")
        if scale not in SCALES:
            raise GanforgeError(f"Scale {scale!r} is not supported; expected one of {', '.join(map(str, SCALES))}.")
        if upsample not in UPSAMPLES:
            raise GanforgeError(f"Upsampling {upsample!r} is unknown; expected one of {', '.join(UPSAMPLES)}.")
        if skip_upscale not in SKIP_UPSCALES:
            raise GanforgeError(f"Skip upscaling {skip_upscale!r} is unknown; expected one of {', '.join(SKIP_UPSCALES)}.")
        self.channels, self.scale, self.upsample, self.image_skip = channels, scale, upsample, image_skip
        self.skip = CubicUpscale(channels, scale) if image_skip and skip_upscale == "bicubic" else None
        self.first = nn.Conv2d(channels, features, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(features, growth) for _ in range(blocks)))
        self.trunk_conv = nn.Conv2d(features, features, 3, padding=1)
        steps = {2: 1, 4: 2}[scale]
        width = features * 4 if upsample == "pixelshuffle" else features
        self.ups = nn.ModuleList(nn.Conv2d(features, width, 3, padding=1) for _ in range(steps))
        self.hr_conv = nn.Conv2d(features, features, 3, padding=1)
        self.last = nn.Conv2d(features, channels, 3, padding=1)
        if image_skip:  # start as the upsampled input: the correction begins near zero
            nn.init.normal_(self.last.weight, 0.0, 1e-3)
            nn.init.zeros_(self.last.bias)

    @property
    def receptive_radius(self) -> int:
        """LR pixels of context each output pixel depends on, on each side (an upper bound; tiles overlap by at least this)."""
        convs = 2 + 15 * len(self.trunk)  # first, trunk_conv, and 5 per dense block
        return convs + len(self.ups) + 2  # the HR convs, counted in LR pixels (rounded up)

    def forward(self, x: Tensor) -> Tensor:
        """SR images, unclamped (about [-1, 1])."""
        fea = self.first(x)
        h = fea + self.trunk_conv(self.trunk(fea))
        for conv in self.ups:
            if self.upsample == "nearest":
                h = F.leaky_relu(conv(F.interpolate(h, scale_factor=2, mode="nearest")), 0.2)
            else:
                h = F.leaky_relu(F.pixel_shuffle(conv(h), 2), 0.2)
        out = self.last(F.leaky_relu(self.hr_conv(h), 0.2))
        if self.skip is not None:
            out = out + self.skip(x)
        elif self.image_skip:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out


class VGGDiscriminator(Configurable):
    """SRGAN/ESRGAN's VGG-style D: pairs of 3x3 and 4x4 stride-2 convolutions (×2 channels per level), BN, leaky ReLU.

    `levels` halvings from `width` channels (at most 8·width); then global average pooling, a 100-unit
    layer and one raw score per image, so any input size works.
    """

    def __init__(self, channels: int = 3, width: int = 64, levels: int = 5):
        super().__init__()
        if channels < 1 or width < 1 or levels < 1:
            raise GanforgeError(f"VGGDiscriminator sizes channels={channels}, width={width}, levels={levels} are invalid; expected positive integers.")
        stages: list[nn.Module] = []
        c_in = channels
        for i in range(levels):
            c = width * min(2 ** i, 8)
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, 3, padding=1, bias=i == 0)]
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers += [nn.LeakyReLU(0.2), nn.Conv2d(c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
            stages.append(nn.Sequential(*layers))
            c_in = c
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Linear(c_in, 100), nn.LeakyReLU(0.2), nn.Linear(100, 1))

    def forward(self, x: Tensor, features: bool = False):
        """(B, 1) raw scores; with `features` also the list of each level's output (for feature matching)."""
        feats = []
        h = x
        for stage in self.stages:
            h = stage(h)
            feats.append(h)
        score = self.head(h.mean((2, 3)))
        return (score, feats) if features else score


class UNetDiscriminator(Configurable):
    """Real-ESRGAN's U-Net D with spectral norm: three 4x4 stride-2 downsamplings from `width` channels, three bilinear
    upsamplings with skip additions, two 3x3 convolutions and a (B, 1, H, W) map of raw per-pixel scores."""

    def __init__(self, channels: int = 3, width: int = 64):
        super().__init__()
        if channels < 1 or width < 1:
            raise GanforgeError(f"UNetDiscriminator sizes channels={channels}, width={width} are invalid; expected positive integers.")
        w = width
        self.size_multiple = 8
        self.conv0 = nn.Conv2d(channels, w, 3, padding=1)
        self.down = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, 4, stride=2, padding=1, bias=False))
                                  for a, b in ((w, 2 * w), (2 * w, 4 * w), (4 * w, 8 * w)))
        self.up = nn.ModuleList(spectral_norm(nn.Conv2d(a, b, 3, padding=1, bias=False))
                                for a, b in ((8 * w, 4 * w), (4 * w, 2 * w), (2 * w, w)))
        self.extra = nn.ModuleList(spectral_norm(nn.Conv2d(w, w, 3, padding=1, bias=False)) for _ in range(2))
        self.out = nn.Conv2d(w, 1, 3, padding=1)

    def forward(self, x: Tensor, features: bool = False):
        """(B, 1, H, W) raw scores; with `features` also the list of intermediate feature maps (for feature matching)."""
        if x.shape[-1] % 8 or x.shape[-2] % 8:
            raise GanforgeError(f"UNetDiscriminator input {tuple(x.shape[-2:])} is invalid; expected sides that are multiples of 8.")
        h = F.leaky_relu(self.conv0(x), 0.2)
        skips, feats = [h], []
        for conv in self.down:
            h = F.leaky_relu(conv(h), 0.2)
            skips.append(h)
            feats.append(h)
        for i, conv in enumerate(self.up):
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = F.leaky_relu(conv(h), 0.2) + skips[-2 - i]
            feats.append(h)
        for conv in self.extra:
            h = F.leaky_relu(conv(h), 0.2)
        score = self.out(h)
        return (score, feats) if features else score


def make_discriminator(kind: str, channels: int, width: int, crop: int) -> nn.Module:
    """The discriminator named `kind` ("unet" or "vgg") for `crop`-px HR crops of `channels` channels."""
    if kind == "unet":
        if crop % 8:
            raise GanforgeError(f"Crop {crop} does not suit the U-Net discriminator; expected a multiple of 8.")
        return UNetDiscriminator(channels, width)
    if kind == "vgg":
        levels = max(1, min(5, (crop // 4).bit_length() - 1))  # stop at 4x4 or larger
        return VGGDiscriminator(channels, width, levels)
    raise GanforgeError(f"Discriminator {kind!r} is unknown; expected one of {', '.join(DISCRIMINATORS)}.")


# --- tiled inference -------------------------------------------------------------------------------

def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of `tile` pixels covering `size` pixels, consecutive tiles overlapping by at least `overlap`."""
    if size <= tile:
        return [0]
    stride = max(1, tile - overlap)
    count = -(-(size - tile) // stride) + 1
    return [round(i * (size - tile) / (count - 1)) for i in range(count)]


def ramp_window(length: int, fade_in: int, fade_out: int) -> Tensor:
    """A 1-D window of `length`: 0, then a linear rise, then 1 over the first `fade_in` pixels (each part a quarter,
    a half, a quarter), 1 in the middle, and the mirror image over the last `fade_out` pixels.

    Two neighbours' windows over their shared pixels sum to one, and each tile's output is not used
    within a quarter of the overlap from its cut edge, where its context is missing.
    """
    def rise(n: int) -> Tensor:
        dead = n // 4
        ramp = n - 2 * dead
        t = (torch.arange(n, dtype=torch.float64) - dead + 0.5) / max(ramp, 1)
        return t.clamp_(0, 1)

    w = torch.ones(length, dtype=torch.float64)
    if fade_in > 0:
        w[:fade_in] = rise(fade_in)
    if fade_out > 0:
        w[length - fade_out:] = torch.minimum(w[length - fade_out:], rise(fade_out).flip(0))
    return w


def _windows(starts: list[int], tile: int, size: int, scale: int) -> list[Tensor]:
    """Per tile, its HR blending window along one axis: ramps where it overlaps a neighbour, flat at the image edges."""
    out = []
    for k, s in enumerate(starts):
        length = min(tile, size - s)
        fade_in = (starts[k - 1] + min(tile, size - starts[k - 1]) - s) if k > 0 else 0
        fade_out = (s + length - starts[k + 1]) if k + 1 < len(starts) else 0
        out.append(ramp_window(length * scale, fade_in * scale, fade_out * scale).float())
    return out


def tile_grid(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """(top, left) of each LR tile, row by row."""
    return [(y, x) for y in tile_starts(height, tile, overlap) for x in tile_starts(width, tile, overlap)]


@torch.no_grad()
def upscale_tiled(generator: nn.Module, lr: Tensor, scale: int, tile: int = 128, overlap: int = 16,
                  emit: Optional[Callable[[int, Tensor], None]] = None, progress: Optional[Callable[[int], None]] = None,
                  batch: int = 1) -> Optional[Tensor]:
    """SR of one float LR image (C, h, w) in [-1, 1] by overlapping `tile`-px tiles blended with linear ramps.

    Tiles of a row are run through `generator` (in batches of `batch`), each output weighted by a
    separable ramp over its overlaps with neighbours (see `ramp_window`), and summed; the weights are normalised at the
    end (their sum is the outer product of two 1-D sums). Rows of the output are finished band by
    band: with `emit`, each finished band (top row, float (C, rows, W·scale) clamped to [-1, 1]) is
    handed over and only one band is held; without, the whole output is returned. `progress(n)` is
    called after every n tiles.
    """
    if tile < 1 or overlap < 0 or overlap >= tile:
        raise GanforgeError(f"Tile {tile} with overlap {overlap} is invalid; expected tile >= 1 and 0 <= overlap < tile.")
    c, h, w = lr.shape
    device = next(iter(generator.parameters()), lr).device
    ys, xs = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    wy, wx = _windows(ys, tile, h, scale), _windows(xs, tile, w, scale)
    norm_y = torch.zeros(h * scale)
    norm_x = torch.zeros(w * scale)
    for s, win in zip(ys, wy):
        norm_y[s * scale:s * scale + len(win)] += win
    for s, win in zip(xs, wx):
        norm_x[s * scale:s * scale + len(win)] += win
    whole = None if emit is not None else torch.empty(c, h * scale, w * scale)
    band_top, band = 0, None  # output rows [band_top, band_top + band.shape[1]) are being summed
    for k, y in enumerate(ys):
        th = min(tile, h - y)
        top, bottom = y * scale, (y + th) * scale
        if band is None:
            band = torch.zeros(c, bottom - band_top, w * scale)
        elif bottom - band_top > band.shape[1]:
            band = torch.cat([band, torch.zeros(c, bottom - band_top - band.shape[1], w * scale)], 1)
        for start in range(0, len(xs), batch):
            group = xs[start:start + batch]
            tw = [min(tile, w - x) for x in group]
            pieces = [lr[:, y:y + th, x:x + t] for x, t in zip(group, tw)]
            if len(set(tw)) == 1:
                outs = generator(torch.stack(pieces).to(device)).float().cpu()
            else:
                outs = torch.cat([generator(p[None].to(device)).float().cpu() for p in pieces])
            for out, x, t, j in zip(outs, group, tw, range(start, start + len(group))):
                weight = wy[k][:, None] * wx[j][None, :]
                band[:, top - band_top:bottom - band_top, x * scale:(x + t) * scale] += out * weight
            if progress is not None:
                progress(len(group))
        done = ys[k + 1] * scale if k + 1 < len(ys) else h * scale  # rows no later tile touches
        finished = band[:, :done - band_top]
        finished = (finished / (norm_y[band_top:done, None] * norm_x[None, :])).clamp_(-1, 1)
        if emit is not None:
            emit(band_top, finished)
        else:
            whole[:, band_top:done] = finished
        band = band[:, done - band_top:].clone()
        band_top = done
    return whole

