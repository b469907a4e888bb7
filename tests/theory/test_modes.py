import math

import pytest
import torch

from ganforge.data.toy import get_mixture
from ganforge.errors import GanforgeError
from ganforge.theory.modes import kl_to_uniform, point_modes, stacked_labels, stacked_modes


def test_samples_of_the_data_cover_every_mode_with_near_zero_kl():
    grid = get_mixture("grid25")
    samples = grid.sample(2500, torch.Generator().manual_seed(0))
    report = point_modes(samples, grid.mean_tensor(), grid.sigma)
    assert report.modes == 25 and report.num_modes == 25 and report.samples == 2500
    assert report.high_quality > 0.98  # P(|N(0, I_2)| < 3) = 1 - exp(-4.5) = 0.989
    assert report.reverse_kl < 0.02


def test_a_collapsed_generator_covers_one_mode():
    ring = get_mixture("ring8")
    samples = torch.tensor([[1.0, 0.0]]) + 0.005 * torch.randn(2500, 2)
    report = point_modes(samples, ring.mean_tensor(), ring.sigma)
    assert report.modes == 1 and report.high_quality == 1.0
    assert report.reverse_kl == pytest.approx(math.log(8))


def test_far_samples_are_low_quality_and_cover_nothing():
    ring = get_mixture("ring8")
    samples = torch.tensor([[1.0, 0.0]]) + torch.tensor([[0.031, 0.0]]) + torch.zeros(10, 2)  # just past 3 sigma
    report = point_modes(samples, ring.mean_tensor(), ring.sigma)
    assert report.modes == 0 and report.high_quality == 0.0 and math.isnan(report.reverse_kl)
    half = torch.cat([ring.mean_tensor()[:4].float(), torch.full((4, 2), 10.0)])
    mixed = point_modes(half, ring.mean_tensor(), ring.sigma)
    assert mixed.modes == 4 and mixed.high_quality == 0.5 and mixed.reverse_kl == pytest.approx(math.log(2))


def test_kl_to_uniform():
    assert kl_to_uniform(torch.tensor([5, 5, 5, 5]), 4) == pytest.approx(0.0)
    assert kl_to_uniform(torch.tensor([3, 1, 0, 0]), 4) == pytest.approx(0.75 * math.log(3) + 0.25 * math.log(1))
    with pytest.raises(GanforgeError, match="samples"):
        point_modes(torch.empty(0, 2), get_mixture("ring8").mean_tensor(), 0.01)


def test_stacked_labels_read_the_three_channels():
    images = torch.zeros(4, 3, 28, 28)
    images[:, 0] = torch.tensor([1.0, 2, 3, 4]).view(4, 1, 1)
    images[:, 1] = 5
    images[:, 2] = torch.tensor([0.0, 9, 9, 0]).view(4, 1, 1)

    def fake_classifier(channel):  # reads the digit written into the channel's pixels
        return channel[:, 0, 0, 0].long()

    assert stacked_labels(images, fake_classifier).tolist() == [150, 259, 359, 450]
    report = stacked_modes(images, fake_classifier)
    assert report.modes == 4 and report.num_modes == 1000 and report.reverse_kl == pytest.approx(math.log(250))
    with pytest.raises(GanforgeError, match="Stacked MNIST"):
        stacked_labels(torch.zeros(2, 1, 28, 28), fake_classifier)


def test_real_stacked_mnist_covers_most_modes_with_the_shipped_classifier():
    from ganforge.data import to_float
    from ganforge.data.stacked import load_stacked_mnist

    data = load_stacked_mnist("test")
    report = stacked_modes(to_float(data.images[:3000]))
    truth = torch.unique(data.labels[:3000]).numel()
    assert abs(report.modes - truth) <= 0.05 * truth  # the classifier errs on ~1% of digits per channel
    assert report.reverse_kl < 0.5
