"""The shipped MNIST and Fashion-MNIST classifiers: small, accurate, usable on any image size."""
import pytest
import torch

from ganforge.data import load_dataset
from ganforge.data.dataset import to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.features.digit_classifier import classify, load_classifier, weights_meta, weights_path
from ganforge.metrics.features.extractors import get_extractor


@pytest.fixture(scope="module")
def mnist_test():
    data = load_dataset("mnist", split="test")
    return data.subset(torch.arange(2000))


def test_weights_ship_small_with_their_measured_accuracy():
    path = weights_path("digits")
    assert path.is_file() and path.stat().st_size < 1_000_000
    meta = weights_meta("digits")
    assert meta["dataset"] == "mnist" and meta["test_images"] == 10000
    assert meta["test_accuracy"] >= 0.99


def test_classify_recognises_mnist_test_digits(mnist_test):
    predicted = classify(to_float(mnist_test.images))
    assert predicted.dtype == torch.int64 and predicted.shape == (2000,)
    assert (predicted == mnist_test.labels).float().mean() >= 0.985


def test_other_sizes_and_rgb_are_resized_and_converted(mnist_test):
    big = load_dataset("mnist", split="test", image_size=32, channels=3).subset(torch.arange(2000))
    assert big.images.shape[1:] == (3, 32, 32)
    accuracy = (classify(to_float(big.images)) == big.labels).float().mean()
    assert accuracy >= 0.97


def test_extractor_gives_features_and_logits(mnist_test):
    fx = get_extractor("auto", data="MNIST")
    feats, logits = fx.extract(to_float(mnist_test.images[:8]))
    assert fx.name == "digits" and fx.num_features == 128 and fx.num_classes == 10
    assert feats.shape == (8, 128) and logits.shape == (8, 10)
    assert torch.equal(logits.argmax(1), classify(to_float(mnist_test.images[:8])))
    assert not load_classifier("digits").training


def test_bad_inputs_are_refused():
    with pytest.raises(GanforgeError, match="expected one of"):
        load_classifier("cifar")
    with pytest.raises(GanforgeError, match="expected"):
        classify(torch.zeros(2, 2, 28, 28))


def test_fashion_classifier_when_its_data_is_installed():
    if not weights_path("fashion").is_file():
        pytest.skip("no Fashion-MNIST classifier in this build")
    meta = weights_meta("fashion")
    assert meta["dataset"] == "fashion-mnist" and meta["test_accuracy"] >= 0.88
    try:
        data = load_dataset("fashion-mnist", split="test")
    except GanforgeError:
        pytest.skip("Fashion-MNIST is not installed")
    data = data.subset(torch.arange(1000))
    assert get_extractor("auto", data="fashion-mnist").name == "fashion"
    assert (classify(to_float(data.images), "fashion") == data.labels).float().mean() >= 0.85
