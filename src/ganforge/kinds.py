"""What an exported model is: its kind and capabilities, the one table every tool dispatches on.

Each game declares them in its `export_info` (with `declare`), so they are written into the
export's config.json; tools read them back with `kind_of(info)` and never look at a player's
attributes to guess.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ganforge.errors import GanforgeError

#: what a model does with its input: noise -> image (plain or StyleGAN), a VAE's decoder, image -> image, 2-D points
KINDS = ("noise", "stylegan", "vae", "translation", "superres", "points")
#: what a tool may ask of it beyond its kind: truncation ψ, a w space, an encoder player, class labels
CAPABILITIES = ("truncation", "w_space", "encoder", "labels")
#: kinds whose generator turns a noise vector z into an image (sampling, interpolation, z directions)
NOISE_DRIVEN = ("noise", "stylegan", "vae")

#: exports written before kinds were declared: each family's kind and capabilities, read from info["family"]
_BEFORE_DECLARED = {
    "vanilla": ("noise", ()), "dcgan": ("noise", ()), "cgan": ("noise", ("labels",)),
    "stylegan": ("stylegan", ("truncation", "w_space")), "vae": ("vae", ("encoder",)),
    "cyclegan": ("translation", ()), "pix2pix": ("translation", ()), "srgan": ("superres", ()), "toy": ("points", ()),
}


@dataclass(frozen=True)
class ModelKind:
    """A model's kind and what it can do beyond it."""

    name: str
    truncation: bool = False
    w_space: bool = False
    encoder: bool = False
    labels: bool = False

    def __post_init__(self):
        if self.name not in KINDS:
            raise GanforgeError(f"Model kind {self.name!r} is unknown; expected one of {', '.join(KINDS)}.")

    @property
    def noise_driven(self) -> bool:
        """Whether the generator turns noise z into an image."""
        return self.name in NOISE_DRIVEN

    @property
    def capabilities(self) -> list[str]:
        """The capabilities it has, in the order of `CAPABILITIES`."""
        return [c for c in CAPABILITIES if getattr(self, c)]

    def info(self) -> dict[str, Any]:
        """The entries written into an export's info: {"kind": ..., "capabilities": [...]}."""
        return {"kind": self.name, "capabilities": self.capabilities}


def declare(name: str, *capabilities: str) -> dict[str, Any]:
    """Info entries declaring a kind and its capabilities, for a game's `export_info`."""
    unknown = [c for c in capabilities if c not in CAPABILITIES]
    if unknown:
        raise GanforgeError(f"Model capability {unknown[0]!r} is unknown; expected some of {', '.join(CAPABILITIES)}.")
    return ModelKind(name, **{c: True for c in capabilities}).info()


def infer(info: dict[str, Any], generator_config: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The declaration of an export written before kinds were declared, inferred from its recorded family name.

    This is the one place a kind is inferred: `export.load_players` completes such an export's info with it
    once, on loading. The class-label capability is read from the generator's recorded constructor
    arguments (`num_classes`) when given, else only the cgan family has it. None: neither kind nor a known family.
    """
    family, name = info.get("family"), info.get("kind")
    if family in _BEFORE_DECLARED:
        implied_name, implied = _BEFORE_DECLARED[family]
        conditional = int((generator_config or {}).get("num_classes") or 0) > 0
        labels = ["labels"] if conditional and "labels" not in implied else []
        return declare(name or implied_name, *implied, *labels)
    return None if name is None else declare(str(name))


def kind_of(info: dict[str, Any]) -> ModelKind:
    """The kind an export's info declares (inferred by `infer` for an export written before kinds were)."""
    if info.get("capabilities") is None:
        inferred = infer(info)
        if inferred is None:
            raise GanforgeError(f"Model info declares no kind and names family {info.get('family')!r}; "
                                f"expected a kind among {', '.join(KINDS)} or an export written by ganforge.")
        info = {**info, **inferred}
    declared = info["capabilities"]
    if not isinstance(declared, (list, tuple)) or any(c not in CAPABILITIES for c in declared):
        raise GanforgeError(f"Model capabilities {declared!r} are invalid; expected a list of {', '.join(CAPABILITIES)}.")
    return ModelKind(str(info.get("kind")), **{c: True for c in set(declared)})


def require(kind: ModelKind, model: str, what: str, expected: str, *, kinds: tuple[str, ...] = (),
            capability: str = "") -> None:
    """Refuse a model that is not of `kinds` or lacks `capability`, in one sentence naming what `what` needs."""
    if (kinds and kind.name not in kinds) or (capability and not getattr(kind, capability)):
        has = f" with {', '.join(kind.capabilities)}" if kind.capabilities else ""
        raise GanforgeError(f"Model {model!r} is a {kind.name} model{has}, which {what} cannot use; expected {expected}.")
