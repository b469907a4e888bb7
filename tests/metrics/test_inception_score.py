"""Inception Score: 1 for one repeated prediction, the class count for confident balanced ones."""
import math

import pytest
import torch

from ganforge.metrics.inception_score import inception_score


def test_one_repeated_image_scores_one():
    logits = torch.randn(1, 10).repeat(200, 1)
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(1.0, abs=1e-9)
    assert std == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("classes", [2, 10, 1008])
def test_confident_balanced_samples_score_the_class_count(classes):
    labels = torch.arange(classes * 10) % classes
    logits = torch.full((len(labels), classes), -1e4)
    logits[torch.arange(len(labels)), labels] = 1e4
    mean, std = inception_score(logits, splits=10 if classes < 1000 else 1)
    assert mean == pytest.approx(classes, rel=1e-6)
    assert std == pytest.approx(0.0, abs=1e-6)


def test_half_the_classes_score_half():
    labels = torch.arange(100) % 5
    logits = torch.nn.functional.one_hot(labels, 10).double() * 100
    assert inception_score(logits, splits=1)[0] == pytest.approx(5.0, rel=1e-6)


def test_uniform_predictions_score_one_and_values_stay_in_range():
    assert inception_score(torch.zeros(50, 7), splits=5)[0] == pytest.approx(1.0)
    mean, _ = inception_score(torch.randn(400, 10) * 3, splits=4)
    assert 1.0 <= mean <= 10.0
    assert not math.isnan(mean)
