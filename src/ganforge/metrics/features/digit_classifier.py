"""A small CNN classifier for 28-px grayscale images (MNIST, Fashion-MNIST) whose weights ship in the package.

Scoring MNIST-like samples with a classifier trained on the data itself, rather than with an
ImageNet network, follows common practice for MNIST (as in TF-GAN's MNIST score and Frechet
distance); the penultimate layer gives features for FD/KID/precision-recall and the logits give
the Inception Score and per-class accuracy of conditional samples.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import export
from ganforge.errors import GanforgeError

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: classifier name -> dataset it was trained on
CLASSIFIERS = {"digits": "mnist", "fashion": "fashion-mnist"}
INPUT_SIZE = 28
FEATURE_DIM = 128


class DigitClassifier(nn.Module):
    """Three conv blocks and two linear layers: 28-px grayscale in [-1, 1] -> 128-d features -> class logits."""

    def __init__(self, num_classes: int = 10, width: int = 16, feature_dim: int = FEATURE_DIM, dropout: float = 0.3):
        super().__init__()
        w1, w2, w3 = width, 2 * width, 3 * width
        self.body = nn.Sequential(
            nn.Conv2d(1, w1, 3, padding=1, bias=False), nn.BatchNorm2d(w1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(w1, w2, 3, padding=1, bias=False), nn.BatchNorm2d(w2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(w2, w3, 3, padding=1, bias=False), nn.BatchNorm2d(w3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.fc = nn.Linear(w3 * 3 * 3, feature_dim)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(feature_dim, num_classes)
        self.num_classes, self.num_features = num_classes, feature_dim

    def features(self, x: Tensor) -> Tensor:
        """Penultimate (post-ReLU) features of 28-px inputs, (N, feature_dim)."""
        return F.relu(self.fc(self.body(x).flatten(1)))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits of 28-px inputs, (N, num_classes)."""
        return self.head(self.dropout(self.features(x)))

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features, logits) in one pass."""
        feats = self.features(x)
        return feats, self.head(feats)


def to_classifier_input(images: Tensor) -> Tensor:
    """Images in [-1, 1] of any size and 1 or 3 channels -> (N, 1, 28, 28) float in [-1, 1]."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise GanforgeError(f"Images of shape {tuple(images.shape)} cannot be classified; expected (N, 1 or 3, H, W).")
    x = images.float()
    if x.shape[1] == 3:  # ITU-R 601 luma, as the grayscale conversion of PIL
        x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > INPUT_SIZE)
    return x.clamp(-1, 1)


def weights_path(name: str) -> Path:
    """The shipped weights file of classifier `name` ("digits" or "fashion")."""
    if name not in CLASSIFIERS:
        raise GanforgeError(f"Unknown classifier {name!r}; expected one of {', '.join(CLASSIFIERS)}.")
    return WEIGHTS_DIR / f"{name}.safetensors"


def weights_meta(name: str) -> dict:
    """The facts recorded beside classifier `name`'s weights (test accuracy, training recipe)."""
    path = weights_path(name).with_suffix(".json")
    if not path.is_file():
        raise GanforgeError(f"Classifier metadata {str(path)!r} is missing; expected it shipped with ganforge.")
    return json.loads(path.read_text())


def file_digest(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a file."""
    return export.file_digest(path)[:16]


@lru_cache(maxsize=4)
def _load_cpu(name: str) -> DigitClassifier:
    from safetensors.torch import load_file

    path = weights_path(name)
    if not path.is_file():
        raise GanforgeError(f"Classifier weights {str(path)!r} are missing; expected them shipped with ganforge "
                            f"(rebuild with scripts/train_digit_classifier.py --dataset {CLASSIFIERS[name]}).")
    state = load_file(str(path))
    model = DigitClassifier(num_classes=int(state["head.weight"].shape[0]), width=int(state["body.0.weight"].shape[0]),
                            feature_dim=int(state["fc.weight"].shape[0]))
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


def load_classifier(name: str = "digits", device: Optional[torch.device | str] = None) -> DigitClassifier:
    """The shipped classifier `name` ("digits": MNIST, "fashion": Fashion-MNIST), in eval mode."""
    model = _load_cpu(name)
    if device is not None and torch.device(device).type != "cpu":
        import copy

        model = copy.deepcopy(model).to(device)
    return model


@torch.no_grad()
def classify(images: Tensor, name: str = "digits", batch_size: int = 1000) -> Tensor:
    """Predicted class (int64, (N,)) of each image in [-1, 1] by the shipped classifier `name`."""
    model = load_classifier(name, images.device)
    out = [model(to_classifier_input(images[i:i + batch_size])).argmax(1) for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=images.device)
