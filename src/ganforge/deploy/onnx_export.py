"""Write an export's generator graphs as ONNX, each checked against PyTorch with onnxruntime before it is kept.

The exporter is `torch.onnx.export(..., dynamo=True)` (torch.export, then onnxscript's ATen-to-ONNX
translation). On torch 2.13 it handles every generator here, modulated convolutions and pixel shuffle
included, once StyleGAN's growth phase is fixed outside the graph (`SynthesisGraph`); it is the exporter
PyTorch maintains, and the TorchScript one (dynamo=False) is deprecated. Dynamic axes are symbolic
dimensions of torch.export, so a graph that cannot take another batch or size fails here, not in a user's app.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganforge.deploy.extra import require
from ganforge.deploy.graphs import Graph, graphs_for
from ganforge.deploy.onnx_run import FORMAT, MANIFEST
from ganforge.errors import GanforgeError

OPSET = 18
TOLERANCE = 1e-4  #: largest |onnxruntime - PyTorch| allowed on float outputs (fp32)
CHECK_BATCHES = (1, 7)


def _dims(graph: Graph) -> tuple:
    """torch.export dynamic shapes for the graph's inputs, in call order."""
    from torch.export import Dim

    batch = Dim("batch", min=1, max=65536)
    shapes = []
    for name in graph.inputs:
        axes = {0: batch} if name in graph.batch_inputs else {}
        if name in graph.spatial and not graph.fixed_size:
            m = graph.spatial[name]
            if m > 1:
                axes.update({2: Dim("height_blocks", min=1, max=4096) * m, 3: Dim("width_blocks", min=1, max=4096) * m})
            else:
                axes.update({2: Dim("height", min=1, max=65536), 3: Dim("width", min=1, max=65536)})
        shapes.append(axes or None)
    return tuple(shapes)


def check_inputs(graph: Graph, batch: int, grow: int, classes: int) -> dict[str, Tensor]:
    """Random inputs for a graph at `batch`, image sides grown by `grow` multiples (seeded by the caller)."""
    out = {}
    for name, example in graph.inputs.items():
        if name == "labels":
            out[name] = torch.randint(0, max(classes, 1), (batch,))
        elif name == "truncation":
            out[name] = torch.rand(1) * 1.5
        elif name in graph.spatial:
            step = graph.spatial[name]
            c, h, w = example.shape[1:]
            out[name] = torch.rand(batch, c, h + grow * step, w + 2 * grow * step) * 2 - 1
        else:
            out[name] = torch.randn(batch, *example.shape[1:])
    return out


@contextlib.contextmanager
def _quiet():
    """Silence the exporter's progress lines, warnings and logged errors (failures still raise)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch._guards", "torch.fx.experimental.symbolic_shapes", "torch.export")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for log, level in zip(loggers, levels):
            log.setLevel(level)


def _export(graph: Graph, path: Path) -> None:
    torch.onnx.export(graph.module.eval(), tuple(graph.inputs.values()), str(path), input_names=list(graph.inputs),
                      output_names=list(graph.outputs), dynamic_shapes=_dims(graph), opset_version=OPSET,
                      dynamo=True, external_data=False, verbose=False)


def export_graph(graph: Graph, path: Path) -> None:
    """Export one graph to `path` (weights inside the file); image sides fixed when torch.export cannot keep them symbolic."""
    with _quiet():
        try:
            _export(graph, path)
            return
        except Exception as exc:  # torch.export reports unsupported code in many exception types
            error = exc
        if graph.spatial:
            graph.fixed_size = True
            try:
                _export(graph, path)
                return
            except Exception as exc:
                error = exc
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise GanforgeError(f"Graph {graph.name!r} could not be exported to ONNX ({type(error).__name__}: {first[:200]}); "
                        "expected a network torch.export can trace.")


def check_graph(graph: Graph, path: Path, classes: int, seed: int = 0) -> float:
    """Largest |onnxruntime - PyTorch| over the float outputs at batches 1 and 7 (and a second image size); refused above TOLERANCE."""
    ort = require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    torch.manual_seed(seed)
    worst = 0.0
    for grow, batch in enumerate(CHECK_BATCHES):
        inputs = check_inputs(graph, batch, 0 if graph.fixed_size else grow, classes)
        with torch.no_grad():
            expected = graph.module(*inputs.values())
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(list(graph.outputs), {k: v.numpy() for k, v in inputs.items()})
        for name, want, have in zip(graph.outputs, expected, got):
            if tuple(have.shape) != tuple(want.shape):
                raise GanforgeError(f"ONNX graph {graph.name!r} output {name!r} has shape {tuple(have.shape)} at batch {batch}; "
                                    f"expected {tuple(want.shape)} as PyTorch gives.")
            diff = float((torch.from_numpy(have).double() - want.double()).abs().max())
            limit = 1.0 if want.dtype == torch.uint8 else TOLERANCE  # uint8 may round the other way at a .5 boundary
            if diff > limit:
                raise GanforgeError(f"ONNX graph {graph.name!r} output {name!r} differs from PyTorch by up to {diff:.3g} at batch {batch}; "
                                    f"expected at most {limit:g}, so the ONNX export was not written.")
            if want.dtype != torch.uint8:
                worst = max(worst, diff)
    return worst


def _signature(values: Any) -> dict[str, dict[str, Any]]:
    """name -> {shape (symbolic axes as names), dtype} of ONNX value infos."""
    onnx = require("onnx")
    out = {}
    for value in values:
        tensor = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in tensor.shape.dim]
        out[value.name] = {"shape": shape, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name}
    return out


def write_onnx(kind: str, players: dict, entries: dict[str, dict], info: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Write `<graph>.onnx` files and onnx.json into `folder` (a folder being built); the manifest written."""
    onnx = require("onnx")
    require("onnxscript")
    classes = int(entries["generator"]["config"].get("num_classes") or 0)  # the model's classes, not the data's
    graphs = {}
    for graph in graphs_for(kind, players, entries, info):
        path = folder / f"{graph.name}.onnx"
        export_graph(graph, path)
        difference = check_graph(graph, path, classes)
        model = onnx.load(str(path))
        graphs[graph.name] = {"file": path.name, "description": graph.description, "inputs": _signature(model.graph.input),
                              "outputs": _signature(model.graph.output), "max_abs_difference": difference}
    manifest = {"format": FORMAT, "kind": kind, "opset": OPSET, "exporter": "torch.onnx.export(dynamo=True)",
                "torch": torch.__version__, "tolerance": TOLERANCE, "num_classes": classes, "graphs": graphs}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
