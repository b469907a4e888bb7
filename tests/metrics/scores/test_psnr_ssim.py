"""PSNR and SSIM of the one convention: hand values, a plain loop, the two spaces and their protocol."""
import math

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.scores.psnr_ssim import protocol, psnr, psnr_rgb, rgb_to_y, ssim, ssim_rgb


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


def test_ssim_of_colour_images_is_the_mean_of_their_channels():
    rng = np.random.default_rng(1)
    x = torch.from_numpy(rng.integers(0, 256, (2, 3, 16, 14)).astype(np.float64))
    y = (x + torch.from_numpy(rng.normal(0, 30, x.shape))).clamp(0, 255)
    per_channel = torch.stack([ssim(x[:, c:c + 1], y[:, c:c + 1]) for c in range(3)], 1).mean(1)
    assert ssim(x, y).tolist() == pytest.approx(per_channel.tolist(), abs=1e-6)
    with pytest.raises(GanforgeError, match="smaller than the 11-px SSIM window"):
        ssim(x[..., :10, :10], y[..., :10, :10])
    with pytest.raises(GanforgeError, match="differ in shape"):
        ssim(x, y[:1])


def test_rgb_scores_read_images_in_minus_one_to_one_on_a_unit_scale():
    target = torch.zeros(2, 3, 16, 16)
    output = target + 0.1  # 0.05 on [0, 1]: MSE 0.0025 in every image
    assert psnr_rgb(output, target) == pytest.approx(10 * math.log10(1 / 0.0025), rel=1e-6)
    assert psnr_rgb(target, target) == math.inf and ssim_rgb(target, target) == pytest.approx(1.0)
    mu_x, mu_y, c1 = 0.55, 0.5, 0.01 ** 2  # constant images: only the luminance term
    assert ssim_rgb(output, target) == pytest.approx((2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1), rel=1e-6)
    mixed = torch.cat([target[:1] + 0.1, target[1:] + 0.2])  # MSE 0.0025 and 0.01 on [0, 1]
    per_image = (10 * math.log10(1 / 0.0025) + 10 * math.log10(1 / 0.01)) / 2
    pooled = 10 * math.log10(1 / ((0.0025 + 0.01) / 2))
    assert psnr_rgb(mixed, target) == pytest.approx(per_image, rel=1e-6) and abs(per_image - pooled) > 0.5
    with pytest.raises(GanforgeError, match="differ in shape"):
        psnr_rgb(output, target[:1])


def test_protocol_names_the_space_and_refuses_others():
    assert protocol("y", 4) == {"space": "BT.601 luma Y, 16..235", "data_range": 255.0,
                                "ssim": "Wang et al. 2004, Gaussian window 11 px, sigma 1.5, valid positions",
                                "border": 4, "average": "per image, then the mean over images"}
    assert protocol("rgb")["data_range"] == 1.0 and protocol("rgb")["border"] == 0
    with pytest.raises(GanforgeError, match="'lab'"):
        protocol("lab")
