"""The ONNX graphs of each kind of export: PyTorch wrappers with named inputs and outputs, and their dynamic axes.

Every image graph returns `images` (float, clamped to [-1, 1]) and `images_uint8` (the same rounded to
0..255, as `ganforge.data.dataset.to_uint8`). Noise graphs take `z` (and `labels` for conditional models);
StyleGAN is exported three ways: `mapping` (z, truncation ψ, labels -> ws), `synthesis` (ws -> images)
and `generator` (both), so that truncation and style mixing (Karras et al. 2019) work outside ganforge;
translators and super-resolution take `input_images` of any height and width the network allows.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import parametrize

from ganforge.errors import GanforgeError
from ganforge.nn.style import NoiseInjection

EXAMPLE_BATCH = 2  #: batch of the traced example inputs (1 would be specialised as a constant by torch.export)
IMAGE_OUTPUTS = ("images", "images_uint8")


def to_uint8(images: Tensor) -> Tensor:
    """float [-1, 1] -> uint8 [0, 255], rounded and clamped (the library's one rule, written in graph ops)."""
    return images.add(1.0).mul(127.5).round().clamp(0, 255).to(torch.uint8)


def _image_outputs(images: Tensor) -> tuple[Tensor, Tensor]:
    images = images.float().clamp(-1, 1)
    return images, to_uint8(images)


@dataclass
class Graph:
    """One graph to export: a module whose forward takes `inputs` in order, and how its axes vary."""

    name: str  #: file stem and key in onnx.json
    module: nn.Module
    inputs: dict[str, Tensor]  #: example inputs by name, in call order
    outputs: tuple[str, ...]
    batch_inputs: tuple[str, ...]  #: inputs whose first axis is the batch
    spatial: dict[str, int] = field(default_factory=dict)  #: image input -> the multiple its height and width must be
    fixed_size: bool = False  #: set when torch.export could not keep height and width symbolic
    description: str = ""


class NoiseGraph(nn.Module):
    """z (and labels) -> images and uint8 images of a noise generator (GAN, cGAN or the VAE's decoder)."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: Tensor, labels: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """Images from noise."""
        return _image_outputs(self.generator(z, labels))


class PointsGraph(nn.Module):
    """z -> points of a toy generator."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: Tensor) -> Tensor:
        """Points (N, dim)."""
        return self.generator(z).float()


class MappingGraph(nn.Module):
    """z, ψ (and labels) -> per-layer styles ws (N, num_ws, w_dim), pulled towards w_avg by ψ."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, z: Tensor, truncation: Tensor, labels: Optional[Tensor] = None) -> Tensor:
        """Truncated styles: w_avg + ψ (w - w_avg)."""
        ws = self.generator.mapping(z, labels)
        w_avg = self.generator.w_avg.to(ws.dtype)
        return w_avg + truncation.to(ws.dtype).view(-1, 1, 1) * (ws - w_avg)


class SynthesisGraph(nn.Module):
    """ws -> images at the growth phase the generator was exported at, with its stored noise maps."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator
        self.level, self.alpha = generator.current_phase()  # fixed here: the graph has no data-dependent branch

    def forward(self, ws: Tensor) -> tuple[Tensor, Tensor]:
        """Images from styles."""
        images = self.generator.synthesize(ws, self.level, self.alpha, "const")
        size = self.generator.image_size
        if images.shape[-1] != size:  # exported mid-growth: shown upsampled, as ganforge samples it
            images = F.interpolate(images, size=(size, size), mode="nearest")
        return _image_outputs(images)


class StyleGeneratorGraph(nn.Module):
    """z, ψ (and labels) -> images: mapping then synthesis in one graph."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.mapping, self.synthesis = MappingGraph(generator), SynthesisGraph(generator)

    def forward(self, z: Tensor, truncation: Tensor, labels: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """Images from noise, truncated by ψ."""
        return self.synthesis(self.mapping(z, truncation, labels))


class ImageGraph(nn.Module):
    """images -> images: a translator or a super-resolution generator."""

    def __init__(self, generator: nn.Module):
        super().__init__()
        self.generator = generator

    def forward(self, input_images: Tensor) -> tuple[Tensor, Tensor]:
        """Translated or upscaled images, clamped to [-1, 1]."""
        return _image_outputs(self.generator(input_images))


def _noise_inputs(z_dim: int, classes: int) -> dict[str, Tensor]:
    inputs = {"z": torch.randn(EXAMPLE_BATCH, z_dim)}
    if classes > 0:
        inputs["labels"] = torch.arange(EXAMPLE_BATCH, dtype=torch.long) % classes
    return inputs


def _deterministic(generator: nn.Module, entry: dict) -> nn.Module:
    """The translator with test-time dropout off (an ONNX graph cannot be checked against random dropout)."""
    if not entry.get("config", {}).get("sample_dropout"):
        return generator
    quiet = copy.deepcopy(generator)
    quiet.sample_dropout = False
    return quiet


def baked(module: nn.Module) -> nn.Module:
    """An eval-mode copy of `module` whose parametrized weights (spectral norm) are plain tensors of their
    current value, so the graph holds the weights rather than recomputing them on every call, and whose
    per-pixel noise is the stored constant map (an ONNX graph with fresh noise could not be checked)."""
    if any(parametrize.is_parametrized(m) for m in module.modules()):
        # a deep copy would share the parametrized classes, and removing them there would break `module`
        plain = type(module)(**module.config)
        plain.load_state_dict(module.state_dict())
        plain.eval()
    else:
        plain = copy.deepcopy(module).eval()
    for m in plain.modules():
        if isinstance(m, NoiseInjection):
            m.default_mode = "const"
        if parametrize.is_parametrized(m):
            for name in list(m.parametrizations):
                parametrize.remove_parametrizations(m, name, leave_parametrized=True)
    return plain


def graphs_for(kind: str, players: dict[str, nn.Module], entries: dict[str, dict], info: dict[str, Any]) -> list[Graph]:
    """The graphs an export of `kind` is written as; `entries` are config.json's player entries."""
    players = {name: baked(player) for name, player in players.items()}
    generator = players["generator"]
    classes = int(entries["generator"]["config"].get("num_classes") or 0)  # the data may have labels the model ignores
    if kind in ("noise", "vae"):
        inputs = _noise_inputs(int(entries["generator"]["config"]["z_dim"]), classes)
        what = "decoder of the VAE" if kind == "vae" else "generator"
        return [Graph("generator", NoiseGraph(generator), inputs, IMAGE_OUTPUTS, tuple(inputs),
                      description=f"the {what}: {', '.join(inputs)} -> images")]
    if kind == "points":
        inputs = {"z": torch.randn(EXAMPLE_BATCH, int(entries["generator"]["config"]["z_dim"]))}
        return [Graph("generator", PointsGraph(generator), inputs, ("points",), ("z",), description="z -> points")]
    if kind == "stylegan":
        noise = _noise_inputs(int(entries["generator"]["config"]["z_dim"]), classes)
        inputs = {"z": noise["z"], "truncation": torch.ones(1), **{k: v for k, v in noise.items() if k != "z"}}
        batch = tuple(k for k in inputs if k != "truncation")
        num_ws, w_dim = generator.num_ws, int(entries["generator"]["config"]["w_dim"])
        ws = {"ws": torch.randn(EXAMPLE_BATCH, num_ws, w_dim)}
        return [Graph("generator", StyleGeneratorGraph(generator), inputs, IMAGE_OUTPUTS, batch,
                      description=f"{', '.join(inputs)} -> images (mapping and synthesis)"),
                Graph("mapping", MappingGraph(generator), inputs, ("ws",), batch,
                      description=f"{', '.join(inputs)} -> ws (N, {num_ws}, {w_dim}), one w per synthesis layer"),
                Graph("synthesis", SynthesisGraph(generator), ws, IMAGE_OUTPUTS, ("ws",),
                      description="ws -> images; mix styles by taking rows of ws from another sample")]
    if kind in ("translation", "superres"):
        multiple = int(info.get("size_multiple") or 1)
        channels = int(info.get("in_channels") or info.get("channels") or 3)
        side = int(info.get("lr_crop") or info.get("image_size") or 16) if kind == "superres" else int(info.get("image_size") or 16)
        directions = (info.get("directions") or {"a2b": "generator"}) if kind == "translation" else {"generator": "generator"}
        out = []
        for name, player in directions.items():
            module = _deterministic(players[player], entries[player])
            example = {"input_images": torch.rand(EXAMPLE_BATCH, channels, side, side) * 2 - 1}
            what = f"translates {name.replace('2', ' to ').upper()}" if kind == "translation" else f"upscales x{info.get('scale')}"
            out.append(Graph(name, ImageGraph(module), example, IMAGE_OUTPUTS, ("input_images",), {"input_images": multiple},
                             description=f"input_images -> images: {what}"))
        return out
    raise GanforgeError(f"Export kind {kind!r} has no ONNX graphs; expected noise, stylegan, vae, translation, superres or points.")
