"""Fréchet distance: closed forms, sample estimates, agreement with torchmetrics."""
import numpy as np
import pytest
import torch

from ganforge.metrics.scores.frechet import GaussianStats, frechet_distance, frechet_distance_features, gaussian_stats


def _rotation(dim, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(dim, dim)))
    return q


def test_commuting_gaussians_match_closed_form():
    dim = 6
    q = _rotation(dim, 0)
    a, b = np.linspace(0.5, 3.0, dim), np.linspace(2.0, 0.1, dim)
    mu1, mu2 = np.arange(dim, dtype=float), np.arange(dim, dtype=float)[::-1] * 0.5
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_general_gaussians_match_sqrtm_formula():
    import scipy.linalg

    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(8, 8)), rng.normal(size=(8, 8))
    s1, s2 = x @ x.T + 0.1 * np.eye(8), y @ y.T + 0.1 * np.eye(8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_one_dimensional_closed_form():
    # (m1 - m2)^2 + (sd1 - sd2)^2 for univariate Gaussians
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == pytest.approx(9 + 1)


def test_sample_estimate_approaches_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 4, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 4, generator=g, dtype=torch.float64) * 2 + 1
    expected = 4 * 1.0 + 4 * (1 - 2) ** 2  # |mu|^2 + sum (1 - 2)^2
    assert frechet_distance_features(a, b) == pytest.approx(expected, rel=0.03)


def test_identical_sets_give_zero_even_when_rank_deficient():
    feats = torch.randn(10, 32)  # fewer vectors than dimensions: singular covariance
    assert frechet_distance_features(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_streamed_stats_equal_one_shot_stats():
    feats = torch.randn(1000, 5, dtype=torch.float64) * 3 + 2
    stats = GaussianStats(5)
    for chunk in feats.split(128):
        stats.update(chunk)
    mean, cov = stats.mean_cov()
    np.testing.assert_allclose(mean, feats.mean(0).numpy(), rtol=1e-10)
    np.testing.assert_allclose(cov, np.cov(feats.numpy(), rowvar=False), rtol=1e-8)
    m2, c2 = gaussian_stats(feats)
    np.testing.assert_allclose(c2, cov, rtol=1e-10)


def test_agrees_with_torchmetrics_fid_on_the_same_features():
    from torchmetrics.image.fid import FrechetInceptionDistance

    class Identity(torch.nn.Module):
        num_features = 16

        def forward(self, x):
            return x

    g = torch.Generator().manual_seed(0)
    a = torch.randn(500, 16, generator=g)
    b = torch.randn(500, 16, generator=g) @ torch.randn(16, 16, generator=g) * 0.5 + 0.3
    reference = FrechetInceptionDistance(feature=Identity(), normalize=False)
    reference.update(a, real=True)
    reference.update(b, real=False)
    assert frechet_distance_features(a, b) == pytest.approx(float(reference.compute()), rel=1e-5)


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def _two_point_design(mu, s):
    """All 2^d sign patterns mu ± s: sample mean exactly mu, unbiased covariance exactly diag(s²) · 2^d / (2^d − 1)."""
    d = len(mu)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T
    return np.asarray(mu, np.float64) + signs * np.asarray(s, np.float64)


def test_diagonal_gaussians_match_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([3.0, 1.0, 2.0])
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = 9 + 0 + 16 + (1 - 2) ** 2 + (2 - 1) ** 2 + (3 - 0.5) ** 2  # |Δμ|² + Σ (√a − √b)²
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_features_with_known_moments_match_closed_form_at_any_offset():
    mu1, s1 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 2.0, 3.0])
    mu2, s2 = np.array([3.0, 1.0, 2.0]), np.array([2.0, 1.0, 0.5])
    a, b = _two_point_design(mu1, s1), _two_point_design(mu2, s2)
    expected = np.sum((mu1 - mu2) ** 2) + 8 / 7 * np.sum((s1 - s2) ** 2)
    assert frechet_distance_features(a, b) == pytest.approx(expected, rel=1e-12)
    for offset in (1e3, 1e6):
        assert frechet_distance_features(a + offset, b + offset) == pytest.approx(expected, rel=1e-6)


def test_a_large_common_offset_leaves_fd_unchanged():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(2000, 8))
    b = rng.normal(size=(2000, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 0.2
    base = frechet_distance_features(a, b)
    shifted = frechet_distance_features(a + 1e6, b + 1e6)  # Σxxᵀ − nμμᵀ was off by ~4 % here
    assert shifted == pytest.approx(base, rel=1e-6)
    streamed = GaussianStats(8)
    for chunk in np.array_split(a + 1e6, 7):
        streamed.update(chunk)
    mean, cov = streamed.mean_cov()
    np.testing.assert_allclose(cov, np.cov(a, rowvar=False), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(mean - 1e6, a.mean(0), atol=1e-8)


def test_fd_is_symmetric_in_its_arguments():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(300, 16))
    b = rng.normal(size=(12, 16)) * 2 + 1  # fewer vectors than dimensions: a singular covariance on one side
    assert frechet_distance_features(a, b) == frechet_distance_features(b, a)
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    assert frechet_distance(mu1, s1, mu2, s2) == frechet_distance(mu2, s2, mu1, s1)


def test_streamed_stats_refuse_features_of_another_size():
    with pytest.raises(ValueError, match="dimension 4"):
        GaussianStats(4).update(np.zeros((3, 5)))
