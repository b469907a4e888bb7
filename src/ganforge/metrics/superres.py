"""Scores of a super-resolution model on held-out images, beside bicubic upscaling: Y-PSNR, Y-SSIM, sharpness.

The papers' convention (SRGAN, ESRGAN and the benchmarks they report on): the LR input is MATLAB's
bicubic ``imresize`` of the HR image (its sides first cut to multiples of the scale), outputs are
rounded to 8 bits, and `psnr_y` and `ssim_y` are ganforge.metrics.scores.psnr_ssim's on the BT.601 luma Y
(peak 255) after cutting `scale` pixels off every border. One-channel models are scored on their single channel.

Sharpness: the high-frequency energy of an image is the mean square of its discrete Laplacian on Y;
`hf_ratio` is that of the output over that of the original (bicubic is below 1, a GAN nearer 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.dataset import to_float, to_uint8
from ganforge.data.superres import bicubic_upscale, degrade, load_images, split_files
from ganforge.errors import GanforgeError
from ganforge.metrics.scores.psnr_ssim import Y_PEAK, protocol, psnr, rgb_to_y, shave, ssim


def high_frequency_energy(y: Tensor) -> Tensor:
    """Per-image mean square of the 4-neighbour Laplacian of (N, 1, H, W) float images (valid positions)."""
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64, device=y.device).view(1, 1, 3, 3)
    return F.conv2d(y.double(), k).square().flatten(1).mean(1)


def detail_distance(hf_ratio: float) -> float:
    """|log HF ratio|: how far an output's high-frequency energy lies from the original's (0: the same; inf: none, or NaN)."""
    return abs(math.log(hf_ratio)) if hf_ratio > 0 else math.inf


@dataclass
class SharpestWithinPSNR:
    """The pick among super-resolution scores seen one after another: detail nearest the original's (least
    `detail_distance`) among the scores within `max_psnr_cost` dB of the best Y-PSNR seen so far.

    SRGAN's and ESRGAN's trade, decided on validation images: a little PSNR for realistic detail. With
    `max_psnr_cost` 0 the pick is the best Y-PSNR. A pick that ends more than `max_psnr_cost` below a
    newer best gives way to that newer score (an earlier one that would still qualify is not revisited).
    """

    max_psnr_cost: float = 1.0
    best_psnr: float = -math.inf  #: the best Y-PSNR seen so far
    pick: Optional[tuple[float, float]] = None  #: (Y-PSNR, HF ratio) of the current pick

    def consider(self, psnr_y: float, hf_ratio: float) -> bool:
        """Take one more score; True when it becomes the pick."""
        if not (math.isfinite(psnr_y) and math.isfinite(hf_ratio) and hf_ratio > 0):
            return False
        self.best_psnr = max(self.best_psnr, psnr_y)
        floor = self.best_psnr - self.max_psnr_cost
        if psnr_y < floor:
            return False
        if self.pick is None or self.pick[0] < floor or detail_distance(hf_ratio) < detail_distance(self.pick[1]):
            self.pick = (psnr_y, hf_ratio)
            return True
        return False


def image_scores(output: Tensor, original: Tensor, scale: int) -> dict[str, float]:
    """{"psnr_y", "ssim_y", "hf_ratio"} of one uint8 (C, H, W) output against its uint8 original, on Y with a `scale`-px border cut."""
    if output.shape != original.shape:
        raise GanforgeError(f"Output {tuple(output.shape)} and original {tuple(original.shape)} differ in shape; expected the same.")
    y_out, y_ref = shave(rgb_to_y(output[None]), scale), shave(rgb_to_y(original[None]), scale)
    return {"psnr_y": float(psnr(y_out, y_ref, Y_PEAK)[0]), "ssim_y": float(ssim(y_out, y_ref, Y_PEAK)[0]),
            "hf_ratio": float(high_frequency_energy(y_out)[0] / high_frequency_energy(y_ref)[0])}


def modcrop(image: Tensor, scale: int) -> Tensor:
    """The (C, H, W) image cut at the bottom and right to sides that are multiples of `scale` (MATLAB's modcrop)."""
    h, w = image.shape[-2:]
    return image[..., :h - h % scale, :w - w % scale]


def center_crop(image: Tensor, side: Optional[int]) -> Tensor:
    """The central `side` x `side` part of a (C, H, W) image (all of it when smaller or `side` is None)."""
    if side is None:
        return image
    h, w = image.shape[-2:]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    return image[..., top:top + side, left:left + side]


@torch.no_grad()
def superres_triplet(generator: nn.Module, original: Tensor, scale: int, tile: int = 128, overlap: int = 16,
                     device: str | torch.device = "cpu") -> tuple[Tensor, Tensor, Tensor]:
    """(LR, bicubic, model output) uint8 for a uint8 (C, H, W) original with sides multiple of `scale`."""
    from ganforge.models.srgan import upscale_tiled

    lr = degrade(to_float(original[None]), scale)[0]
    bicubic = to_uint8(bicubic_upscale(lr[None], scale)[0])
    generator = generator.to(device).eval()
    out = upscale_tiled(generator, lr, scale, tile, overlap)
    return to_uint8(lr), bicubic, to_uint8(out)


def held_out_images(info: dict[str, Any], data: Optional[str] = None) -> tuple[list[Path], str]:
    """(files, folder) of the held-out images of the model's data (or of the folder `data`)."""
    spec = data or info.get("data")
    if not spec or str(spec).strip().lower() in ("mnist", "fashion-mnist"):
        raise GanforgeError(f"Data {spec!r} has no held-out photographs to score on; expected --data FOLDER of images.")
    root = Path(str(spec)).expanduser()
    _, test = split_files(root, int(info.get("holdout_every", 4)))
    if not test:
        raise GanforgeError(f"Folder {str(root)!r} has no held-out images; expected a test/ sub-folder or more files.")
    return test, str(root)


def evaluate_superres(generator: nn.Module, info: dict[str, Any], data: Optional[str] = None, n: Optional[int] = None,
                      crop: Optional[int] = None, tile: int = 128, overlap: int = 16, device: str | torch.device = "cpu",
                      keep: Optional[Callable[[str, Tensor, Tensor, Tensor, Tensor], None]] = None,
                      files: Optional[list[Path]] = None) -> dict[str, Any]:
    """Score the model and bicubic upscaling on held-out images (optionally their central `crop` px); per image and mean.

    The images are the model's held-out files (or those of the folder `data`), or the image `files` given
    (e.g. photos of another source). `keep(name, original, lr, bicubic, output)` is called with each
    image's uint8 tensors (for figures).
    """
    scale = int(info.get("scale") or 0)
    if scale < 2:
        raise GanforgeError(f"Model info has scale {info.get('scale')!r}; expected a super-resolution model (scale 2 or 4).")
    if files is not None and not files:
        raise GanforgeError("No image files were given to score on; expected at least one.")
    files, folder = (list(files), str(Path(files[0]).parent)) if files else held_out_images(info, data)
    files = files if n is None else files[:max(1, n)]
    channels = int(info.get("channels", 3))
    per_image = []
    for path in files:
        original = modcrop(center_crop(load_images([path], channels).image(0), crop), scale).contiguous()
        lr, bicubic, output = superres_triplet(generator, original, scale, tile, overlap, device)
        row = {"file": path.name, "size": [int(original.shape[2]), int(original.shape[1])],
               "bicubic": image_scores(bicubic, original, scale), "model": image_scores(output, original, scale)}
        per_image.append(row)
        if keep is not None:
            keep(path.name, original, lr, bicubic, output)
    means = {method: {key: sum(r[method][key] for r in per_image) / len(per_image) for key in ("psnr_y", "ssim_y", "hf_ratio")}
             for method in ("bicubic", "model")}
    return {"data": folder, "split": "held-out", "n": len(per_image), "scale": scale, "crop": crop, "border": scale,
            "protocol": protocol("y", scale), "images": per_image, **means}


def format_superres(scores: dict[str, Any]) -> str:
    """A table: bicubic and the model, Y-PSNR, Y-SSIM and the high-frequency energy ratio, then what was scored."""
    lines = [f"{'method':<10} {'Y-PSNR dB':>10} {'Y-SSIM':>8} {'HF ratio':>9}"]
    for method in ("bicubic", "model"):
        s = scores[method]
        lines.append(f"{method:<10} {s['psnr_y']:>10.2f} {s['ssim_y']:>8.4f} {s['hf_ratio']:>9.3f}")
    gain = scores["model"]["psnr_y"] - scores["bicubic"]["psnr_y"]
    where = f"central {scores['crop']} px of " if scores.get("crop") else ""
    lines.append(f"model - bicubic: {gain:+.2f} dB; x{scores['scale']}, Y of BT.601, {scores['border']}-px border cut, "
                 f"{where}{scores['n']} held-out image(s) of {scores['data']}")
    return "\n".join(lines)
