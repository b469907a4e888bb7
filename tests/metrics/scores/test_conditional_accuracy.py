"""Conditional accuracy (conditional_accuracy.py): per-class bookkeeping, the real classifier, and errors."""
import pytest
import torch
from torch import nn

import ganforge.metrics.features.digit_classifier as digit_classifier
from ganforge.errors import GanforgeError
from ganforge.metrics.scores.conditional_accuracy import classifier_for, conditional_accuracy


class ShadeGenerator(nn.Module):
    """Paints each image in a grey level that encodes a class: the asked one, except `wrong` -> `instead`."""

    def __init__(self, num_classes=10, wrong=None, instead=None):
        super().__init__()
        self.z_dim, self.num_classes = 4, num_classes
        self.anchor = nn.Parameter(torch.zeros(1))
        self.wrong, self.instead = wrong, instead

    def forward(self, z, labels=None):
        shown = labels.clone()
        if self.wrong is not None:
            shown[labels == self.wrong] = self.instead
        level = (shown.float() + 0.5) / 10 * 2 - 1
        return level.view(-1, 1, 1, 1).expand(-1, 1, 8, 8) + 0 * self.anchor


class ShadeClassifier:
    num_classes = 10


@pytest.fixture
def shade_judge(monkeypatch):
    calls = []

    def classify(images, name="digits", batch_size=1000):
        calls.append((len(images), name))
        return ((images.mean(dim=(1, 2, 3)) + 1) / 2 * 10).floor().long()

    monkeypatch.setattr(digit_classifier, "classify", classify)
    monkeypatch.setattr(digit_classifier, "load_classifier", lambda name="digits", device=None: ShadeClassifier())
    return calls


def test_per_class_and_overall_accuracy(shade_judge):
    result = conditional_accuracy(ShadeGenerator(wrong=3, instead=5), n_per_class=7, seed=0, batch_size=16)
    assert result["n"] == 70
    assert result["per_class"] == [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert result["overall"] == pytest.approx(0.9)
    assert sum(n for n, _ in shade_judge) == 70 and {name for _, name in shade_judge} == {"digits"}
    perfect = conditional_accuracy(ShadeGenerator(), n_per_class=3, classifier="fashion")
    assert perfect["overall"] == 1.0 and shade_judge[-1][1] == "fashion"


def test_errors_name_the_problem(shade_judge):
    unconditional = ShadeGenerator(num_classes=0)
    with pytest.raises(GanforgeError, match="unconditional"):
        conditional_accuracy(unconditional, 5)
    with pytest.raises(GanforgeError, match="has 4 classes but classifier 'digits' knows 10"):
        conditional_accuracy(ShadeGenerator(num_classes=4), 5)
    with pytest.raises(GanforgeError, match="n_per_class=0"):
        conditional_accuracy(ShadeGenerator(), 0)


def test_classifier_for_data():
    assert classifier_for("mnist") == "digits" and classifier_for("Fashion-MNIST") == "fashion"
    with pytest.raises(GanforgeError, match="data '/my/cats'"):
        classifier_for("/my/cats")


class RealDigitGenerator(nn.Module):
    """Returns real MNIST test digits of the asked class (or of the next class when `shift`)."""

    def __init__(self, shift=0):
        super().__init__()
        from ganforge.data import load_dataset

        data = load_dataset("mnist", image_size=32, split="test")
        self.by_class = [data.images[data.labels == c][:50].float() / 127.5 - 1 for c in range(10)]
        self.z_dim, self.num_classes, self.shift = 4, 10, shift
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z, labels=None):
        index = torch.arange(len(labels)) % 50
        return torch.stack([self.by_class[(int(c) + self.shift) % 10][i] for c, i in zip(labels, index)])


@pytest.mark.skipif(not digit_classifier.weights_path("digits").is_file(), reason="digit classifier weights not built")
def test_real_digits_score_high_and_wrong_digits_score_zero():
    good = conditional_accuracy(RealDigitGenerator(), n_per_class=50)
    assert good["overall"] > 0.97 and min(good["per_class"]) > 0.85
    bad = conditional_accuracy(RealDigitGenerator(shift=1), n_per_class=50)
    assert bad["overall"] < 0.05


def test_evaluate_reports_accuracy_by_default_for_conditional_models_only(shade_judge):
    from ganforge.metrics.evaluate import default_metrics, evaluate

    info = {"data": "mnist", "num_classes": 10}
    scores = evaluate(ShadeGenerator(wrong=2, instead=7), info, n=50, metrics="acc")
    assert set(scores) == {"n", "accuracy", "accuracy_per_class"}
    assert scores["accuracy"] == pytest.approx(0.9) and scores["accuracy_per_class"][2] == 0.0
    assert "acc" in default_metrics(ShadeGenerator()) and "acc" not in default_metrics(ShadeGenerator(num_classes=0))
    with pytest.raises(GanforgeError, match="unconditional"):
        evaluate(ShadeGenerator(num_classes=0), info, n=50, metrics="acc")
    with pytest.raises(GanforgeError, match="'/my/cats'"):
        evaluate(ShadeGenerator(), {"data": "/my/cats"}, n=50, metrics="acc")


def test_score_images_refuses_accuracy():
    from ganforge.metrics.evaluate import score_images

    with pytest.raises(GanforgeError, match="conditional generator"):
        score_images(torch.zeros(4, 1, 28, 28), metrics="fd,acc")
