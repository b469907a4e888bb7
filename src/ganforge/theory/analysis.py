"""The numbers behind the theory figures, computed from a toy run's exported snapshots and its log.

For each snapshot (an export holding G and D): the trained D(x) and the optimal D*(x) over a grid of
the plane (or line), p_data exact and p_g by kernel density of G's samples; E D(x) on data and on
G's samples for both; the VEEGAN/PacGAN mode counts; and the generator's gradient against D(G(z))
under the minimax and the non-saturating loss on the very same players.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ganforge.data.toy import GaussianMixture, get_mixture
from ganforge.errors import GanforgeError
from ganforge.export import load_players
from ganforge.theory.density import gaussian_kde, optimal_discriminator, plane_grid, scott_bandwidth
from ganforge.theory.modes import POINT_SAMPLES, ModeReport, point_modes
from ganforge.theory.saturation import SATURATION_LOSSES, parameter_gradient_norm, sample_gradients


@dataclass
class Frame:
    """Everything drawn for one snapshot (CPU tensors)."""

    step: int
    grid: Tensor  # (M, d) evaluation points
    resolution: int
    d_grid: Tensor  # trained D(x) on the grid
    d_star_grid: Tensor  # D*(x) on the grid
    p_data_grid: Tensor  # exact p_data (convolved with the KDE kernel when smoothed)
    p_g_grid: Tensor  # KDE of G's samples
    bandwidth: float
    samples: Tensor  # 2,500 G samples (fixed latents)
    modes: ModeReport
    d_on_data: float  # E_{x~p_data} D(x)
    d_on_fake: float  # E_z D(G(z))
    d_star_on_data: float
    d_star_on_fake: float
    gap: float  # mean |D − D*| weighted by (p_data + p_g) / 2 over the grid
    gradients: dict = field(default_factory=dict)  # loss -> {"d_fake", "logit_grad", "sample_grad"} at G's samples
    plane_gradients: dict = field(default_factory=dict)  # the same at grid points, as if G had put a sample there
    parameter_grad: dict = field(default_factory=dict)  # loss -> ‖∇_θ L_G‖ on the 2,500 latents


def mixture_of(info: dict) -> GaussianMixture:
    """The mixture an export's info names (its recorded means and σ take precedence)."""
    if info.get("kind") != "points":
        raise GanforgeError(f"Model info kind {info.get('kind')!r} is not a toy run; expected an export of --model toy.")
    if info.get("means"):
        return GaussianMixture(str(info.get("mixture", "mixture")), tuple(tuple(float(v) for v in m) for m in info["means"]),
                               float(info["sigma"]))
    return get_mixture(info.get("mixture"))


def point_logits(discriminator: nn.Module) -> Callable[[Tensor], Tensor]:
    """x (N, d) -> N logits, each point judged as a pack of copies of itself when D packs."""
    pack = int(getattr(discriminator, "pack", 1))
    return lambda x: discriminator(x.repeat_interleave(pack, dim=0)) if pack > 1 else discriminator(x)


@torch.no_grad()
def _mean_d(logits, x: Tensor, chunk: int = 4096) -> Tensor:
    return torch.cat([torch.sigmoid(logits(x[i:i + chunk])) for i in range(0, x.shape[0], chunk)])


def analyse_snapshot(path: str | Path, resolution: int = 120, kde_samples: int = 10000, seed: int = 0,
                     bandwidth: Optional[float] = None, smooth_data: bool = True) -> Frame:
    """The D-vs-D*, mode and gradient numbers of one exported toy snapshot."""
    players, info = load_players(path)
    if "discriminator" not in players:
        raise GanforgeError(f"Model {str(path)!r} has no discriminator; expected a toy-run export or snapshot.")
    G, D = players["generator"], players["discriminator"]
    mixture = mixture_of(info)
    logits = point_logits(D)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(max(kde_samples, POINT_SAMPLES), G.z_dim, generator=g)
    with torch.no_grad():
        fake = torch.cat([G(z[i:i + 5000]) for i in range(0, z.shape[0], 5000)]).float()
    samples = fake[:POINT_SAMPLES]
    data = mixture.sample(POINT_SAMPLES, torch.Generator().manual_seed(seed + 1))
    low, high = mixture.extent()
    grid = plane_grid(low, high, resolution if mixture.dim == 2 else resolution * 4, mixture.dim)
    h = float(bandwidth) if bandwidth is not None else scott_bandwidth(fake[:kde_samples])
    p_g = gaussian_kde(fake[:kde_samples], grid, h)
    p_data = mixture.density(grid, h * h if smooth_data else 0.0)
    d_star = optimal_discriminator(p_data, p_g)
    d_grid = _mean_d(logits, grid).double()
    weight = (p_data + p_g) / 2
    gap = float((weight * (d_grid - d_star).abs()).sum() / weight.sum().clamp(min=1e-300))

    def d_star_at(x: Tensor) -> float:
        return float(optimal_discriminator(mixture.density(x, h * h if smooth_data else 0.0),
                                           gaussian_kde(fake[:kde_samples], x, h)).mean())

    gradients, plane, parameter_grad = {}, {}, {}
    spots = grid[torch.randperm(grid.shape[0], generator=g)[:POINT_SAMPLES]]
    for loss in SATURATION_LOSSES:
        gradients[loss] = {k: v.detach() for k, v in sample_gradients(logits, samples, loss).items()}
        plane[loss] = {k: v.detach() for k, v in sample_gradients(logits, spots, loss).items()}
        parameter_grad[loss] = parameter_gradient_norm(G, D, z[:POINT_SAMPLES - POINT_SAMPLES % max(1, D.pack)], loss)
    return Frame(int(info.get("steps", 0)), grid, resolution, d_grid, d_star, p_data, p_g, h, samples,
                 point_modes(samples, mixture.mean_tensor(), mixture.sigma),
                 float(_mean_d(logits, data).mean()), float(_mean_d(logits, samples).mean()),
                 d_star_at(data), d_star_at(samples), gap, gradients, plane, parameter_grad)
