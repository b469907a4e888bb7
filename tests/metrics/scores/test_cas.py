"""Generated digits as training data (metrics/scores/cas.py): data plumbing, classifier training, CAS, few labels."""
import pytest
import torch
from torch import nn

from ganforge.errors import GanforgeError
from ganforge.metrics.scores.cas import accuracy, classification_accuracy_score, few_label_experiment, generated_digits, real_digits, train_classifier


class ReplayGenerator(nn.Module):
    """A 'conditional generator' that hands out, class by class, the real training digits real_digits() picks."""

    def __init__(self, per_class, seed=0):
        super().__init__()
        images, labels = real_digits("mnist", "train", per_class, seed)
        self.by_class = [images[labels == c] for c in range(10)]
        self.used = [0] * 10
        self.z_dim, self.num_classes = 3, 10
        self.anchor = nn.Parameter(torch.zeros(1))

    def forward(self, z, labels=None):
        out = []
        for c in labels.tolist():
            out.append(self.by_class[c][self.used[c] % len(self.by_class[c])])
            self.used[c] += 1
        return torch.stack(out)


def test_real_digits_draws_a_balanced_subset():
    images, labels = real_digits("mnist", "train", per_class=5, seed=1)
    assert images.shape == (50, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert torch.bincount(labels).tolist() == [5] * 10
    again, _ = real_digits("mnist", "train", per_class=5, seed=1)
    other, _ = real_digits("mnist", "train", per_class=5, seed=2)
    assert torch.equal(images, again) and not torch.equal(images, other)


def test_generated_digits_are_classifier_inputs_with_their_labels():
    class Big(nn.Module):
        z_dim, num_classes = 2, 3

        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(1))

        def forward(self, z, labels=None):
            return torch.zeros(len(z), 1, 32, 32) + self.p

    images, labels = generated_digits(Big(), per_class=4, batch_size=5)
    assert images.shape == (12, 1, 28, 28)
    assert labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    unconditional = Big()
    unconditional.num_classes = 0
    with pytest.raises(GanforgeError, match="conditional model"):
        generated_digits(unconditional, per_class=2)


def test_classifier_training_is_seeded_and_learns():
    data = real_digits("mnist", "train", per_class=20, seed=0)
    a = train_classifier([data], steps=60, batch_size=32, seed=3)
    b = train_classifier([data], steps=60, batch_size=32, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert accuracy(a, *data) > 0.75  # fits its 200 training digits (chance: 0.1)
    with pytest.raises(GanforgeError, match="steps=0"):
        train_classifier([data], steps=0)


def test_cas_of_a_generator_that_replays_real_digits_equals_the_real_reference():
    result = classification_accuracy_score(ReplayGenerator(per_class=20), per_class=20, steps=40, seed=0)
    assert result["cas"] == result["real_same_size"]  # same images, same seed: same classifier
    assert result["cas"] > 0.5 and result["per_class"] == 20


def test_few_label_experiment_reports_both_accuracies():
    result = few_label_experiment(ReplayGenerator(per_class=30, seed=7), real_per_class=10, generated_per_class=30,
                                  steps=40, seed=0)
    assert set(result) >= {"real_only", "real_plus_generated"}
    assert 0.3 < result["real_only"] <= 1 and 0.3 < result["real_plus_generated"] <= 1
    assert result["real_only"] != result["real_plus_generated"]  # the added digits changed the training data
