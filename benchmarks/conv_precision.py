"""bf16 against fp32 for the convolutions of one DCGAN round: the ceiling of the default run's precision speed-up.

Every convolution of the family's default players (D's and G's, at the batch and size given) is timed alone on
random tensors, forward and backward (input and weight gradients), in fp32 NCHW (the plain DCGAN of speed.py)
and in bf16 NHWC (the default here), best of --repeats. A round runs each layer's forward and backward a fixed
number of times, so the ratio of the summed times is what a round made only of convolutions would gain from
bf16; the rest of a round (BatchNorm, activations, the optimizer, R1) gains less, so the whole round's ratio
stays below it. FLOPs per layer (torch.utils.flop_counter) give each layer's achieved bf16 GFLOP/s.

    python benchmarks/conv_precision.py                      # DCGAN-32, batch 64 (the default run)
    python benchmarks/conv_precision.py --image-size 64 --channels 3
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402


def conv_shapes(players: list[nn.Module], batch: int, z_dim: int) -> list[tuple[nn.Module, tuple]]:
    """(layer, input shape) of every convolution the players run on one batch, in call order."""
    found = []
    hooks = [m.register_forward_hook(lambda mod, inputs, _out: found.append((mod, tuple(inputs[0].shape))))
             for p in players for m in p.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    generator, discriminator = players
    with torch.no_grad():
        discriminator(generator(torch.randn(batch, z_dim)))
    for h in hooks:
        h.remove()
    return found


def layer_flops(layer: nn.Module, shape: tuple) -> int:
    """FLOPs of one forward and backward of `layer` on an input of `shape` (torch.utils.flop_counter's count)."""
    x = torch.randn(shape, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        out = layer(x)
        out.backward(torch.ones_like(out))
    layer.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def time_layer(layer: nn.Module, shape: tuple, dtype: torch.dtype, fmt: torch.memory_format, repeats: int) -> float:
    """Best seconds of one forward and backward of `layer` on a random input of `shape`."""
    layer = layer.to(dtype=dtype, memory_format=fmt)
    x = torch.randn(shape, dtype=dtype).contiguous(memory_format=fmt).requires_grad_(True)
    best = float("inf")
    for _ in range(repeats + 1):
        began = time.perf_counter()
        out = layer(x)
        out.backward(torch.ones_like(out))
        best = min(best, time.perf_counter() - began)
        layer.zero_grad(set_to_none=True)
        x.grad = None
    return best


def main() -> None:
    """Per-layer times in both precisions, their sums and the ratio."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    generator = DCGANGenerator(channels=args.channels, image_size=args.image_size)
    discriminator = DCGANDiscriminator(args.channels, args.image_size)
    rows = []
    for layer, shape in conv_shapes([generator, discriminator], args.batch, generator.z_dim):
        flops = layer_flops(layer, shape)
        fp32 = time_layer(layer, shape, torch.float32, torch.contiguous_format, args.repeats)
        bf16 = time_layer(layer, shape, torch.bfloat16, torch.channels_last, args.repeats)
        rows.append({"layer": repr(layer), "input": list(shape), "flops": flops, "fp32_s": fp32, "bf16_s": bf16})
    print(f"machine: {describe()}\n")
    print("| layer | input | GFLOP | fp32 NCHW ms | bf16 NHWC ms | fp32 ÷ bf16 | bf16 GFLOP/s |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['layer']}` | {'×'.join(map(str, r['input']))} | {r['flops'] / 1e9:.2f} | {1e3 * r['fp32_s']:.2f} "
              f"| {1e3 * r['bf16_s']:.2f} | {r['fp32_s'] / r['bf16_s']:.2f} | {r['flops'] / r['bf16_s'] / 1e9:.0f} |")
    flops, fp32, bf16 = (sum(r[k] for r in rows) for k in ("flops", "fp32_s", "bf16_s"))
    print(f"| **all** | | **{flops / 1e9:.2f}** | **{1e3 * fp32:.1f}** | **{1e3 * bf16:.1f}** | **{fp32 / bf16:.2f}** "
          f"| **{flops / bf16 / 1e9:.0f}** |")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(), "args": {k: str(v) for k, v in vars(args).items()},
                                         "rows": rows, "ratio": fp32 / bf16, "bf16_flop_per_s": flops / bf16}, indent=2) + "\n")


if __name__ == "__main__":
    main()
