"""Images per second of each family's generator on CPU: PyTorch eager fp32, PyTorch bf16 autocast, onnxruntime.

Untrained generators at each family's default width (speed does not depend on the weights), at the
sizes in SIZES; the ONNX graphs are the ones `ganforge export --onnx` writes. Usage:

    python benchmarks/onnx_speed.py [--threads 2] [--seconds 3] [--families dcgan,stylegan] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402

from ganforge.deploy.graphs import graphs_for  # noqa: E402
from ganforge.deploy.onnx_export import export_graph  # noqa: E402


def _players():
    """family -> (kind, generator, info, batch) at the benchmark's sizes."""
    from ganforge.models.cgan import ConditionalDCGANGenerator
    from ganforge.models.cyclegan import ResnetGenerator
    from ganforge.models.dcgan import DCGANGenerator
    from ganforge.models.pix2pix import UNetGenerator
    from ganforge.models.srgan import RRDBGenerator
    from ganforge.models.stylegan import StyleGANGenerator
    from ganforge.models.toy import ToyGenerator
    from ganforge.models.vae import Decoder
    from ganforge.models.vanilla import VanillaGenerator

    noise = {"channels": 1, "image_size": 32, "num_classes": 0}
    return {
        "vanilla": ("noise", VanillaGenerator(image_size=28), {**noise, "image_size": 28}, 64),
        "dcgan": ("noise", DCGANGenerator(), noise, 64),
        "cgan": ("noise", ConditionalDCGANGenerator(), {**noise, "num_classes": 10}, 64),
        "stylegan": ("stylegan", StyleGANGenerator(), noise, 64),
        "vae": ("vae", Decoder(), noise, 64),
        "toy": ("points", ToyGenerator(), {"channels": 1, "image_size": 0}, 1024),
        "cyclegan": ("translation", ResnetGenerator(channels=3), {"channels": 3, "image_size": 64, "size_multiple": 4,
                                                                   "directions": {"a2b": "generator"}}, 4),
        "pix2pix": ("translation", UNetGenerator(n_down=6), {"channels": 3, "in_channels": 3, "image_size": 64,
                                                             "size_multiple": 64, "directions": {"a2b": "generator"}}, 4),
        "srgan": ("superres", RRDBGenerator(), {"channels": 3, "scale": 4, "lr_crop": 32}, 4),
    }


def _rate(fn, batch: int, seconds: float) -> float:
    """Images per second of fn() (one batch per call) after one warm-up call."""
    fn()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or calls < 2:
        fn()
        calls += 1
    return calls * batch / (time.perf_counter() - start)


def measure(family: str, kind: str, generator: torch.nn.Module, info: dict, batch: int, threads: int, seconds: float) -> dict:
    """{fp32, bf16, onnxruntime}: images per second of one family."""
    import onnxruntime as ort

    generator = generator.eval().requires_grad_(False)
    graph = graphs_for(kind, {"generator": generator}, {"generator": {"config": generator.config}}, info)[0]
    inputs = {k: (v[:1].expand(batch, *v.shape[1:]).contiguous() if k not in ("truncation",) else v) for k, v in graph.inputs.items()}
    module = graph.module

    def eager():
        with torch.inference_mode():
            module(*inputs.values())

    def bf16():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            module(*inputs.values())

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.onnx"
        export_graph(graph, path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = {k: v.numpy() for k, v in inputs.items()}
        onnx_rate = _rate(lambda: session.run([graph.outputs[0]], feeds), batch, seconds)
    with torch.inference_mode():
        exact = module(*inputs.values())
        with torch.autocast("cpu", dtype=torch.bfloat16):
            rough = module(*inputs.values())
    exact, rough = (exact[0], rough[0]) if isinstance(exact, tuple) else (exact, rough)
    levels = float((rough.float() - exact.float()).abs().max()) * (127.5 if isinstance(graph.module(*inputs.values()), tuple) else 1.0)
    return {"family": family, "batch": batch, "fp32": _rate(eager, batch, seconds), "bf16": _rate(bf16, batch, seconds),
            "onnxruntime": onnx_rate, "bf16_max_difference": levels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--families", default="")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    wanted = [f for f in args.families.split(",") if f]
    rows = []
    print(describe())
    print("| family | batch | eager fp32 | bf16 autocast | onnxruntime | fastest | bf16 max |Δ| (uint8 levels; points: units) |")
    print("|---|---|---|---|---|---|---|")
    for family, (kind, generator, info, batch) in _players().items():
        if wanted and family not in wanted:
            continue
        row = measure(family, kind, generator, info, batch, args.threads, args.seconds)
        rows.append(row)
        best = max(("fp32", "bf16", "onnxruntime"), key=lambda k: row[k])
        rates = " | ".join(f"{row[k]:.1f}" for k in ("fp32", "bf16", "onnxruntime"))
        print(f"| {family} | {batch} | {rates} | {best} | {row['bf16_max_difference']:.1f} |", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
