"""MS-SSIM diversity of random sample pairs (ganforge.metrics.scores.ms_ssim)."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.scores.ms_ssim import BETAS, betas_for, ms_ssim, pairwise_ms_ssim, scales_for


def test_scales_fit_the_image_size():
    assert scales_for(64) == 3 and scales_for(176) == 5 and scales_for(32) == 2 and scales_for(16) == 1
    assert betas_for(5) == BETAS
    assert sum(betas_for(3)) == pytest.approx(1.0)
    assert betas_for(3)[0] / betas_for(3)[1] == pytest.approx(BETAS[0] / BETAS[1])


def test_against_pytorch_msssim_as_reference():
    """Five scales at 176 px against an independent implementation (pytorch-msssim), within 2e-3."""
    reference = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 176, 176, generator=g)
    y = (x + 0.3 * torch.rand(4, 3, 176, 176, generator=g)).clamp(0, 1)
    ours = ms_ssim(x * 2 - 1, y * 2 - 1)
    theirs = reference.ms_ssim(x, y, data_range=1.0, size_average=False)
    torch.testing.assert_close(ours, theirs, atol=2e-3, rtol=0)
    assert 0.9 < float(ours.mean()) < 0.99


def test_identical_images_score_one_and_a_collapsed_set_scores_higher_than_a_diverse_one():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(3, 3, 64, 64, generator=g) * 2 - 1
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(3))
    diverse = torch.nn.functional.interpolate(torch.rand(40, 3, 8, 8, generator=g) * 2 - 1, size=64, mode="bilinear")
    collapsed = diverse[:1].repeat(40, 1, 1, 1) + 0.05 * torch.randn(40, 3, 64, 64, generator=g)
    d, c = pairwise_ms_ssim(diverse, pairs=100), pairwise_ms_ssim(collapsed, pairs=100)
    assert c["mean"] > 0.8 > d["mean"]
    assert d["scales"] == 3 and d["pairs"] == 100
    assert pairwise_ms_ssim(diverse, pairs=100, seed=3) == pairwise_ms_ssim(diverse, pairs=100, seed=3)


def test_bad_inputs_are_one_sentence_errors():
    with pytest.raises(GanforgeError, match="at least 2 images"):
        pairwise_ms_ssim(torch.zeros(1, 3, 64, 64))
    with pytest.raises(GanforgeError, match="too small"):
        ms_ssim(torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8))
    with pytest.raises(GanforgeError, match="cannot be compared"):
        ms_ssim(torch.zeros(2, 3, 64, 64), torch.zeros(3, 3, 64, 64))
