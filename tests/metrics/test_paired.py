import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.paired import evaluate_paired, format_paired, paired_scores
from ganforge.tools.eval import EvalOptions, eval_paired


def test_identical_images_score_perfectly():
    x = torch.rand(3, 3, 16, 16) * 2 - 1
    scores = paired_scores(x, x)
    assert scores["l1"] == 0 and scores["ssim_rgb"] == pytest.approx(1.0)
    assert math.isinf(scores["psnr_rgb"]) or scores["psnr_rgb"] > 100


def test_scores_against_hand_values():
    target = torch.zeros(2, 1, 16, 16)
    output = target + 0.1  # 0.05 in [0, 1] units: MSE 0.0025 -> PSNR 10·log10(1 / 0.0025)
    scores = paired_scores(output, target)
    assert scores["l1"] == pytest.approx(0.1)
    assert scores["psnr_rgb"] == pytest.approx(10 * math.log10(1 / 0.0025), rel=1e-4)
    # SSIM of constant images: only the luminance term, (2·μx·μy + C1) / (μx² + μy² + C1) with C1 = 0.01²
    mu_x, mu_y, c1 = 0.55, 0.5, 0.01 ** 2
    assert scores["ssim_rgb"] == pytest.approx((2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1), rel=1e-4)
    noisy = paired_scores(torch.rand(2, 1, 16, 16) * 2 - 1, target)
    assert noisy["ssim_rgb"] < scores["ssim_rgb"] and noisy["psnr_rgb"] < scores["psnr_rgb"]
    with pytest.raises(GanforgeError, match="differ in shape"):
        paired_scores(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 4, 4))


def test_ssim_does_not_bring_in_torchvision():
    import subprocess
    import sys

    code = ("import sys, torch\nfrom ganforge.metrics.paired import paired_scores\n"
            "paired_scores(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 16))\n"
            "print(any(m.startswith('torchvision') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


class Identity(nn.Module):
    def forward(self, x):
        return x


class Blank(nn.Module):
    def forward(self, x):
        return torch.full_like(x, -1.0)


def write_pairs(root, n=3):
    for split in ("train", "test"):
        for i in range(n):
            pixels = np.random.default_rng(i).integers(0, 256, (16, 16), dtype=np.uint8)
            for side in ("A", "B"):
                path = root / f"{split}{side}" / f"{i}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(path)
    return root


def test_evaluates_held_out_pairs_of_a_folder(tmp_path):
    data = write_pairs(tmp_path / "pairs")
    info = {"channels": 1, "in_channels": 1, "image_size": 16, "data": str(data), "family": "pix2pix"}
    scores = evaluate_paired(Identity(), info)  # B is a copy of A here
    assert scores["split"] == "test" and scores["n"] == 3 and scores["l1"] == 0
    assert "label_agreement" not in scores
    assert evaluate_paired(Identity(), info, n=2, split="train")["n"] == 2
    with pytest.raises(GanforgeError, match="channel"):
        evaluate_paired(Identity(), {**info, "channels": 3})


def test_mnist_edges_adds_digit_scores_and_the_command_prints_them(tmp_path, capsys):
    info = {"channels": 1, "in_channels": 1, "image_size": 28, "data": "mnist-edges", "family": "pix2pix"}
    blank = evaluate_paired(Blank(), info, n=300)
    assert {"label_agreement", "classifier_accuracy_on_targets", "fd", "fd_inputs"} <= set(blank)
    assert blank["classifier_accuracy_on_targets"] > 0.95 and blank["label_agreement"] < 0.3
    options = EvalOptions(model="unused", n=300, batch_size=100, json=str(tmp_path / "s.json"))
    scores, out = eval_paired(Blank(), info, options)
    assert "PSNR" in out and "digit classifier agrees" in out and "300 (test split of mnist-edges)" in out
    assert scores["n"] == 300 and scores["protocol"]["space"] == "RGB (all channels), [0, 1]"
    assert "SSIM" in format_paired(blank)
