"""The rules of the game: adversarial losses over discriminator logits, regularizers, L1 terms, and the VAE's ELBO terms.

Every adversarial loss is a pair of pure functions of raw discriminator outputs ("logits"):
``discriminator(real_logits, fake_logits)`` and ``generator(fake_logits)`` (``generator(real_logits,
fake_logits)`` for a relativistic loss), both returning a scalar mean.  Probabilities appear only where they are shown to a person (``D(x) = sigmoid(logit)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError


# --- discriminator sides -------------------------------------------------------------------------
def logistic_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """-E[log D(x)] - E[log(1 - D(G(z)))]: the discriminator's side of V(D, G) (Goodfellow et al. 2014)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def hinge_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def wasserstein_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """E[D(G(z))] - E[D(x)]: the critic's side of the Wasserstein GAN (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


def least_squares_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """½E[(D(x) - 1)²] + ½E[D(G(z))²] (Mao et al. 2017, targets a=0, b=1)."""
    return 0.5 * ((real - 1.0).square().mean() + fake.square().mean())


# --- generator sides -----------------------------------------------------------------------------
def minimax_generator(fake: Tensor) -> Tensor:
    """E[log(1 - D(G(z)))], minimized: the original saturating generator loss of the minimax game."""
    return -F.softplus(fake).mean()


def non_saturating_generator(fake: Tensor) -> Tensor:
    """-E[log D(G(z))]: the non-saturating generator loss used in practice (Goodfellow et al. 2014, §3)."""
    return F.softplus(-fake).mean()


def hinge_generator(fake: Tensor) -> Tensor:
    """-E[D(G(z))]: the generator's side of the hinge game."""
    return -fake.mean()


def least_squares_generator(fake: Tensor) -> Tensor:
    """½E[(D(G(z)) - 1)²] (Mao et al. 2017, target c=1)."""
    return 0.5 * (fake - 1.0).square().mean()


# --- the relativistic average GAN (ESRGAN's adversarial loss) -----------------------------------
def relativistic_average_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """-E[log σ(C(x_r) - E C(x_f))] - E[log(1 - σ(C(x_f) - E C(x_r)))] (Jolicoeur-Martineau 2018; ESRGAN, Wang et al. 2018)."""
    return F.softplus(-(real - fake.mean())).mean() + F.softplus(fake - real.mean()).mean()


def relativistic_average_generator(real: Tensor, fake: Tensor) -> Tensor:
    """-E[log(1 - σ(C(x_r) - E C(x_f)))] - E[log σ(C(x_f) - E C(x_r))]: the generator's side, which sees real scores too."""
    return F.softplus(real - fake.mean()).mean() + F.softplus(-(fake - real.mean())).mean()


# --- the relativistic pairing GAN (R3GAN's loss) --------------------------------------------------
def relativistic_pairing_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """E[softplus(-(D(x_r) - D(x_f)))], each real paired with the fake at its place in the batch: RpGAN's
    discriminator side (Jolicoeur-Martineau 2018; Huang et al. 2024, eq. 2)."""
    return F.softplus(-(real - fake)).mean()


def relativistic_pairing_generator(real: Tensor, fake: Tensor) -> Tensor:
    """E[softplus(-(D(x_f) - D(x_r)))], paired in the batch: RpGAN's generator side, which sees real scores too."""
    return F.softplus(-(fake - real)).mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of discriminator and generator losses; `probabilistic` if sigmoid(logit) is P(real).

    `generator` takes the fake logits, or with `relativistic` the real and the fake logits (in that order),
    as a relativistic loss compares the two in the generator step too.
    """

    name: str
    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[..., Tensor]
    probabilistic: bool
    needs_gradient_penalty: bool = False
    relativistic: bool = False


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss("minimax", logistic_discriminator, minimax_generator, True),
    "non_saturating": AdversarialLoss("non_saturating", logistic_discriminator, non_saturating_generator, True),
    "hinge": AdversarialLoss("hinge", hinge_discriminator, hinge_generator, False),
    "wasserstein": AdversarialLoss("wasserstein", wasserstein_discriminator, hinge_generator, False, True),
    "least_squares": AdversarialLoss("least_squares", least_squares_discriminator, least_squares_generator, False),
    "ragan": AdversarialLoss("ragan", relativistic_average_discriminator, relativistic_average_generator, False,
                             relativistic=True),
    "relativistic_pairing": AdversarialLoss("relativistic_pairing", relativistic_pairing_discriminator,
                                            relativistic_pairing_generator, False, relativistic=True),
}


def get_loss(name: str) -> AdversarialLoss:
    """The adversarial loss registered under `name`, or a clear error listing the known ones."""
    key = name.replace("-", "_")
    if key not in LOSSES:
        raise GanforgeError(f"Unknown loss {name!r}; expected one of {', '.join(sorted(LOSSES))}.")
    return LOSSES[key]


def discriminator_score(logits: Tensor, loss: AdversarialLoss) -> Tensor:
    """Mean D output as shown to a person: P(real) for probabilistic losses, the raw score otherwise."""
    return torch.sigmoid(logits).mean() if loss.probabilistic else logits.mean()


# --- regularizers --------------------------------------------------------------------------------
def _input_gradients(outputs: Tensor, inputs: Tensor) -> Tensor:
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E[(‖∇D(x̂)‖₂ - 1)²] at random interpolates x̂ of real and fake (Gulrajani et al. 2017)."""
    eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    grad = _input_gradients(critic(mixed), mixed)
    return (grad.norm(2, dim=1) - 1.0).square().mean()


def r1_penalty(real_logits: Tensor, real: Tensor) -> Tensor:
    """E[‖∇ₓD(x)‖²] on real data (Mescheder et al. 2018); multiply by γ/2 yourself. `real` must require grad."""
    return _input_gradients(real_logits, real).square().sum(dim=1).mean()


def r2_penalty(fake_logits: Tensor, fake: Tensor) -> Tensor:
    """E[‖∇ₓD(x)‖²] on generated data, R1's twin (Mescheder et al. 2018; R3GAN, Huang et al. 2024); multiply by γ/2
    yourself. `fake` must require grad."""
    return _input_gradients(fake_logits, fake).square().sum(dim=1).mean()


# --- reconstruction terms ------------------------------------------------------------------------
def cycle_loss(original: Tensor, reconstructed: Tensor) -> Tensor:
    """E‖F(G(x)) - x‖₁: cycle consistency (Zhu et al. 2017)."""
    return (reconstructed - original).abs().mean()


def identity_loss(original: Tensor, mapped: Tensor) -> Tensor:
    """E‖G(y) - y‖₁: the identity term that keeps a generator from changing target-domain images."""
    return (mapped - original).abs().mean()


# --- the VAE's objective ------------------------------------------------------------------------
# The terms of the VAE's evidence lower bound (Kingma & Welling 2014), per image, in nats.
#
# ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || p(z)) with q(z|x) = N(μ, diag σ²) and p(z) = N(0, I).
# Each function returns one value per image (summed over pixels or latent dimensions), so a batch
# mean of ``reconstruction + kl`` is the negative ELBO per image. Pixel targets are on the [0, 1] scale.
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
