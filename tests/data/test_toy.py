import math

import pytest
import torch

from ganforge.data.toy import MIXTURES, POINTS, PointSource, get_mixture, is_mixture
from ganforge.errors import GanforgeError


def test_pacgan_layouts():
    ring, grid = get_mixture("ring8"), get_mixture("grid25")
    assert ring.num_modes == 8 and ring.sigma == 0.01 and ring.dim == 2
    for i, (x, y) in enumerate(ring.means):
        assert x == pytest.approx(math.cos(2 * math.pi * i / 8)) and y == pytest.approx(math.sin(2 * math.pi * i / 8))
    assert grid.num_modes == 25 and grid.sigma == 0.05
    assert sorted({x for x, _ in grid.means}) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert set(grid.means) == {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert torch.allclose(ring.weight_tensor(), torch.full((8,), 1 / 8, dtype=torch.float64))
    assert get_mixture("gauss1d").dim == 1 and is_mixture("RING8") and not is_mixture("mnist")


def test_samples_sit_on_the_modes_with_the_layout_sigma():
    grid = get_mixture("grid25")
    x = grid.sample(20000, torch.Generator().manual_seed(0)).double()
    nearest = torch.cdist(x, grid.mean_tensor()).argmin(1)
    offsets = x - grid.mean_tensor()[nearest]
    assert offsets.std().item() == pytest.approx(0.05, rel=0.03)
    counts = torch.bincount(nearest, minlength=25).double()
    assert counts.min() > 0.8 * 800 and counts.max() < 1.2 * 800


def test_density_is_the_exact_mixture_density():
    mix = get_mixture("mix1d")
    x = torch.linspace(-4, 4, 8001)[:, None]
    p = mix.density(x)
    assert (p.sum() * 0.001).item() == pytest.approx(1.0, abs=1e-4)
    closed = sum(math.exp(-0.5 * (0.1 - m) ** 2 / 0.04) / math.sqrt(2 * math.pi * 0.04) for m in (-2, 0, 2)) / 3
    assert mix.density(torch.tensor([[0.1]], dtype=torch.float64)).item() == pytest.approx(closed, rel=1e-9)
    # convolving with N(0, h^2) widens every component
    wide = mix.density(torch.tensor([[0.0]]), extra_variance=0.05)
    assert wide.item() < p[4000].item()


def test_source_is_reproducible_and_resumes_exactly():
    mix = get_mixture("ring8")
    a = PointSource(mix, 32, seed=3, device=torch.device("cpu"))
    first = [a.next()[POINTS] for _ in range(3)]
    state = a.state_dict()
    fourth = a.next()[POINTS]
    b = PointSource(mix, 32, seed=3, device=torch.device("cpu"))
    b.load_state_dict(state)
    assert torch.equal(b.next()[POINTS], fourth)
    c = PointSource(mix, 32, seed=3, device=torch.device("cpu"))
    assert all(torch.equal(c.next()[POINTS], f) for f in first)
    other = PointSource(mix, 32, seed=4, device=torch.device("cpu"))
    assert not torch.equal(other.next()[POINTS], first[0])
    assert first[0].shape == (32, 2) and a.steps_per_epoch == 100_000 // 32
    assert a.info.mixture is mix and a.info.dim == 2


def test_bad_names_and_sizes_are_clear_errors():
    with pytest.raises(GanforgeError, match="ring8"):
        get_mixture("ring9")
    with pytest.raises(GanforgeError, match="Batch size"):
        PointSource(MIXTURES["ring8"], 0, 0, torch.device("cpu"))
