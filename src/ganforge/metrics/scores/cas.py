"""Generated digits as training data: Classification Accuracy Score and few-label augmentation.

* CAS (Ravuri & Vinyals 2019): a classifier trained on generated images only, tested on the real
  test split; beside it, the same classifier trained on as many real images, as the reference.
* Few labels: a classifier trained on a few real labelled images per class, with and without
  generated images of every class mixed into each batch.

Every classifier has the architecture of the shipped digit classifier (ganforge.metrics), starts
from the same seed and trains for the same number of steps, so only the training data differs.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.dataset import to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.features.digit_classifier import DigitClassifier, to_classifier_input
from ganforge.sampling import iter_samples


def real_digits(data: str = "mnist", split: str = "train", per_class: Optional[int] = None,
                seed: int = 0) -> tuple[Tensor, Tensor]:
    """Real (images float [-1, 1] (N, 1, 28, 28), labels) of `data`, optionally `per_class` drawn at random."""
    from ganforge.data import load_dataset

    dataset = load_dataset(data, split=split)
    if dataset.labels is None:
        raise GanforgeError(f"Data {data!r} has no labels; expected a labelled dataset such as mnist.")
    labels = dataset.labels.long()
    if per_class is not None:
        rng = torch.Generator().manual_seed(seed)
        picks = []
        for c in range(int(labels.max()) + 1):
            where = torch.nonzero(labels == c).flatten()
            if len(where) < per_class:
                raise GanforgeError(f"Class {c} of {data!r} has {len(where)} images; expected at least per_class={per_class}.")
            picks.append(where[torch.randperm(len(where), generator=rng)[:per_class]])
        index = torch.cat(picks)
        labels = labels[index]
        images = dataset.images[index]
    else:
        images = dataset.images
    return to_classifier_input(to_float(images)), labels


@torch.no_grad()
def generated_digits(generator: nn.Module, per_class: int, seed: int = 0, batch_size: int = 500,
                     device: Optional[torch.device] = None) -> tuple[Tensor, Tensor]:
    """`per_class` images of every class from a conditional generator, as classifier inputs (CPU), and their labels."""
    classes = int(getattr(generator, "num_classes", 0))
    if classes == 0:
        raise GanforgeError("Generated training data needs a conditional model; expected one trained with --model cgan.")
    labels = torch.arange(classes).repeat_interleave(per_class)
    batches = [to_classifier_input(x).cpu() for x in iter_samples(generator, len(labels), seed, batch_size, labels, device)]
    return torch.cat(batches), labels


def train_classifier(sets: list[tuple[Tensor, Tensor]], steps: int = 1500, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, num_classes: int = 10, device: Optional[torch.device] = None) -> DigitClassifier:
    """A fresh digit classifier trained with Adam for `steps` batches, each split evenly across `sets`."""
    if steps < 1 or batch_size < len(sets):
        raise GanforgeError(f"Classifier training steps={steps}, batch_size={batch_size} are invalid"
                            f"; expected steps >= 1 and a batch of at least one image per set.")
    device = torch.device(device or "cpu")
    shares = [batch_size // len(sets) + (1 if i < batch_size % len(sets) else 0) for i in range(len(sets))]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(num_classes=num_classes).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        rng = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(steps):
            xs, ys = [], []
            for (images, labels), share in zip(sets, shares):
                index = torch.randint(len(images), (share,), generator=rng)
                xs.append(images[index])
                ys.append(labels[index])
            loss = F.cross_entropy(model(torch.cat(xs).to(device)), torch.cat(ys).to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor, batch_size: int = 1000) -> float:
    """Fraction of `images` whose predicted class is `labels`."""
    device = next(model.parameters()).device
    model.eval()
    correct = 0
    for i in range(0, len(images), batch_size):
        predicted = model(images[i:i + batch_size].to(device)).argmax(1).cpu()
        correct += int((predicted == labels[i:i + batch_size]).sum())
    return correct / len(images)


def classification_accuracy_score(generator: nn.Module, per_class: int = 1000, steps: int = 1500, seed: int = 0,
                                  data: str = "mnist", device: Optional[torch.device] = None) -> dict:
    """CAS: test accuracy of a classifier trained on generated images only, and of one trained on as many real ones."""
    test = real_digits(data, "test")
    fake = generated_digits(generator, per_class, seed, device=device)
    real = real_digits(data, "train", per_class, seed)
    classes = int(generator.num_classes)
    cas = accuracy(train_classifier([fake], steps, seed=seed, num_classes=classes, device=device), *test)
    ref = accuracy(train_classifier([real], steps, seed=seed, num_classes=classes, device=device), *test)
    return {"cas": cas, "real_same_size": ref, "per_class": per_class, "steps": steps}


def few_label_experiment(generator: nn.Module, real_per_class: int = 100, generated_per_class: int = 1000,
                         steps: int = 1500, seed: int = 0, data: str = "mnist",
                         device: Optional[torch.device] = None) -> dict:
    """Test accuracy with `real_per_class` real labels per class, alone and with generated images (half of each batch)."""
    test = real_digits(data, "test")
    real = real_digits(data, "train", real_per_class, seed)
    fake = generated_digits(generator, generated_per_class, seed, device=device)
    classes = int(generator.num_classes)
    alone = accuracy(train_classifier([real], steps, seed=seed, num_classes=classes, device=device), *test)
    mixed = accuracy(train_classifier([real, fake], steps, seed=seed, num_classes=classes, device=device), *test)
    return {"real_only": alone, "real_plus_generated": mixed, "real_per_class": real_per_class,
            "generated_per_class": generated_per_class, "steps": steps}
