"""StyleGAN training speed: img/s on this machine; on a CUDA GPU also bf16 img/s and model FLOPs utilisation.

One "image" is one real image seen by the discriminator: a round (D step + G step, style mixing, lazy R1
every r1_interval D steps) counts batch_size images.  FLOPs of a round are counted with
torch.utils.flop_counter over a full R1 interval (forward and backward, R1's double backward included)
and MFU = achieved FLOP/s ÷ the GPU's dense bf16 peak.  Growth is set to its last phase (full size).

    python benchmarks/stylegan_speed.py                     # CPU: the family defaults, MNIST-sized 32 px
    python benchmarks/stylegan_speed.py --preset gpu        # GPU: the 64 px preset in bf16
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig, resolve_options  # noqa: E402
from ganforge.contract import DataInfo  # noqa: E402
from ganforge.games.registry import get_family  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402
from ganforge.train.runtime import autocast, make_runtime  # noqa: E402

PRESET = ROOT / "src" / "ganforge" / "presets" / "stylegan-64-gpu.yaml"
# dense bf16 tensor-core peaks (FLOP/s) from the vendors' data sheets
PEAKS = {"H100 PCIe": 756e12, "H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}


def gpu_peak(name: str) -> float | None:
    """Dense bf16 peak of a GPU by name, or None when unknown."""
    for key, peak in PEAKS.items():
        if key in name:
            return peak
    return None


def build(preset: str, batch: int | None, precision: str, channels: int):
    """(game, runtime, batch dict) with random images standing in for data."""
    values = yaml.safe_load(PRESET.read_text()) if preset == "gpu" else {"model": "stylegan"}
    if batch is not None:
        values["batch_size"] = batch
    cfg = resolve_defaults(TrainConfig(**{**values, "precision": precision}))
    family = get_family("stylegan")
    runtime = make_runtime(cfg)
    info = DataInfo(channels, cfg.image_size)
    game = family.build(cfg, resolve_options(family.options, cfg.options, "stylegan"), info, runtime)
    game.set_phase(1, 1)
    images = torch.rand(cfg.batch_size, channels, cfg.image_size, cfg.image_size, device=runtime.device) * 2 - 1
    if runtime.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return game, runtime, {"images": images}, cfg


def play(game, runtime, batch, rounds: int) -> None:
    """`rounds` rounds as the referee plays them."""
    for _ in range(rounds):
        with autocast(runtime):
            for _ in range(game.critic_steps):
                game.discriminator_step(batch)
            game.generator_step(batch)


class _NoModuleTracking:
    """Stands in for FlopCounterMode's per-module tracker, whose autograd hooks reject R1's autograd.grad."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


def count_flops(fn) -> int:
    """Total FLOPs (forward, backward, double backward) of fn() by torch.utils.flop_counter's formulas."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModuleTracking()
    with counter:
        fn()
    return counter.get_total_flops()


def sync(runtime) -> None:
    if runtime.device.type == "cuda":
        torch.cuda.synchronize()


def measure(preset: str, batch: int | None, precision: str, channels: int, seconds: float) -> dict:
    """img/s (and FLOPs, MFU on CUDA) of one configuration."""
    game, runtime, data, cfg = build(preset, batch, precision, channels)
    interval = game.options.r1_interval
    play(game, runtime, data, 2)  # warm-up (kernel selection)
    sync(runtime)
    rounds, start = 0, time.perf_counter()
    while True:
        play(game, runtime, data, interval)
        rounds += interval
        sync(runtime)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    result = {"device": torch.cuda.get_device_name(runtime.device) if runtime.device.type == "cuda" else describe(),
              "threads": torch.get_num_threads(), "preset": preset, "image_size": cfg.image_size,
              "batch_size": cfg.batch_size, "precision": "bf16" if runtime.autocast_dtype is not None else "fp32",
              "rounds": rounds, "seconds": round(elapsed, 2), "img_per_s": round(rounds * cfg.batch_size / elapsed, 1),
              "torch": torch.__version__}
    if runtime.device.type == "cuda":
        flops_per_round = count_flops(lambda: play(game, runtime, data, interval)) / interval
        achieved = flops_per_round * rounds / elapsed
        result["gflops_per_round"] = round(flops_per_round / 1e9, 2)
        result["achieved_tflops"] = round(achieved / 1e12, 2)
        peak = gpu_peak(result["device"])
        if peak is not None:
            result["peak_tflops_bf16"] = peak / 1e12
            result["mfu"] = round(achieved / peak, 4)
    return result


def main() -> int:
    """Print one JSON line per measured configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=("cpu", "gpu"), help="cpu: family defaults at 32 px; gpu: the 64 px preset (default: gpu when CUDA is available)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per configuration")
    parser.add_argument("--precision", default="auto", help="auto (bf16 on GPUs), fp32, bf16")
    parser.add_argument("--out", help="also append the JSON lines to this file")
    args = parser.parse_args()
    preset = args.preset or ("gpu" if torch.cuda.is_available() else "cpu")
    result = measure(preset, args.batch_size, args.precision, args.channels, args.seconds)
    line = json.dumps(result)
    print(line)
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
