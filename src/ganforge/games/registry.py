"""The families ganforge can train, each a game builder with its options and defaults."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from ganforge.errors import GanforgeError

# family name -> module that registers it on import
_MODULES = {
    "vanilla": "ganforge.games.adversarial",
    "dcgan": "ganforge.games.adversarial",
    "cgan": "ganforge.games.conditional",
    "stylegan": "ganforge.games.stylegan",
    "cyclegan": "ganforge.games.cyclegan",
    "vae": "ganforge.games.vae",
}
FAMILIES: dict[str, "Family"] = {}


@dataclass(frozen=True)
class Family:
    """A trainable family: how to build its game and load its data, its options and its defaults."""

    name: str
    summary: str
    options: type  # dataclass of family options with documented defaults
    build: Callable  # (cfg: TrainConfig, options, info: DataInfo, runtime: Runtime) -> Game
    default_data: str = "mnist"
    default_loss: str = "non_saturating"
    default_image_size: int = 32
    default_steps: int = 2000
    default_batch_size: int = 64
    default_ema_decay: float = 0.999
    load_data: Callable | None = None  # (cfg, runtime) -> batch source; None: the labelled-image source


def register(family: Family) -> Family:
    """Add a family to the registry (called by each game module on import)."""
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """The family called `name`, or a clear error listing the known ones."""
    if name not in _MODULES:
        raise GanforgeError(f"Unknown model {name!r}; expected one of {', '.join(sorted(_MODULES))}.")
    if name not in FAMILIES:
        try:
            importlib.import_module(_MODULES[name])
        except ModuleNotFoundError as exc:
            if exc.name != _MODULES[name]:
                raise
    if name not in FAMILIES:
        raise GanforgeError(f"Model {name!r} is not available in this version of ganforge.")
    return FAMILIES[name]
