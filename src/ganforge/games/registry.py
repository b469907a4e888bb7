"""The families ganforge can train, each a game builder with its options and defaults.

A family is registered in one place: the `register(Family(...))` call of its game file in
`ganforge.games`. Every game file is found and imported on the first look-up, so a new family
needs no edit here.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from ganforge.config import AUGMENT_KEYS, CRITIC_KEYS, FAMILY_KEYS, LOSS_KEYS, OPTIMIZER_KEYS, TrainConfig
from ganforge.errors import GanforgeError

#: what a family playing an adversarial loss reads: the loss, both Adams, the critic steps and the gradient penalty
ADVERSARIAL_KEYS = frozenset(LOSS_KEYS + OPTIMIZER_KEYS + CRITIC_KEYS)
#: ... and, for a family whose D sees images that may be augmented, the augmentation settings
AUGMENTED_KEYS = ADVERSARIAL_KEYS | frozenset(AUGMENT_KEYS)

FAMILIES: dict[str, Family] = {}
_DISCOVERED: list = []


@dataclass(frozen=True)
class Family:
    """A trainable family: how to build its game and load its data, its options and its defaults."""

    name: str
    summary: str
    options: type  # dataclass of family options with documented defaults
    build: Callable  # (cfg: TrainConfig, options, info: DataInfo, runtime: Runtime) -> Game
    default_data: str = "mnist"
    default_loss: Optional[str] = "non_saturating"  # None for a family that reads no loss
    default_image_size: int = 32
    default_steps: int = 2000
    default_batch_size: int = 64
    default_ema_decay: float = 0.999
    default_lr: float = 2e-4  #: Adam learning rate of both players where the run leaves lr_g, lr_d unset (Radford et al. 2015)
    load_data: Callable | None = None  # (cfg, options, runtime) -> contract.Batches; None: the labelled-image source
    #: (cfg) -> (config values worked out from the data for what the user left unset, a sentence saying so); None: none
    defaults_from_data: Callable | None = None
    #: TrainConfig values (options included) for a run of a few seconds on a CPU: contract tests and quick tries
    tiny: dict = field(default_factory=dict)
    #: the run settings of config.FAMILY_KEYS this family reads, or a function of its options giving them
    reads: Union[frozenset, Callable[[Any], frozenset]] = AUGMENTED_KEYS

    def keys_read(self, options: Any) -> frozenset:
        """The run settings of config.FAMILY_KEYS that this family reads with these options."""
        return self.reads(options) if callable(self.reads) else self.reads

    def refuse_unread(self, cfg: TrainConfig, options: Any) -> None:
        """Refuse a run setting set away from its default that this family, with these options, does not read."""
        reads = self.keys_read(options)
        for key in FAMILY_KEYS:
            if key not in reads and cfg.changed(key):
                read = ", ".join(k for k in FAMILY_KEYS if k in reads) or "none of them"
                raise GanforgeError(f"Config value {key}={getattr(cfg, key)!r} is not read by model {self.name!r}; "
                                    f"expected it unset (of the family-dependent settings, {self.name} reads {read}).")


def register(family: Family) -> Family:
    """Add a family to the registry (called by its game module on import); names are unique."""
    known = FAMILIES.get(family.name)
    if known is not None and known.build.__module__ != family.build.__module__:
        raise GanforgeError(f"Model name {family.name!r} is registered twice; expected one game file per name.")
    FAMILIES[family.name] = family
    return family


def _discover() -> None:
    """Import every game module of `ganforge.games` once, so that each registers its families."""
    if _DISCOVERED:
        return
    import ganforge.games as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _DISCOVERED.append(True)


def family_names() -> list[str]:
    """The names of every registered family, sorted."""
    _discover()
    return sorted(FAMILIES)


def get_family(name: str) -> Family:
    """The family called `name`, or a clear error listing the known ones."""
    _discover()
    if name not in FAMILIES:
        raise GanforgeError(f"Unknown model {name!r}; expected one of {', '.join(sorted(FAMILIES))}.")
    return FAMILIES[name]
