"""Nested state (dicts, lists, tensors, numbers) to safetensors + JSON and back, without pickle."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganforge.atomic import disk_full_error
from ganforge.errors import GanforgeError

_TENSOR, _INT_KEYS, _TUPLE = "__tensor__", "__int_keys__", "__tuple__"


def split_state(state: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """(JSON skeleton, flat tensors) for a nested state; tensors are replaced by references."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, torch.Tensor):
            tensors[path] = value.detach().cpu().contiguous().clone()
            return {_TENSOR: path}
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


def join_state(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `split_state`."""
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            return tensors[skeleton[_TENSOR]]
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
