"""Kernel Inception Distance: unbiased, seeded, agrees with the definition."""
import pytest
import torch

from ganforge.metrics.kid import kernel_inception_distance


def test_identical_sets_give_about_zero():
    feats = torch.randn(4000, 16)
    mean, std = kernel_inception_distance(feats, feats.clone(), subsets=10, subset_size=1000)
    shifted, _ = kernel_inception_distance(feats, feats + 0.25, subsets=10, subset_size=1000)
    # points drawn on both sides meet themselves, a small negative bias of order 1/subset_size
    assert abs(mean) < 0.005
    assert shifted > 20 * abs(mean)
    assert std >= 0


def test_two_samples_of_one_distribution_give_about_zero_and_shifted_ones_more():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1000, 8, generator=g), torch.randn(1000, 8, generator=g)
    same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=500)
    shifted, _ = kernel_inception_distance(a, b + 1.0, subsets=20, subset_size=500)
    assert abs(same) < 0.01
    assert shifted > 0.1


def test_unbiased_estimate_matches_direct_formula_on_one_full_subset():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(50, 4, generator=g, dtype=torch.float64), torch.randn(50, 4, generator=g, dtype=torch.float64) + 0.5
    k = lambda a, b: (a @ b.T / 4 + 1) ** 3  # noqa: E731
    m = 50
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    expected = ((kxx.sum() - kxx.trace()) + (kyy.sum() - kyy.trace())) / (m * (m - 1)) - 2 * kxy.mean()
    mean, std = kernel_inception_distance(x, y, subsets=3, subset_size=50)  # the whole set each time
    assert mean == pytest.approx(float(expected), rel=1e-9)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_seeded_and_capped_subset_size():
    a, b = torch.randn(120, 8), torch.randn(90, 8) + 0.2
    assert kernel_inception_distance(a, b, subsets=5, seed=3) == kernel_inception_distance(a, b, subsets=5, seed=3)
    assert kernel_inception_distance(a, b, subsets=5, seed=3) != kernel_inception_distance(a, b, subsets=5, seed=4)
