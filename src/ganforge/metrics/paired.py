"""Scores of a paired translator against held-out targets: L1, PSNR, SSIM; on mnist-edges also digits.

`psnr_rgb` and `ssim_rgb` follow ganforge.metrics.scores.psnr_ssim's convention on every channel of the
images mapped to [0, 1] (data range 1, named in the result's `protocol`); L1 is the mean absolute error in the library's [-1, 1] units,
the same quantity as the training log's `loss_l1`. On `mnist-edges` the shipped digit classifier
reads each output: `label_agreement` is the share it labels as the digit the edge map was drawn from,
and `fd` the Fréchet distance of its features between outputs and the real held-out digits.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor, nn

from ganforge.data.dataset import to_float
from ganforge.data.paired import MNIST_EDGES, PairedData, has_test_split, load_paired
from ganforge.errors import GanforgeError
from ganforge.metrics.scores.psnr_ssim import protocol, psnr_rgb, ssim_rgb


@torch.no_grad()
def paired_scores(outputs: Tensor, targets: Tensor) -> dict[str, float]:
    """{"l1", "psnr_rgb", "ssim_rgb"} of float outputs against float targets, both (N, C, H, W) in [-1, 1]."""
    if outputs.shape != targets.shape:
        raise GanforgeError(f"Outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} differ in shape; expected the same.")
    return {"l1": (outputs.float() - targets.float()).abs().mean().item(),
            "psnr_rgb": psnr_rgb(outputs, targets), "ssim_rgb": ssim_rgb(outputs, targets)}


@torch.no_grad()
def translate_all(generator: nn.Module, images: Tensor, batch_size: int = 500, device: str | torch.device = "cpu") -> Tensor:
    """float [-1, 1] outputs (on the CPU) of uint8 inputs, batch by batch."""
    parts = []
    for start in range(0, len(images), batch_size):
        x = to_float(images[start:start + batch_size].to(device))
        parts.append(generator(x).float().clamp_(-1, 1).cpu())
    return torch.cat(parts)


def load_held_out(spec: str, image_size: int, in_channels: int, split: Optional[str] = None) -> tuple[PairedData, str]:
    """(pairs, split) to score on: the test split when the data has one (or `split` when given), else train."""
    channels = in_channels if spec.strip().lower() == MNIST_EDGES else None
    if split is None:
        split = "test" if has_test_split(spec) else "train"
    return load_paired(spec, image_size, channels, split), split


def digit_scores(outputs: Tensor, targets: Tensor, inputs: Tensor, labels: Tensor) -> dict[str, float]:
    """Classifier agreement of outputs with the source digits' labels, and digit-feature FDs against the targets."""
    from ganforge.metrics.features.digit_classifier import classify
    from ganforge.metrics.features.extractors import classifier_extractor
    from ganforge.metrics.scores.frechet import frechet_distance_features

    extractor = classifier_extractor("digits")

    def features(images: Tensor) -> Tensor:
        return torch.cat([extractor.extract(images[i:i + 1000])[0] for i in range(0, len(images), 1000)])

    real = features(targets)
    return {"label_agreement": (classify(outputs) == labels).float().mean().item(),
            "classifier_accuracy_on_targets": (classify(targets) == labels).float().mean().item(),
            "fd": frechet_distance_features(features(outputs), real),
            "fd_inputs": frechet_distance_features(features(inputs), real)}


def evaluate_paired(generator: nn.Module, info: dict[str, Any], data: Optional[str] = None, split: Optional[str] = None,
                    n: Optional[int] = None, batch_size: int = 500, device: str | torch.device = "cpu", seed: int = 0) -> dict[str, Any]:
    """Translate the held-out inputs of the model's paired data (or `data`) and score them against their targets."""
    spec = data or info.get("data")
    if not spec:
        raise GanforgeError("The model names no paired data to score on; expected --data (a paired data spec).")
    pairs, used = load_held_out(str(spec), int(info["image_size"]), int(info.get("in_channels") or info["channels"]), split)
    count = len(pairs) if n is None else min(n, len(pairs))
    inputs, targets = pairs.a.images[:count], pairs.b.images[:count]
    if inputs.shape[1] != int(info.get("in_channels") or info["channels"]) or targets.shape[1] != int(info["channels"]):
        raise GanforgeError(f"Data {spec!r} has {inputs.shape[1]}-channel inputs and {targets.shape[1]}-channel targets; expected "
                            f"{info.get('in_channels')} and {info['channels']} as the model was trained on.")
    torch.manual_seed(seed)  # the generator's dropout is its noise at sampling time
    outputs = translate_all(generator.to(device), inputs, batch_size, device)
    real = to_float(targets)
    scores: dict[str, Any] = {"data": str(spec), "split": used, "n": count, **paired_scores(outputs, real),
                              "protocol": protocol("rgb")}
    if str(spec).strip().lower() == MNIST_EDGES and pairs.labels is not None:
        scores.update(digit_scores(outputs, real, to_float(inputs), pairs.labels[:count]))
    return scores


ROWS = (("l1", "L1, mean |output - target| in [-1, 1] (lower is better)", "{:.4f}"),
        ("psnr_rgb", "PSNR over RGB, dB (higher is better)", "{:.2f}"), ("ssim_rgb", "SSIM over RGB (higher is better)", "{:.4f}"),
        ("label_agreement", "digit classifier agrees with the source label", "{:.4f}"),
        ("classifier_accuracy_on_targets", "  same classifier on the real targets", "{:.4f}"),
        ("fd", "FD of outputs vs real digits (lower is better)", "{:.3f}"),
        ("fd_inputs", "  FD of the edge inputs vs real digits", "{:.3f}"))


def format_paired(scores: dict[str, Any]) -> str:
    """An aligned two-column table of paired scores."""
    lines = [(label, fmt.format(scores[key])) for key, label, fmt in ROWS if key in scores]
    lines += [("pairs scored", f"{scores['n']} ({scores['split']} split of {scores['data']})")]
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in lines)
