"""BatchNorm over the global batch of a torchrun run: each process normalises by the statistics of all of them.

Without it, P processes at batch B/P each normalise by their own B/P images, which is not what one process
at batch B computes.  torch's `nn.SyncBatchNorm` runs on CUDA only and its backward pass is not itself
differentiable, so the R1 and gradient penalties (a double backward through D) cannot pass through it;
this version is built from differentiable `all_reduce`s, on gloo (CPU) and NCCL alike, and twice
differentiable.  Parameters, buffers and state-dict keys are those of the BatchNorm layers it replaces.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn


class _AllReduce(torch.autograd.Function):
    """Sum over the process group whose backward pass is itself a sum over the group (so twice differentiable)."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return _AllReduce.apply(grad)


def _syncing(module: nn.modules.batchnorm._BatchNorm) -> bool:
    """Whether this forward pass uses batch statistics across more than one process."""
    uses_batch_stats = module.training or not module.track_running_stats
    return uses_batch_stats and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def global_batch_norm(module: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """`module`'s BatchNorm of `x` with mean and variance over every process's batch; updates its running statistics.

    One all_reduce carries the per-channel sums of x − K and (x − K)² and the count, with K the running mean
    (identical on every rank), so the variance keeps its precision when the mean is far from 0.
    """
    channels = x.shape[1]
    dims = [0] + list(range(2, x.dim()))
    shape = [1, -1] + [1] * (x.dim() - 2)
    x32 = x.float()
    shift = module.running_mean.detach().float() if module.running_mean is not None else x32.new_zeros(channels)
    centred = x32 - shift.view(shape)
    count = x32.new_full((1,), x.numel() / channels)
    totals = _AllReduce.apply(torch.cat([centred.sum(dims), centred.square().sum(dims), count]))
    n = totals[-1]
    mean_shifted = totals[:channels] / n
    var = (totals[channels:2 * channels] / n - mean_shifted.square()).clamp_min(0)
    mean = mean_shifted + shift
    if module.training and module.track_running_stats:
        with torch.no_grad():
            module.num_batches_tracked.add_(1)
            factor = 1.0 / float(module.num_batches_tracked) if module.momentum is None else module.momentum
            unbiased = var.detach() * n / (n - 1).clamp_min(1)
            module.running_mean.lerp_(mean.detach().to(module.running_mean.dtype), factor)
            module.running_var.lerp_(unbiased.to(module.running_var.dtype), factor)
    y = (x32 - mean.view(shape)) * torch.rsqrt(var + module.eps).view(shape)
    if module.affine:
        y = y * module.weight.float().view(shape) + module.bias.float().view(shape)
    return y.to(x.dtype)


class _GlobalBatchNorm:
    """Mixin: the global-batch forward pass while training under a process group, torch's own otherwise."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not _syncing(self):
            return super().forward(x)
        self._check_input_dim(x)
        return global_batch_norm(self, x)


class GlobalBatchNorm1d(_GlobalBatchNorm, nn.BatchNorm1d):
    """nn.BatchNorm1d with statistics over the process group's global batch."""


class GlobalBatchNorm2d(_GlobalBatchNorm, nn.BatchNorm2d):
    """nn.BatchNorm2d with statistics over the process group's global batch."""


_GLOBAL = {nn.BatchNorm1d: GlobalBatchNorm1d, nn.BatchNorm2d: GlobalBatchNorm2d}


def sync_batchnorm(module: nn.Module) -> int:
    """Make every BatchNorm1d/2d inside `module` use global-batch statistics, in place; returns how many.

    Each layer keeps its identity, parameters and buffers (only its class changes), so optimizers,
    checkpoints and exports are unaffected.
    """
    changed = 0
    for layer in module.modules():
        cls = _GLOBAL.get(type(layer))
        if cls is not None:
            layer.__class__ = cls
            changed += 1
    return changed
