"""Exported models: a folder of config.json + one safetensors file per player, loadable without pickle."""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.atomic import write_folder_atomic
from ganforge.errors import GanforgeError

FORMAT = "ganforge-model/1"


def _class_path(module: nn.Module) -> str:
    cls = type(module)
    if not cls.__module__.startswith("ganforge.models."):
        raise GanforgeError(f"Player class {cls.__name__!r} cannot be exported; expected a class from ganforge.models.")
    if not hasattr(module, "config"):
        raise GanforgeError(f"Player class {cls.__name__!r} has no config; expected a ganforge.nn.Configurable.")
    return f"{cls.__module__}:{cls.__qualname__}"


def write_players(players: dict[str, nn.Module], info: dict[str, Any], folder: Path) -> None:
    """Write players' safetensors and config.json into `folder` (one being built; see `save_players`)."""
    entries = {}
    for name, module in players.items():
        state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
        save_file(state, str(folder / f"{name}.safetensors"))
        entries[name] = {"class": _class_path(module), "config": module.config, "weights": f"{name}.safetensors"}
    (folder / "config.json").write_text(json.dumps({"format": FORMAT, "info": info, "players": entries}, indent=2))


def save_players(players: dict[str, nn.Module], info: dict[str, Any], folder: str | Path) -> Path:
    """Write players (the one called "generator" first among them) and `info` to `folder`, atomically."""
    return write_folder_atomic(Path(folder), lambda tmp: write_players(players, info, tmp))


def save_generator(generator: nn.Module, info: dict[str, Any], folder: str | Path) -> Path:
    """Export one generator with its info."""
    return save_players({"generator": generator}, info, folder)


def resolve_model_dir(path: str | Path) -> Path:
    """The exported-model folder for a model folder or a run folder (its `export/`)."""
    p = Path(path)
    if not p.exists():
        raise GanforgeError(f"Model path {str(p)!r} does not exist; expected an exported model folder or a run folder.")
    if (p / "config.json").is_file():
        return p
    if (p / "export" / "config.json").is_file():
        return p / "export"
    raise GanforgeError(f"Path {str(p)!r} holds no exported model; expected a folder with config.json or a run folder with export/.")


def _build(entry: dict, folder: Path, name: str) -> nn.Module:
    module_name, _, class_name = str(entry.get("class", "")).partition(":")
    if not module_name.startswith("ganforge.models.") or not class_name.isidentifier():
        raise GanforgeError(f"Model {str(folder)!r} names player class {entry.get('class')!r}; expected a ganforge.models class.")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise GanforgeError(f"Model {str(folder)!r} needs class {entry['class']!r}, which this ganforge does not have.") from None
    module = cls(**entry["config"])
    weights = folder / entry["weights"]
    try:
        module.load_state_dict(load_file(str(weights)))
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} do not load ({type(exc).__name__})"
                            f"; expected the file exported with this model.") from None
    return module.eval().requires_grad_(False)


def read_config(path: str | Path) -> dict[str, Any]:
    """The config.json of an exported model (or a run's export): format, info, and each player's class, config and weights."""
    folder = resolve_model_dir(path)
    try:
        meta = json.loads((folder / "config.json").read_text())
    except ValueError:
        raise GanforgeError(f"Model config {str(folder / 'config.json')!r} is not valid JSON; expected a ganforge export.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GanforgeError(f"Model {str(folder)!r} has format {meta.get('format') if isinstance(meta, dict) else None!r}; expected {FORMAT!r}.")
    return meta


def load_players(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """All players of an exported model (or a run's export) and the model's info."""
    folder = resolve_model_dir(path)
    meta = read_config(folder)
    players = {name: _build(entry, folder, name).to(device) for name, entry in meta["players"].items()}
    return players, meta.get("info", {})


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of an exported model (or a run's export), in eval mode, and the model's info."""
    players, info = load_players(path, device)
    if "generator" not in players:
        raise GanforgeError(f"Model {str(path)!r} has no player named 'generator'; expected an exported generator.")
    return players["generator"], info
