"""Draw images from a noise generator in bounded memory."""
from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError

USABLE_MEMORY = 0.8  #: fraction of a device's memory one pass (or one run) may plan to fill
PASS_PIXELS = 64 * 128 * 128  #: output pixels of one generator pass outside training (preview grids, the copy check)


def rows_per_pass(image_size: int, limit: int) -> int:
    """Images one generator pass makes at `image_size` px outside training: at most `limit` and PASS_PIXELS pixels, at least 1.

    A 64-image preview grid is one pass up to 128 px; at 256 px it takes four, each with a quarter of the activations.
    """
    return max(1, min(limit, PASS_PIXELS // max(1, image_size) ** 2))


def in_slices(make: Callable[[dict[str, Tensor]], Tensor], inputs: dict[str, Tensor], rows: int) -> Tensor:
    """`make` run on at most `rows` rows of `inputs` at a time (one call when they fit), its outputs joined in order."""
    n = next(iter(inputs.values())).shape[0]
    if rows >= n:
        return make(inputs)
    return torch.cat([make({k: v[i:i + rows] for k, v in inputs.items()}) for i in range(0, n, rows)])


def device_memory(device: torch.device) -> int:
    """Bytes of memory of `device` (physical RAM for the CPU)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2 ** 30


CPUINFO = Path("/proc/cpuinfo")


def cpuinfo_fields(cpuinfo: Path = CPUINFO) -> dict[str, str]:
    """The first processor's fields of a cpuinfo file (e.g. "model name", "cpu family", "flags"); empty when unreadable."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


@functools.lru_cache(maxsize=4)
def cpu_has_native_bf16(cpuinfo: Path = CPUINFO) -> bool:
    """Whether this CPU computes bf16 matmuls in hardware (AMX or AVX-512 BF16), read from its cpuinfo flags."""
    flags = cpuinfo_fields(cpuinfo).get("flags", "").split()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name with its family and model numbers where cpuinfo gives them, e.g. "AMD EPYC (family 26,
    model 2)": cloud hosts often name only the brand, and one brand's generations differ in speed; "CPU" when
    cpuinfo cannot be read."""
    fields = cpuinfo_fields(cpuinfo)
    name = fields.get("model name", "CPU")
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def bf16_is_fast(device: torch.device, cpu_native: Callable[[], bool] = cpu_has_native_bf16) -> bool:
    """Whether bf16 autocast runs fast on `device`: GPUs with bf16, CPUs with native bf16 units (`cpu_native()`).

    On CPUs without them (AVX2 only) bf16 matmuls are emulated and far slower than fp32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_native()


def check_pass_fits(model: nn.Module, batch: int, height: int, width: int, device: torch.device, what: str,
                    hint: str, scale: int = 1) -> None:
    """Refuse a forward pass whose activations cannot fit the device: estimated from the shapes as two float maps
    of the model's widest layer over the output area (`scale` times the input's side)."""
    widest = max([int(getattr(m, "out_channels", 0) or 0) for m in model.modules()] + [3])
    needed = 2 * 4 * batch * widest * height * width * scale * scale
    limit = USABLE_MEMORY * device_memory(torch.device(device))
    if needed > limit:
        raise GanforgeError(f"{what} at {width}x{height} needs about {needed / 2**30:.3g} GiB in one pass ({widest} channels); "
                            f"expected at most {limit / 2**30:.3g} GiB on {torch.device(device).type} ({hint}).")


def parse_device(name: str) -> torch.device:
    """The torch device a --device value names (auto: the GPU when there is one), or a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise GanforgeError(f"Device {name!r} is not a device name; expected auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"Device {name!r} was asked for but CUDA is not available; expected auto or cpu on this machine.")
    count = torch.cuda.device_count() if device.type == "cuda" else 0
    if device.type == "cuda" and device.index is not None and device.index >= count:
        raise GanforgeError(f"Device {name!r} does not exist (this machine has {count} GPUs); expected cuda:0 to cuda:{count - 1}.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise GanforgeError(f"Device {name!r} was asked for but MPS is not available; expected auto or cpu on this machine.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise GanforgeError(f"Device {name!r} is not supported; expected auto, cpu, cuda, cuda:N or mps.")
    return device


def check_labels(generator: nn.Module, labels: Optional[Tensor]) -> None:
    """Refuse labels for unconditional generators and labels outside a conditional one's classes."""
    classes = int(getattr(generator, "num_classes", 0))
    if labels is None:
        return
    if classes == 0:
        raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.numel():
        raise GanforgeError(f"Label {int(bad[0])} is outside this model's classes; expected 0 to {classes - 1}.")


@torch.no_grad()
def iter_samples(generator: nn.Module, n: int, seed: int = 0, batch_size: int = 500,
                 labels: Optional[Tensor] = None, device: Optional[torch.device] = None,
                 pass_size: Optional[int] = None, **generator_kwargs) -> Iterator[Tensor]:
    """Yield float [-1, 1] image batches, `n` images in all, noise drawn from `seed` (labels cycle if given).

    The noise is drawn `batch_size` rows at a time; `pass_size` (None: the whole batch) bounds the rows of one
    generator call, so the memory of a pass shrinks without changing which samples are drawn.
    """
    if n < 1:
        raise GanforgeError(f"Sample count {n} is invalid; expected at least 1.")
    if batch_size < 1 or (pass_size is not None and pass_size < 1):
        raise GanforgeError(f"Batch size {batch_size} (pass size {pass_size}) is invalid; expected at least 1.")
    check_labels(generator, labels)
    device = device or next(generator.parameters()).device
    rng = torch.Generator().manual_seed(seed)
    if labels is None and int(getattr(generator, "num_classes", 0)) > 0:
        labels = torch.arange(n) % generator.num_classes
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = torch.randn(count, generator.z_dim, generator=rng).to(device)
        batch_labels = None if labels is None else labels[torch.arange(start, start + count) % len(labels)].to(device)
        inputs = {"z": z} if batch_labels is None else {"z": z, "labels": batch_labels}
        yield in_slices(lambda rows: generator(rows["z"], rows.get("labels"), **generator_kwargs).float().clamp_(-1, 1),
                        inputs, pass_size or count)
