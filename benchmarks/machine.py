"""One line that says what machine a benchmark ran on (CPU model and generation, cores, native bf16, torch, GPU)."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.sampling import cpu_has_native_bf16, cpu_model  # noqa: E402


def cpu_name() -> str:
    """The CPU's model name with its family and model numbers (`ganforge.sampling.cpu_model`), else what `platform` knows."""
    name = cpu_model()
    return name if name != "CPU" else (platform.processor() or platform.machine())


def describe() -> str:
    """CPU model, logical CPUs, native bf16 or not, torch version and threads, and the GPU when there is one."""
    bf16 = "native bf16 (AMX/AVX-512 BF16)" if cpu_has_native_bf16() else "no native bf16"
    text = (f"{cpu_name()}, {os.cpu_count()} logical CPUs, {bf16}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name()}"
    return text
