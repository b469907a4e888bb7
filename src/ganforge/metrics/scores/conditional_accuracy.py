"""Conditional accuracy: how often a shipped classifier sees the class a conditional generator was asked for."""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import DATASET_CLASSIFIERS, normalise_data_name
from ganforge.sampling import iter_samples


def classifier_for(data: Optional[str]) -> str:
    """The shipped classifier that can judge samples of `data` (mnist or fashion-mnist)."""
    name = DATASET_CLASSIFIERS.get(normalise_data_name(data)) if data is not None else None
    if name is None:
        raise GanforgeError(f"Conditional accuracy needs a classifier for data {data!r}; expected a model trained on "
                            f"{' or '.join(DATASET_CLASSIFIERS)}.")
    return name


@torch.no_grad()
def conditional_accuracy(generator: nn.Module, n_per_class: int = 1000, seed: int = 0, classifier: str = "digits",
                         batch_size: int = 500, device: Optional[torch.device] = None) -> dict:
    """Share of samples of each asked class that the classifier assigns to it: {"overall", "per_class", "n"}.

    `overall` is the mean over all `n_per_class × classes` samples (equal to the mean of `per_class`).
    """
    from ganforge.metrics.features.digit_classifier import classify, load_classifier

    classes = int(getattr(generator, "num_classes", 0))
    if classes == 0:
        raise GanforgeError("Conditional accuracy was asked of an unconditional model; expected a model trained with --model cgan.")
    if n_per_class < 1:
        raise GanforgeError(f"Samples per class n_per_class={n_per_class!r} is invalid; expected an integer >= 1.")
    judge_classes = load_classifier(classifier).num_classes
    if judge_classes != classes:
        raise GanforgeError(f"The model has {classes} classes but classifier {classifier!r} knows {judge_classes}; "
                            f"expected a model trained on the classifier's data.")
    asked = torch.arange(classes).repeat_interleave(n_per_class)
    correct = torch.zeros(classes, dtype=torch.long)
    start = 0
    for images in iter_samples(generator, len(asked), seed, batch_size, asked, device):
        labels = asked[start:start + len(images)]
        hits = (classify(images, classifier).cpu() == labels).long()
        correct.index_add_(0, labels, hits)
        start += len(images)
    per_class = (correct.double() / n_per_class).tolist()
    return {"overall": float(correct.sum()) / len(asked), "per_class": per_class, "n": len(asked)}
