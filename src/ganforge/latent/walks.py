"""Seeded latents and walks between them: slerp in z, style mixing in w (Karras et al. 2019, §3 and §4.1).

The library half of `ganforge mix`, `ganforge interpolate` and the page's Interpolate & mix tab.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError

__all__ = ["slerp", "seed_noise", "class_labels", "map_seeds", "mixing_grid"]


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of a and b at fractions t (shape (T,)), shape (T, D)."""
    a_n, b_n = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    omega = torch.arccos((a_n * b_n).sum(-1).clamp(-1 + 1e-7, 1 - 1e-7))
    t = t.view(-1, 1)
    if float(omega) < 1e-4:
        return torch.lerp(a, b, t)
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def seed_noise(generator: nn.Module, seed: int) -> Tensor:
    """The z of a seed (1, z_dim), drawn from its own torch.Generator."""
    return torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(seed)).unsqueeze(0)


def class_labels(generator: nn.Module, label: Optional[int], n: int) -> Optional[Tensor]:
    """`n` copies of the class to draw (0 by default) for conditional models; None for unconditional ones."""
    classes = int(getattr(generator, "num_classes", 0))
    if classes == 0:
        if label is not None:
            raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
        return None
    label = 0 if label is None else label
    if not 0 <= label < classes:
        raise GanforgeError(f"Label {label} is outside this model's classes; expected 0 to {classes - 1}.")
    return torch.full((n,), label, dtype=torch.long)


def map_seeds(generator: nn.Module, seeds: list[int], truncation: float, label: Optional[int],
              device: str) -> Tensor:
    """Per-layer styles ws (N, num_ws, w_dim) of one z per seed (each z drawn from its own seed)."""
    z = torch.cat([seed_noise(generator, s) for s in seeds])
    labels = class_labels(generator, label, len(seeds))
    return generator.mapping(z.to(device), None if labels is None else labels.to(device), truncation=truncation)


@torch.no_grad()
def mixing_grid(generator: nn.Module, cols: int, rows: int, groups: list[str], seed: int = 0,
                truncation: float = 1.0, label: Optional[int] = None, device: str = "cpu") -> tuple[Tensor, list[str]]:
    """(images row by row, row labels) of a StyleGAN style-mixing grid; the first cell is blank (white)."""
    from ganforge.models.stylegan import level_count, mix_styles, style_groups

    levels = style_groups(level_count(generator))
    groups = [g for g in groups if levels[g]]
    ws_a = map_seeds(generator, list(range(seed, seed + cols)), truncation, label, device)
    row_seeds = list(range(seed + cols, seed + cols + rows * len(groups)))
    ws_b = map_seeds(generator, row_seeds, truncation, label, device)
    images_a = generator.synthesize(ws_a).cpu()
    images_b = generator.synthesize(ws_b).cpu()
    blank = torch.ones_like(images_a[:1])
    cells, row_labels = [torch.cat([blank, images_a])], ["A"]
    for g, group in enumerate(groups):
        for r in range(rows):
            i = g * rows + r
            mixed = generator.synthesize(mix_styles(ws_a, ws_b[i:i + 1], levels[group])).cpu()
            cells.append(torch.cat([images_b[i:i + 1], mixed]))
            row_labels.append(f"{group} from B")
    return torch.cat(cells), row_labels
