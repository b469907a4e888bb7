"""Process-group helpers for multi-GPU training under `torchrun` (PyTorch distributed)."""
from __future__ import annotations

import os
from typing import Callable, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from ganforge.errors import GanforgeError

T = TypeVar("T")


def world() -> tuple[int, int, int]:
    """(rank, local_rank, world_size) from the torchrun environment; (0, 0, 1) when run alone."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_process_group(device: torch.device) -> None:
    """Join the process group that torchrun describes, if any and not joined yet."""
    if world()[2] > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def wait_for_all() -> None:
    """Wait for every process of the group (the main one may still be writing end-of-run files), so that no
    process exits while a peer still uses the group."""
    if dist.is_initialized():
        dist.barrier()


def leave_process_group() -> None:
    """Leave the process group once every process is done with it, so that its worker threads end before the
    interpreter does (gloo's can abort the process at exit otherwise); nothing when run alone."""
    if dist.is_initialized():
        dist.barrier()  # no process tears its connections down while a peer still uses them
        dist.destroy_process_group()


def average_gradients(params: list[torch.Tensor]) -> None:
    """All-reduce and average the gradients of `params` across the process group, in one flat buffer."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def broadcast_module(module: nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if dist.is_initialized():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def all_min(tensor: torch.Tensor) -> torch.Tensor:
    """The element-wise minimum of `tensor` over the process group (the tensor itself when run alone)."""
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor


def gather_rng_states() -> list[torch.Tensor]:
    """Every rank's CPU torch RNG state in rank order (a collective under DDP); [this process's] when run alone."""
    state = torch.get_rng_state()
    if dist.is_initialized() and dist.get_world_size() > 1:
        states: list = [None] * dist.get_world_size()
        dist.all_gather_object(states, state)
        return states
    return [state]


def on_rank0(make: Callable[[], T], device: torch.device) -> T:
    """`make()` on rank 0 only, its result sent to every rank (joining the process group first); `make()` when run alone.

    Under torchrun this creates one run folder for all processes; an error of rank 0 is raised on every rank.
    """
    if world()[2] == 1:
        return make()
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL collectives run on each process's own GPU
    init_process_group(device)
    message: list = [None, None]
    if dist.get_rank() == 0:
        try:
            message = [make(), None]
        except GanforgeError as exc:
            message = [None, str(exc)]
    dist.broadcast_object_list(message, src=0)
    if message[1] is not None:
        raise GanforgeError(message[1])
    return message[0]
