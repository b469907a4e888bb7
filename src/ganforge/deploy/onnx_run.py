"""Generate with an export's ONNX graphs through onnxruntime and numpy alone (this module never imports torch)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ganforge.deploy.extra import require
from ganforge.errors import GanforgeError

FORMAT = "ganforge-onnx/1"
MANIFEST = "onnx.json"


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The onnx.json of an export folder, or a clear error when the model was exported without --onnx."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise GanforgeError(f"Model {str(folder)!r} has no {MANIFEST}; expected a folder written by `ganforge export RUN --out DIR --onnx`.")
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        raise GanforgeError(f"ONNX manifest {str(path)!r} is not valid JSON; expected the file written by `ganforge export --onnx`.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise GanforgeError(f"ONNX manifest {str(path)!r} has format {manifest.get('format') if isinstance(manifest, dict) else None!r}; expected {FORMAT!r}.")
    return manifest


class OnnxGenerator:
    """An export's ONNX graphs, opened on first use with onnxruntime's CPU provider (threads: onnxruntime's default)."""

    def __init__(self, folder: str | Path, threads: Optional[int] = None):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.kind = str(self.manifest["kind"])
        self.threads = threads
        self._sessions: dict[str, Any] = {}

    def session(self, graph: str) -> Any:
        """The onnxruntime session of one graph (generator, mapping, synthesis, a2b, ...)."""
        if graph not in self.manifest["graphs"]:
            raise GanforgeError(f"Model {str(self.folder)!r} has no ONNX graph {graph!r}; expected one of {', '.join(self.manifest['graphs'])}.")
        if graph not in self._sessions:
            ort = require("onnxruntime")
            options = ort.SessionOptions()
            if self.threads:
                options.intra_op_num_threads = self.threads
            path = self.folder / self.manifest["graphs"][graph]["file"]
            self._sessions[graph] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return self._sessions[graph]

    def inputs(self, graph: str = "generator") -> dict[str, dict[str, Any]]:
        """name -> {shape, dtype} of a graph's inputs, as onnx.json records them."""
        return self.manifest["graphs"][graph]["inputs"]

    def z_dim(self) -> int:
        """Length of the noise vector z."""
        return int(self.inputs()["z"]["shape"][1])

    def generate(self, z: np.ndarray, labels: Optional[np.ndarray] = None, truncation: Optional[float] = None,
                 output: str = "images_uint8") -> np.ndarray:
        """Images (N, C, H, W) from noise z (N, z_dim): uint8, or float in [-1, 1] with output="images"."""
        names = self.inputs()
        feeds: dict[str, np.ndarray] = {"z": np.asarray(z, dtype=np.float32)}
        if "labels" in names:
            if labels is None:
                labels = np.arange(len(z)) % int(self.manifest["num_classes"])
            feeds["labels"] = np.asarray(labels, dtype=np.int64)
        elif labels is not None:
            raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
        if "truncation" in names:
            feeds["truncation"] = np.array([1.0 if truncation is None else truncation], dtype=np.float32)
        elif truncation is not None:
            raise GanforgeError(f"Truncation {truncation} was asked of a {self.kind} model; expected a StyleGAN model.")
        return self.session("generator").run([output], feeds)[0]
