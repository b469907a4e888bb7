"""Games: one file per family, each saying what a round of its adversarial (or VAE) play is."""
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.registry import FAMILIES, Family, get_family, register

__all__ = ["Batch", "DataInfo", "Game", "Runtime", "FAMILIES", "Family", "get_family", "register"]
