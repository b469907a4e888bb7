"""The kind of an exported model (noise, stylegan, vae, translation, superres, points), as its info declares it."""
from __future__ import annotations

from typing import Any

_BY_FAMILY = {"stylegan": "stylegan", "vae": "vae"}


def export_kind(info: dict[str, Any]) -> str:
    """The declared kind; exports that declare none are read by their recorded family (noise unless listed)."""
    return str(info.get("kind") or _BY_FAMILY.get(str(info.get("family")), "noise"))
