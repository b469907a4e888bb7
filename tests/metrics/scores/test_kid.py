"""Kernel Inception Distance: unbiased, seeded, agrees with the definition and hand-computed values."""
import subprocess
import sys

import pytest
import torch

from ganforge.metrics.scores.kid import kernel_inception_distance, kid_subset_size, mmd2_unbiased, polynomial_kernel


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


def test_polynomial_kernel_by_hand():
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    y = torch.tensor([[2.0, 2.0], [0.0, 0.0]], dtype=torch.float64)
    # (x·y / 2 + 1)^3: x1·y1 = 4 -> 27, x1·y2 = 0 -> 1, x2·y1 = 4 -> 27, x2·y2 = 0 -> 1
    assert polynomial_kernel(x, y).tolist() == [[27.0, 1.0], [27.0, 1.0]]


@pytest.mark.parametrize("x,y,expected", [
    # d = 1: k = (xy + 1)^3. Off-diagonal k(0, 1) = 1 and k(0, 2) = 1; cross terms 1, 1, 1, 27 (mean 7.5): 1 + 1 - 15
    ([[0.0], [1.0]], [[0.0], [2.0]], -13.0),
    # d = 2: off-diagonal k = 1 on both sides; cross terms 27, 1, 27, 1 (mean 14): 1 + 1 - 28
    ([[2.0, 0.0], [0.0, 2.0]], [[2.0, 2.0], [0.0, 0.0]], -26.0),
    # d = 1, three points each: x = 0, 1, 2 and y = 0, 0, 0. Off-diagonal x: k(0,1)=1, k(0,2)=1, k(1,2)=27 -> mean 29/3;
    # y: all 1; cross: all 1. 29/3 + 1 - 2 = 26/3
    ([[0.0], [1.0], [2.0]], [[0.0], [0.0], [0.0]], 26.0 / 3),
])
def test_unbiased_mmd_matches_hand_values(x, y, expected):
    x, y = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    assert float(mmd2_unbiased(x, y)) == pytest.approx(expected, rel=1e-12)
    assert float(mmd2_unbiased(y, x)) == pytest.approx(expected, rel=1e-12)  # symmetric


def test_kid_over_full_subsets_is_the_hand_value_with_zero_spread():
    x = torch.tensor([[0.0], [1.0], [2.0]])
    y = torch.zeros(3, 1)
    mean, std = kernel_inception_distance(x, y, subsets=4, subset_size=1000)  # capped at 3: every subset is the whole set
    assert mean == pytest.approx(26.0 / 3, rel=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_subset_size_is_capped_by_the_smaller_set():
    assert kid_subset_size(1000, 5000, 300) == 300
    assert kid_subset_size(1000, 200, 5000) == 200
    assert kid_subset_size(1000, 5000, 5000) == 1000


def test_mismatched_or_too_small_sets_are_refused():
    with pytest.raises(ValueError, match="do not match"):
        kernel_inception_distance(torch.zeros(5, 3), torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least two"):
        kernel_inception_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="equal-size"):
        mmd2_unbiased(torch.zeros(3, 2), torch.zeros(4, 2))


def test_kid_does_not_import_torchmetrics():
    # torchmetrics.image.kid needs torchvision when torch-fidelity is installed beside it; KID must not depend on it
    code = ("import sys, torch; from ganforge.metrics.scores.kid import kernel_inception_distance; "
            "kernel_inception_distance(torch.randn(20, 4), torch.randn(20, 4), subsets=2); "
            "print(any(m.startswith('torchmetrics') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
