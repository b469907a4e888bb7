"""Sizes refused before memory is spent: the players are first built on the meta device (no memory) and their
weights, optimizer state and one batch are weighed against the memory of the device they will train on."""
from __future__ import annotations

from dataclasses import replace

import torch

from ganforge.config import TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.sampling import USABLE_MEMORY as USABLE
from ganforge.sampling import device_memory

FLOAT_COPIES = 5  #: float32 copies of each parameter while training: weights, gradients, Adam's two moments, EMA


def check_sizes(cfg: TrainConfig, family, options, runtime: Runtime) -> None:
    """Refuse, before any data is loaded, options the players reject and a run whose weights, optimizer state and
    batch cannot fit the device's memory, naming the estimate and the limit."""
    memory = device_memory(runtime.device)
    channels = cfg.channels or 3
    batch_bytes = 4 * cfg.batch_size * channels * cfg.image_size ** 2
    if batch_bytes > USABLE * memory:
        raise GanforgeError(f"Batch size {cfg.batch_size} at {cfg.image_size}x{cfg.image_size} needs {batch_bytes / 2**30:.3g} GiB "
                            f"for one batch alone; expected it to fit in {USABLE * memory / 2**30:.3g} GiB of memory on "
                            f"{runtime.device.type} (a smaller --batch-size or --image-size).")
    guess = DataInfo(channels, cfg.image_size, 10)  # the data's own channels and classes are known only once loaded
    try:
        with torch.device("meta"):
            game = family.build(cfg, options, guess, replace(runtime, device=torch.device("meta")))
    except GanforgeError:
        if family.load_data is None:  # an image source gives the players exactly this size
            raise
        return
    except Exception as exc:  # noqa: BLE001 - the real build, after loading, reports what the guess could not settle
        if isinstance(exc, OverflowError) or "overflow" in str(exc).lower():
            raise GanforgeError(f"Model {cfg.model!r} with options {cfg.options} asks for tensors too large to address, "
                                f"needing far more than the {USABLE * memory / 2**30:.3g} GiB of memory on {runtime.device.type}; "
                                "expected a smaller width or z_dim.") from None
        return
    params = sum(p.numel() for m in game.players.values() for p in m.parameters())
    needed = FLOAT_COPIES * 4 * params
    if needed > USABLE * memory:
        raise GanforgeError(f"Model {cfg.model!r} with options {cfg.options} has {params:,} parameters, needing about "
                            f"{needed / 2**30:.3g} GiB for weights, gradients and optimizer state; expected it to fit in "
                            f"{USABLE * memory / 2**30:.3g} GiB of memory on {runtime.device.type} (smaller width or z_dim).")
