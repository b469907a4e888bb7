"""What the page computes, without the page: models loaded once, images as enlarged uint8 pictures,
every input checked at the edge with a one-sentence GanforgeError.

Each function takes a loaded `Model` and plain values and returns numpy pictures (H, W, C) or text,
so the same code is driven by the Gradio page and by tests.  Work runs on the server's worker
threads; `Gate` bounds how many generations run at once (memory stays bounded under load).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from ganforge.data.dataset import to_float
from ganforge.deploy.backend import choose_backend
from ganforge.deploy.onnx_run import OnnxGenerator
from ganforge.errors import GanforgeError
from ganforge.export import load_players, resolve_model_dir
from ganforge.kinds import ModelKind, kind_of
from ganforge.latent.directions import Directions, edit_latent, find_directions, render, resolve_levels, seed_latents

MAX_GRID = 64  #: most images one request may ask for
MAX_SIDE = 8192  #: largest image side accepted from an upload
MAX_UPLOAD_BYTES = 50 << 20
DISPLAY = 512  #: pictures are enlarged (nearest) by a whole factor towards this many pixels
KINDS = {"stylegan": "StyleGAN", "noise": "noise GAN", "translation": "translation", "vae": "VAE"}  #: the kinds the page shows
#: the page's tool tabs, in order, with their titles and whether a model's declared kind serves each (Runs is always shown)
TABS = {
    "samples": ("Samples", lambda kind: kind.noise_driven),
    "interpolate": ("Interpolate & mix", lambda kind: kind.noise_driven),
    "directions": ("Directions", lambda kind: kind.noise_driven),
    "project": ("Project", lambda kind: kind.w_space),
    "translate": ("Translate", lambda kind: kind.name == "translation"),
    "vae": ("VAE", lambda kind: kind.encoder),
}


def tabs_for(kind: ModelKind) -> list[str]:
    """The ids of the tool tabs a model of `kind` can use, in page order."""
    return [tab for tab, (_, serves) in TABS.items() if serves(kind)]


class Gate:
    """A counting semaphore that also records the most holders it ever had at once."""

    def __init__(self, limit: int):
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.active = 0
        self.peak = 0
        self.served = 0

    @contextmanager
    def hold(self):
        """Run the enclosed work as one of at most `limit` at a time."""
        with self._sem:
            with self._lock:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                yield
            finally:
                with self._lock:
                    self.active -= 1
                    self.served += 1


GATE = Gate(2)


@dataclass
class Model:
    """An exported model loaded once: its players, info, kind and cached directions."""

    name: str
    path: Path
    players: dict[str, nn.Module]
    info: dict
    kind: ModelKind
    onnx: Optional[OnnxGenerator] = None  #: the export's ONNX graphs when `auto` picks onnxruntime for its samples
    _directions: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def generator(self) -> nn.Module:
        """The player called "generator"."""
        return self.players["generator"]

    @property
    def num_classes(self) -> int:
        """Classes of a conditional generator (0: unconditional), as its export declares them."""
        return int(self.info.get("num_classes") or 0) if self.kind.labels else 0

    def directions(self, layers: str = "all", k: int = 5) -> Directions:
        """Directions for this model (SeFa at `layers` with a w space, PCA in z otherwise), computed once."""
        styled = self.kind.w_space
        key = (layers if styled else "all", k)
        with self._lock:
            if key not in self._directions:
                self._directions[key] = find_directions(self.generator, None, k, key[0] if styled else None, kind=self.kind)
            return self._directions[key]

    def describe(self) -> str:
        """One line: family, size, classes and what the page offers for it."""
        info, g = self.info, self.generator
        size = info.get("image_size", getattr(g, "image_size", "?"))
        family = info.get("family") or type(g).__name__
        classes = f", {self.num_classes} classes" if self.num_classes else ""
        steps = f", {info['steps']} training steps" if "steps" in info else ""
        offers = ", ".join(TABS[tab][0] for tab in tabs_for(self.kind))
        return f"**{self.name}**: {family} ({KINDS[self.kind.name]}), {size} px{classes}{steps}. Tabs for it: {offers}."


def load_model(path: str | Path, name: Optional[str] = None) -> Model:
    """Load an exported model (or a run's export) once, on the CPU."""
    folder = resolve_model_dir(path)
    players, info = load_players(folder, "cpu")
    kind = kind_of(info)
    if kind.name not in KINDS:
        raise GanforgeError(f"Model {str(folder)!r} is a {kind.name} model, which the page does not show; "
                            f"expected a {', '.join(KINDS)} model.")
    if name is None:
        name = folder.parent.name if folder.name == "export" else folder.name
    onnx = OnnxGenerator(folder) if choose_backend("auto", kind.name, folder, torch.device("cpu")) == "onnx" else None
    return Model(name, folder, players, info, kind, onnx)


# --- pictures -------------------------------------------------------------------------------------------
def picture(images: torch.Tensor, nrow: Optional[int] = None, padding: int = 2, display: int = DISPLAY) -> np.ndarray:
    """A uint8 (H, W, 3) grid of images in [-1, 1], enlarged by a whole factor with nearest neighbours."""
    from ganforge.report.grid import make_grid

    grid = make_grid(images.detach().float().clamp(-1, 1).cpu(), nrow, padding=0 if len(images) == 1 else padding)
    if grid.shape[2] == 1:
        grid = np.repeat(grid, 3, axis=2)
    cell = max(1, min(images.shape[-2:]))
    scale = max(1, min(16, max(display // max(grid.shape[:2]), -(-96 // cell))))  # fit `display`, cells >= 96 px
    return np.ascontiguousarray(grid.repeat(scale, 0).repeat(scale, 1)) if scale > 1 else grid


def need(model: Optional[Model], kinds: Sequence[str], what: str) -> Model:
    """`model` when it is of one of `kinds`, else a one-sentence error naming what the tool needs."""
    if model is None:
        raise GanforgeError("No model is selected; expected a model chosen in the Model list.")
    if model.kind.name not in kinds:
        wanted = " or ".join(KINDS[k] for k in kinds)
        raise GanforgeError(f"Model {model.name!r} is a {KINDS[model.kind.name]} model; {what} needs a {wanted} model.")
    return model


def _label(model: Model, label) -> Optional[int]:
    if model.num_classes == 0:
        return None
    if label in (None, "", "any"):
        return None
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise GanforgeError(f"Class {label!r} is not a class number; expected 0 to {model.num_classes - 1}.") from None
    if not 0 <= value < model.num_classes:
        raise GanforgeError(f"Class {value} is outside this model's classes; expected 0 to {model.num_classes - 1}.")
    return value


def _finite(value, name: str) -> float:
    """`value` as a float if it is a finite number, else one sentence naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise GanforgeError(f"{name} {value!r} is invalid; expected a finite number.")
    return number


def _count(n) -> int:
    n = int(n)
    if not 1 <= n <= MAX_GRID:
        raise GanforgeError(f"Grid size {n} is invalid; expected 1 to {MAX_GRID} images.")
    return n


@torch.no_grad()
def samples(model: Model, seed: int, n: int = 16, truncation: float = 1.0, label=None) -> np.ndarray:
    """A grid of `n` samples drawn from `seed` (class `label` for conditional models, else every class in turn)."""
    model = need(model, ("stylegan", "noise", "vae"), "sampling")
    n, g = _count(n), model.generator
    cls = _label(model, label)
    with GATE.hold():
        rng = torch.Generator().manual_seed(int(seed))
        z = torch.randn(n, g.z_dim, generator=rng)
        labels = None
        if model.num_classes:
            labels = torch.full((n,), cls, dtype=torch.long) if cls is not None else torch.arange(n) % model.num_classes
        kwargs = {"truncation": _finite(truncation, "Truncation")} if model.kind.truncation else {}
        if model.onnx is not None:  # the same images, from onnxruntime (docs/export.md: how the engine is chosen)
            images = torch.from_numpy(model.onnx.generate(z.numpy(), None if labels is None else labels.numpy(),
                                                          kwargs.get("truncation"), output="images"))
        else:
            images = g(z, labels, **kwargs)
    return picture(images)


@torch.no_grad()
def interpolation(model: Model, seed_a: int, seed_b: int, steps: int = 8, truncation: float = 1.0, label=None) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(z-space strip, w-space strip or None): a spherical walk in z and, for StyleGAN, a linear one in w."""
    from ganforge.latent.walks import seed_noise, slerp

    model = need(model, ("stylegan", "noise", "vae"), "interpolation")
    steps = max(2, min(16, int(steps)))
    g, cls = model.generator, _label(model, label)
    with GATE.hold():
        t = torch.linspace(0, 1, steps)
        labels = torch.full((steps,), cls or 0, dtype=torch.long) if model.num_classes else None
        za, zb = seed_noise(g, int(seed_a)), seed_noise(g, int(seed_b))
        path = slerp(za, zb, t)
        if model.kind.w_space:
            z_strip = g.synthesize(g.mapping(path, labels, truncation=_finite(truncation, "Truncation")))
            ends = g.mapping(torch.cat([za, zb]), None if labels is None else labels[:2], truncation=_finite(truncation, "Truncation"))
            w_strip = g.synthesize(torch.lerp(ends[:1], ends[1:], t.view(-1, 1, 1)))
            return picture(z_strip, steps), picture(w_strip, steps)
        return picture(g(path, labels), steps), None


@torch.no_grad()
def mixing(model: Model, seed: int, group: str = "coarse", cols: int = 4, truncation: float = 1.0, label=None) -> np.ndarray:
    """A style-mixing grid: the top row's images with one group (coarse, middle, fine) of styles from each row's source."""
    from ganforge.latent.walks import mixing_grid

    model = need(model, ("stylegan",), "style mixing")
    if group not in ("coarse", "middle", "fine"):
        raise GanforgeError(f"Style group {group!r} is unknown; expected coarse, middle or fine.")
    with GATE.hold():
        images, _ = mixing_grid(model.generator, max(1, min(8, int(cols))), 3, [group], int(seed), _finite(truncation, "Truncation"),
                                _label(model, label) if model.num_classes else None)
    return picture(images, max(1, min(8, int(cols))) + 1)


@torch.no_grad()
def steer(model: Model, seed: int, strengths: Sequence[float], layers: str = "all", truncation: float = 1.0,
          label=None) -> np.ndarray:
    """The image of `seed` moved along the model's top directions by the given strengths (in spreads)."""
    model = need(model, ("stylegan", "noise", "vae"), "latent directions")
    cls = _label(model, label)
    directions = model.directions(layers if model.kind.w_space else "all", k=len(strengths))
    with GATE.hold():
        latent = seed_latents(model.generator, [int(seed)], _finite(truncation, "Truncation") if model.kind.truncation else 1.0, cls,
                              kind=model.kind)
        for k, s in enumerate(strengths):
            if s:
                latent = edit_latent(latent, directions, k, _finite(s, "Strength"))
        image = render(model.generator, latent, cls, kind=model.kind)
    return picture(image)


@torch.no_grad()
def direction_strips(model: Model, seed: int, layers: str = "all", steps: int = 7, label=None) -> np.ndarray:
    """One row per top direction: the image of `seed` walked from −3 to +3 spreads along it."""
    from ganforge.latent.directions import edit_images

    model = need(model, ("stylegan", "noise", "vae"), "latent directions")
    cls = _label(model, label)
    directions = model.directions(layers if model.kind.w_space else "all")
    with GATE.hold():
        latent = seed_latents(model.generator, [int(seed)], label=cls, kind=model.kind)
        rows = [edit_images(model.generator, latent, directions, k, torch.linspace(-3, 3, steps).tolist(), label=cls,
                            kind=model.kind)
                for k in range(len(directions))]
    return picture(torch.cat(rows), steps)


# --- uploads --------------------------------------------------------------------------------------------------
def read_upload(path: Optional[str], channels: int, size: int) -> torch.Tensor:
    """A float [-1, 1] image (1, C, size, size) from an uploaded file, refusing non-images and huge images."""
    from ganforge.data.images import decode_image, read_header

    if not path:
        raise GanforgeError("No image was uploaded; expected a PNG, JPEG, WebP or BMP file.")
    p = Path(path)
    if not p.is_file():
        raise GanforgeError("The upload did not arrive; expected a PNG, JPEG, WebP or BMP file.")
    if p.stat().st_size > MAX_UPLOAD_BYTES:
        raise GanforgeError(f"Upload {p.name!r} is {p.stat().st_size >> 20} MiB; expected an image file under {MAX_UPLOAD_BYTES >> 20} MiB.")
    try:
        header = read_header(p)
    except GanforgeError:
        raise GanforgeError(f"Upload {p.name!r} is not an image; expected a PNG, JPEG, WebP or BMP file.") from None
    if max(header.width, header.height) > MAX_SIDE:
        raise GanforgeError(f"Upload {p.name!r} is {header.width}x{header.height} px; expected an image at most {MAX_SIDE} px a side.")
    try:
        pixels = decode_image(p, channels, size)
    except GanforgeError:
        raise GanforgeError(f"Upload {p.name!r} could not be decoded; expected a complete PNG, JPEG, WebP or BMP file.") from None
    return to_float(torch.from_numpy(np.ascontiguousarray(pixels).copy()))[None]


def _channels_size(model: Model) -> tuple[int, int]:
    g = model.generator
    return int(model.info.get("channels", getattr(g, "channels", 1))), int(model.info.get("image_size", getattr(g, "image_size", 32)))


@torch.no_grad()
def translate(model: Model, upload: Optional[str], direction: str = "a2b") -> np.ndarray:
    """Input, translation and (CycleGAN) its way back, side by side, for an uploaded image."""
    from ganforge.translation import translate_images, translation_pair

    model = need(model, ("translation",), "translation")
    forward, backward = translation_pair(model.players, model.info, direction, model.name)
    channels, size = _channels_size(model)
    if model.info.get("paired"):  # pix2pix: the input has its own channels (gray in, colour out)
        channels = int(model.info.get("in_channels", channels))
    image = read_upload(upload, channels, size)
    with GATE.hold():
        torch.manual_seed(0)  # pix2pix's dropout noise, when it samples with dropout: the same picture for the same upload
        out, back = translate_images(forward, backward, image)
    cells = [image, out] + ([back] if back is not None else [])
    width = max(c.shape[1] for c in cells)
    cells = [c.expand(-1, width, -1, -1) if c.shape[1] == 1 else c for c in cells]
    return picture(torch.cat(cells), len(cells))


@torch.no_grad()
def reconstruct(model: Model, upload: Optional[str]) -> tuple[np.ndarray, torch.Tensor]:
    """(input beside its VAE reconstruction, the mean code) for an uploaded image."""
    model = need(model, ("vae",), "reconstruction")
    image = read_upload(upload, *_channels_size(model))
    with GATE.hold():
        mean, _ = model.players["encoder"](image)
        out = model.generator(mean).float()
    return picture(torch.cat([image, out.clamp(-1, 1)]), 2), mean


@torch.no_grad()
def vae_walk(model: Model, upload: Optional[str], seed: int, steps: int = 8) -> np.ndarray:
    """A linear walk in the VAE's z from the uploaded image's code (or seed's z without an upload) to seed's z."""
    model = need(model, ("vae",), "a latent walk")
    g = model.generator
    end = torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(int(seed)))
    start = reconstruct(model, upload)[1] if upload else torch.randn(1, g.z_dim, generator=torch.Generator().manual_seed(int(seed) + 1))
    t = torch.linspace(0, 1, max(2, min(16, int(steps)))).view(-1, 1)
    with GATE.hold():
        images = g(torch.lerp(start, end, t)).float()
    return picture(images, len(t))


def projection(model: Model, upload: Optional[str], steps: int = 200, w_plus: bool = False, label=None):
    """(target | projection picture, progress strip, scores text, ws) of an uploaded image projected into W."""
    from ganforge.latent.projection import project
    from ganforge.metrics.scores.psnr_ssim import psnr_rgb, ssim_rgb

    model = need(model, ("stylegan",), "projection")
    steps = int(steps)
    if not 10 <= steps <= 2000:
        raise GanforgeError(f"Projection steps {steps} are invalid; expected 10 to 2000.")
    target = read_upload(upload, *_channels_size(model))
    with GATE.hold():
        result = project(model.generator, target, steps=steps, w_plus=bool(w_plus), discriminator=model.players.get("discriminator"),
                         label=_label(model, label), snapshots=8, kind=model.kind)
    text = f"PSNR {psnr_rgb(result.image, target):.2f} dB, SSIM {ssim_rgb(result.image, target):.3f} after {steps} steps."
    return (picture(torch.cat([target, result.image.cpu()]), 2), picture(torch.cat([target] + result.snapshots), 9), text,
            result)


@torch.no_grad()
def edit_projection(model: Model, result, index: int, strength: float, layers: str = "all") -> np.ndarray:
    """A projected image moved along one of the model's directions."""
    from ganforge.latent.projection import with_noise

    model = need(model, ("stylegan",), "editing a projection")
    if result is None:
        raise GanforgeError("Nothing has been projected yet; expected an image projected with the Project button first.")
    directions = model.directions(layers)
    ws = edit_latent(result.ws, directions, int(index), _finite(strength, "Strength"), resolve_levels(model.generator, layers))
    with GATE.hold():
        g = with_noise(model.generator, result.noise) if result.noise else model.generator
        return picture(g.synthesize(ws))
