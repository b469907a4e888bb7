"""Mode collapse, counted: modes covered, high-quality share and reverse KL, as the mode-collapse papers count.

Point mixtures follow the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018):
2,500 samples; a sample is high quality when it lies within 3σ of its nearest mode; a mode is covered
when some high-quality sample is nearest to it; reverse KL = KL(p_modes ‖ uniform) over the
high-quality samples' mode counts. Stacked MNIST (Metz et al. 2017) labels each of the 3 channels with
a digit classifier — 1,000 modes — and counts over 26,000 samples, as PacGAN does.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ganforge.errors import GanforgeError

POINT_SAMPLES = 2500  #: samples per point-mixture evaluation (VEEGAN/PacGAN)
STACKED_SAMPLES = 26000  #: samples per Stacked MNIST evaluation (PacGAN)
STACKED_MODES = 1000


@dataclass(frozen=True)
class ModeReport:
    """Modes covered of `num_modes`, the share of high-quality samples and KL(p_modes ‖ uniform)."""

    modes: int
    num_modes: int
    high_quality: float  # share of samples, 0..1
    reverse_kl: float
    samples: int

    def as_dict(self) -> dict:
        """A plain dict for JSON."""
        return asdict(self)


def kl_to_uniform(counts: Tensor, num_modes: int) -> float:
    """KL(p ‖ uniform over `num_modes`) of the empirical distribution `counts` (0 log 0 = 0); NaN with no counts."""
    counts = counts.double()
    total = float(counts.sum())
    if total <= 0:
        return math.nan
    p = counts[counts > 0] / total
    return float((p * (p * num_modes).log()).sum())


def nearest_modes(samples: Tensor, means: Tensor) -> tuple[Tensor, Tensor]:
    """(index of the nearest mean, distance to it) for each sample (N, d) given means (K, d)."""
    if samples.dim() != 2 or means.dim() != 2 or samples.shape[1] != means.shape[1]:
        raise GanforgeError(f"Samples of shape {tuple(samples.shape)} cannot be matched to means of shape "
                            f"{tuple(means.shape)}; expected (N, d) and (K, d).")
    distance = torch.cdist(samples.double(), means.double())
    best, index = distance.min(dim=1)
    return index, best


def point_modes(samples: Tensor, means: Tensor, sigma: float, threshold: float = 3.0) -> ModeReport:
    """The VEEGAN/PacGAN counts for samples of a Gaussian mixture with component means `means` and std `sigma`."""
    if samples.shape[0] == 0:
        raise GanforgeError("No samples were given to count modes; expected at least one (the protocol uses 2,500).")
    index, distance = nearest_modes(samples, means)
    good = distance <= threshold * sigma
    counts = torch.bincount(index[good], minlength=means.shape[0])
    return ModeReport(int((counts > 0).sum()), int(means.shape[0]), float(good.double().mean()),
                      kl_to_uniform(counts, means.shape[0]), int(samples.shape[0]))


def stacked_labels(images: Tensor, classify) -> Tensor:
    """Stacked-MNIST mode 0..999 of each 3-channel image: 100·digit(R) + 10·digit(G) + digit(B).

    `classify` maps (N, 1, H, W) images in [-1, 1] to digit labels (the shipped digit classifier).
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise GanforgeError(f"Images of shape {tuple(images.shape)} are not Stacked MNIST; expected (N, 3, H, W).")
    digits = [classify(images[:, c:c + 1]).long().cpu() for c in range(3)]
    return 100 * digits[0] + 10 * digits[1] + digits[2]


def stacked_modes(images: Tensor, classify=None) -> ModeReport:
    """Modes covered of 1,000 and KL to uniform of Stacked-MNIST samples (every sample counts: high_quality = 1)."""
    if classify is None:
        from ganforge.metrics.features.digit_classifier import classify as digit_classify

        classify = digit_classify
    labels = stacked_labels(images, classify)
    counts = torch.bincount(labels, minlength=STACKED_MODES)
    return ModeReport(int((counts > 0).sum()), STACKED_MODES, 1.0, kl_to_uniform(counts, STACKED_MODES), int(images.shape[0]))


@torch.no_grad()
def generator_stacked_modes(generator: torch.nn.Module, n: int = STACKED_SAMPLES, seed: int = 0,
                            batch_size: int = 500) -> ModeReport:
    """Stacked-MNIST mode counts of `n` samples of an image generator, classified batch by batch."""
    from ganforge.metrics.features.digit_classifier import classify
    from ganforge.sampling import iter_samples

    labels = torch.cat([stacked_labels(batch, classify) for batch in iter_samples(generator, n, seed, batch_size)])
    counts = torch.bincount(labels, minlength=STACKED_MODES)
    return ModeReport(int((counts > 0).sum()), STACKED_MODES, 1.0, kl_to_uniform(counts, STACKED_MODES), n)
