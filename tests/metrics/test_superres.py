import math

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.export import save_players
from ganforge.metrics.scores.psnr_ssim import shave
from ganforge.metrics.superres import SharpestWithinPSNR, detail_distance, evaluate_superres, format_superres, high_frequency_energy, image_scores, modcrop
from ganforge.models.srgan import RRDBGenerator


def test_border_cut_sharpness_and_modcrop():
    x = torch.arange(36.0).view(1, 1, 6, 6)
    assert shave(x, 2).flatten().tolist() == [14.0, 15.0, 20.0, 21.0]
    with pytest.raises(GanforgeError, match="too small"):
        shave(x, 3)
    assert modcrop(torch.zeros(3, 10, 9), 4).shape == (3, 8, 8)
    image = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (3, 40, 40), dtype=np.uint8))
    same = image_scores(image, image, 4)
    assert same["psnr_y"] == math.inf and same["ssim_y"] == pytest.approx(1.0) and same["hf_ratio"] == pytest.approx(1.0)
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
    g = RRDBGenerator(3, 8, 1, 4, 2)  # freshly made: about the bicubic upscaling
    info = {"kind": "superres", "family": "srgan", "scale": 2, "channels": 3, "data": str(photos), "holdout_every": 4}
    save_players({"generator": g}, info, tmp_path / "model")
    kept = []
    scores = evaluate_superres(g.eval(), info, keep=lambda *args: kept.append(args))
    assert scores["n"] == 1 and scores["images"][0]["file"] == "3.png" and scores["border"] == 2
    assert kept[0][0] == "3.png" and kept[0][1].shape == (3, 48, 40) and kept[0][2].shape == (3, 24, 20)
    assert 10 < scores["bicubic"]["psnr_y"] < 60 and 0 < scores["model"]["ssim_y"] <= 1
    assert scores["bicubic"]["psnr_y"] == scores["images"][0]["bicubic"]["psnr_y"]
    assert scores["protocol"]["space"].startswith("BT.601 luma") and scores["protocol"]["border"] == 2
    table = format_superres(scores)
    assert "bicubic" in table and "model" in table and "border cut" in table
    with pytest.raises(GanforgeError, match="no held-out photographs"):
        evaluate_superres(g, {**info, "data": "mnist"})
    other = evaluate_superres(g.eval(), info, files=[photos / "0.png", photos / "1.png"])  # photos of another source
    assert [r["file"] for r in other["images"]] == ["0.png", "1.png"] and other["data"] == str(photos)
    assert abs(other["model"]["psnr_y"] - other["bicubic"]["psnr_y"]) < 0.5  # an untrained G is bicubic plus a tiny correction
    with pytest.raises(GanforgeError, match="No image files"):
        evaluate_superres(g, info, files=[])
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
    assert scores["images"][0]["file"] == "1.png" and set(scores["model"]) == {"psnr_y", "ssim_y", "hf_ratio"}


def test_the_sharpest_pick_stays_within_the_psnr_cost_of_the_best_so_far():
    rule = SharpestWithinPSNR(1.0)
    assert rule.consider(30.0, 0.15)  # the first score is the pick
    assert rule.consider(29.5, 0.30)  # 0.5 dB below the best, more detail
    assert not rule.consider(28.5, 0.90)  # more than 1 dB below
    assert not rule.consider(29.8, 0.20)  # within the cost, but less detail than the pick
    assert rule.consider(29.2, 1.20) and rule.pick == (29.2, 1.20)  # |log 1.2| < |log 0.3|: over by 20 % beats under by 70 %
    assert not rule.consider(float("nan"), 1.0) and not rule.consider(29.9, 0.0) and not rule.consider(29.9, float("inf"))
    # a newer best 0.5 dB up: the pick (29.2) is now 1.3 dB below it, so the newer best takes its place
    assert rule.consider(30.5, 0.10) and rule.pick == (30.5, 0.10) and rule.best_psnr == 30.5
    best_only = SharpestWithinPSNR(0.0)  # no cost allowed: the best Y-PSNR wins, whatever its detail
    assert [best_only.consider(p, h) for p, h in ((30.0, 0.1), (29.9, 1.0), (30.2, 0.05))] == [True, False, True]
    assert detail_distance(1.0) == 0.0 and detail_distance(0.0) == math.inf and detail_distance(2.0) == detail_distance(0.5)
