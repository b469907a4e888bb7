"""Projection of an image into a StyleGAN generator's latent space (after Karras et al. 2020, §5 and
the StyleGAN2-ADA projector): optimise w (one for every layer, or one per layer in W+) and the noise
maps so that the generator redraws the image.

As there: w starts at w_avg, Gaussian noise of a decaying size is added to w early on, the learning
rate ramps up over the first 5 % and down (cosine) over the last 25 %, the noise maps are pushed
towards white noise by a multi-scale autocorrelation penalty and renormalised after every step.
The image loss needs no download: pixel L1 and L2, 1 − MS-SSIM (Wang et al. 2003, scales fitted to
the image size), discriminator features when the model holds its discriminator, and LPIPS-VGG
(Zhang et al. 2018) when the user supplies its weights.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.latent.directions import is_stylegan

__all__ = ["ProjectionResult", "project", "LPIPS", "load_lpips", "ms_ssim_loss"]

MSSSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


@dataclass
class ProjectionResult:
    """The projected latent (ws of shape (1, num_ws, w_dim)), noise maps, image and progress."""

    ws: Tensor
    noise: list[Tensor]
    image: Tensor  #: (1, C, H, W) in [-1, 1]
    snapshots: list[Tensor] = field(default_factory=list)  #: images at evenly spaced steps, ending with the result
    losses: list[float] = field(default_factory=list)  #: image loss per step
    w_plus: bool = False


# --- image losses and scores ------------------------------------------------------------------------------
def _msssim_setup(size: int) -> tuple[float, int, tuple[float, ...]]:
    """Gaussian σ and scale weights for MS-SSIM on `size`-px images (a narrower window and fewer scales when small)."""
    sigma = 1.5 if size >= 176 else (1.0 if size >= 64 else 0.5)
    kernel = int(3.5 * sigma + 0.5) * 2 + 1  # the window torchmetrics builds for σ
    scales = 1
    while scales < 5 and size // 2 ** scales > kernel:
        scales += 1
    betas = MSSSIM_BETAS[:scales]
    total = sum(betas)
    return sigma, kernel, tuple(b / total for b in betas)


def ms_ssim_loss(a: Tensor, b: Tensor) -> Tensor:
    """1 − MS-SSIM of two image batches in [-1, 1] (window and scales fitted to the size)."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

    sigma, kernel, betas = _msssim_setup(min(a.shape[-2:]))
    value = multiscale_structural_similarity_index_measure((a.float() + 1) / 2, (b.float() + 1) / 2, sigma=sigma,
                                                           kernel_size=kernel, betas=betas, data_range=1.0, normalize="relu")
    return 1 - value


class DiscriminatorFeatures(nn.Module):
    """Squared distance of unit-normalised features of a StyleGAN discriminator's blocks."""

    def __init__(self, discriminator: nn.Module):
        super().__init__()
        self.discriminator = discriminator
        self.taps = [m for m in getattr(discriminator, "blocks", []) if not isinstance(m, nn.Identity)]
        if not self.taps:
            raise GanforgeError(f"Discriminator {type(discriminator).__name__} has no feature blocks; expected a StyleGAN discriminator.")

    def features(self, images: Tensor) -> list[Tensor]:
        """Block outputs for images."""
        found: list[Tensor] = []
        hooks = [m.register_forward_hook(lambda _m, _i, out: found.append(out)) for m in self.taps]
        try:
            x = images.repeat(4, 1, 1, 1) if images.shape[0] < 4 else images  # minibatch stddev wants groups of 4
            classes = int(getattr(self.discriminator, "num_classes", 0))
            labels = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if classes else None
            self.discriminator(x, labels)
        finally:
            for h in hooks:
                h.remove()
        return [f[:images.shape[0]] for f in found]

    def forward(self, a: Tensor, b_features: list[Tensor]) -> Tensor:
        """Mean over blocks of the squared distance between unit-normalised features."""
        total = a.new_zeros(())
        for fa, fb in zip(self.features(a), b_features):
            total = total + (F.normalize(fa.flatten(1), dim=1) - F.normalize(fb.flatten(1), dim=1)).square().sum(1).mean()
        return total / len(b_features)


# --- LPIPS-VGG from user weights --------------------------------------------------------------------------
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_TAPS = (3, 8, 15, 22, 29)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in torchvision's `features` numbering
_TAP_WIDTHS = (64, 128, 256, 512, 512)


class LPIPS(nn.Module):
    """LPIPS with VGG16 features (Zhang et al. 2018): learned channel weights on normalised feature differences.

    Built here (no torchvision); the weights come from the user: VGG16 `features.N.weight/bias` keys as
    torchvision names them, and `linK.model.1.weight` (1, C, 1, 1) keys as the LPIPS release names them.
    """

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for item in _VGG16:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(width, item, 3, padding=1), nn.ReLU()]
                width = item
        self.features = nn.Sequential(*layers)
        self.lins = nn.ParameterList(nn.Parameter(torch.ones(1, c, 1, 1)) for c in _TAP_WIDTHS)
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def load_weights(self, state: dict[str, Tensor]) -> None:
        """Load VGG16 and LPIPS weights from a merged state dict, naming the first key missing or misshapen."""
        own = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        own.update({f"lin{i}.model.1.weight": p for i, p in enumerate(self.lins)})
        for key, target in own.items():
            if key not in state:
                raise GanforgeError(f"LPIPS weights lack {key!r}; expected torchvision VGG16 `features.*` and LPIPS `lin*` keys.")
            if tuple(state[key].shape) != tuple(target.shape):
                raise GanforgeError(f"LPIPS weight {key!r} has shape {tuple(state[key].shape)}; expected {tuple(target.shape)}.")
        with torch.no_grad():
            for key, target in own.items():
                target.copy_(state[key].to(target.dtype))
        self.requires_grad_(False).eval()

    def _taps(self, x: Tensor) -> list[Tensor]:
        x = (x.repeat(1, 3 // x.shape[1], 1, 1) if x.shape[1] == 1 else x) - self.shift
        x = x / self.scale
        if x.shape[-1] < 64:
            x = F.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _TAPS:
                out.append(x)
            if i >= _TAPS[-1]:
                break
        return out

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        """Perceptual distance per image pair (N,) of images in [-1, 1]."""
        total = a.new_zeros(a.shape[0])
        for fa, fb, lin in zip(self._taps(a), self._taps(b), self.lins):
            diff = (F.normalize(fa, dim=1, eps=1e-10) - F.normalize(fb, dim=1, eps=1e-10)).square()
            total = total + (diff * lin).sum(1).mean(dim=(1, 2))
        return total


def load_lpips(paths: Union[str, Path, Sequence[Union[str, Path]]]) -> LPIPS:
    """An LPIPS-VGG judge from one or more weight files (.safetensors, or .pth/.pt read without pickled code)."""
    from safetensors.torch import load_file

    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    state: dict[str, Tensor] = {}
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise GanforgeError(f"LPIPS weights file {str(p)!r} does not exist; expected a .safetensors or .pth file.")
        try:
            loaded = load_file(str(p)) if p.suffix == ".safetensors" else torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same edge error
            raise GanforgeError(f"LPIPS weights file {str(p)!r} does not load ({type(exc).__name__}); "
                                "expected a state dict in .safetensors or .pth form.") from None
        if not isinstance(loaded, dict):
            raise GanforgeError(f"LPIPS weights file {str(p)!r} holds a {type(loaded).__name__}; expected a state dict.")
        state.update({k: v for k, v in loaded.items() if isinstance(v, Tensor)})
    model = LPIPS()
    model.load_weights(state)
    return model


# --- the projector ------------------------------------------------------------------------------------------
def _noise_modules(generator: nn.Module) -> list[nn.Module]:
    return [m for m in generator.modules() if hasattr(m, "noise_const") and isinstance(m.noise_const, Tensor)]


def noise_regularization(maps: Sequence[Tensor]) -> Tensor:
    """Squared autocorrelation of each noise map with itself shifted one pixel, summed over a pyramid down to 8 px."""
    total = maps[0].new_zeros(())
    for noise in maps:
        x = noise
        while True:
            total = total + (x * torch.roll(x, 1, dims=3)).mean().square() + (x * torch.roll(x, 1, dims=2)).mean().square()
            if x.shape[-1] <= 8:
                break
            x = F.avg_pool2d(x, 2)
    return total


def _render(generator: nn.Module, ws: Tensor) -> Tensor:
    """The exported generator's image for ws with the (optimised) constant noise maps, not clamped."""
    level, alpha = generator.current_phase()
    image = generator.synthesis(ws, level, alpha, "const")
    if image.shape[-1] != generator.image_size:
        image = F.interpolate(image, size=(generator.image_size, generator.image_size), mode="nearest")
    return image


def project(generator: nn.Module, target: Tensor, steps: int = 500, w_plus: bool = False, optimize_noise: bool = True,
            discriminator: Optional[nn.Module] = None, lpips: Optional[LPIPS] = None, label: Optional[int] = None,
            lr: float = 0.1, l2_weight: float = 1.0, l1_weight: float = 1.0, msssim_weight: float = 1.0,
            d_weight: float = 0.1, lpips_weight: float = 1.0, noise_weight: float = 1e5, initial_noise: float = 0.05,
            seed: int = 0, snapshots: int = 8, w_avg_samples: int = 2000) -> ProjectionResult:
    """Find ws (and noise maps) that make `generator` redraw `target` (1, C, H, W) in [-1, 1]."""
    if not is_stylegan(generator):
        raise GanforgeError(f"Projection needs a StyleGAN generator, not a {type(generator).__name__}; expected a model trained with --model stylegan.")
    if target.dim() == 3:
        target = target[None]
    size, channels = int(generator.image_size), int(generator.channels)
    if tuple(target.shape[1:]) != (channels, size, size):
        raise GanforgeError(f"Target image has shape {tuple(target.shape[1:])}; expected ({channels}, {size}, {size}) for this model.")
    if steps < 1:
        raise GanforgeError(f"Projection steps {steps} are invalid; expected at least 1.")
    device = next(generator.parameters()).device
    g = copy.deepcopy(generator).eval().requires_grad_(False)
    target = target.detach().to(device).float()
    rng = torch.Generator().manual_seed(seed)
    classes = int(getattr(g, "num_classes", 0))
    with torch.no_grad():
        z = torch.randn(w_avg_samples, g.z_dim, generator=rng).to(device)
        labels = torch.full((w_avg_samples,), int(label or 0), dtype=torch.long, device=device) if classes else None
        w_samples = g.mapping(z, labels)[:, 0].float()
        w_avg = w_samples.mean(0, keepdim=True)
        w_std = float((w_samples - w_avg).square().sum(1).mean().sqrt())
    num_ws = int(g.num_ws)
    start = w_avg[:, None].repeat(1, num_ws if w_plus else 1, 1)
    w_opt = start.clone().requires_grad_(True)
    noise_maps = []
    if optimize_noise:  # otherwise the model's own constant noise maps stay as they are
        for m in _noise_modules(g):
            buf = torch.randn(m.noise_const.shape, generator=rng).to(device).requires_grad_(True)
            m.noise_const = buf
            noise_maps.append(buf)
    params = [w_opt] + (noise_maps if optimize_noise else [])
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
    d_judge = DiscriminatorFeatures(discriminator.eval().requires_grad_(False)) if discriminator is not None else None
    with torch.no_grad():
        d_target = d_judge.features(target) if d_judge is not None else None
    shots_at = {max(1, round(steps * (i + 1) / snapshots)) for i in range(snapshots)} if snapshots else set()
    result = ProjectionResult(w_opt.detach(), [], target, [], [], w_plus)
    for step in range(steps):
        t = step / steps
        noise_scale = w_std * initial_noise * max(0.0, 1.0 - t / 0.75) ** 2
        ramp = min(1.0, (1.0 - t) / 0.25)
        ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / 0.05)
        for group in opt.param_groups:
            group["lr"] = lr * ramp
        w_noise = torch.randn(w_opt.shape, generator=rng).to(device) * noise_scale
        ws = w_opt + w_noise
        ws = ws if w_plus else ws.expand(-1, num_ws, -1)
        image = _render(g, ws)
        loss = l2_weight * (image - target).square().mean() + l1_weight * (image - target).abs().mean()
        if msssim_weight:
            loss = loss + msssim_weight * ms_ssim_loss(image.clamp(-1, 1), target)
        if d_judge is not None and d_weight:
            loss = loss + d_weight * d_judge(image, d_target)
        if lpips is not None and lpips_weight:
            loss = loss + lpips_weight * lpips(image, target).mean()
        image_loss = float(loss.detach())
        if noise_maps and optimize_noise and noise_weight:
            loss = loss + noise_weight * noise_regularization(noise_maps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for n in noise_maps:
                n.sub_(n.mean()).div_(n.std().clamp_min(1e-8))
        result.losses.append(image_loss)
        if step + 1 in shots_at:
            with torch.no_grad():
                ws_now = w_opt if w_plus else w_opt.expand(-1, num_ws, -1)
                result.snapshots.append(_render(g, ws_now).clamp(-1, 1).cpu())
    with torch.no_grad():
        ws_final = (w_opt if w_plus else w_opt.expand(-1, num_ws, -1)).detach().clone()
        result.ws = ws_final
        result.noise = [n.detach().clone() for n in noise_maps]
        result.image = _render(g, ws_final).clamp(-1, 1)
    return result


def with_noise(generator: nn.Module, noise: Sequence[Tensor]) -> nn.Module:
    """A copy of a StyleGAN generator whose constant noise maps are `noise` (as a projection found them)."""
    g = copy.deepcopy(generator)
    mods = _noise_modules(g)
    if len(mods) != len(noise):
        raise GanforgeError(f"{len(noise)} noise maps were given for a generator with {len(mods)} noise inputs; expected the maps of this model's projection.")
    for m, n in zip(mods, noise):
        if tuple(m.noise_const.shape) != tuple(n.shape):
            raise GanforgeError(f"A noise map of shape {tuple(n.shape)} does not fit an input of shape {tuple(m.noise_const.shape)}"
                                f"; expected this model's maps.")
        m.noise_const = n.detach().clone().to(m.noise_const.device)
    return g
