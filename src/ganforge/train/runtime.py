"""Choose the device, autocast precision and memory format of a run."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from ganforge.config import TrainConfig
from ganforge.contract import Runtime
from ganforge.sampling import CPUINFO, bf16_is_fast, cpu_has_native_bf16, cpu_model, parse_device
from ganforge.train.distributed import average_gradients, init_process_group, world


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for a config value: auto, cpu, cuda, cuda:N, mps."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = parse_device(name)
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def machine_summary(device: torch.device, cpuinfo: Path = CPUINFO) -> str:
    """What a run trained on, for its export's model card: the GPU's name, or the CPU's model (`cpu_model`) and logical CPUs."""
    if device.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(device)}"
    return f"{cpu_model(cpuinfo)}, {os.cpu_count()} logical CPUs, {device.type}"


def auto_uses_bf16(device: torch.device) -> bool:
    """Whether precision "auto" trains in bf16 autocast on `device` (`ganforge.sampling.bf16_is_fast`)."""
    return bf16_is_fast(device, lambda: cpu_has_native_bf16())


def make_runtime(cfg: TrainConfig) -> Runtime:
    """Runtime for a config: bf16 autocast where the hardware runs it fast (or when asked), NHWC unless off."""
    rank, local_rank, world_size = world()
    device = pick_device(cfg.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    init_process_group(device)
    use_bf16 = cfg.precision == "bf16" or (cfg.precision == "auto" and auto_uses_bf16(device))
    dtype = torch.bfloat16 if use_bf16 else None
    channels_last = cfg.channels_last in ("on", "auto")
    return Runtime(device, dtype, channels_last, world_size, rank,
                   gradient_sync=average_gradients if world_size > 1 else None)


def auto_compiles(device: torch.device) -> bool:
    """Whether compile "auto" compiles the players on `device`: never yet (no faster on the CPUs measured, untested on GPU; docs/speed.md)."""
    return False


def wants_compile(cfg: TrainConfig, device: torch.device) -> bool:
    """Whether a run compiles its players: compile "on", or "auto" where it was measured to win."""
    return cfg.compile == "on" or (cfg.compile == "auto" and auto_compiles(device))


def compile_players(players: Iterable[nn.Module]) -> None:
    """torch.compile each player in place (`nn.Module.compile`): same parameters, state-dict keys and checkpoints.

    Compilation happens on each player's first call, so a wall-clock budget counts it.
    """
    for module in players:
        module.compile()


def autocast(runtime: Runtime):
    """An autocast context for the runtime's precision, or a no-op."""
    if runtime.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(runtime.device.type, dtype=runtime.autocast_dtype)
