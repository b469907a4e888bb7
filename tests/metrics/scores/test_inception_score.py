"""Inception Score: 1 for one repeated prediction, the class count for confident balanced ones."""
import math

import pytest
import torch

from ganforge.metrics.scores.inception_score import inception_score, split_bounds


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


def test_split_bounds_follow_the_paper_and_give_ten_splits_for_few_samples():
    assert split_bounds(25, 10) == [2, 5, 7, 10, 12, 15, 17, 20, 22]  # i * n // splits
    parts = torch.tensor_split(torch.arange(25), split_bounds(25, 10))
    assert [len(p) for p in parts] == [2, 3] * 5
    assert len(torch.arange(25).chunk(10)) == 9  # why torch.chunk was wrong: fewer than 10 splits
    assert split_bounds(100, 10) == list(range(10, 100, 10))


def test_twenty_five_samples_are_scored_over_ten_splits_by_hand():
    # confident predictions: the score of a split is exp(entropy of its label histogram)
    # splits (sizes 2, 3, 2, 3, ...) hold labels {0, 1} (score 2) and {0, 1, 2} (score 3) in turn
    labels = torch.tensor(([0, 1] + [0, 1, 2]) * 5)
    logits = torch.full((25, 10), -1e4)
    logits[torch.arange(25), labels] = 1e4
    mean, std = inception_score(logits, splits=10)
    assert mean == pytest.approx(2.5, rel=1e-9)
    assert std == pytest.approx(0.5, rel=1e-9)  # population std of five 2s and five 3s


def test_soft_predictions_by_hand():
    # 4 samples, 2 splits of 2. Split 1: p = (1, 0) and (0.5, 0.5): marginal (0.75, 0.25),
    # KL1 = log(1/0.75), KL2 = 0.5 log(0.5/0.75) + 0.5 log(0.5/0.25); split 2: the same rows -> same score
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5]] * 2, dtype=torch.float64)
    logits = torch.log(p.clamp_min(1e-300))
    kl = (math.log(1 / 0.75) + 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0)) / 2
    mean, std = inception_score(logits, splits=2)
    assert mean == pytest.approx(math.exp(kl), rel=1e-9) and std == pytest.approx(0.0, abs=1e-12)
