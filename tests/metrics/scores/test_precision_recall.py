"""Improved precision and recall on hand-made point clouds."""
import pytest
import torch

from ganforge.metrics.scores.precision_recall import knn_radii, precision_recall


def _cloud(n, centre, scale=1.0, seed=0, dim=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g) * scale + torch.tensor(centre, dtype=torch.float32)


def test_knn_radius_excludes_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert knn_radii(points, k=1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(points, k=2).tolist() == [3.0, 2.0, 3.0, 6.0]


def test_same_distribution_gives_high_precision_and_recall():
    p, r = precision_recall(_cloud(500, [0, 0], seed=1), _cloud(500, [0, 0], seed=2))
    assert p > 0.85 and r > 0.85


def test_disjoint_clouds_give_zero():
    assert precision_recall(_cloud(300, [0, 0]), _cloud(300, [100, 100], seed=3)) == (0.0, 0.0)


def test_mode_collapse_keeps_precision_and_loses_recall():
    real = torch.cat([_cloud(250, [0, 0], 0.5, 1), _cloud(250, [10, 0], 0.5, 2)])
    fake = _cloud(500, [0, 0], 0.5, 3)  # only one of the two modes
    p, r = precision_recall(real, fake)
    assert p > 0.85
    assert r == pytest.approx(0.5, abs=0.08)


def test_spread_out_fakes_lose_precision_and_keep_recall():
    real = _cloud(500, [0, 0], 1.0, 1)
    fake = torch.cat([_cloud(250, [0, 0], 1.0, 2), _cloud(250, [30, 30], 1.0, 3)])  # half are off the manifold
    p, r = precision_recall(real, fake)
    assert p == pytest.approx(0.5, abs=0.08)
    assert r > 0.85


def test_chunking_does_not_change_the_result():
    from ganforge.metrics.scores.precision_recall import coverage_by_manifold

    real, fake = _cloud(300, [0] * 5, seed=4, dim=5), _cloud(300, [0.5] * 5, seed=5, dim=5)
    radii = knn_radii(real, 3, chunk=7)
    assert torch.allclose(radii, knn_radii(real, 3, chunk=1000))
    assert coverage_by_manifold(real, radii, fake, chunk=13) == coverage_by_manifold(real, radii, fake, chunk=1000)


def test_hand_built_case():
    # real 0, 1, 3, 7 with k = 1: radii 1, 1, 2, 4 (balls [-1, 1], [0, 2], [1, 5], [3, 11])
    # fake 0.5, 4, 11.5, 20: 0.5 and 4 are inside, 11.5 and 20 are not -> precision 1/2
    # fake radii (k = 1): 3.5, 3.5, 7.5, 8.5; every real point is within one of them -> recall 1
    real = torch.tensor([[0.0], [1.0], [3.0], [7.0]], dtype=torch.float64)
    fake = torch.tensor([[0.5], [4.0], [11.5], [20.0]], dtype=torch.float64)
    assert precision_recall(real, fake, k=1) == (0.5, 1.0)
    assert precision_recall(real + 1e4, fake + 1e4, k=1) == (0.5, 1.0)
    assert precision_recall(fake, real, k=1) == (1.0, 0.5)  # the roles swap


def test_a_common_offset_leaves_the_result_unchanged():
    g = torch.Generator().manual_seed(6)
    real = torch.randn(400, 16, generator=g, dtype=torch.float64)
    fake = torch.randn(400, 16, generator=g, dtype=torch.float64) * 1.2 + 0.3
    base = precision_recall(real, fake)
    assert 0.2 < base[0] < 1 and 0.2 < base[1] < 1  # neither trivial: a change would show
    assert precision_recall(real + 1e4, fake + 1e4) == base
    offset = torch.linspace(-1e4, 1e4, 16, dtype=torch.float64)  # a different offset per feature
    assert precision_recall(real + offset, fake + offset) == base
