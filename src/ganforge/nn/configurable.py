"""Modules that remember how they were built, so an exported player can be rebuilt without pickle."""
from __future__ import annotations

import functools
import inspect
from typing import Any

from torch import nn


def _plain(value: Any) -> Any:
    """A JSON-able copy of a constructor argument (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


class Configurable(nn.Module):
    """An nn.Module whose constructor arguments, defaults filled in, are recorded in `config`.

    The record is taken from the constructor's signature (as diffusers' `register_to_config`
    does), so ``type(m)(**m.config)`` rebuilds the module and each default lives only in the
    signature. Subclasses call a plain ``super().__init__()``.

    `added_since` maps an argument added after players were first exported to the value that rebuilds
    those older players as they were (`ganforge.export` applies it).
    """

    added_since: dict[str, Any] = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self, *args, **kw):
            depth = self.__dict__.get("_config_depth", 0)
            self.__dict__["_config_depth"] = depth + 1
            try:
                init(self, *args, **kw)
            finally:
                self.__dict__["_config_depth"] = depth
            if depth == 0:  # the outermost constructor records the arguments it was called with
                del self.__dict__["_config_depth"]
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                config = {}
                for name, value in list(bound.arguments.items())[1:]:
                    kind = signature.parameters[name].kind
                    if kind is inspect.Parameter.VAR_KEYWORD:
                        config.update(_plain(value))
                    elif kind is inspect.Parameter.VAR_POSITIONAL:
                        raise TypeError(f"{cls.__name__} takes *{name}; a Configurable's arguments must be named")
                    else:
                        config[name] = _plain(value)
                self.config = config

        cls.__init__ = recording_init

    def __init__(self):
        super().__init__()


def default_of(cls: type, name: str) -> Any:
    """The default of constructor argument `name` of `cls`, so option dataclasses can share it."""
    parameter = inspect.signature(cls.__init__).parameters[name]
    if parameter.default is inspect.Parameter.empty:
        raise TypeError(f"{cls.__name__}({name}) has no default")
    return parameter.default
