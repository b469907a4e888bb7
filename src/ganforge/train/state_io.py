"""Nested state (dicts, lists, tensors, numbers) to safetensors + JSON and back, without pickle.

Tensors are written from their own memory where they can be: a contiguous CPU tensor as it is, a
channels_last one as its NHWC view (marked in the JSON, turned back on reading), so saving a
checkpoint does not hold a second copy of the state; only a tensor sharing storage with one already
written, or of another layout, is copied.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.atomic import disk_full_error
from ganforge.errors import GanforgeError

_TENSOR, _INT_KEYS, _TUPLE, _NHWC = "__tensor__", "__int_keys__", "__tuple__", "__nhwc__"


def split_state(state: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """(JSON skeleton, flat tensors) for a nested state; tensors are replaced by references."""
    tensors: dict[str, torch.Tensor] = {}
    storages: set[int] = set()

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensor, nhwc = _stored(value.detach().cpu(), storages)
            tensors[path] = tensor
            return {_TENSOR: path, _NHWC: True} if nhwc else {_TENSOR: path}
        if isinstance(value, dict):
            if value and all(isinstance(k, int) for k in value):
                return {_INT_KEYS: [[k, walk(v, f"{path}/{k}")] for k, v in value.items()]}
            return {str(k): walk(v, f"{path}/{k}") for k, v in value.items()}
        if isinstance(value, tuple):
            return {_TUPLE: [walk(v, f"{path}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(value)]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} at {path}")

    return walk(state, "state"), tensors


def _stored(tensor: torch.Tensor, storages: set[int]) -> tuple[torch.Tensor, bool]:
    """(what safetensors writes for `tensor`, whether that is its NHWC view): its own memory when it is contiguous
    or channels_last and its storage is not yet written, else a contiguous copy."""
    storage = tensor.untyped_storage()
    own = storage.nbytes() > 0 and storage.data_ptr() not in storages
    if own:
        storages.add(storage.data_ptr())
        if tensor.is_contiguous():
            return tensor, False
        if tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last):
            return tensor.permute(0, 2, 3, 1), True
    return tensor.contiguous().clone(), False


def join_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `split_state` (a channels_last tensor comes back with its NCHW shape, in channels_last layout)."""
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            tensor = tensors[skeleton[_TENSOR]]
            return tensor.permute(0, 3, 1, 2) if skeleton.get(_NHWC) else tensor
        if _INT_KEYS in skeleton:
            return {int(k): join_state(v, tensors) for k, v in skeleton[_INT_KEYS]}
        if _TUPLE in skeleton:
            return tuple(join_state(v, tensors) for v in skeleton[_TUPLE])
        return {k: join_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [join_state(v, tensors) for v in skeleton]
    return skeleton


def save_state(state: Any, folder: Path, stem: str = "state") -> None:
    """Write `stem.safetensors` and `stem.json` into an existing folder."""
    skeleton, tensors = split_state(state)
    try:
        save_file(tensors, str(folder / f"{stem}.safetensors"))
    except SafetensorError as exc:
        raise disk_full_error(exc, folder / f"{stem}.safetensors") from None
    (folder / f"{stem}.json").write_text(json.dumps(skeleton))


def load_state(folder: Path, stem: str = "state") -> Any:
    """Read what `save_state` wrote, with a clear error for a missing or corrupt file."""
    json_path, tensor_path = folder / f"{stem}.json", folder / f"{stem}.safetensors"
    for p in (json_path, tensor_path):
        if not p.is_file():
            raise GanforgeError(f"Checkpoint folder {str(folder)!r} has no {p.name}; expected a ganforge checkpoint.")
    try:
        skeleton = json.loads(json_path.read_text())
        tensors = load_file(str(tensor_path))
        return join_state(skeleton, tensors)
    except (ValueError, KeyError, OSError, RuntimeError, SafetensorError) as exc:
        raise GanforgeError(f"Checkpoint {str(folder)!r} is corrupt or unreadable ({type(exc).__name__}); expected files written by ganforge.") from None
