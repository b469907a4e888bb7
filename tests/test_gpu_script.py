"""benchmarks/gpu.py: the GPU measurement script runs on a CPU with --smoke and writes its table and JSON."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu  # noqa: E402


def test_smoke_run_on_cpu_writes_a_row_per_configuration(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--cpu", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "gpu.json").read_text())
    rows = result["rows"]
    assert result["smoke"] is True
    assert [(r["size"], r["precision"], r["mode"]) for r in rows] == [(16, "bf16", "eager"), (16, "tf32", "eager")]
    for row in rows:
        assert row["status"] == "ok", row
        assert row["img_per_s"] > 0 and row["gflop_per_round"] > 0 and row["loader_img_per_s"] > 0
        assert 0 < row["mfu"] < 1 and row["peak_from"] == "measured matmul"
        assert row["peak_mem_gib"] is None  # no CUDA memory on a CPU
    table = (tmp_path / "gpu.md").read_text()
    assert "| px | batch | precision | mode | img/s |" in table and "MFU" in table
    assert len([line for line in table.splitlines() if line.startswith("| 16 |")]) == 2


def test_data_sheet_peaks_by_device_name():
    assert gpu.table_peak("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert gpu.table_peak("NVIDIA H100 PCIe", "tf32") == 378e12
    assert gpu.table_peak("NVIDIA H200", "tf32") == 494e12
    assert gpu.table_peak("NVIDIA A100-SXM4-80GB", "bf16") == 312e12
    assert gpu.table_peak("Some Future GPU", "bf16") is None


def test_plan_puts_128_px_bf16_first_and_pairs_eager_with_compiled():
    configs = gpu.plan((64, 128, 256), ("bf16", "tf32"), ("eager", "compiled"))
    assert len(configs) == 12
    assert configs[:2] == [{"size": 128, "precision": "bf16", "mode": "eager"}, {"size": 128, "precision": "bf16", "mode": "compiled"}]
    assert [c["precision"] for c in configs[:6]] == ["bf16"] * 6


def test_a_configuration_that_does_not_fit_the_budget_is_listed_as_skipped(tmp_path):
    gpu.main(["--smoke", "--cpu", "--out", str(tmp_path), "--budget-s", "0"])
    rows = json.loads((tmp_path / "gpu.json").read_text())["rows"]
    assert rows and all(r["status"] == "skipped: time box" for r in rows)
    assert "skipped: time box" in (tmp_path / "gpu.md").read_text()


def test_unknown_precision_is_refused(tmp_path):
    with pytest.raises(SystemExit):
        gpu.main(["--smoke", "--out", str(tmp_path), "--precisions", "fp8"])
