"""Which engine draws samples: PyTorch eager fp32, PyTorch bf16 autocast, or onnxruntime on the export's ONNX graphs.

`auto` picks, per kind, the fastest engine that keeps seeded samples what PyTorch fp32 gives (to 1e-4),
from benchmarks/onnx_speed.py (docs/export.md): onnxruntime for generators from noise when the export has
ONNX graphs and the extra is installed, on the CPU; PyTorch otherwise. bf16 autocast is faster still for
most families on CPUs with native bf16 but moves pixel values, so it is chosen only when asked for.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ganforge.deploy.extra import available, require
from ganforge.deploy.onnx_run import MANIFEST, read_manifest
from ganforge.errors import GanforgeError

BACKENDS = ("auto", "torch", "bf16", "onnx")
#: the fastest fp32-exact engine per kind on a 2-core CPU (benchmarks/onnx_speed.py)
FASTEST_EXACT = {"noise": "onnx", "stylegan": "onnx", "vae": "onnx", "points": "onnx", "translation": "torch", "superres": "torch"}


def choose_backend(requested: str, kind: str, folder: Path, device: torch.device) -> str:
    """torch, bf16 or onnx for a model folder: what was asked for, checked, or the `auto` rule above."""
    if requested not in BACKENDS:
        raise GanforgeError(f"Backend {requested!r} is unknown; expected one of {', '.join(BACKENDS)}.")
    if requested == "onnx":
        require("onnxruntime")
        read_manifest(folder)
        if device.type != "cpu":
            raise GanforgeError(f"Backend onnx was asked for on device {str(device)!r}; expected --device cpu (ganforge runs ONNX graphs on the CPU).")
        return "onnx"
    if requested != "auto":
        return requested
    if device.type == "cpu" and FASTEST_EXACT.get(kind) == "onnx" and (Path(folder) / MANIFEST).is_file() and available():
        return "onnx"
    return "torch"
