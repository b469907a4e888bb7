"""benchmarks/superres_photos.py: the crops figure picks the windows where the two models differ most, one row each."""
import sys
from pathlib import Path

import numpy as np
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


def test_choose_export_keeps_the_detail_nearest_the_original_within_the_psnr_cost():
    rows = {"start": {"psnr_y": 30.0, "hf_ratio": 0.15}, "gan-1min": {"psnr_y": 29.5, "hf_ratio": 0.30},
            "gan-2min": {"psnr_y": 28.5, "hf_ratio": 0.90}, "gan-3min": {"psnr_y": 28.8, "hf_ratio": 1.05}}
    assert superres_photos.choose_export(rows, "start", 1.0) == "gan-1min"  # gan-2min and gan-3min cost more than 1 dB
    assert superres_photos.choose_export(rows, "start", 0.1) == "start"
    assert superres_photos.choose_export(rows, "start", 2.0) == "gan-3min"  # 1.05 over is nearer than 0.9 under
    rows["gan-3min"].update(psnr_y=29.2, hf_ratio=1.2)
    assert superres_photos.choose_export(rows, "start", 1.0) == "gan-3min"


def test_validation_crops_are_the_most_detailed_windows_written_once(tmp_path):
    image = torch.full((3, 64, 96), 128, dtype=torch.uint8)
    image[:, 32:64, 64:96] = torch.randint(0, 256, (3, 32, 32), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / "p.png")
    files = superres_photos.validation_crops([tmp_path / "p.png"], tmp_path / "crops", side=32, per_photo=2, min_texture=4.0)
    assert [f.name for f in files] == ["p-0.png"]  # the second window is flat
    assert torch.equal(torch.from_numpy(np.asarray(Image.open(files[0])).copy()).permute(2, 0, 1), image[:, 32:64, 64:96])
    stamp = files[0].stat().st_mtime_ns
    assert superres_photos.validation_crops([tmp_path / "p.png"], tmp_path / "crops", side=32, per_photo=2, min_texture=4.0) == files
    assert files[0].stat().st_mtime_ns == stamp


def test_a_gan_phase_with_eval_every_keeps_the_runs_own_choice_beside_its_end(tmp_path, monkeypatch):
    from tests.data.photo_folder import write_photos

    photos, val = write_photos(tmp_path / "photos", n=3, size=(64, 64)), tmp_path / "val"
    val.mkdir()
    for i in range(2):  # JPEG photographs with texture everywhere: every window passes the texture rule
        noise = np.random.default_rng(10 + i).integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(noise).save(val / f"v{i}.jpg", quality=95)
    tiny = ["--photos", *map(str, sorted(photos.iterdir())), "--out", str(tmp_path / "out"), "--scale", "2", "--blocks", "1",
            "--features", "8", "--growth", "4", "--crop", "16", "--d-width", "4", "--batch-size", "2"]
    monkeypatch.setattr(sys, "argv", ["superres_photos.py", "psnr", *tiny, "--steps", "2", "--marks", "1"])
    assert superres_photos.main() == 0
    monkeypatch.setattr(sys, "argv", ["superres_photos.py", "gan", *tiny, "--steps", "4", "--eval-every", "2", "--init",
                                      str(tmp_path / "out" / "psnr-1min"), "--val-photos", str(val), "--val-side", "32"])
    assert superres_photos.main() == 0
    import json
    gan = json.loads((tmp_path / "out" / "results.json").read_text())["gan"]
    assert [e["step"] for e in gan["evaluations"]] == [2, 4] and gan["best_step"] in (2, 4)
    assert gan["config"]["eval_data"] == str(tmp_path / "out" / "val-crops-32") and gan["config"]["steps"] == 4
    info = {name: json.loads((tmp_path / "out" / name / "config.json").read_text())["info"] for name in ("gan-best", "gan-end")}
    assert (info["gan-best"]["steps"], info["gan-end"]["steps"]) == (gan["best_step"], 4)
