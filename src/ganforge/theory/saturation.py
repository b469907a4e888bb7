"""The generator's gradient against D(G(z)): why the minimax generator loss saturates and the other does not.

With a = D's logit and D = sigmoid(a), the minimax generator loss log(1 − D) has dℓ/da = −D, the
non-saturating −log D has dℓ/da = −(1 − D) (Goodfellow et al. 2014, §3; Goodfellow 2016, Fig. 16).
Early on D rejects fakes, D(G(z)) ≈ 0: the minimax gradient vanishes, the non-saturating one is ≈ 1.
The gradient reaching G's sample is dℓ/da · ∇ₓa, so its size is |dℓ/da| times ‖∇ₓa‖.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.losses import get_loss

SATURATION_LOSSES = ("minimax", "non_saturating")


def analytic_logit_gradient(d_fake: Tensor, loss: str) -> Tensor:
    """|dℓ/da| as a function of D(G(z)): D for minimax, 1 − D for non_saturating."""
    if loss == "minimax":
        return d_fake
    if loss == "non_saturating":
        return 1.0 - d_fake
    raise GanforgeError(f"Loss {loss!r} has no saturation curve here; expected one of {', '.join(SATURATION_LOSSES)}.")


def sample_gradients(discriminator: Callable[[Tensor], Tensor], fakes: Tensor, loss: str) -> dict[str, Tensor]:
    """Per-sample D(G(z)), |dℓ/da| and ‖dℓ/dx‖ of the generator loss `loss` at samples x = G(z), by autograd.

    `discriminator` maps (N, ...) samples to N logits (one per sample; feed packs of copies for a
    packing D). Each sample's loss is taken alone (a batch of N per-sample terms summed), so the
    gradients are per sample, not divided by N.
    """
    generator_loss = get_loss(loss).generator
    x = fakes.detach().clone().requires_grad_(True)
    logits = discriminator(x)
    if logits.shape[0] != x.shape[0]:
        raise GanforgeError(f"The discriminator gave {logits.shape[0]} logits for {x.shape[0]} samples; expected one per sample.")
    a = logits.detach().clone().requires_grad_(True)
    total = generator_loss(a) * a.shape[0]  # the losses are means, so N·loss(a) = Σᵢ ℓ(aᵢ)
    (logit_grad,) = torch.autograd.grad(total, a)
    (x_grad,) = torch.autograd.grad(logits, x, grad_outputs=logit_grad)
    return {"d_fake": torch.sigmoid(logits.detach()), "logit_grad": logit_grad.abs(),
            "sample_grad": x_grad.flatten(1).norm(dim=1)}


def parameter_gradient_norm(generator: torch.nn.Module, discriminator: Callable[[Tensor], Tensor], z: Tensor,
                            loss: str) -> float:
    """‖∇_θ L_G‖ over G's parameters for the batch loss `loss` at latents z (G in its current mode)."""
    params = list(generator.parameters())
    flags = [p.requires_grad for p in params]
    try:
        with torch.enable_grad():
            for p in params:
                p.requires_grad_(True)
            value = get_loss(loss).generator(discriminator(generator(z)))
            grads = torch.autograd.grad(value, params, allow_unused=True)
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
    return float(torch.sqrt(sum(g.double().square().sum() for g in grads if g is not None)))
