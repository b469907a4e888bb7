"""A VAE's reconstructions of images: encode, then decode the mean code (or a sampled one)."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def reconstruct(encoder: nn.Module, decoder: nn.Module, images: Tensor, batch_size: int = 256,
                sample: bool = False, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(reconstructions in [-1, 1], mean codes (N, z_dim)) of float images in [-1, 1], on the decoder's device."""
    from ganforge.losses import reparameterize

    device = next(decoder.parameters()).device
    rng = torch.Generator(device=device).manual_seed(seed) if sample else None
    outputs, codes = [], []
    for start in range(0, len(images), batch_size):
        mean, logvar = encoder(images[start:start + batch_size].to(device))
        z = reparameterize(mean, logvar, rng) if sample else mean
        outputs.append(decoder(z).float().clamp_(-1, 1).cpu())
        codes.append(mean.float().cpu())
    return torch.cat(outputs), torch.cat(codes)
