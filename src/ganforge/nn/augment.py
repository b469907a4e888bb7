"""Adaptive discriminator augmentation (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data"): the "bgc" pipeline of differentiable transforms and the controller that tunes
their probability p from the discriminator's overfitting signal.

Every transform is applied to each image on its own with probability p. The geometric ones (x-flip,
90° rotations, integer translation, isotropic scaling, arbitrary rotation, anisotropic scaling,
fractional translation) are composed into one affine matrix per image and applied with one
`grid_sample` (bilinear, reflection padding); the colour ones (brightness, contrast, luma flip, hue,
saturation) into one 4×4 colour matrix per image. Parameter distributions are those of the paper's
appendix B. Images are float NCHW in [-1, 1]; gradients flow to the input. Randomness comes from the
global torch RNG (saved in checkpoints), so a resumed run draws the same transforms.

`Augmenter` is what a game holds: one of the settings none, fixed (constant p), ada (adaptive p) or
diffaugment (Zhao et al. 2020, see `ganforge.nn.diffaugment`), its state saved in checkpoints.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ganforge.errors import GanforgeError
from ganforge.nn.diffaugment import diff_augment, parse_policy

MODES = ("none", "fixed", "ada", "diffaugment")
GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
BGC = GEOMETRIC + COLOUR

# standard deviations of appendix B (log2 for the log-normal scalings; translations in image sizes)
XINT_MAX, SCALE_STD, ANISO_STD, XFRAC_STD = 0.125, 0.2, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.5, 1.0

_LUMA = torch.tensor([1.0, 1.0, 1.0]) / math.sqrt(3.0)  # the grey axis, about which hue turns


# --- parameters --------------------------------------------------------------------------------------
def identity_params(n: int, device: Optional[torch.device] = None) -> dict[str, Tensor]:
    """Per-image parameters (n of each) under which every transform is the identity."""
    z = torch.zeros(n, device=device)
    one = torch.ones(n, device=device)
    return {"xflip": z.clone(), "rotate90": z.clone(), "xint": torch.zeros(n, 2, device=device), "scale": one.clone(),
            "rotate_pre": z.clone(), "aniso": one.clone(), "rotate_post": z.clone(), "xfrac": torch.zeros(n, 2, device=device),
            "brightness": z.clone(), "contrast": one.clone(), "lumaflip": z.clone(), "hue": z.clone(), "saturation": one.clone()}


def sample_params(n: int, p: float, device: Optional[torch.device] = None,
                  transforms: tuple[str, ...] = BGC) -> dict[str, Tensor]:
    """Random per-image parameters: each transform in `transforms` is drawn for each image with probability p,
    else left at its identity value. Arbitrary rotation is drawn twice (before and after the anisotropic
    scaling) with probability 1 − √(1 − p) each, so that at least one happens with probability p."""
    params = identity_params(n, device)
    if p <= 0:
        return params

    def gate(prob: float, shape=(n,)) -> Tensor:
        return (torch.rand(n, device=device) < prob).view(n, *([1] * (len(shape) - 1)))

    def lognormal(std: float) -> Tensor:
        return torch.exp2(torch.randn(n, device=device) * std)

    for name in transforms:
        if name not in BGC:
            raise GanforgeError(f"Augmentation {name!r} is unknown; expected a subset of {', '.join(BGC)}.")
    t = set(transforms)
    if "xflip" in t:
        params["xflip"] = torch.where(gate(p), torch.randint(0, 2, (n,), device=device).float(), params["xflip"])
    if "rotate90" in t:
        params["rotate90"] = torch.where(gate(p), torch.randint(0, 4, (n,), device=device).float(), params["rotate90"])
    if "xint" in t:
        draw = (torch.rand(n, 2, device=device) * 2 - 1) * XINT_MAX
        params["xint"] = torch.where(gate(p, (n, 2)), draw, params["xint"])
    if "scale" in t:
        params["scale"] = torch.where(gate(p), lognormal(SCALE_STD), params["scale"])
    p_rot = 1 - math.sqrt(max(0.0, 1 - p))
    if "rotate" in t:
        params["rotate_pre"] = torch.where(gate(p_rot), (torch.rand(n, device=device) * 2 - 1) * math.pi, params["rotate_pre"])
    if "aniso" in t:
        params["aniso"] = torch.where(gate(p), lognormal(ANISO_STD), params["aniso"])
    if "rotate" in t:
        params["rotate_post"] = torch.where(gate(p_rot), (torch.rand(n, device=device) * 2 - 1) * math.pi, params["rotate_post"])
    if "xfrac" in t:
        params["xfrac"] = torch.where(gate(p, (n, 2)), torch.randn(n, 2, device=device) * XFRAC_STD, params["xfrac"])
    if "brightness" in t:
        params["brightness"] = torch.where(gate(p), torch.randn(n, device=device) * BRIGHTNESS_STD, params["brightness"])
    if "contrast" in t:
        params["contrast"] = torch.where(gate(p), lognormal(CONTRAST_STD), params["contrast"])
    if "lumaflip" in t:
        params["lumaflip"] = torch.where(gate(p), torch.randint(0, 2, (n,), device=device).float(), params["lumaflip"])
    if "hue" in t:
        params["hue"] = torch.where(gate(p), (torch.rand(n, device=device) * 2 - 1) * math.pi, params["hue"])
    if "saturation" in t:
        params["saturation"] = torch.where(gate(p), lognormal(SATURATION_STD), params["saturation"])
    return params


# --- the geometric matrix ------------------------------------------------------------------------------
def _eye3(n: int, device) -> Tensor:
    return torch.eye(3, device=device).repeat(n, 1, 1)


def _scale(sx: Tensor, sy: Tensor) -> Tensor:
    m = _eye3(len(sx), sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _translate(tx: Tensor, ty: Tensor) -> Tensor:
    m = _eye3(len(tx), tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _rotate(theta: Tensor) -> Tensor:
    m = _eye3(len(theta), theta.device)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def geometric_matrix(params: dict[str, Tensor], size: int) -> Tensor:
    """(n, 3, 3) matrices taking output coordinates to input coordinates (grid_sample's normalised [-1, 1]
    frame, x right, y down), composed from the per-image parameters in the paper's order."""
    n = len(params["xflip"])
    device = params["xflip"].device
    # content moves by A = A_k ... A_1; the sampling matrix is A^-1 = A_1^-1 ... A_k^-1
    m = _eye3(n, device)
    flip = 1 - 2 * params["xflip"]
    m = m @ _scale(flip, torch.ones_like(flip))
    m = m @ _rotate(-params["rotate90"] * (math.pi / 2))
    shift = torch.round(params["xint"] * size) * (2.0 / size)  # whole pixels, in normalised units
    m = m @ _translate(-shift[:, 0], -shift[:, 1])
    m = m @ _scale(1 / params["scale"], 1 / params["scale"])
    m = m @ _rotate(-params["rotate_pre"])
    m = m @ _scale(1 / params["aniso"], params["aniso"])
    m = m @ _rotate(-params["rotate_post"])
    m = m @ _translate(-2 * params["xfrac"][:, 0], -2 * params["xfrac"][:, 1])
    return m


def _round_quarter_turns(m: Tensor) -> Tensor:
    """Snap entries within 1e-6 of -1, 0 or 1 to them, so flips and 90° turns land exactly on pixel centres."""
    snapped = torch.round(m)
    return torch.where((m - snapped).abs() < 1e-6, snapped, m)


def apply_geometric(x: Tensor, matrix: Tensor) -> Tensor:
    """Resample each image by its (3, 3) output->input matrix: bilinear, reflection padding; identity rows pass
    untouched and are not resampled (at ADA's small early p most images are)."""
    eye = torch.eye(3, device=matrix.device, dtype=matrix.dtype)
    moved = ~torch.isclose(matrix, eye.expand_as(matrix), atol=1e-7, rtol=0).flatten(1).all(dim=1)
    index = moved.nonzero().squeeze(1)
    if index.numel() == 0:
        return x
    every = index.numel() == x.shape[0]
    theta = _round_quarter_turns(matrix if every else matrix[index])[:, :2, :].to(x.dtype)
    some = x if every else x[index]
    grid = F.affine_grid(theta, list(some.shape), align_corners=False)
    out = F.grid_sample(some, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return out if every else x.to(out.dtype).index_put((index,), out)  # the dtype torch.where would give


# --- the colour matrix ---------------------------------------------------------------------------------
def colour_matrix(params: dict[str, Tensor]) -> Tensor:
    """(n, 4, 4) matrices acting on [r, g, b, 1], composed brightness, contrast, luma flip, hue, saturation."""
    n = len(params["brightness"])
    device = params["brightness"].device
    v = _LUMA.to(device)
    vv = torch.outer(v, v)
    eye3 = torch.eye(3, device=device)
    c = torch.eye(4, device=device).repeat(n, 1, 1)

    def then(m3: Optional[Tensor] = None, shift: Optional[Tensor] = None) -> None:
        nonlocal c
        step = torch.eye(4, device=device).repeat(n, 1, 1)
        if m3 is not None:
            step[:, :3, :3] = m3
        if shift is not None:
            step[:, :3, 3] = shift
        c = step @ c

    then(shift=params["brightness"].view(n, 1).expand(n, 3))
    then(m3=eye3 * params["contrast"].view(n, 1, 1))
    then(m3=eye3 - 2 * vv * params["lumaflip"].view(n, 1, 1))
    theta = params["hue"].view(n, 1, 1)
    cross = torch.tensor([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]], device=device)
    then(m3=torch.cos(theta) * eye3 + torch.sin(theta) * cross + (1 - torch.cos(theta)) * vv)  # Rodrigues about v
    then(m3=vv + (eye3 - vv) * params["saturation"].view(n, 1, 1))
    return c


def apply_colour(x: Tensor, matrix: Tensor) -> Tensor:
    """Apply each image's (4, 4) colour matrix to its RGB pixels (one channel: the matrix's gain and offset along grey)."""
    n, channels = x.shape[:2]
    m = matrix.to(x.dtype)
    if channels == 3:
        flat = x.reshape(n, 3, -1)
        return (m[:, :3, :3] @ flat + m[:, :3, 3:]).reshape(x.shape)
    if channels == 1:
        gain = (m[:, :3, :3].sum(dim=(1, 2)) / 3).view(n, 1, 1, 1)  # the gain along the grey axis
        return x * gain + m[:, :3, 3].mean(dim=1).view(n, 1, 1, 1)
    raise GanforgeError(f"Colour augmentation of {channels}-channel images is not supported; expected 1 or 3 channels.")


def augment(x: Tensor, p: float, transforms: tuple[str, ...] = BGC, params: Optional[dict[str, Tensor]] = None) -> Tensor:
    """The bgc pipeline on a batch: each image gets each transform with probability p (or the `params` given)."""
    if params is None:
        if p <= 0:
            return x
        params = sample_params(x.shape[0], p, x.device, transforms)
    x = apply_geometric(x, geometric_matrix(params, x.shape[-1]))
    return apply_colour(x, colour_matrix(params))


# --- the adaptive probability ---------------------------------------------------------------------------
class AdaController:
    """Tunes p from r_t = E[sign(D(x_real))] (Karras et al. 2020, §3): every `interval` D steps,
    p += sign(r_t − target) · (images seen since the last update) / speed_images, clamped to [0, 1].
    A D with several logits an image (a patch map) counts each image once, its logits' mean sign."""

    def __init__(self, p: float = 0.0, target: float = 0.6, speed_images: int = 500_000, interval: int = 4):
        self.p, self.target, self.speed_images, self.interval = float(p), float(target), int(speed_images), int(interval)
        self.sign_sum, self.count, self.steps = 0.0, 0, 0
        self.rt = math.nan  # the last completed estimate

    def observe(self, real_logits: Tensor) -> None:
        """Add one D step's real logits (one or more an image); update p when `interval` steps have been seen."""
        per_image = torch.sign(real_logits.detach().float()).reshape(real_logits.shape[0], -1).mean(1)
        signs = torch.stack([per_image.sum(), torch.tensor(float(per_image.numel()), device=real_logits.device)])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(signs)
        total, count = signs.tolist()
        self.sign_sum += total
        self.count += int(count)
        self.steps += 1
        if self.steps % self.interval == 0:
            self.rt = self.sign_sum / max(self.count, 1)
            self.p = update_p(self.p, self.rt, self.target, self.count, self.speed_images)
            self.sign_sum, self.count = 0.0, 0

    @property
    def running_rt(self) -> float:
        """The last completed r_t, or the mean over the current interval before the first update."""
        if math.isnan(self.rt) and self.count:
            return self.sign_sum / self.count
        return self.rt

    def state_dict(self) -> dict:
        """JSON-able state: p, the partial sums of the current interval, the step counter, the last r_t."""
        return {"p": self.p, "sign_sum": self.sign_sum, "count": self.count, "steps": self.steps,
                "rt": None if math.isnan(self.rt) else self.rt}

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` saved."""
        self.p, self.sign_sum = float(state["p"]), float(state["sign_sum"])
        self.count, self.steps = int(state["count"]), int(state["steps"])
        self.rt = math.nan if state.get("rt") is None else float(state["rt"])


def update_p(p: float, rt: float, target: float, images: int, speed_images: int) -> float:
    """One controller step: p moved by sign(rt − target) · images / speed_images, clamped to [0, 1]."""
    step = math.copysign(images / speed_images, rt - target) if rt != target else 0.0
    return min(1.0, max(0.0, p + step))


class Augmenter:
    """What a game applies to every image D sees: none, fixed-p bgc, adaptive-p bgc (ada) or DiffAugment."""

    def __init__(self, mode: str = "none", p: float = 0.0, target: float = 0.6, speed_images: int = 500_000,
                 interval: int = 4, policy: str = "color,translation,cutout"):
        check_settings(mode, p, target, speed_images, interval, policy)
        self.mode = mode
        self.policy = parse_policy(policy) if mode == "diffaugment" else ()
        self.controller = AdaController(p if mode in ("fixed", "ada") else 0.0, target, speed_images, interval)

    @property
    def active(self) -> bool:
        """Whether images are transformed at all."""
        return self.mode != "none"

    @property
    def p(self) -> float:
        """The current probability of each bgc transform (0 for none and diffaugment)."""
        return self.controller.p

    def __call__(self, x: Tensor) -> Tensor:
        """The images transformed by the setting (independent draws per call)."""
        if self.mode in ("fixed", "ada"):
            return augment(x, self.controller.p)
        if self.mode == "diffaugment":
            return diff_augment(x, self.policy)
        return x

    def schedule(self, p: float) -> None:
        """Set the probability of each bgc transform from a schedule (mode fixed; R3GAN's ramp)."""
        if self.mode != "fixed" or not 0 <= p <= 1:
            raise GanforgeError(f"A scheduled augmentation probability {p!r} needs augment=fixed and a value from 0 to 1; "
                                f"expected those, got augment={self.mode!r}.")
        self.controller.p = float(p)

    def observe(self, real_logits: Tensor) -> None:
        """Feed a D step's logits on (augmented) real images to the controller (ada only)."""
        if self.mode == "ada":
            self.controller.observe(real_logits)

    def logs(self, device: torch.device) -> dict[str, Tensor]:
        """augment_p and, under ada, ada_rt as 0-d tensors for the round's log."""
        if self.mode not in ("fixed", "ada"):
            return {}
        out = {AUGMENT_P: torch.full((), self.controller.p, device=device)}
        if self.mode == "ada":
            out[ADA_RT] = torch.full((), self.controller.running_rt, device=device)
        return out

    def state_dict(self) -> dict:
        """The controller's state (JSON-able)."""
        return {"mode": self.mode, **self.controller.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Restore the controller's state saved by `state_dict` (nothing when the checkpoint has none)."""
        if state and state.get("mode") == self.mode:
            self.controller.load_state_dict(state)


AUGMENT_P = "augment_p"  #: log key: the probability of each bgc transform this round
ADA_RT = "ada_rt"  #: log key: the overfitting signal r_t = E[sign(D(x_real))] of the last ADA interval


def check_settings(mode: str, p: float, target: float, speed_images: int, interval: int, policy: str) -> None:
    """Raise GanforgeError naming the first invalid augmentation setting."""
    if mode not in MODES:
        raise GanforgeError(f"Config value augment={mode!r} is invalid; expected one of {', '.join(MODES)}.")
    if not (isinstance(p, (int, float)) and 0 <= p <= 1):
        raise GanforgeError(f"Config value augment_p={p!r} is invalid; expected a probability from 0 to 1.")
    if not (isinstance(target, (int, float)) and -1 <= target <= 1):
        raise GanforgeError(f"Config value ada_target={target!r} is invalid; expected a number from -1 to 1 (the paper uses 0.6).")
    if speed_images < 1:
        raise GanforgeError(f"Config value ada_speed_images={speed_images!r} is invalid; expected an integer >= 1 (the paper uses 500000).")
    if interval < 1:
        raise GanforgeError(f"Config value ada_interval={interval!r} is invalid; expected an integer >= 1 (the paper uses 4).")
    parse_policy(policy)


def augmenter_from(settings) -> Augmenter:
    """The Augmenter of a run's settings (an object with augment, augment_p, ada_target, ada_speed_images,
    ada_interval and diffaugment_policy attributes, such as a TrainConfig)."""
    return Augmenter(settings.augment, settings.augment_p, settings.ada_target, settings.ada_speed_images,
                     settings.ada_interval, settings.diffaugment_policy)
