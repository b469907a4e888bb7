"""Scores of a generator that need no pretrained network: SWD and MS-SSIM diversity (the copy check is added by eval).

What `ganforge eval` reports for colour data when no InceptionV3 weights are found (see
`ganforge.metrics.features.inception_weights`). Each score lives in its own module; this one only gathers them.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from ganforge.data.dataset import to_float
from ganforge.metrics.copy_check import copy_check_rows
from ganforge.metrics.reference import load_reference_images
from ganforge.metrics.scores.ms_ssim import pairwise_ms_ssim
from ganforge.metrics.scores.swd import sliced_wasserstein

SWD_IMAGES = 2048  #: at most this many images per set enter SWD (128 patches each, ProGAN used 16384 images)
MS_SSIM_PAIRS = 1000  #: random pairs of samples (and of real images) for MS-SSIM


@torch.no_grad()
def pretrained_free_scores(generator: nn.Module, info: Any, n: int, data: str, seed: int = 0, batch_size: int = 500,
                           device: Optional[torch.device | str] = None) -> dict[str, Any]:
    """SWD (samples vs training images, per level and average) and MS-SSIM of sample pairs and of real pairs."""
    from ganforge.sampling import iter_samples

    gen_device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        samples = torch.cat([b.float().cpu().clamp(-1, 1) for b in iter_samples(generator, n, seed=seed, batch_size=batch_size,
                                                                                   device=gen_device)])
    finally:
        generator.train(was_training)
    size, channels = samples.shape[-1], samples.shape[1]
    train = to_float(load_reference_images(data, size, channels, "train").images)
    out: dict[str, Any] = {"n": n, "extractor": "none (pretrained-free scores)"}
    swd = sliced_wasserstein(samples[:SWD_IMAGES], train[:SWD_IMAGES], seed=seed)
    out["swd"], out["swd_levels"] = swd["average"], swd["levels"]
    fake_div = pairwise_ms_ssim(samples, MS_SSIM_PAIRS, seed)
    real_div = pairwise_ms_ssim(train, MS_SSIM_PAIRS, seed)
    out["ms_ssim"], out["ms_ssim_real"] = fake_div["mean"], real_div["mean"]
    return out


ROWS = (("swd", "sliced Wasserstein distance ×1e3 vs training images (lower is better)"),
        ("ms_ssim", "MS-SSIM of random sample pairs (lower is more diverse)"),
        ("ms_ssim_real", "  the same of random real pairs"))


def format_pretrained_free(scores: dict[str, Any]) -> str:
    """An aligned two-column table of the pretrained-free scores (and the copy check, when there)."""
    lines = [(label, f"{scores[key]:.4f}") for key, label in ROWS if key in scores]
    if "swd_levels" in scores:
        lines.insert(1, ("  per level (px)", "  ".join(f"{k}: {v:.2f}" for k, v in scores["swd_levels"].items())))
    if "memorisation" in scores:
        lines += copy_check_rows(scores["memorisation"])
    lines.append(("samples", str(scores.get("n"))))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in lines)
