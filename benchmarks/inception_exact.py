"""Exact speed-ups tried on the fp32 FID InceptionV3 beyond what eval runs, timed against it in one run.

Each keeps the features equal to the plain network's (relative L2 printed, must stay <= 1e-4):
  frozen_direct   what eval runs (features/inference.py): folded, channels_last, frozen, chunks of 8
  nnpack          the same with the stride-1 3x3 and 5x5 convolutions on >= 48 input channels computed by
                  NNPACK (Dukhan; in PyTorch's CPU wheels): Winograd F(6x6, 3x3) (Lavin & Gray 2016) and FFT
                  tiles, several times fewer multiplications at a few 1e-6 relative error per layer
  merged1x1       the 1x1 convolutions of a mixed block that read the same input merged into one (weights
                  concatenated, output split); the frozen graph does not do this by itself
  c4 / c16        other chunk sizes
  workers2x1      inter-op parallelism: chunks shared by two Python threads, each with one intra-op thread
                  and its own frozen copy (TorchScript releases the GIL)
NNPACK's thread pool is created once per process with the thread count of its first caller, so the
`workers2x1 nnpack` rows share the 2-thread pool made by the `nnpack` rows.

    flock /tmp/heavy.lock env OMP_NUM_THREADS=2 python benchmarks/inception_exact.py --weights tf
    OMP_NUM_THREADS=1 python benchmarks/inception_exact.py --layers      # single layers, oneDNN against NNPACK
"""
from __future__ import annotations

import argparse
import copy
import sys
import threading
import time
import types
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from inception_speed import network, photos, relative  # noqa: E402

from ganforge.metrics.features import inception as inc  # noqa: E402
from ganforge.metrics.features.inference import InferenceNetwork, _onednn_fusion  # noqa: E402

MIN_CHANNELS, MIN_SIZE = 48, 16  #: NNPACK only for convolutions on at least this many input channels and map size


class NNPACKConv2d(nn.Module):
    """`conv` by NNPACK on fp32 maps of at least MIN_SIZE px (output channels_last), by `conv` itself otherwise."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        self.conv, self.padding = conv, [int(p) for p in conv.padding]

    def forward(self, x: Tensor) -> Tensor:
        if x.dtype != torch.float32 or min(x.shape[-2:]) < MIN_SIZE:
            return self.conv(x)
        y = torch._nnpack_spatial_convolution(x.contiguous(), self.conv.weight.contiguous(), self.conv.bias, self.padding)
        return y.contiguous(memory_format=torch.channels_last)


def use_nnpack(model: nn.Module) -> nn.Module:
    """Folded `model` with each stride-1 3x3/5x5 convolution on >= MIN_CHANNELS inputs wrapped in NNPACKConv2d."""
    for parent in list(model.modules()):
        for name, c in list(parent.named_children()):
            if (type(c) is nn.Conv2d and tuple(c.kernel_size) in ((3, 3), (5, 5)) and tuple(c.stride) == (1, 1)
                    and c.groups == 1 and tuple(c.dilation) == (1, 1) and c.in_channels >= MIN_CHANNELS):
                setattr(parent, name, NNPACKConv2d(c))
    return model


def _merged(convs: list) -> tuple[nn.Conv2d, list[int]]:
    w, b = torch.cat([c.conv.weight for c in convs]), torch.cat([c.conv.bias for c in convs])
    m = nn.Conv2d(w.shape[1], w.shape[0], 1).requires_grad_(False)
    m.weight.copy_(w), m.bias.copy_(b)
    return m, [c.conv.weight.shape[0] for c in convs]


def _block_a(self, x):
    a, b5, d = F.relu(self.m(x)).split(self.sizes, 1)
    return torch.cat([a, self.branch5x5_2(b5), self.branch3x3dbl_3(self.branch3x3dbl_2(d)), self.branch_pool(inc._avg_pool(x))], 1)


def _block_c(self, x):
    a, b, d = F.relu(self.m(x)).split(self.sizes, 1)
    for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
        d = layer(d)
    return torch.cat([a, self.branch7x7_3(self.branch7x7_2(b)), d, self.branch_pool(inc._avg_pool(x))], 1)


def _block_d(self, x):
    a, b = F.relu(self.m(x)).split(self.sizes, 1)
    b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(b)))
    return torch.cat([self.branch3x3_2(a), b7, F.max_pool2d(x, 3, stride=2)], 1)


def _block_e(self, x):
    a, s, d = F.relu(self.m(x)).split(self.sizes, 1)
    d = self.branch3x3dbl_2(d)
    pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else inc._avg_pool(x)
    return torch.cat([a, self.branch3x3_2a(s), self.branch3x3_2b(s), self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d),
                      self.branch_pool(pooled)], 1)


#: block class -> (its 1x1 convolutions that read the block's input, the forward using them merged)
MERGES = {inc.InceptionA: (("branch1x1", "branch5x5_1", "branch3x3dbl_1"), _block_a),
          inc.InceptionC: (("branch1x1", "branch7x7_1", "branch7x7dbl_1"), _block_c),
          inc.InceptionD: (("branch3x3_1", "branch7x7x3_1"), _block_d),
          inc.InceptionE: (("branch1x1", "branch3x3_1", "branch3x3dbl_1"), _block_e)}


def merge_1x1(model: nn.Module) -> nn.Module:
    """Folded `model` with each mixed block's input 1x1 convolutions merged into one."""
    for m in model.modules():
        if type(m) in MERGES:
            names, forward = MERGES[type(m)]
            m.m, m.sizes = _merged([getattr(m, n) for n in names])
            m.forward = types.MethodType(forward, m)
    return model


class Workers:
    """Chunks shared round-robin by `workers` Python threads, each with one intra-op thread and its own frozen copy."""

    def __init__(self, runner: InferenceNetwork, x: Tensor, chunk: int = 8, workers: int = 2):
        self.runs = []
        for _ in range(workers):
            r = copy.copy(runner)
            r._run = None
            r(x[:chunk]), r(x[:chunk])  # trace, freeze and profile serially
            self.runs.append(r._run)
        self.chunk = chunk

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        parts = list(x.split(self.chunk))
        out = [None] * len(parts)

        def work(k: int) -> None:
            torch.set_num_threads(1)
            with torch.no_grad(), _onednn_fusion(True):
                for i in range(k, len(parts), len(self.runs)):
                    out[i] = self.runs[k](parts[i].contiguous(memory_format=torch.channels_last))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(len(self.runs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return torch.cat(out)


@torch.no_grad()
def layers(reps: int = 3) -> None:
    """Single layers of InceptionV3's shapes (batch 8, random weights): oneDNN channels_last against NNPACK, time and error."""
    torch.manual_seed(0)
    for cin, cout, size, k, pad in [(64, 96, 35, 3, 1), (96, 96, 35, 3, 1), (48, 64, 35, 5, 2), (80, 192, 73, 3, 0),
                                    (32, 64, 147, 3, 1), (448, 384, 8, 3, 1)]:
        x, w, b = torch.randn(8, cin, size, size), torch.randn(cout, cin, k, k) * 0.05, torch.randn(cout)
        exact = F.conv2d(x.double(), w.double(), b.double(), padding=pad).float()
        xc, wc = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
        runs = {"onednn": partial(F.conv2d, xc, wc, b, padding=pad),
                "nnpack": partial(torch._nnpack_spatial_convolution, x, w, b, [pad, pad])}
        best = {}
        for name, f in runs.items():
            f()
            best[name] = min(_seconds(f) for _ in range(reps))
        err = float((runs["nnpack"]() - exact).norm() / exact.norm())
        print(f"{cin}->{cout} {k}x{k} at {size} px: onednn {best['onednn'] * 1e3:.1f} ms, nnpack {best['nnpack'] * 1e3:.1f} ms "
              f"({best['onednn'] / best['nnpack']:.2f}x), nnpack relative error {err:.1e}", flush=True)


def _seconds(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", choices=["random", "tf"], default="tf")
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--layers", action="store_true", help="time single layers instead (oneDNN against NNPACK)")
    args = parser.parse_args()
    if args.layers:
        return layers(args.reps)
    net = network(args.weights)
    real = photos()
    ref = net.features(real)

    def tuned(transform=None, chunk: int = 8) -> InferenceNetwork:
        return InferenceNetwork(net, "fp32", chunk=chunk, fold=(lambda m: transform(inc.fold_batch_norm(m))) if transform else None)

    direct, nnp, both = tuned(), tuned(use_nnpack), tuned(lambda m: use_nnpack(merge_1x1(m)))
    configs = {"frozen_direct": direct, "nnpack": nnp, "merged1x1": tuned(merge_1x1), "nnpack+merged1x1": both,
               "nnpack c4": tuned(use_nnpack, 4), "nnpack c16": tuned(use_nnpack, 16)}
    x0 = torch.rand(8, 3, 299, 299) * 2 - 1
    for f in list(configs.values()):
        f(x0), f(x0)
    configs.update({"workers2x1 c8": Workers(direct, x0), "workers2x1 c4": Workers(direct, x0, chunk=4),
                    "workers2x1 nnpack": Workers(nnp, x0), "workers2x1 nnpack+merged1x1": Workers(both, x0)})
    for name, f in configs.items():
        print(name, "rel", f"{relative(f(real), ref):.1e}", flush=True)
    x = torch.rand(args.batch, 3, 299, 299, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for f in configs.values():
        f(x[:16])
    best: dict[str, float] = {}
    for _ in range(args.reps):
        for name, f in configs.items():
            t = time.perf_counter()
            f(x)
            best[name] = max(best.get(name, 0.0), len(x) / (time.perf_counter() - t))
    for k, v in best.items():
        print(f"{k:28s} {v:6.1f} img/s  {v / best['frozen_direct']:.3f}x of frozen_direct", flush=True)


if __name__ == "__main__":
    main()
