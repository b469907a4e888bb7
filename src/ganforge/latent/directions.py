"""Interpretable latent directions of a trained generator, found without labels, and edits along them.

- **SeFa** (Shen & Zhou 2021, "Closed-Form Factorization of Latent Semantics in GANs"): a style
  affine layer maps w to a style y = A·w + b, so moving w by n moves y by A·n; the directions that
  move the styles most are the top eigenvectors of AᵀA, with A the affine weights of the chosen
  layers stacked (each output row scaled to unit norm). Needs only the weights.
- **PCA of w** (Härkönen et al. 2020, "GANSpace"): principal axes of sampled w = mapping(z).
- **PCA in z** for generators without a mapping network: GANSpace's recipe for such models — PCA of
  a feature space reached from z (here the generated images themselves), each principal axis
  carried back to z by least-squares regression of its coordinates on z.

Every direction is a unit vector with a `scale`: the standard deviation of sampled latents along it,
so an edit of strength 1 moves one typical spread.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.kinds import NOISE_DRIVEN, ModelKind, require

METHODS = ("sefa", "pca-w", "pca-z")
GROUP_NAMES = ("all", "coarse", "middle", "fine")

__all__ = ["Directions", "METHODS", "sefa", "pca_w", "pca_z", "find_directions", "layer_rows",
           "edit_latent", "edit_images", "seed_latents", "load_directions"]


@dataclass
class Directions:
    """Unit latent directions (K, D) with their strengths (eigenvalues), spreads and provenance."""

    vectors: Tensor  #: (K, D) unit rows
    values: Tensor  #: (K,) what ranked them: eigenvalues of AᵀA (SeFa) or explained variances (PCA)
    scales: Tensor  #: (K,) std of sampled latents along each direction (the unit of an edit's strength)
    method: str  #: sefa, pca-w or pca-z
    space: str  #: "w" or "z": what the vectors move
    layers: list[int] = field(default_factory=list)  #: synthesis levels the directions were found for (w only)

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    def save(self, path: Union[str, Path]) -> Path:
        """Write the directions as a .npz (vectors, values, scales, method, space, layers)."""
        path = Path(path)
        if path.suffix.lower() != ".npz":
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, vectors=self.vectors.numpy(), values=self.values.numpy(), scales=self.scales.numpy(),
                 method=np.array(self.method), space=np.array(self.space), layers=np.array(self.layers, dtype=np.int64))
        return path


def load_directions(path: Union[str, Path]) -> Directions:
    """Read directions written by `Directions.save`, or a clear error."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return Directions(torch.from_numpy(data["vectors"]).float(), torch.from_numpy(data["values"]).float(),
                              torch.from_numpy(data["scales"]).float(), str(data["method"]), str(data["space"]),
                              [int(x) for x in data["layers"]])
    except (OSError, KeyError, ValueError) as exc:
        raise GanforgeError(f"Directions file {str(path)!r} does not load ({type(exc).__name__}); "
                            "expected a .npz written by `ganforge directions`.") from None


def level_total(generator: nn.Module) -> int:
    """Synthesis levels of a StyleGAN generator (4 px up to its image size)."""
    return int(generator.num_ws) // 2


def resolve_levels(generator: nn.Module, layers: Union[str, Sequence[int], None]) -> list[int]:
    """Synthesis levels named by "all", "coarse", "middle", "fine", "A-B", "A,B,..." or a list of ints."""
    from ganforge.models.stylegan import style_groups

    total = level_total(generator)
    if layers is None or (isinstance(layers, str) and layers.strip() in ("", "all")):
        return list(range(total))
    if isinstance(layers, str):
        text = layers.strip()
        groups = style_groups(total)
        if text in groups:
            if not groups[text]:
                raise GanforgeError(f"Layer group {text!r} is empty for this {total}-level generator; expected another group.")
            return list(groups[text])
        try:
            if "-" in text:
                lo, hi = (int(x) for x in text.split("-", 1))
                levels = list(range(lo, hi + 1))
            else:
                levels = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise GanforgeError(f"Layers {layers!r} are invalid; expected all, coarse, middle, fine, a range such as 0-2 "
                                "or levels such as 0,1.") from None
    else:
        levels = [int(x) for x in layers]
    if not levels or any(not 0 <= lv < total for lv in levels):
        raise GanforgeError(f"Layers {layers!r} are outside this generator's levels; expected levels 0 to {total - 1}.")
    return sorted(set(levels))


def layer_rows(levels: Sequence[int]) -> list[int]:
    """Rows of ws (N, num_ws, w_dim) that the given synthesis levels read."""
    return [row for level in levels for row in (2 * level, 2 * level + 1)]


def style_affines(generator: nn.Module, levels: Sequence[int]) -> list[Tensor]:
    """Effective weight matrices (out, w_dim) of every affine layer that turns w into a style at those levels."""
    synthesis = generator.synthesis
    mats = []
    for level in levels:
        for layer in (synthesis.layers[2 * level], synthesis.layers[2 * level + 1]):
            affine = layer.conv.affine if layer.modulation == "demod" else layer.adain.affine
            mats.append(affine.weight.detach().float() * affine.weight_gain)
        to_rgb = synthesis.to_rgb[level]
        if getattr(to_rgb, "modulated", False):
            mats.append(to_rgb.conv.affine.weight.detach().float() * to_rgb.conv.affine.weight_gain)
    return mats


@torch.no_grad()
def _sample_w(generator: nn.Module, n: int, seed: int, device) -> Tensor:
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.z_dim, generator=rng).to(device)
    classes = int(getattr(generator, "num_classes", 0))
    labels = (torch.arange(n) % classes).to(device) if classes else None
    return torch.cat([generator.mapping(z[i:i + 500], None if labels is None else labels[i:i + 500])[:, 0]
                      for i in range(0, n, 500)]).float().cpu()


def _spreads(samples: Tensor, vectors: Tensor) -> Tensor:
    """Standard deviation of samples (N, D) along each unit row of vectors (K, D)."""
    return ((samples - samples.mean(0)) @ vectors.t().to(samples.dtype)).std(0).float().clamp_min(1e-6)


def _device(generator: nn.Module) -> torch.device:
    return next(generator.parameters()).device


def sefa(generator: nn.Module, layers: Union[str, Sequence[int], None] = None, k: int = 10,
         n_scale: int = 2000, seed: int = 0) -> Directions:
    """The top-k SeFa directions in w of a StyleGAN generator for the given synthesis levels (Shen & Zhou 2021)."""
    levels = resolve_levels(generator, layers)
    rows = torch.cat([m / m.norm(dim=1, keepdim=True).clamp_min(1e-12) for m in style_affines(generator, levels)])
    values, vectors = torch.linalg.eigh(rows.t().double() @ rows.double())  # ascending
    order = torch.argsort(values, descending=True)[:k]
    vectors = vectors[:, order].t().float().contiguous()
    # eigenvectors have no sign; fix one (components sum to a positive number) so files are reproducible
    vectors = vectors * torch.sign(vectors.sum(1, keepdim=True) + 1e-12)
    scales = _spreads(_sample_w(generator, n_scale, seed, _device(generator)), vectors)
    return Directions(vectors, values[order].float(), scales, "sefa", "w", levels)


def pca_w(generator: nn.Module, k: int = 10, n: int = 5000, seed: int = 0,
          layers: Union[str, Sequence[int], None] = None) -> Directions:
    """Principal axes of sampled w of a StyleGAN generator (GANSpace, Härkönen et al. 2020)."""
    levels = resolve_levels(generator, layers)
    w = _sample_w(generator, n, seed, _device(generator)).double()
    centered = w - w.mean(0)
    _, s, vh = torch.linalg.svd(centered, full_matrices=False)
    vectors = vh[:k].float().contiguous()
    vectors = vectors * torch.sign(vectors.sum(1, keepdim=True) + 1e-12)
    variance = (s[:k] ** 2 / (n - 1)).float()
    return Directions(vectors, variance, variance.sqrt().clamp_min(1e-6), "pca-w", "w", levels)


@torch.no_grad()
def pca_z(generator: nn.Module, k: int = 10, n: int = 2000, seed: int = 0) -> Directions:
    """Directions in z for any noise generator: PCA of its images, each axis regressed back onto z (GANSpace)."""
    device = _device(generator)
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, generator.z_dim, generator=rng)
    classes = int(getattr(generator, "num_classes", 0))
    labels = torch.arange(n) % classes if classes else None
    feats = []
    for i in range(0, n, 250):
        zi = z[i:i + 250].to(device)
        li = None if labels is None else labels[i:i + 250].to(device)
        feats.append(generator(zi, li).float().flatten(1).cpu())
    x = torch.cat(feats).double()
    x = x - x.mean(0)
    u, s, _ = torch.linalg.svd(x, full_matrices=False)
    coords = u[:, :k] * s[:k]  # (n, k) principal coordinates
    zc = z.double() - z.double().mean(0)
    beta = torch.linalg.lstsq(zc, coords).solution  # (D, k): coords ≈ zc @ beta
    vectors = torch.nn.functional.normalize(beta.t(), dim=1).float().contiguous()
    vectors = vectors * torch.sign(vectors.sum(1, keepdim=True) + 1e-12)
    variance = (s[:k] ** 2 / (n - 1)).float()
    return Directions(vectors, variance, _spreads(z, vectors), "pca-z", "z", [])


def find_directions(generator: nn.Module, method: Optional[str] = None, k: int = 10,
                    layers: Union[str, Sequence[int], None] = None, seed: int = 0, *, kind: ModelKind) -> Directions:
    """Directions by `method` (default: SeFa for a model with a w space, PCA in z for every other noise generator)."""
    require(kind, type(generator).__name__, "finding latent directions", "a noise generator (GAN or VAE)", kinds=NOISE_DRIVEN)
    method = method or ("sefa" if kind.w_space else "pca-z")
    if method in ("sefa", "pca-w") and not kind.w_space:
        raise GanforgeError(f"Direction method {method!r} needs a StyleGAN model (one with a w space), not a {kind.name} model; "
                            "expected --method pca-z.")
    if method not in METHODS:
        raise GanforgeError(f"Direction method {method!r} is unknown; expected one of {', '.join(METHODS)}.")
    if k < 1:
        raise GanforgeError(f"Direction count {k} is invalid; expected at least 1.")
    if method == "sefa":
        return sefa(generator, layers, k, seed=seed)
    if method == "pca-w":
        return pca_w(generator, k, seed=seed, layers=layers)
    if layers not in (None, "", "all"):
        raise GanforgeError(f"Layers {layers!r} were given for PCA in z, which moves every layer; expected no --layers.")
    return pca_z(generator, k, seed=seed)


def seed_latents(generator: nn.Module, seeds: Sequence[int], truncation: float = 1.0,
                 label: Optional[int] = None, *, kind: ModelKind) -> Tensor:
    """Per seed the latent an edit starts from: ws (N, num_ws, w_dim) with a w space, z (N, z_dim) otherwise."""
    device = _device(generator)
    z = torch.stack([torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds]).to(device)
    classes = int(getattr(generator, "num_classes", 0))
    if classes and label is not None and not 0 <= label < classes:
        raise GanforgeError(f"Label {label} is outside this model's classes; expected 0 to {classes - 1}.")
    labels = torch.full((len(seeds),), int(label or 0), dtype=torch.long, device=device) if classes else None
    if kind.w_space:
        with torch.no_grad():
            return generator.mapping(z, labels, truncation=truncation)
    return z


def edit_latent(latent: Tensor, directions: Directions, index: int, strength: float,
                levels: Optional[Sequence[int]] = None) -> Tensor:
    """`latent` moved `strength` spreads along direction `index`; for ws only the rows of `levels` move."""
    if not 0 <= index < len(directions):
        raise GanforgeError(f"Direction {index} does not exist; expected 0 to {len(directions) - 1}.")
    step = (directions.vectors[index] * directions.scales[index] * float(strength)).to(latent.device, latent.dtype)
    if directions.space == "z":
        if latent.dim() != 2:
            raise GanforgeError("A z-space direction was applied to per-layer styles; expected a z latent.")
        return latent + step
    if latent.dim() == 2:
        return latent + step
    moved = latent.clone()
    rows = layer_rows(directions.layers if levels is None else levels)
    moved[:, rows] = moved[:, rows] + step
    return moved


@torch.no_grad()
def render(generator: nn.Module, latent: Tensor, label: Optional[int] = None, *, kind: ModelKind) -> Tensor:
    """Images in [-1, 1] from a latent made by `seed_latents` (ws with a w space, z otherwise)."""
    if kind.w_space and latent.dim() == 3:
        return generator.synthesize(latent).float().clamp(-1, 1)
    classes = int(getattr(generator, "num_classes", 0))
    labels = torch.full((latent.shape[0],), int(label or 0), dtype=torch.long, device=latent.device) if classes else None
    return generator(latent, labels).float().clamp(-1, 1)


@torch.no_grad()
def edit_images(generator: nn.Module, latent: Tensor, directions: Directions, index: int,
                strengths: Sequence[float], levels: Optional[Sequence[int]] = None,
                label: Optional[int] = None, *, kind: ModelKind) -> Tensor:
    """Images (len(latent) · len(strengths), C, H, W): each latent edited at each strength, row by row."""
    rows = []
    for i in range(latent.shape[0]):
        edited = torch.cat([edit_latent(latent[i:i + 1], directions, index, s, levels) for s in strengths])
        rows.append(render(generator, edited, label, kind=kind).cpu())
    return torch.cat(rows)
