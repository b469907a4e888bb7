import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data.embedded import load_mnist
from ganforge.data.stacked import STACKED_CLASSES, load_stacked_mnist, stack_digits
from ganforge.errors import GanforgeError


def test_each_channel_is_a_real_digit_and_the_label_reads_the_three():
    mnist = load_mnist("test")
    images, labels = stack_digits(mnist.images[:500], mnist.labels[:500], 200, seed=1)
    assert images.shape == (200, 3, 28, 28) and images.dtype == torch.uint8
    flat = mnist.images[:500, 0].flatten(1)
    for i in range(0, 200, 17):
        digits = []
        for c in range(3):
            match = (flat == images[i, c].flatten()).all(dim=1).nonzero()
            assert len(match) >= 1  # the channel is one of the MNIST images
            digits.append(int(mnist.labels[match[0, 0]]))
        assert int(labels[i]) == 100 * digits[0] + 10 * digits[1] + digits[2]
    assert labels.min() >= 0 and labels.max() <= 999


def test_the_builtin_dataset_has_1000_classes_and_is_fixed():
    data = load_stacked_mnist("test")
    assert len(data) == 10000 and data.images.shape[1:] == (3, 28, 28)
    assert data.num_classes == 1000 and data.class_names == STACKED_CLASSES and data.class_names[123] == "123"
    assert len(torch.unique(data.labels)) > 950  # 10,000 draws over 1,000 modes
    again = load_dataset("stacked-mnist", split="test", image_size=32)
    assert again.images.shape[1:] == (3, 32, 32) and torch.equal(again.labels, data.labels)


def test_one_channel_is_refused():
    with pytest.raises(GanforgeError, match="stacked-mnist"):
        load_dataset("stacked-mnist", channels=1, split="test")
