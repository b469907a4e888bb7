"""The command line's argument types, declared once for every subcommand; each refusal is one sentence naming the value.

Each `Rule` is both an argparse type (`type=arguments.positive_int`: the text given is parsed and checked; a refusal
is an `Invalid`, which `ganforge.cli.Parser` words with the flag) and a check of a value already parsed
(`arguments.seed.check(value, "in --seeds")`, for values inside lists or from Python callers)."""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganforge.config import SEED_LIMIT, SEEDS
from ganforge.errors import GanforgeError
from ganforge.sampling import parse_device


class Invalid(argparse.ArgumentTypeError):
    """A command-line text a rule refused: the text and what was expected."""

    def __init__(self, text: str, expected: str):
        super().__init__(f"{text} is invalid; expected {expected}")
        self.text, self.expected = text, expected

    def sentence(self, flag: str) -> str:
        """The one sentence naming the flag, its config key and the value."""
        key = flag.lstrip("-").replace("-", "_")
        return f"Option {flag} {self.text} is invalid ({key}={self.text}); expected {self.expected}."


@dataclass(frozen=True)
class Rule:
    """A command-line number: how its text is read, which values are accepted, and those values in words."""

    parse: Callable[[str], Any]
    accepts: Callable[[Any], bool]
    expected: str
    noun: str = "Value"  #: first word of the sentence of `check`

    def __call__(self, text: str) -> Any:
        """The value `text` gives (argparse type), or `Invalid`."""
        try:
            value = self.parse(text)
        except ValueError:
            raise Invalid(text, self.expected) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(text, "a finite number")
        if not self.accepts(value):
            raise Invalid(text, self.expected)
        return value

    def check(self, value: Any, flag: str) -> Any:
        """`value` if accepted, else a `GanforgeError` naming `flag` and the value."""
        if not self.accepts(value):
            raise GanforgeError(f"{self.noun} {flag} {value} is invalid; expected {self.expected}.")
        return value


def _finite(value: float) -> bool:
    return math.isfinite(value)


integer = Rule(int, lambda v: True, "an integer")  #: any integer (a label, an index: checked against the model later)
positive_int = Rule(int, lambda v: v >= 1, "an integer >= 1")  #: counts and sizes
non_negative_int = Rule(int, lambda v: v >= 0, "an integer >= 0")  #: counts where 0 has a meaning (none, off, whole)
seed = Rule(int, lambda v: 0 <= v < SEED_LIMIT, SEEDS, "Seed")  #: the one seed limit of training and every tool
port = Rule(int, lambda v: 0 < v < 65536, "a port from 1 to 65535", "Port")  #: a TCP port
finite_float = Rule(float, _finite, "a finite number")  #: any finite number
positive_float = Rule(float, lambda v: _finite(v) and v > 0, "a finite number > 0")  #: rates, budgets, widths
non_negative_float = Rule(float, lambda v: _finite(v) and v >= 0, "a finite number >= 0")  #: strengths, weights


def device(text: str) -> str:
    """The device a --device value names on this machine (auto, cpu, cuda, cuda:N, mps), auto resolved (argparse type)."""
    return str(parse_device(text))


def device_setting(text: str) -> str:
    """A run's --device setting, checked against this machine and kept as given (auto stays auto: each process of a
    run resolves it; argparse type)."""
    parse_device(text)
    return text


def output_path(text: str) -> str:
    """A --out value: a non-empty path, as given (argparse type); what may be written there is `tools.outputs`'s rule."""
    if not text.strip() or "\0" in text:
        raise Invalid(repr(text), "a file or folder path")
    return text
