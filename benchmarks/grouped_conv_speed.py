"""Exact formulations of R3GAN's grouped 3×3 convolution timed with R1's double backward, at the CPU shapes.

One timed step is what a D step with a gradient penalty asks of the layer: y = conv(act(x), w), s = Σ act(y)·r,
∇ₓs with create_graph, then (‖∇ₓs‖² + s).backward() into x and w. Every candidate is checked against
F.conv2d(groups=...) (forward, ∇ₓs and the second-order gradients) before it is timed.

    OMP_NUM_THREADS=1 python benchmarks/grouped_conv_speed.py --inner 96 --sizes 32 16
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402


def grouped(x: Tensor, w: Tensor, groups: int) -> Tensor:
    """(a) PyTorch's grouped convolution, as the block ran before."""
    return F.conv2d(x, w, padding=1, groups=groups)


def channels_last(x: Tensor, w: Tensor, groups: int) -> Tensor:
    """(c) the same in channels-last memory layout."""
    return F.conv2d(x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last),
                    padding=1, groups=groups)


def block_diagonal(x: Tensor, w: Tensor, groups: int) -> Tensor:
    """(b) one dense convolution with the block-diagonal weight (zeros between the groups)."""
    out, per_group = w.shape[0] // groups, w.shape[1]
    eye = torch.eye(groups, dtype=w.dtype, device=w.device).view(groups, 1, groups, 1, 1, 1)
    dense = (w.view(groups, out, 1, per_group, 3, 3) * eye).reshape(groups * out, groups * per_group, 3, 3)
    return F.conv2d(x, dense, padding=1)


def unfold_matmul(x: Tensor, w: Tensor, groups: int) -> Tensor:
    """(d) im2col (F.unfold) and one batched matrix product over the groups."""
    n, c, h, wd = x.shape
    cols = F.unfold(x, 3, padding=1).view(n, groups, (c // groups) * 9, h * wd)
    y = torch.einsum("ngkl,gok->ngol", cols, w.view(groups, w.shape[0] // groups, -1))
    return y.reshape(n, w.shape[0], h, wd)


def shifted_matmul(x: Tensor, w: Tensor, groups: int) -> Tensor:
    """(e) nine shifted views of the padded input, each through a batched per-group 1×1 product."""
    n, c, h, wd = x.shape
    xp = F.pad(x, (1, 1, 1, 1))
    wg = w.view(groups, w.shape[0] // groups, c // groups, 3, 3)
    y = 0
    for i in range(3):
        for j in range(3):
            tap = xp[:, :, i:i + h, j:j + wd].reshape(n, groups, c // groups, h * wd)
            y = y + torch.matmul(wg[..., i, j], tap)
    return y.reshape(n, w.shape[0], h, wd)


CANDIDATES: dict[str, Callable[[Tensor, Tensor, int], Tensor]] = {
    "grouped": grouped, "channels_last": channels_last, "block_diagonal": block_diagonal,
    "unfold_matmul": unfold_matmul, "shifted_matmul": shifted_matmul,
}


def penalty_step(fn, x: Tensor, w: Tensor, r: Tensor, groups: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(y, ∇ₓs, ∂/∂x, ∂/∂w of ‖∇ₓs‖² + s) for one candidate."""
    x = x.detach().requires_grad_(True)
    w = w.detach().requires_grad_(True)
    y = fn(F.leaky_relu(x, 0.2), w, groups)
    s = (F.leaky_relu(y, 0.2) * r).sum()
    (gx,) = torch.autograd.grad(s, x, create_graph=True)
    gx_sq = gx.square().sum()
    dx, dw = torch.autograd.grad(gx_sq + s, (x, w))
    return y.detach(), gx.detach(), dx, dw


def time_one(fn, x, w, r, groups: int, seconds: float) -> float:
    """Median milliseconds of a penalty step."""
    penalty_step(fn, x, w, r, groups)
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        penalty_step(fn, x, w, r, groups)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1000


def main() -> int:
    """One JSON line per (shape, candidate)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inner", type=int, nargs="+", default=[48, 96, 192])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--group-width", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.0, help="timed seconds per candidate and shape")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--nhwc", action="store_true", help="inputs and weights in channels_last, as ganforge trains by default")
    args = parser.parse_args()
    print(json.dumps({"machine": describe()}), flush=True)
    for inner in args.inner:
        groups = inner // args.group_width
        for size in args.sizes:
            torch.manual_seed(0)
            x = torch.randn(args.batch, inner, size, size)
            w = torch.randn(inner, args.group_width, 3, 3) / 12
            r = torch.randn(args.batch, inner, size, size)
            if args.nhwc:
                x, w, r = (t.contiguous(memory_format=torch.channels_last) for t in (x, w, r))
            ref = penalty_step(grouped, x, w, r, groups)
            row = {"inner": inner, "groups": groups, "size": size, "nhwc": args.nhwc}
            for name in args.candidates:
                got = penalty_step(CANDIDATES[name], x, w, r, groups)
                err = max(((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item() for a, b in zip(got, ref))
                row[name] = {"ms": round(time_one(CANDIDATES[name], x, w, r, groups, args.seconds), 2), "rel_err": f"{err:.1e}"}
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
