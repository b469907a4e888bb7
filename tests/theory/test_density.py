import math

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.theory.density import gaussian_density, gaussian_kde, optimal_discriminator, plane_grid, scott_bandwidth


def test_optimal_discriminator_of_two_known_gaussians_is_a_sigmoid():
    x = torch.linspace(-5, 5, 201, dtype=torch.float64)
    p_data, p_g = gaussian_density(x, 0.0, 1.0), gaussian_density(x, 1.0, 1.0)
    d_star = optimal_discriminator(p_data, p_g)
    # p/(p+q) with q/p = exp(x - 1/2)
    assert torch.allclose(d_star, torch.sigmoid(0.5 - x), atol=1e-12)
    same = optimal_discriminator(p_data, p_data)
    assert torch.allclose(same, torch.full_like(same, 0.5))
    assert optimal_discriminator(torch.zeros(3), torch.zeros(3)).tolist() == [0.5, 0.5, 0.5]


def test_kde_matches_the_density_it_estimates():
    samples = torch.randn(40000, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    points = torch.linspace(-3, 3, 61)[:, None]
    h = 0.2
    estimate = gaussian_kde(samples, points, bandwidth=h)
    expected = gaussian_density(points[:, 0], 0.0, math.sqrt(1 + h * h))  # E[KDE] = p convolved with the kernel
    assert (estimate - expected).abs().max() < 0.01
    assert (estimate - gaussian_density(points[:, 0], 0.0, 1.0)).abs().max() < 0.02


def test_kde_in_two_dimensions_and_scott_rule():
    samples = torch.randn(20000, 2, generator=torch.Generator().manual_seed(1))
    h = scott_bandwidth(samples)
    assert h == pytest.approx(20000 ** (-1 / 6), rel=0.03)
    at_zero = gaussian_kde(samples, torch.zeros(1, 2), bandwidth=0.2)
    assert at_zero.item() == pytest.approx(1 / (2 * math.pi * 1.04), rel=0.05)
    grid = plane_grid(-1, 1, 5)
    assert grid.shape == (25, 2) and grid[1].tolist() == [-0.5, -1.0]
    with pytest.raises(GanforgeError, match="dimension"):
        gaussian_kde(samples, torch.zeros(1, 3))
    with pytest.raises(GanforgeError, match="Bandwidth"):
        gaussian_kde(samples, torch.zeros(1, 2), bandwidth=0.0)
