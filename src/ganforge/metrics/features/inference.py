"""A feature network tuned for inference: folded, channels_last, frozen with TorchScript, fp32 or bf16, in chunks.

The network as loaded stays untouched (it is what the weights are checked against); this wraps a
copy whose batch norms are folded into the convolutions (`fold`), stored channels_last, and, on the
first call, traced and frozen with TorchScript; its calls run with oneDNN Graph fusion on (convolution,
ReLU and concatenation fused), switched back off afterwards.
Inputs are fed in chunks of `chunk` images, which keeps activations in cache-sized pieces whatever
batch the caller hands in. In fp32 the features equal the loaded network's to float rounding
(≤ 1e-4 relative, tested); "bf16" runs under bfloat16 autocast, faster where the CPU has native
bf16 and with a small measured shift (docs/metrics.md).
"""
from __future__ import annotations

import copy
import warnings
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

PRECISIONS = ("fp32", "bf16")
DEFAULT_CHUNK = 8  #: fastest on a 2-core EPYC (benchmarks/inception_speed.py): small chunks stay in cache


class _Features(nn.Module):
    """network.features as a module's forward, for tracing."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> Tensor:
        return self.network.features(x)


class _onednn_fusion:
    """Context: TorchScript's oneDNN Graph fusion on (when `on`), restored on exit."""

    def __init__(self, on: bool):
        self.on, self.before = on, False

    def __enter__(self):
        self.before = torch.jit.onednn_fusion_enabled()
        torch.jit.enable_onednn_fusion(self.on or self.before)

    def __exit__(self, *exc):
        torch.jit.enable_onednn_fusion(self.before)


class InferenceNetwork:
    """Callable images -> features of a copy of `network` (which has `.features`), tuned for inference."""

    def __init__(self, network: nn.Module, precision: str = "fp32", chunk: int = DEFAULT_CHUNK,
                 fold: Optional[Callable[[nn.Module], nn.Module]] = None, freeze: bool = True):
        if precision not in PRECISIONS:
            raise GanforgeError(f"Precision {precision!r} is unknown; expected one of {', '.join(PRECISIONS)}.")
        if chunk < 1:
            raise GanforgeError(f"Chunk size {chunk} is invalid; expected at least 1.")
        net = copy.deepcopy(network).eval().requires_grad_(False)
        if fold is None:
            from ganforge.metrics.features.inception import FIDInceptionV3, fold_batch_norm

            fold = fold_batch_norm if isinstance(net, FIDInceptionV3) else (lambda m: m)
        self.precision, self.chunk, self.freeze = precision, chunk, freeze
        self.module = _Features(fold(net)).to(memory_format=torch.channels_last).eval()
        self._run: Optional[Callable[[Tensor], Tensor]] = None

    def _autocast(self, device: torch.device):
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def _build(self, x: Tensor) -> Callable[[Tensor], Tensor]:
        if not self.freeze:
            return self.module
        with self._autocast(x.device), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript is deprecated in torch 2.13 but still the fastest here
            return torch.jit.freeze(torch.jit.trace(self.module, x, check_trace=False))

    @torch.no_grad()
    def __call__(self, x: Tensor) -> Tensor:
        """Features (float32) of preprocessed inputs, computed in chunks."""
        out = []
        for start in range(0, len(x), self.chunk):
            part = x[start:start + self.chunk].contiguous(memory_format=torch.channels_last)
            if self._run is None:
                self._run = self._build(part)
            with self._autocast(part.device), _onednn_fusion(self.freeze):
                out.append(self._run(part).float())
        return torch.cat(out) if out else x.new_zeros(0, 0)

    def to(self, device: torch.device | str) -> InferenceNetwork:
        """Move to `device` (the frozen graph is rebuilt there on the next call)."""
        self.module, self._run = self.module.to(device), None
        return self
