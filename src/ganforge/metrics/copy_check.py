"""The copy check of a generator on its own data: samples against the training images, with or without a held-out split.

Pixels are compared at most COPY_CHECK_SIZE px a side (larger images area-averaged down, the space says so),
so that a folder of large pictures fits in memory; a copy stays a copy at that size.

The held-out images are the data's test split when it has one (MNIST, Fashion-MNIST, folders with train/ and
test/); a plain folder has none, and the training images' leave-one-out distances take their place
(ganforge.metrics.scores.memorisation.copy_check). Distances are in pixels, so the check needs no network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.data.dataset import ImageDataset, to_uint8
from ganforge.kinds import kind_of
from ganforge.metrics.reference import default_split, load_reference_images
from ganforge.metrics.scores.memorisation import REFERENCE_IMAGES, CopyCheck, closest_pairs, copy_check

COPY_CHECK_SAMPLES = 2000  #: at most this many samples are checked by `ganforge eval`
COPY_CHECK_SIZE = 64  #: pixels are compared at most this many px a side


def applies_to(info: dict[str, Any]) -> bool:
    """Whether an export's info declares a noise-to-image generator, the kind the copy check samples."""
    return kind_of({"kind": "noise", **info}).noise_driven and int(info.get("image_size") or 0) > 0  # no kind: noise


@dataclass
class GeneratorCopyCheck:
    """A copy check with the images it was made of, for the grid of closest pairs."""

    check: CopyCheck
    samples: Tensor
    train: Tensor

    def closest_pairs(self, pairs: int = 8) -> Tensor:
        """The samples nearest to a training image, each followed by that image."""
        return closest_pairs(self.check, self.samples, self.train, pairs)


def pixel_space(image_size: int, size: int = COPY_CHECK_SIZE) -> tuple[Optional[Callable[[Tensor], Tensor]], str]:
    """(features, space name): none and "pixels" up to `size` px, else area-averaging down to `size` px."""
    if image_size <= size:
        return None, "pixels"
    return (lambda x: F.adaptive_avg_pool2d(x, size)), f"pixels at {size} px"


@torch.no_grad()
def generator_copy_check(generator: nn.Module, data: Union[str, ImageDataset], n: int = COPY_CHECK_SAMPLES, seed: int = 0,
                         batch_size: int = 500, max_reference: Optional[int] = REFERENCE_IMAGES,
                         pass_size: Optional[int] = None) -> GeneratorCopyCheck:
    """`n` samples of a noise generator checked in pixels against the training images of `data` (its train split,
    or all of a plain folder), the test split's images as held-out reference when there is one; `pass_size` bounds
    the rows of one generator call (`ganforge.sampling.iter_samples`)."""
    from ganforge.sampling import iter_samples

    gen_device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        samples = torch.cat([to_uint8(b.float().cpu()) for b in iter_samples(generator, n, seed=seed, batch_size=batch_size,
                                                                                   device=gen_device, pass_size=pass_size)])
    finally:
        generator.train(was_training)
    size, channels = samples.shape[-1], samples.shape[1]
    if isinstance(data, ImageDataset):
        train, held_out = data.images, None
    else:
        train = load_reference_images(str(data), size, channels, "train").images
        held_out = load_reference_images(str(data), size, channels, "test").images if default_split(str(data)) == "test" else None
    features, space = pixel_space(size)
    check = copy_check(samples, train, held_out, features, space, max_reference=max_reference, seed=seed)
    return GeneratorCopyCheck(check, samples, train)


REFERENCES = {"held-out": "held-out images", "leave-one-out": "training images (leave-one-out)"}


def copy_check_rows(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of a copy check's summary for a score table, the space and reference named."""
    reference = REFERENCES.get(summary["reference"], summary["reference"])
    return [("copy check: share flagged as copies", f"{summary['copies']:.4f} ({summary['flagged']} of {summary['n_samples']} "
                                                    f"nearer one training image than 99 % of {reference} are, and at most half as far as from the next)"),
            ("copy check: nearest distance, samples / real", f"{summary['ratio']:.3f} (medians; < 1: samples are closer)"),
            ("copy check: compared", f"in {summary['space']}, against {summary['n_train']} training images")]
