"""runtime.py: precision "auto" follows the hardware; explicit choices are kept."""
import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.train import runtime
from ganforge.train.runtime import auto_uses_bf16, cpu_has_native_bf16, make_runtime


@pytest.mark.parametrize("flags,native", [
    ("fpu sse2 avx2 fma", False),
    ("fpu avx2 avx512f avx512bw", False),  # AVX-512 without its BF16 extension
    ("fpu avx2 avx512f avx512_bf16", True),
    ("fpu avx2 amx_tile amx_bf16", True),
])
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path, flags, native):
    info = tmp_path / f"cpuinfo-{native}-{len(flags)}"
    info.write_text(f"processor\t: 0\nvendor_id\t: x\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: {flags}\n")
    assert cpu_has_native_bf16(info) is native


def test_unreadable_cpuinfo_means_no_native_bf16(tmp_path):
    assert cpu_has_native_bf16(tmp_path / "missing") is False


def test_auto_precision_on_cpu_follows_the_flags(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    assert not auto_uses_bf16(torch.device("cpu"))
    assert make_runtime(TrainConfig()).autocast_dtype is None
    assert make_runtime(TrainConfig(precision="bf16")).autocast_dtype == torch.bfloat16
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert auto_uses_bf16(torch.device("cpu"))
    assert make_runtime(TrainConfig()).autocast_dtype == torch.bfloat16
    assert make_runtime(TrainConfig(precision="fp32")).autocast_dtype is None


def test_machine_summary_names_the_cpu_model_and_its_logical_cpus(tmp_path):
    import os

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: fpu avx2\n")
    assert runtime.machine_summary(torch.device("cpu"), info) == f"Example CPU 9000, {os.cpu_count()} logical CPUs, cpu"
    assert runtime.machine_summary(torch.device("cpu"), tmp_path / "missing").startswith("CPU, ")


def test_machine_summary_tells_one_brands_generations_apart(tmp_path):
    import os

    info = tmp_path / "cpuinfo"
    block = "processor\t: {}\ncpu family\t: {}\nmodel\t\t: {}\nmodel name\t: AMD EPYC\nflags\t\t: avx512_bf16\n"
    info.write_text(block.format(0, 26, 2) + "\n" + block.format(1, 25, 17))  # the first processor's fields count
    assert runtime.machine_summary(torch.device("cpu"), info) == f"AMD EPYC (family 26, model 2), {os.cpu_count()} logical CPUs, cpu"
