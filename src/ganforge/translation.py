"""Translation with an exported image-to-image model: which player translates which way, and the pass itself.

The library half of `ganforge translate` and the page's Translate tab; a model's translators are
named by its export (`info["directions"]`), and a model is one only when its export declares kind
"translation".
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.kinds import kind_of

__all__ = ["DIRECTIONS", "translation_pair", "translate_images"]

DIRECTIONS = ("a2b", "b2a")


def translation_pair(players: dict[str, nn.Module], info: dict, direction: str,
                     where: str) -> tuple[nn.Module, Optional[nn.Module]]:
    """(forward, backward) translators of an exported model for `direction`; backward is None for a paired model."""
    kind = kind_of(info)
    if kind.name != "translation":
        raise GanforgeError(f"Model {where!r} is a {kind.name} model, not a translation model; "
                            "expected an image-to-image translation model.")
    if direction not in DIRECTIONS:
        raise GanforgeError(f"Direction {direction!r} is unknown; expected a2b or b2a.")
    if info.get("paired"):
        names = info.get("directions", {"a2b": "generator"})
        if direction not in names or names[direction] not in players:
            raise GanforgeError(f"Model {where!r} is a paired ({info.get('family')}) model that translates a2b only; "
                                "expected --direction a2b.")
        return players[names[direction]], None
    names = info.get("directions", {"a2b": "generator", "b2a": "generator_b2a"})
    other = "b2a" if direction == "a2b" else "a2b"
    try:
        return players[names[direction]], players[names[other]]
    except KeyError:
        raise GanforgeError(f"Model {where!r} lacks a translator for {direction} or {other}; expected both exported.") from None


@torch.no_grad()
def translate_images(forward: nn.Module, backward: Optional[nn.Module], images: Tensor) -> tuple[Tensor, Optional[Tensor]]:
    """(translations, reconstructions or None) in [-1, 1] of float images in [-1, 1]."""
    translated = forward(images).float().clamp_(-1, 1)
    if backward is None:
        return translated, None
    return translated, backward(translated).float().clamp_(-1, 1)
