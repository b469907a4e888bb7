"""VGG-19 convolutional features (Simonyan & Zisserman 2015) for a perceptual loss, from the user's own weights file.

Nothing is downloaded and torchvision is not needed: the layers are built here with the indices of
torchvision's ``vgg19().features`` (convolutions at 0, 2, 5, 7, 10, ...), so a state-dict saved from
that model (``.pth``/``.pt`` or ``.safetensors``, with or without the ``features.`` prefix; the
classifier's keys are ignored) loads as it is. ESRGAN's perceptual loss compares the conv5_4
features before their activation (Wang et al. 2018), index 34.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

#: channels of the 16 convolutions, "M" a 2x2 max-pool (VGG configuration E)
LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
CONV5_4 = 34  #: index of conv5_4 in torchvision's vgg19().features
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def build_features(last: int = CONV5_4) -> nn.Sequential:
    """torchvision's vgg19().features layers 0..`last` (convolutions, in-place-free ReLUs, max-pools), random weights."""
    layers: list[nn.Module] = []
    c_in = 3
    for item in LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, int(item), 3, padding=1), nn.ReLU()]
            c_in = int(item)
    return nn.Sequential(*layers[:last + 1])


def expected_shapes(last: int = CONV5_4) -> dict[str, tuple]:
    """The state-dict keys (without prefix) and shapes the features up to `last` need."""
    return {k: tuple(v.shape) for k, v in build_features(last).state_dict().items()}


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a .safetensors or torch (.pth/.pt, loaded with weights_only) state-dict file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise GanforgeError(f"VGG-19 weights {str(p)!r} do not exist; expected a state-dict file of torchvision's vgg19.")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and safetensors errors come in several types
        raise GanforgeError(f"VGG-19 weights {str(p)!r} could not be read ({type(exc).__name__}); expected a state-dict "
                            "(.pth, .pt or .safetensors).") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise GanforgeError(f"VGG-19 weights {str(p)!r} hold {type(state).__name__}; expected a state-dict mapping names to tensors.")
    return state


class VGG19Features(nn.Module):
    """Frozen VGG-19 features up to layer `last` of float images in [-1, 1] (mapped to ImageNet-normalised [0, 1] inside)."""

    def __init__(self, state: dict[str, Tensor], last: int = CONV5_4, where: str = "the weights"):
        super().__init__()
        self.features = build_features(last)
        wanted = expected_shapes(last)
        found = {k[len("features."):] if k.startswith("features.") else k: v for k, v in state.items()}
        for key, shape in wanted.items():
            if key not in found:
                raise GanforgeError(f"VGG-19 weights {where} lack {('features.' + key)!r}; expected torchvision's vgg19 state-dict.")
            if tuple(found[key].shape) != shape:
                raise GanforgeError(f"VGG-19 weight {('features.' + key)!r} in {where} has shape {tuple(found[key].shape)}; expected {shape}.")
        self.features.load_state_dict({k: found[k].float() for k in wanted})
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    @classmethod
    def from_file(cls, path: str | Path, last: int = CONV5_4) -> VGG19Features:
        """The features with weights read from a state-dict file."""
        return cls(read_state_dict(path), last, repr(str(path)))

    def train(self, mode: bool = True) -> VGG19Features:
        """Always stays in eval mode (a fixed judge)."""
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        """Features of images in [-1, 1]; gray images are repeated to three channels."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = ((x + 1) * 0.5 - self.mean) / self.std
        return self.features(x)
