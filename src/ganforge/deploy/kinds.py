"""The kind of an exported model as a name (noise, stylegan, vae, translation, superres, points), read through `ganforge.kinds`."""
from __future__ import annotations

from typing import Any

from ganforge.kinds import declare, infer, kind_of


def export_kind(info: dict[str, Any]) -> str:
    """The declared kind's name (`kinds.kind_of`); an export that declares none and names no known family: noise."""
    return kind_of(info if info.get("capabilities") is not None or infer(info) else {**info, **declare("noise")}).name
