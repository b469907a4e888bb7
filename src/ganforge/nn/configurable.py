"""Modules that remember how they were built, so an exported player can be rebuilt without pickle."""
from __future__ import annotations

from torch import nn


class Configurable(nn.Module):
    """An nn.Module whose JSON-able constructor arguments are kept in `config`.

    Subclasses call ``super().__init__(**their_arguments)``; ``type(m)(**m.config)`` rebuilds them.
    """

    def __init__(self, **config):
        super().__init__()
        self.config = dict(config)
