"""The optional `onnx` extra: one check that its packages are installed, naming the extra to install."""
from __future__ import annotations

import importlib
from types import ModuleType

from ganforge.errors import GanforgeError

EXTRA = "onnx"  #: pip install "ganforge[onnx]"


def require(module: str) -> ModuleType:
    """The imported module (onnx, onnxruntime or onnxscript), or a clear error naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise GanforgeError(f"Package {module!r} is not installed; expected the optional extra: pip install \"ganforge[{EXTRA}]\".") from None


def available() -> bool:
    """Whether onnxruntime can be imported (the extra is installed)."""
    try:
        importlib.import_module("onnxruntime")
    except ImportError:
        return False
    return True
