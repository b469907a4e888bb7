"""Choose the device, autocast precision and memory format of a run."""
from __future__ import annotations

import contextlib

import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.games.base import Runtime
from ganforge.train.distributed import init_process_group, world


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for a config value: auto, cpu, cuda, cuda:N, mps."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise GanforgeError(f"Device {name!r} is not a device name; expected auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"Device {name!r} was asked for but CUDA is not available; expected auto or cpu on this machine.")
    if device.type == "cuda" and device.index is None:
        device = torch.device(f"cuda:{local_rank}")
    return device


def make_runtime(cfg: TrainConfig) -> Runtime:
    """Runtime for a config: bf16 autocast on GPUs with bf16 support (fp32 on CPU unless asked), NHWC unless off."""
    rank, local_rank, world_size = world()
    device = pick_device(cfg.device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    init_process_group(device)
    if cfg.precision == "bf16":
        dtype = torch.bfloat16
    elif cfg.precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    else:
        # On CPUs without native bf16 units (AVX2-only), bf16 matmuls are emulated and far slower.
        dtype = None
    channels_last = cfg.channels_last in ("on", "auto")
    return Runtime(device, dtype, channels_last, world_size, rank)


def autocast(runtime: Runtime):
    """An autocast context for the runtime's precision, or a no-op."""
    if runtime.autocast_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(runtime.device.type, dtype=runtime.autocast_dtype)
