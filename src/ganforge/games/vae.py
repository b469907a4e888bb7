"""The VAE as a one-sided game: no discriminator, one step that maximizes the ELBO (Kingma & Welling 2014).

The referee trains it like any family (same data, budget, EMA, checkpoints, export); with
``critic_steps = 0`` it never calls ``discriminator_step``. The logged ``loss_g`` is the minimized
objective ``recon + β·kl`` in nats per image (the negative ELBO when β = 1), with ``recon`` =
-E_q[log p(x|z)] and ``kl`` = KL(q(z|x) || N(0, I)), both per image.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import LOSS_G
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime, latent_inputs
from ganforge.games.registry import Family, register
from ganforge.games.shared_options import ChannelCeiling
from ganforge.games.toolkit import in_passes
from ganforge.kinds import declare
from ganforge.losses import bernoulli_nll, gaussian_kl, gaussian_nll, reparameterize
from ganforge.nn.modes import eval_mode

RECONSTRUCTIONS = ("bernoulli", "gaussian")


@dataclass
class VAEOptions(ChannelCeiling):
    """Options of the VAE."""

    z_dim: int = 32  #: latent dimension
    width: int = 64  #: channels of the widest-resolution layer, as DCGAN's width
    beta: float = 1.0  #: weight of the KL term (β-VAE, Higgins et al. 2017); 1 is the ELBO
    reconstruction: str = "bernoulli"  #: p(x|z): bernoulli (pixels in [0, 1] as probabilities) or gaussian
    sigma: Optional[float] = None  #: gaussian only: fixed pixel σ on the [0, 1] scale; None fits σ to each batch
    lr: float = 1e-3  #: Adam learning rate of encoder and decoder (the config's lr_g/lr_d are GAN settings)
    adam_beta1: float = 0.9  #: Adam β1 (the config's beta1 = 0.5 is a GAN setting; beta2 is shared)

    def validate(self) -> None:
        """Reject sizes, weights and likelihoods that cannot train."""
        if self.z_dim < 1 or self.width < 1:
            raise GanforgeError(f"VAE options z_dim={self.z_dim}, width={self.width} are invalid; expected positive integers.")
        self.check_channel_max()
        if self.beta < 0:
            raise GanforgeError(f"VAE option beta={self.beta} is invalid; expected a number >= 0.")
        if self.reconstruction not in RECONSTRUCTIONS:
            raise GanforgeError(f"VAE option reconstruction={self.reconstruction!r} is invalid; expected one of {', '.join(RECONSTRUCTIONS)}.")
        if self.lr <= 0 or not 0 <= self.adam_beta1 < 1:
            raise GanforgeError(f"VAE options lr={self.lr}, adam_beta1={self.adam_beta1} are invalid; expected lr > 0 and 0 <= adam_beta1 < 1.")
        if self.sigma is not None and (self.reconstruction != "gaussian" or self.sigma <= 0):
            raise GanforgeError(f"VAE option sigma={self.sigma} is invalid; expected a number > 0 with reconstruction=gaussian, or no sigma.")


def optimal_log_sigma(mean: Tensor, target: Tensor, floor: float = 1e-3) -> Tensor:
    """log σ* = ½ log MSE: the one pixel σ that maximizes the batch's Gaussian likelihood (Rybkin et al. 2021)."""
    return 0.5 * (target.float() - mean).square().mean().clamp_min(floor ** 2).log()


class VAEGame(Game):
    """Encoder and decoder trained together on the negative ELBO (or its β-weighted form)."""

    critic_steps = 0
    critics = ()

    def __init__(self, runtime: Runtime, info: DataInfo, encoder: nn.Module, decoder: nn.Module,
                 options: VAEOptions, lr: float, betas: tuple[float, float]):
        super().__init__(runtime, info)
        self.seat(generator=decoder, encoder=encoder)
        self.options = options
        self.add_adam("vae", lr, betas, ("generator", "encoder"))

    def reconstruction_nll(self, logits: Tensor, target: Tensor) -> Tensor:
        """-log p(x|z) per image for decoder logits and targets on the [0, 1] scale."""
        if self.options.reconstruction == "bernoulli":
            return bernoulli_nll(logits, target)
        mean = torch.sigmoid(logits.float())
        if self.options.sigma is not None:
            return gaussian_nll(mean, target, math.log(self.options.sigma))
        log_sigma = optimal_log_sigma(mean, target)
        if self.generator.training:
            self.generator.log_sigma.copy_(log_sigma.detach())
        return gaussian_nll(mean, target, log_sigma)

    def losses(self, images: Tensor) -> dict[str, Tensor]:
        """Batch means of recon, kl and the objective loss_g = recon + β·kl for images in [-1, 1]."""
        mean, logvar = self.players["encoder"](images)
        z = reparameterize(mean, logvar)
        logits = self.generator.logits(z)
        recon = self.reconstruction_nll(logits, (images.float() + 1.0) * 0.5).mean()
        kl = gaussian_kl(mean, logvar).mean()
        return {LOSS_G: recon + self.options.beta * kl, "recon": recon, "kl": kl}

    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """The VAE has no discriminator; the referee never calls this (critic_steps = 0)."""
        return {}

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """One update of encoder and decoder on the batch's negative ELBO."""
        terms = self.losses(batch["images"])
        self.update("vae", terms[LOSS_G])
        logs = {k: v.detach() for k, v in terms.items()}
        if self.options.reconstruction == "gaussian" and self.options.sigma is None:
            logs["sigma"] = self.generator.log_sigma.exp()
        return logs

    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed latent codes from the prior N(0, I)."""
        return latent_inputs(n, self.generator.z_dim, generator)

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """The decoder's mean images for the fixed codes."""
        with eval_mode(generator):
            return in_passes(lambda rows: generator(rows["z"].to(self.runtime.device)).float(), inputs, self.info.image_size)

    def export_info(self) -> dict[str, Any]:
        """Image facts, kind "vae" with an encoder, and the likelihood and β, so scores can be read in context."""
        o = self.options
        return {**super().export_info(), **declare("vae", "encoder"), "reconstruction": o.reconstruction, "beta": o.beta,
                "sigma": o.sigma if o.sigma is not None or o.reconstruction != "gaussian" else "fitted per batch"}

    def export_players(self, generator: nn.Module) -> dict[str, nn.Module]:
        """The decoder to export (live or EMA copy) as "generator", and the live encoder as "encoder"."""
        return {"generator": generator, "encoder": self.players["encoder"]}


def build_vae(cfg: TrainConfig, options: VAEOptions, info: DataInfo, runtime: Runtime) -> VAEGame:
    """The VAE game for a config.

    The VAE has one optimizer, Adam with the usual VAE settings (lr 1e-3, β1 0.9) from its options; of the
    config's family-dependent settings it reads beta2 alone (`Family.reads`), so --loss, lr_g, lr_d, beta1,
    n_critic and the augmentation settings are refused.
    """
    from ganforge.models.vae import Decoder, Encoder

    learned = options.reconstruction == "gaussian" and options.sigma is None
    encoder = Encoder(options.z_dim, info.channels, info.image_size, options.width, channel_max=options.channel_max)
    decoder = Decoder(options.z_dim, info.channels, info.image_size, options.width, learned_sigma=learned,
                      channel_max=options.channel_max)
    return VAEGame(runtime, info, encoder, decoder, options, options.lr, (options.adam_beta1, cfg.beta2))


register(Family("vae", "convolutional variational autoencoder (Kingma & Welling 2014), to compare", VAEOptions,
                build_vae, default_loss=None, default_image_size=32, default_steps=4400, reads=frozenset({"beta2"}),
                tiny={"image_size": 16, "options": {"width": 4, "z_dim": 6}}))
