"""benchmarks/superres_photos.py: the crops figure picks the windows where the two models differ most, one row each."""
import sys
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import superres_photos  # noqa: E402


def photo(value: int, patch_at=None) -> torch.Tensor:
    image = torch.full((3, 64, 64), value, dtype=torch.uint8)
    if patch_at is not None:
        top, left = patch_at
        image[:, top:top + 16, left:left + 16] = 255
    return image


def test_crops_figure_has_a_title_line_and_one_row_per_photo_at_the_largest_difference(tmp_path):
    psnr = {name: {"bicubic": photo(10), "model": photo(20), "original": photo(30)} for name in ("a.png", "b.png", "c.png")}
    gan = {"a.png": {"model": photo(20, (32, 16))}, "b.png": {"model": photo(20)}, "c.png": {"model": photo(20, (0, 48))}}
    out = superres_photos.figure(psnr, gan, side=16, rows=2, path=tmp_path / "crops.png")
    assert [(w["photo"], w["top"], w["left"]) for w in out["windows"]] == [("c.png", 0, 48), ("a.png", 32, 16)]
    sheet = Image.open(tmp_path / "crops.png")
    assert sheet.size == (4 * 16 + 3 * 3, 14 + 2 * (14 + 16 + 3))
    # the GAN tile of the first row is the white patch, the PSNR tile beside it is not
    y = 14 + 14 + 8
    assert sheet.getpixel((2 * (16 + 3) + 8, y)) == (255, 255, 255) and sheet.getpixel((16 + 3 + 8, y)) == (20, 20, 20)
