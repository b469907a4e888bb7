"""Exported models: a folder of config.json + one safetensors file per player, loadable without pickle."""
from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ganforge.atomic import disk_full_error, write_folder_atomic
from ganforge.errors import GanforgeError
from ganforge.kinds import infer

FORMAT = "ganforge-model/1"
CONFIG_BYTES = 1 << 20  #: a config.json larger than this is not one ganforge wrote
#: types of the info fields the tools read (an info field may also be null); sizes and counts are at least 0
INFO_TYPES = {"channels": int, "in_channels": int, "image_size": int, "num_classes": int, "scale": int, "size_multiple": int,
              "steps": int, "kind": str, "capabilities": list, "family": str, "class_names": list, "domains": list, "directions": dict,
              "paired": bool, "train_seconds": (int, float)}


def _class_path(module: nn.Module) -> str:
    cls = type(module)
    if not cls.__module__.startswith("ganforge.models."):
        raise GanforgeError(f"Player class {cls.__name__!r} cannot be exported; expected a class from ganforge.models.")
    if not hasattr(module, "config"):
        raise GanforgeError(f"Player class {cls.__name__!r} has no config; expected a ganforge.nn.Configurable.")
    return f"{cls.__module__}:{cls.__qualname__}"


def write_players(players: dict[str, nn.Module], info: dict[str, Any], tmp: Path) -> None:
    """Write players' safetensors and config.json into `tmp` (a folder being built; see `save_players`)."""
    entries = {}
    for name, module in players.items():
        state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
        try:
            save_file(state, str(tmp / f"{name}.safetensors"))
        except SafetensorError as exc:
            raise disk_full_error(exc, tmp / f"{name}.safetensors") from None
        entries[name] = {"class": _class_path(module), "config": module.config, "weights": f"{name}.safetensors",
                         "sha256": file_digest(tmp / f"{name}.safetensors")}
    (tmp / "config.json").write_text(json.dumps({"format": FORMAT, "info": info, "players": entries}, indent=2))


def save_players(players: dict[str, nn.Module], info: dict[str, Any], folder: str | Path) -> Path:
    """Write players (the one called "generator" first among them) and `info` to `folder`, atomically."""
    return write_folder_atomic(Path(folder), lambda tmp: write_players(players, info, tmp))


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, in hex, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def save_generator(generator: nn.Module, info: dict[str, Any], folder: str | Path) -> Path:
    """Export one generator with its info."""
    return save_players({"generator": generator}, info, folder)


def run_export_dir(run_dir: str | Path, checkpoint: str | None = None) -> Path:
    """A run's exported model: `export/` (the latest step checkpoint's) or `export-<tag>/` (a named checkpoint's, e.g. best)."""
    return Path(run_dir) / ("export" if checkpoint is None else f"export-{checkpoint}")


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


def _check_entry(entry: object, folder: Path, name: str) -> None:
    """Refuse a player entry of config.json that is not what save_players writes, in one sentence."""
    where = f"Model config {str(folder / 'config.json')!r}"
    if not isinstance(entry, dict):
        raise GanforgeError(f"{where} has player {name!r} of type {type(entry).__name__}; expected a mapping with class, config and weights.")
    for key, kind in (("class", str), ("config", dict), ("weights", str)):
        if not isinstance(entry.get(key), kind):
            raise GanforgeError(f"{where} has player {name!r} with {key}={entry.get(key)!r:.60}; expected a {kind.__name__}.")
    weights = entry["weights"]
    if Path(weights).name != weights or weights in (".", "..") or not weights.endswith(".safetensors"):
        raise GanforgeError(f"{where} names weights {weights!r} for player {name!r}; expected a .safetensors file name inside the folder.")
    if "sha256" in entry and not isinstance(entry["sha256"], str):
        raise GanforgeError(f"{where} has player {name!r} with sha256={entry['sha256']!r:.60}; expected a hex digest.")


def _player_class(entry: dict, folder: Path) -> type:
    module_name, _, class_name = entry["class"].partition(":")
    if not module_name.startswith("ganforge.models.") or not class_name.isidentifier():
        raise GanforgeError(f"Model {str(folder)!r} names player class {entry.get('class')!r}; expected a ganforge.models class.")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise GanforgeError(f"Model {str(folder)!r} needs class {entry['class']!r}, which this ganforge does not have.") from None
    if not (isinstance(cls, type) and issubclass(cls, nn.Module) and cls.__module__ == module_name):
        raise GanforgeError(f"Model {str(folder)!r} names {entry['class']!r}, which is not a player class; expected a ganforge.models network.")
    return cls


def _stored_values(weights: Path, name: str) -> int:
    """How many values the safetensors file holds (read from its header, not its data)."""
    try:
        with safe_open(str(weights), "pt") as f:
            return sum(_numel(f.get_slice(k).get_shape()) for k in f.keys())
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} do not load ({type(exc).__name__})"
                            f"; expected the file exported with this model.") from None


def _numel(shape: list) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def rebuild(cls: type, config: dict[str, Any]) -> nn.Module:
    """`cls` built from a recorded config; arguments the record predates take the class's `added_since` values."""
    return cls(**{**getattr(cls, "added_since", {}), **config})


def _build(entry: dict, folder: Path, name: str) -> nn.Module:
    cls = _player_class(entry, folder)
    weights = folder / entry["weights"]
    if weights.is_symlink() or not weights.is_file():
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} are missing or a link; expected the file exported with this model.")
    try:  # on the meta device first: a config asking for more values than the file holds allocates nothing
        with torch.device("meta"):
            probe = rebuild(cls, entry["config"])
    except GanforgeError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError, AttributeError, KeyError, IndexError) as exc:
        raise GanforgeError(f"Model {str(folder)!r} has a config for player {name!r} that {entry['class']!r} does not accept "
                            f"({type(exc).__name__}); expected the config.json exported with this model.") from None
    wanted = sum(t.numel() for t in probe.state_dict().values())
    stored = _stored_values(weights, name)
    if wanted != stored:
        raise GanforgeError(f"Model {str(folder)!r} has a config for player {name!r} with {wanted:,} values but weights "
                            f"{str(weights)!r} hold {stored:,}; expected the config.json exported with these weights.")
    if "sha256" in entry and file_digest(weights) != entry["sha256"]:
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} do not match the digest recorded at export; "
                            "expected the unaltered file exported with this model.")
    module = rebuild(cls, entry["config"])
    try:
        module.load_state_dict(load_file(str(weights)))
    except (OSError, RuntimeError, ValueError, SafetensorError) as exc:
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} do not load ({type(exc).__name__})"
                            f"; expected the file exported with this model.") from None
    bad = next((k for k, v in module.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise GanforgeError(f"Weights {str(weights)!r} of player {name!r} hold NaN or infinite values (in {bad!r}); "
                            "expected finite weights.")
    return module.eval().requires_grad_(False)


def read_config(folder: Path) -> dict:
    """An export's config.json, checked against what save_players writes."""
    path = folder / "config.json"
    if path.is_symlink() or not path.is_file() or path.stat().st_size > CONFIG_BYTES:
        raise GanforgeError(f"Model config {str(path)!r} is a link, not a file, or larger than {CONFIG_BYTES // 1024} KiB; "
                            "expected the config.json of a ganforge export.")
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError):
        raise GanforgeError(f"Model config {str(path)!r} is not valid JSON (or nests too deeply); expected a ganforge export.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GanforgeError(f"Model {str(folder)!r} has format {meta.get('format') if isinstance(meta, dict) else None!r}; expected {FORMAT!r}.")
    if not isinstance(meta.get("info", {}), dict):
        raise GanforgeError(f"Model config {str(path)!r} has info of type {type(meta['info']).__name__}; expected a mapping.")
    for key, kind in INFO_TYPES.items():
        value = meta.get("info", {}).get(key)
        wrong = value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool))
        if wrong or (kind is int and isinstance(value, int) and value < 0):
            raise GanforgeError(f"Model config {str(path)!r} has info {key}={value!r:.60}; expected "
                                f"{'a number' if isinstance(kind, tuple) else 'an integer >= 0' if kind is int else 'a ' + kind.__name__}.")
    players = meta.get("players")
    if not isinstance(players, dict) or not players:
        raise GanforgeError(f"Model config {str(path)!r} has players={players!r:.60}; expected a mapping of player names to entries.")
    for name, entry in players.items():
        _check_entry(entry, folder, name)
    return meta


def load_players(path: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """All players of an exported model (or a run's export) and the model's info, its kind declared (`kinds.infer`
    completes the info of an export written before kinds were declared).

    Each player's weights are checked: as many values as its config asks for, the SHA-256 recorded at export
    (exports older than the digest load without that check), and every value finite.
    """
    folder = resolve_model_dir(path)
    meta = read_config(folder)
    players = {name: _build(entry, folder, name).to(device) for name, entry in meta["players"].items()}
    info = meta.get("info", {})
    if "capabilities" not in info:  # written before exports declared their kind: inferred here, once
        info = {**info, **(infer(info, meta["players"].get("generator", {}).get("config")) or {})}
    return players, info


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The generator of an exported model (or a run's export), in eval mode, and the model's info."""
    players, info = load_players(path, device)
    if "generator" not in players:
        raise GanforgeError(f"Model {str(path)!r} has no player named 'generator'; expected an exported generator.")
    return players["generator"], info
