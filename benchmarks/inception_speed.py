"""FID InceptionV3 feature extraction speed on this CPU: today's eager fp32 against the tuned paths, in one run.

Configurations, each timed on the same 299-px inputs, interleaved over `--reps` rounds (the best round
counts, as others' work on a shared machine only ever slows a round down):
  before      the network as loaded, NCHW, batch norm separate, fp32 (what `ganforge eval` ran before)
  folded_cl   batch norm folded into the convolutions, channels_last, fp32
  frozen      what eval runs (features/inference.py): folded_cl traced and frozen with TorchScript, oneDNN
              Graph fusion on, chunks of 8 images, fp32
  nnpack      frozen with the stride-1 3x3 and 5x5 convolutions through NNPACK's Winograd/FFT algorithms
              (benchmarks/inception_exact.py, which times the other exact variants tried), fp32
  bf16        frozen under bfloat16 autocast (`--precision bf16`)
Features are compared with `before` on real photos (skimage.data) resized to 299 px: the largest
relative L2 difference per image is printed; fp32 paths must stay ≤ 1e-4.

    python benchmarks/inception_speed.py --weights tf --batch 50 --reps 3   # the figures in docs/metrics.md
    python benchmarks/inception_speed.py --batch 16 64 --reps 5             # random weights
"""
from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

from ganforge.metrics.features.inception import FIDInceptionV3, fold_batch_norm, to_tf_input  # noqa: E402
from ganforge.metrics.features.inference import InferenceNetwork  # noqa: E402


def photos() -> torch.Tensor:
    """Five colour photos from skimage.data as float [-1, 1] at 299 px (TF input range)."""
    import numpy as np
    import skimage.data as sd

    imgs = [sd.astronaut(), sd.coffee(), sd.chelsea(), sd.rocket(), sd.immunohistochemistry()]
    x = torch.cat([to_tf_input(torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1)[None].float() / 127.5 - 1) for i in imgs])
    return x


def network(weights: str) -> FIDInceptionV3:
    """The TF-Inception file's weights when asked and present, else random weights with non-trivial batch-norm statistics."""
    if weights == "tf":
        from ganforge.metrics.features.inception_tf import load_tf_inception

        return load_tf_inception()
    torch.manual_seed(0)
    net = FIDInceptionV3(num_classes=0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval().requires_grad_(False)


def configurations(net: FIDInceptionV3) -> dict:
    """Name -> a callable from TF-range 299-px images to features."""
    from inception_exact import use_nnpack

    folded = fold_batch_norm(copy.deepcopy(net)).to(memory_format=torch.channels_last)
    return {"before": net.features,
            "folded_cl": lambda x: folded.features(x.contiguous(memory_format=torch.channels_last)),
            "frozen": InferenceNetwork(net, precision="fp32"),
            "nnpack": InferenceNetwork(net, precision="fp32", fold=lambda m: use_nnpack(fold_batch_norm(m))),
            "bf16": InferenceNetwork(net, precision="bf16")}


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest per-image relative L2 difference of two feature sets."""
    return float(((a.float() - b.float()).norm(dim=1) / b.float().norm(dim=1)).max())


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--weights", choices=["random", "tf"], default="random")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    net = network(args.weights)
    configs = configurations(net)
    real = photos()
    ref = net.features(real)
    out = {"machine": describe(), "weights": args.weights, "images_per_s": {}, "rel_diff_vs_before": {}}
    for name, f in configs.items():
        out["rel_diff_vs_before"][name] = relative(f(real), ref)
    for batch in args.batch:
        x = torch.rand(batch, 3, 299, 299, generator=torch.Generator().manual_seed(1)) * 2 - 1
        best = {}
        for f in configs.values():
            f(x)  # warm-up (and TorchScript's profiling runs)
        for _ in range(args.reps):
            for name, f in configs.items():
                t = time.perf_counter()
                f(x)
                best[name] = max(best.get(name, 0.0), batch / (time.perf_counter() - t))
        out["images_per_s"][str(batch)] = best
    print(json.dumps(out, indent=2))
    for batch, row in out["images_per_s"].items():
        print(f"batch {batch}: " + ", ".join(f"{k} {v:.1f} img/s ({v / row['before']:.2f}x)" for k, v in row.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
