"""ProGAN's sliced Wasserstein distance over Laplacian-pyramid patches (ganforge.metrics.scores.swd)."""
import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.metrics.scores.swd import descriptors, laplacian_pyramid, level_sizes, normalise, pyr_down, pyr_up, sliced_wasserstein

FAST = {"patches": 32, "directions": 128, "repeats": 2}


def smooth_images(n=24, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(n, 3, 8, 8, generator=g) * 2 - 1, size=size, mode="bilinear", align_corners=False)


def test_the_pyramid_has_the_progan_levels_and_reconstructs_the_image():
    x = smooth_images(n=2, size=64)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == level_sizes(64) == [64, 32, 16]
    rebuilt = levels[-1]
    for band in reversed(levels[:-1]):
        rebuilt = pyr_up(rebuilt) + band
    torch.testing.assert_close(rebuilt, x, atol=1e-5, rtol=0)
    torch.testing.assert_close(pyr_down(torch.full((1, 3, 8, 8), 0.3)), torch.full((1, 3, 4, 4), 0.3))


def test_descriptors_are_7x7_neighbourhoods_normalised_per_channel():
    level = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    d = descriptors(level, 5, torch.Generator().manual_seed(0))
    assert d.shape == (10, 49, 3)
    first = d[0, :, 0].view(7, 7)
    assert torch.all(first[:, 1:] - first[:, :-1] == 1) and torch.all(first[1:] - first[:-1] == 10)  # a real patch of channel 0
    flat = normalise(d).view(10, 49, 3)
    torch.testing.assert_close(flat.mean(dim=(0, 1)), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(flat.std(dim=(0, 1)), torch.ones(3), atol=1e-5, rtol=0)


def test_identical_sets_score_zero_and_the_score_grows_with_a_known_distortion():
    a = smooth_images()
    same = sliced_wasserstein(a, a.clone(), **FAST)
    assert same["average"] == 0.0 and set(same["levels"]) == {32, 16}
    noise = torch.randn(a.shape, generator=torch.Generator().manual_seed(1))
    scores = [sliced_wasserstein(a, a + s * noise, **FAST)["average"] for s in (0.02, 0.1, 0.4)]
    assert 0 < scores[0] < scores[1] < scores[2]
    # noise is fine detail: the finest level moves more than the coarsest
    levels = sliced_wasserstein(a, a + 0.1 * noise, **FAST)["levels"]
    assert levels[32] > levels[16]


def test_a_blur_shows_in_the_finest_band():
    a = smooth_images(size=32) + 0.2 * torch.randn(24, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    blurred = F.avg_pool2d(F.pad(a, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    levels = sliced_wasserstein(a, blurred, **FAST)["levels"]
    assert levels[32] > 2 * levels[16]


def test_bad_inputs_are_one_sentence_errors():
    with pytest.raises(GanforgeError, match="cannot be compared"):
        sliced_wasserstein(torch.zeros(4, 3, 32, 32), torch.zeros(4, 1, 32, 32))
    with pytest.raises(GanforgeError, match="too small"):
        sliced_wasserstein(torch.zeros(4, 3, 4, 4), torch.zeros(4, 3, 4, 4))
