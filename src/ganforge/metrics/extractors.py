"""Feature extractors behind one small interface: images in [-1, 1] -> (features, logits)."""
from __future__ import annotations

import os
from typing import Callable, Optional, Union

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

EXTRACTORS = ("auto", "digits", "fashion", "inception")
#: dataset spec -> the classifier trained on it
DATASET_CLASSIFIERS = {"mnist": "digits", "fashion-mnist": "fashion"}


class FeatureExtractor:
    """A frozen network with its preprocessing: `extract(images)` -> (features (N, d), logits (N, K)).

    `name` and `digest` (a hash of the weights) identify it in cached reference statistics.
    """

    def __init__(self, name: str, network: nn.Module, preprocess: Callable[[Tensor], Tensor], digest: str):
        self.name, self.network, self.preprocess, self.digest = name, network.eval().requires_grad_(False), preprocess, digest
        self.num_features = int(network.num_features)
        self.num_classes = int(network.num_classes)

    @property
    def device(self) -> torch.device:
        """Where the network's weights are."""
        return next(self.network.parameters()).device

    def to(self, device: Optional[torch.device | str]) -> FeatureExtractor:
        """Move the network to `device` (None: stay) and return self."""
        if device is not None:
            self.network = self.network.to(device)
        return self

    @torch.no_grad()
    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(features float32 (N, d), logits float32 (N, K)) of images in [-1, 1], on the extractor's device."""
        x = self.preprocess(images.to(self.device, non_blocking=True))
        feats, logits = self.network.extract(x)
        return feats.float(), logits.float()

    def __repr__(self) -> str:
        return f"FeatureExtractor({self.name!r}, {self.num_features}-d, {self.num_classes} classes, weights {self.digest})"


def normalise_data_name(data: Optional[str]) -> Optional[str]:
    """'MNIST', 'fashion_mnist' -> 'mnist', 'fashion-mnist'; folder paths are left alone."""
    if data is None:
        return None
    key = str(data).strip().lower().replace("_", "-")
    if key in ("fashionmnist", "fashion"):
        key = "fashion-mnist"
    return key if key in DATASET_CLASSIFIERS else str(data)


def classifier_extractor(name: str, device: Optional[torch.device | str] = None) -> FeatureExtractor:
    """The shipped digit ("digits") or Fashion-MNIST ("fashion") classifier as an extractor."""
    from ganforge.metrics.digit_classifier import file_digest, load_classifier, to_classifier_input, weights_path

    network = load_classifier(name, device)
    return FeatureExtractor(name, network, to_classifier_input, file_digest(weights_path(name)))


def inception_extractor(weights: Optional[str] = None, device: Optional[torch.device | str] = None) -> FeatureExtractor:
    """The FID InceptionV3 with the user's weights (path, else $GANFORGE_INCEPTION_WEIGHTS) as an extractor."""
    from ganforge.metrics.digit_classifier import file_digest
    from ganforge.metrics.inception import inception_weights_file, load_inception, to_inception_input

    network = load_inception(weights)
    return FeatureExtractor("inception", network, to_inception_input, file_digest(inception_weights_file(weights))).to(device)


def get_extractor(extractor: Union[str, FeatureExtractor] = "auto", data: Optional[str] = None,
                  inception_weights: Optional[str] = None, device: Optional[torch.device | str] = None) -> FeatureExtractor:
    """The extractor asked for; "auto" picks the data's own classifier (MNIST, Fashion-MNIST), else InceptionV3.

    InceptionV3 needs a weights file (`inception_weights` or $GANFORGE_INCEPTION_WEIGHTS); when it is
    missing the error says so, and no other network is used in its place.
    """
    if isinstance(extractor, FeatureExtractor):
        return extractor.to(device)
    if extractor not in EXTRACTORS:
        raise GanforgeError(f"Unknown feature extractor {extractor!r}; expected one of {', '.join(EXTRACTORS)}.")
    if extractor == "auto":
        key = normalise_data_name(data)
        if key in DATASET_CLASSIFIERS:
            extractor = DATASET_CLASSIFIERS[key]
        elif inception_weights or os.environ.get("GANFORGE_INCEPTION_WEIGHTS"):
            extractor = "inception"
        else:
            raise GanforgeError(f"Data {data!r} has no built-in feature extractor; expected InceptionV3 weights via "
                                "--inception-weights PATH or GANFORGE_INCEPTION_WEIGHTS=PATH (the FID Inception state dict).")
    if extractor == "inception":
        return inception_extractor(inception_weights, device)
    return classifier_extractor(extractor, device)
