"""The memorisation check: nearest training images of samples against those of held-out images."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.scores.memorisation import memorisation, nearest, nearest_grid


def sets(seed=0):
    g = torch.Generator().manual_seed(seed)
    train = torch.rand(50, 3, 8, 8, generator=g) * 2 - 1
    held_out = torch.rand(20, 3, 8, 8, generator=g) * 2 - 1
    samples = torch.rand(10, 3, 8, 8, generator=g) * 2 - 1
    return train, held_out, samples


def test_a_planted_copy_is_found_and_flagged():
    train, held_out, samples = sets()
    samples[3] = train[17]
    samples[7] = train[42] + 0.001
    result = memorisation(samples, train, held_out)
    pixels = result["pixels"]
    assert pixels["index"][3] == 17 and pixels["index"][7] == 42
    assert pixels["distance"][3] == 0.0 and pixels["distance"][7] < 0.02
    flagged = pixels["distance"] < pixels["threshold"]
    assert flagged[3] and flagged[7] and result["summary"]["pixels"]["copies"] >= 0.2  # both planted copies flagged
    others = torch.ones(10, dtype=torch.bool)
    others[[3, 7]] = False
    assert pixels["distance"][others].min() > 100 * pixels["distance"][7]
    assert len(pixels["held_out_distance"]) == 20


def test_a_copying_model_has_a_ratio_far_below_one_and_new_images_about_one():
    train, held_out, samples = sets()
    copies = train[:10] + 0.01 * torch.randn(10, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    assert memorisation(copies, train, held_out)["summary"]["pixels"]["ratio"] < 0.1
    fresh = memorisation(samples, train, held_out)["summary"]["pixels"]
    assert 0.8 < fresh["ratio"] < 1.2 and fresh["copies"] < 0.2


def test_feature_space_and_the_grid():
    train, held_out, samples = sets()
    samples[0] = train[5]
    result = memorisation(samples, train, held_out, features=lambda x: x.mean(dim=(2, 3)))
    assert result["features"]["index"][0] == 5 and "features" in result["summary"]
    grid = nearest_grid(samples[:4], train)
    assert grid.shape == (8, 3, 8, 8)
    assert torch.equal(grid[0], samples[0]) and torch.equal(grid[1], train[5])


def test_nearest_is_euclidean():
    d, i = nearest(torch.tensor([[0.0, 0.0], [3.0, 4.0]]), torch.tensor([[3.0, 0.0], [3.0, 5.0]]))
    assert i.tolist() == [0, 1] and d.tolist() == pytest.approx([3.0, 1.0])


def test_mismatched_sets_are_one_sentence_errors():
    train, held_out, samples = sets()
    with pytest.raises(GanforgeError, match="cannot be compared"):
        memorisation(samples[:, :1], train, held_out)
    with pytest.raises(GanforgeError, match="at least 2 held-out"):
        memorisation(samples, train, held_out[:1])
