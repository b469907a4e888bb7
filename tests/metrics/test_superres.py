import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.export import save_players
from ganforge.metrics.superres import evaluate_superres, format_superres, high_frequency_energy, image_scores, modcrop, psnr, rgb_to_y, shave, ssim
from ganforge.models.srgan import RRDBGenerator


def test_luma_is_matlab_rgb2ycbcr_y():
    pixels = torch.tensor([[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=torch.uint8)
    y = rgb_to_y(pixels.T.reshape(1, 3, 5, 1)).flatten().tolist()
    assert y == pytest.approx([16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], abs=1e-3)
    gray = torch.full((1, 1, 2, 2), 7.0)
    assert torch.equal(rgb_to_y(gray), gray)


def test_psnr_against_hand_values():
    a = torch.zeros(2, 1, 4, 4)
    b = a.clone()
    b[0] += 1.0  # MSE 1 -> 10·log10(255²) = 48.1308 dB
    b[1, 0, 0, 0] = 16.0  # MSE 256 / 16 = 16 -> 10·log10(255² / 16)
    assert psnr(b, a).tolist() == pytest.approx([48.1308, 10 * math.log10(255 ** 2 / 16)], abs=1e-4)


def reference_ssim(x, y, peak=255.0):
    """SSIM of Wang et al. 2004 over the valid positions of an 11x11 Gaussian window (σ 1.5), written out plainly."""
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    h, wd = x.shape
    values = []
    for i in range(h - 10):
        for j in range(wd - 10):
            px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cov = (w * (px - mx) * (py - my)).sum()
            values.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


def test_ssim_against_hand_values():
    # constant images: only the luminance term is left, (2ab + C1) / (a² + b² + C1)
    a, b = torch.full((1, 1, 16, 16), 100.0), torch.full((1, 1, 16, 16), 120.0)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b).item() == pytest.approx((2 * 100 * 120 + c1) / (100 ** 2 + 120 ** 2 + c1), abs=1e-6)
    assert ssim(a, a).item() == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 23)).astype(np.float64)
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255)
    ours = ssim(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None]).item()
    assert ours == pytest.approx(reference_ssim(x, y), abs=1e-6)
    from torchmetrics.functional.image import structural_similarity_index_measure

    padded = structural_similarity_index_measure(torch.from_numpy(x)[None, None], torch.from_numpy(y)[None, None], data_range=255.0)
    assert abs(padded.item() - ours) > 1e-3  # why torchmetrics' SSIM is not used: it averages over a reflection-padded image


def test_border_cut_sharpness_and_modcrop():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    assert shave(x, 2).flatten().tolist() == [14.0, 15.0, 20.0, 21.0]
    with pytest.raises(GanforgeError, match="too small"):
        shave(x, 3)
    assert modcrop(torch.zeros(3, 10, 9), 4).shape == (3, 8, 8)
    image = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (3, 40, 40), dtype=np.uint8))
    same = image_scores(image, image, 4)
    assert same["psnr"] == math.inf and same["ssim"] == pytest.approx(1.0) and same["hf_ratio"] == pytest.approx(1.0)
    blurred = torch.nn.functional.avg_pool2d(image[None].float(), 3, 1, 1)[0].round().to(torch.uint8)
    assert image_scores(blurred, image, 4)["hf_ratio"] < 0.5
    ramp = torch.arange(10.0).view(1, 1, 1, 10).expand(1, 1, 5, 10)
    assert high_frequency_energy(ramp).item() == pytest.approx(0.0)  # a linear ramp has no second derivative


def test_evaluation_puts_bicubic_and_the_model_in_one_table(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        base = np.random.default_rng(i).integers(0, 256, (12, 10, 3), dtype=np.uint8)
        Image.fromarray(base).resize((40, 48), Image.BICUBIC).save(photos / f"{i}.png")
    g = RRDBGenerator(3, 8, 1, 4, 2)  # freshly made: about the bilinear upscaling
    info = {"kind": "superres", "family": "srgan", "scale": 2, "channels": 3, "data": str(photos), "holdout_every": 4}
    save_players({"generator": g}, info, tmp_path / "model")
    kept = []
    scores = evaluate_superres(g.eval(), info, keep=lambda *args: kept.append(args))
    assert scores["n"] == 1 and scores["images"][0]["file"] == "3.png" and scores["border"] == 2
    assert kept[0][0] == "3.png" and kept[0][1].shape == (3, 48, 40) and kept[0][2].shape == (3, 24, 20)
    assert 10 < scores["bicubic"]["psnr"] < 60 and 0 < scores["model"]["ssim"] <= 1
    assert scores["bicubic"]["psnr"] == scores["images"][0]["bicubic"]["psnr"]
    table = format_superres(scores)
    assert "bicubic" in table and "model" in table and "border cut" in table
    with pytest.raises(GanforgeError, match="no held-out photographs"):
        evaluate_superres(g, {**info, "data": "mnist"})
    with pytest.raises(GanforgeError, match="scale"):
        evaluate_superres(g, {**info, "scale": None})


def test_ganforge_eval_on_an_srgan_export_prints_the_table_and_writes_json(tmp_path, capsys):
    import json

    from ganforge.cli import main

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (12, 10, 3), dtype=np.uint8)).resize((40, 48)).save(photos / f"{i}.png")
    info = {"kind": "superres", "family": "srgan", "scale": 2, "channels": 3, "data": str(photos), "holdout_every": 2}
    save_players({"generator": RRDBGenerator(3, 8, 1, 4, 2)}, info, tmp_path / "model")
    assert main(["eval", str(tmp_path / "model"), "--json", str(tmp_path / "scores.json")]) == 0
    out = capsys.readouterr().out
    assert "bicubic" in out and "Y-PSNR" in out and "1 held-out image(s)" in out
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["images"][0]["file"] == "1.png" and set(scores["model"]) == {"psnr", "ssim", "hf_ratio"}
