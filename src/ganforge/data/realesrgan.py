"""Real-ESRGAN's second-order ("blind") degradation: the LR of an HR batch made as a real photo's would be.

Wang, Xie, Dong, Shan, "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure Synthetic
Data" (2021). Two rounds of blur → random resize → noise → JPEG, the second round ending in a resize
to the LR size with a final 2-D sinc filter, and JPEG, in random order. `RealESRGANConfig` holds
every parameter, its defaults being the paper's published training configuration (the x4plus
option file); `RealESRGANDegradation` applies it to a batch, drawing everything from one generator.

Per image (one draw each): the blur kernels (type, size, widths, angle, shape; sinc or not), whether
the second blur and the final sinc apply, Gaussian or Poisson noise, its strength and colour or grey,
each JPEG quality. Per batch (the images must keep one size): each resize's factor and interpolation
and the order of the last stages. The paper's code draws the noise type and the second blur once per
batch; drawing them per image keeps their probabilities and mixes more degradations in a batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, get_type_hints

import torch
from torch import Tensor

from ganforge.config import closest_keys
from ganforge.data.degradations import RESIZE_MODES, gaussian_noise, jpeg, poisson_noise, resize
from ganforge.data.kernels import KERNEL_TYPES, delta, filter2d, gaussian, generalized_gaussian, plateau, sinc
from ganforge.errors import GanforgeError

Pair = tuple[float, float]


@dataclass(frozen=True)
class RealESRGANConfig:
    """Every parameter of the two-round degradation; the defaults are Real-ESRGAN's (train_realesrgan_x4plus). Ranges are [low, high]."""

    # blur kernels (both rounds)
    kernel_range: tuple[int, int] = (7, 21)  #: odd kernel sizes drawn uniformly from low to high (also the final sinc's)
    # the first round
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  #: iso, aniso, generalized iso/aniso, plateau iso/aniso
    sinc_prob: float = 0.1  #: chance that the first blur is a 2-D sinc instead
    blur_sigma: Pair = (0.2, 3.0)  #: Gaussian widths σx, σy in HR pixels
    betag_range: Pair = (0.5, 4.0)  #: shape β of the generalised Gaussian
    betap_range: Pair = (1.0, 2.0)  #: shape β of the plateau kernel
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)  #: chances of resizing up, down, or keeping the size
    resize_range: Pair = (0.15, 1.5)  #: factor range (down: [low, 1], up: [1, high])
    gaussian_noise_prob: float = 0.5  #: chance of Gaussian noise (else Poisson)
    noise_range: Pair = (1.0, 30.0)  #: Gaussian noise σ on the 0-255 scale
    poisson_scale_range: Pair = (0.05, 3.0)  #: multiplier of the Poisson (shot) noise
    gray_noise_prob: float = 0.4  #: chance that the noise is grey (one plane for all channels)
    jpeg_range: Pair = (30.0, 95.0)  #: JPEG quality
    # the second round
    second_blur_prob: float = 0.8  #: chance that the second round blurs at all
    kernel_prob2: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    sinc_prob2: float = 0.1
    blur_sigma2: Pair = (0.2, 1.5)
    betag_range2: Pair = (0.5, 4.0)
    betap_range2: Pair = (1.0, 2.0)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: Pair = (0.3, 1.2)  #: relative to the LR size
    gaussian_noise_prob2: float = 0.5
    noise_range2: Pair = (1.0, 25.0)
    poisson_scale_range2: Pair = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: Pair = (30.0, 95.0)
    # the end
    final_sinc_prob: float = 0.8  #: chance of the sinc filter after the resize to the LR size

    @classmethod
    def from_options(cls, values: dict) -> RealESRGANConfig:
        """The config with `values` (a mapping of field names to numbers or [low, high] lists) over the defaults, checked."""
        if not isinstance(values, dict):
            raise GanforgeError(f"Degradation options {values!r} are invalid; expected a mapping of names to values.")
        known = {f.name for f in fields(cls)}
        hints = get_type_hints(cls)
        plain: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise GanforgeError(f"Unknown degradation option {key!r}; expected {closest_keys(str(key), known)}.")
            plain[key] = _coerce(key, value, hints[key])
        config = cls(**plain)
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse values outside what each parameter can take, one sentence naming it."""
        low, high = self.kernel_range
        if not (isinstance(low, int) and isinstance(high, int)) or low % 2 == 0 or high % 2 == 0 or not 1 <= low <= high <= 41:
            raise GanforgeError(f"Degradation option kernel_range={list(self.kernel_range)} is invalid; expected odd sizes 1 <= low <= high <= 41.")
        for name in ("kernel_prob", "kernel_prob2"):
            _check_distribution(name, getattr(self, name), len(KERNEL_TYPES))
        for name in ("resize_prob", "resize_prob2"):
            _check_distribution(name, getattr(self, name), 3)
        for name in ("sinc_prob", "sinc_prob2", "gaussian_noise_prob", "gaussian_noise_prob2", "gray_noise_prob",
                     "gray_noise_prob2", "second_blur_prob", "final_sinc_prob"):
            if not 0 <= getattr(self, name) <= 1:
                raise GanforgeError(f"Degradation option {name}={getattr(self, name)} is invalid; expected a probability 0 <= p <= 1.")
        bounds = {"blur_sigma": (0.0, math.inf, False), "blur_sigma2": (0.0, math.inf, False),
                  "betag_range": (0.0, math.inf, False), "betag_range2": (0.0, math.inf, False),
                  "betap_range": (0.0, math.inf, False), "betap_range2": (0.0, math.inf, False),
                  "resize_range": (0.0, math.inf, False), "resize_range2": (0.0, math.inf, False),
                  "noise_range": (0.0, 255.0, True), "noise_range2": (0.0, 255.0, True),
                  "poisson_scale_range": (0.0, math.inf, True), "poisson_scale_range2": (0.0, math.inf, True),
                  "jpeg_range": (1.0, 100.0, True), "jpeg_range2": (1.0, 100.0, True)}
        for name, (least, most, closed) in bounds.items():
            lo, hi = getattr(self, name)
            if not ((lo >= least if closed else lo > least) and lo <= hi <= most):
                sign = ">=" if closed else ">"
                raise GanforgeError(f"Degradation option {name}={[lo, hi]} is invalid; expected low <= high with low {sign} {least:g}"
                                    + (f" and high <= {most:g}." if math.isfinite(most) else "."))
        for name in ("resize_range", "resize_range2"):
            lo, hi = getattr(self, name)
            if not lo <= 1 <= hi:
                raise GanforgeError(f"Degradation option {name}={[lo, hi]} is invalid; expected low <= 1 <= high (down to low, up to high).")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """A number or a list of numbers from an option value, as the field's type wants; one sentence if it cannot be."""
    args = getattr(hint, "__args__", None)
    if args is None:  # a scalar probability
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise GanforgeError(f"Degradation option {key}={value!r} is invalid; expected a number.")
        return float(value)
    count = None if (len(args) == 2 and args[1] is Ellipsis) else len(args)
    wants_int = args[0] is int
    if (not isinstance(value, (list, tuple)) or (count is not None and len(value) != count)
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in value)):
        shape = f"a list of {count} numbers" if count else "a list of numbers"
        raise GanforgeError(f"Degradation option {key}={value!r} is invalid; expected {shape}.")
    if wants_int:
        if any(float(v) != int(v) for v in value):
            raise GanforgeError(f"Degradation option {key}={value!r} is invalid; expected whole numbers.")
        return tuple(int(v) for v in value)
    return tuple(float(v) for v in value)


def _check_distribution(name: str, probs: tuple, count: int) -> None:
    if len(probs) != count or any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-6:
        raise GanforgeError(f"Degradation option {name}={list(probs)} is invalid; expected {count} probabilities >= 0 summing to 1.")


def _uniform(n: int, low: float, high: float, g: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=g, dtype=torch.float64)


def _beta(n: int, low: float, high: float, g: torch.Generator) -> Tensor:
    """Shapes β: half drawn from [low, 1] and half from [1, high] when the range holds 1 (as Real-ESRGAN), else uniform."""
    below, above = _uniform(n, low, min(1.0, high), g), _uniform(n, max(1.0, low), high, g)
    pick = torch.rand(n, generator=g) < 0.5
    return torch.where(pick, below, above) if low < 1 < high else _uniform(n, low, high, g)


def _sizes(n: int, kernel_range: tuple[int, int], g: torch.Generator) -> Tensor:
    low, high = kernel_range
    return low + 2 * torch.randint(0, (high - low) // 2 + 1, (n,), generator=g)


class RealESRGANDegradation:
    """The two-round degradation of Real-ESRGAN: float [-1, 1] HR batches in, 8-bit-rounded float [-1, 1] LR batches out."""

    def __init__(self, config: RealESRGANConfig | None = None):
        self.config = config or RealESRGANConfig()
        self.config.validate()
        self.grid = self.config.kernel_range[1]

    def blur_kernels(self, n: int, round_: int, g: torch.Generator) -> Tensor:
        """(n, K, K) random blur kernels of round 1 or 2: a sinc with its chance, else one of the six Gaussian-family types."""
        c = self.config
        second = round_ == 2
        probs = torch.tensor(c.kernel_prob2 if second else c.kernel_prob, dtype=torch.float64)
        sigma = c.blur_sigma2 if second else c.blur_sigma
        betag, betap = (c.betag_range2, c.betap_range2) if second else (c.betag_range, c.betap_range)
        sizes = _sizes(n, c.kernel_range, g)
        kind = torch.multinomial(probs, n, replacement=True, generator=g)
        use_sinc = torch.rand(n, generator=g) < (c.sinc_prob2 if second else c.sinc_prob)
        sx, sy, theta = _uniform(n, *sigma, g), _uniform(n, *sigma, g), _uniform(n, -math.pi, math.pi, g)
        beta_g, beta_p = _beta(n, *betag, g), _beta(n, *betap, g)
        cutoff = torch.where(sizes < 13, _uniform(n, math.pi / 3, math.pi, g), _uniform(n, math.pi / 5, math.pi, g))
        iso = kind % 2 == 0  # iso, generalized_iso, plateau_iso
        sy, theta = torch.where(iso, sx, sy), torch.where(iso, torch.zeros_like(theta), theta)
        k = self.grid
        family = kind // 2  # 0 Gaussian, 1 generalised, 2 plateau
        kernels = torch.where((family == 0).view(-1, 1, 1), gaussian(sx, sy, theta, sizes, k),
                              torch.where((family == 1).view(-1, 1, 1), generalized_gaussian(sx, sy, theta, beta_g, sizes, k),
                                          plateau(sx, sy, theta, beta_p, sizes, k)))
        return torch.where(use_sinc.view(-1, 1, 1), sinc(cutoff, sizes, k), kernels)

    def final_kernels(self, n: int, g: torch.Generator) -> Tensor:
        """(n, K, K) the last filter: a sinc of cutoff in [π/3, π] with final_sinc_prob, else the identity."""
        sizes = _sizes(n, self.config.kernel_range, g)
        cutoff = _uniform(n, math.pi / 3, math.pi, g)
        use = torch.rand(n, generator=g) < self.config.final_sinc_prob
        return torch.where(use.view(-1, 1, 1), sinc(cutoff, sizes, self.grid), delta(n, self.grid))

    @staticmethod
    def _factor(probs: tuple, span: Pair, g: torch.Generator) -> float:
        way = int(torch.multinomial(torch.tensor(probs, dtype=torch.float64), 1, generator=g))
        u = float(torch.rand(1, generator=g, dtype=torch.float64))
        return (1 + u * (span[1] - 1)) if way == 0 else (span[0] + u * (1 - span[0])) if way == 1 else 1.0

    @staticmethod
    def _mode(g: torch.Generator) -> str:
        return RESIZE_MODES[int(torch.randint(0, len(RESIZE_MODES), (1,), generator=g))]

    def _noise(self, images: Tensor, round_: int, g: torch.Generator) -> Tensor:
        c, n = self.config, images.shape[0]
        second = round_ == 2
        use_gaussian = torch.rand(n, generator=g) < (c.gaussian_noise_prob2 if second else c.gaussian_noise_prob)
        gray = torch.rand(n, generator=g) < (c.gray_noise_prob2 if second else c.gray_noise_prob)
        sigma = _uniform(n, *(c.noise_range2 if second else c.noise_range), g) / 255
        strength = _uniform(n, *(c.poisson_scale_range2 if second else c.poisson_scale_range), g)
        out = images.clone()
        if use_gaussian.any():
            i = use_gaussian.nonzero().view(-1)
            out[i.to(images.device)] = gaussian_noise(images[i.to(images.device)], sigma[i], gray[i], g)
        if (~use_gaussian).any():
            i = (~use_gaussian).nonzero().view(-1)
            out[i.to(images.device)] = poisson_noise(images[i.to(images.device)], strength[i], gray[i], g)
        return out.clamp_(0, 1)

    def _jpeg(self, images: Tensor, span: Pair, g: torch.Generator) -> Tensor:
        return jpeg(images, _uniform(images.shape[0], *span, g))

    @torch.no_grad()
    def __call__(self, hr: Tensor, scale: int, generator: torch.Generator) -> Tensor:
        """The LR (B, C, H/scale, W/scale) of float [-1, 1] HR images (B, C, H, W), rounded to 8-bit levels; all draws from `generator`."""
        g, c = generator, self.config
        b, _, h, w = hr.shape
        if h % scale or w % scale:
            raise GanforgeError(f"HR size {h}x{w} is not a multiple of scale {scale}; expected whole LR pixels.")
        x = hr.float().add(1).mul_(0.5)
        kernel1 = self.blur_kernels(b, 1, g)
        kernel2 = torch.where((torch.rand(b, generator=g) < c.second_blur_prob).view(-1, 1, 1),
                              self.blur_kernels(b, 2, g), delta(b, self.grid))
        final = self.final_kernels(b, g)
        # the first round
        x = filter2d(x, kernel1)
        f = self._factor(c.resize_prob, c.resize_range, g)
        x = resize(x, (max(1, int(h * f)), max(1, int(w * f))), self._mode(g))
        x = self._noise(x, 1, g)
        x = self._jpeg(x, c.jpeg_range, g)
        # the second round
        x = filter2d(x, kernel2)
        f = self._factor(c.resize_prob2, c.resize_range2, g)
        x = resize(x, (max(1, int(h / scale * f)), max(1, int(w / scale * f))), self._mode(g))
        x = self._noise(x, 2, g)
        jpeg_first = bool(torch.rand(1, generator=g) < 0.5)
        mode = self._mode(g)
        if jpeg_first:
            x = self._jpeg(x, c.jpeg_range2, g)
        x = filter2d(resize(x, (h // scale, w // scale), mode), final)
        if not jpeg_first:
            x = self._jpeg(x, c.jpeg_range2, g)
        return x.mul_(255).round_().clamp_(0, 255).div_(127.5).sub_(1)
