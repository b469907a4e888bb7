"""One line that says what machine a benchmark ran on (CPU model, cores, native bf16, torch, GPU)."""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.train.runtime import cpu_has_native_bf16  # noqa: E402


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> str:
    """CPU model, logical CPUs, native bf16 or not, torch version and threads, and the GPU when there is one."""
    bf16 = "native bf16 (AMX/AVX-512 BF16)" if cpu_has_native_bf16() else "no native bf16"
    text = (f"{cpu_name()}, {os.cpu_count()} logical CPUs, {bf16}; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads")
    if torch.cuda.is_available():
        text += f"; GPU {torch.cuda.get_device_name()}"
    return text
