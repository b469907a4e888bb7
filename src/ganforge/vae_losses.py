"""The terms of the VAE's evidence lower bound (Kingma & Welling 2014), per image, in nats.

ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) with q(z|x) = N(μ, diag σ²) and p(z) = N(0, I).
Each function returns one value per image (summed over pixels or latent dimensions), so a batch
mean of ``reconstruction + kl`` is the negative ELBO per image. Pixel targets are on the [0, 1] scale.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mean: Tensor, logvar: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    """z = μ + σ·ε with ε ~ N(0, I): a sample of q(z|x) through which gradients reach μ and log σ²."""
    noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + torch.exp(0.5 * logvar) * noise


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, diag σ²) || N(0, I)) = ½ Σ (μ² + σ² - 1 - log σ²), one value per row (N,)."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(x|z) under independent Bernoulli pixels with P(1) = sigmoid(logit), summed per image (N,).

    For gray-level targets in [0, 1] this is the usual binary cross-entropy, which is not a
    normalized density for non-binary data (Loaiza-Ganem & Cunningham 2019).
    """
    return F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none").flatten(1).sum(1)


def gaussian_nll(mean: Tensor, target: Tensor, log_sigma: Tensor | float) -> Tensor:
    """-log N(x; μ, σ² I) summed per image (N,): Σ ½((x - μ)/σ)² + log σ + ½ log 2π."""
    log_sigma = torch.as_tensor(log_sigma, dtype=torch.float32, device=mean.device)
    per_pixel = 0.5 * ((target.float() - mean.float()) * torch.exp(-log_sigma)).square() + log_sigma + 0.5 * LOG_2PI
    return per_pixel.flatten(1).sum(1)
