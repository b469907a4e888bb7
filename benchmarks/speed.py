"""Training speed of the textbook GAN and DCGAN on this machine, against its matmul throughput.

Prints img/s per family and, for DCGAN-32, the achieved fraction of the machine's peak:
    ratio = img/s ÷ (peak matmul FLOP/s ÷ FLOPs of one training step per image)
with the step's FLOPs counted by torch.utils.flop_counter (D step + G step, forward and backward).
Peaks are measured here for fp32 and bf16 matmuls (2048², best of several runs).
Also prints the peak resident memory of a default `ganforge train` process (a shortened run).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import (
    TrainConfig,  # noqa: E402
    resolve_options,  # noqa: E402
)
from ganforge.contract import DataInfo  # noqa: E402
from ganforge.games.registry import get_family  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402
from ganforge.train.runtime import autocast, make_runtime  # noqa: E402


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeats: int = 5) -> float:
    """Best observed FLOP/s of an n×n matmul in `dtype`."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best


def make_game(model: str, batch: int, precision: str, channels_last: str, image_size: int | None = None):
    cfg = resolve_defaults(TrainConfig(model=model, batch_size=batch, precision=precision,
                                       channels_last=channels_last, image_size=image_size))
    family = get_family(model)
    runtime = make_runtime(cfg)
    info = DataInfo(1, cfg.image_size, 10, tuple(str(i) for i in range(10)))
    game = family.build(cfg, resolve_options(family.options, cfg.options, model), info, runtime)
    images = torch.rand(batch, 1, cfg.image_size, cfg.image_size) * 2 - 1
    if runtime.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    batch_dict = {"images": images, "labels": torch.randint(0, 10, (batch,))}
    return game, runtime, batch_dict


def round_once(game, runtime, batch) -> None:
    with autocast(runtime):
        for _ in range(game.critic_steps):
            game.discriminator_step(batch)
        game.generator_step(batch)


def flops_per_image(model: str, batch: int) -> float:
    game, runtime, data = make_game(model, batch, "fp32", "off")
    with FlopCounterMode(display=False) as counter:
        round_once(game, runtime, data)
    return counter.get_total_flops() / batch


def images_per_second(model: str, batch: int, precision: str, channels_last: str, seconds: float):
    """(images/s of training rounds, the runtime they ran with) over at least `seconds`."""
    game, runtime, data = make_game(model, batch, precision, channels_last)
    for _ in range(3):
        round_once(game, runtime, data)
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        round_once(game, runtime, data)
        rounds += 1
    return rounds * batch / (time.perf_counter() - start), runtime


def default_training_peak_memory(steps: int) -> float:
    """Peak resident memory (MiB) of a `ganforge train` child process with default options and `steps` rounds."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "ganforge", "train", "--steps", str(steps), "--out", out,
                        "--name", "memory"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    """Measure the peaks, each configuration's img/s and the default training's memory; print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="timing window per configuration")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--memory-steps", type=int, default=500, help="rounds of the default training whose memory is measured")
    args = parser.parse_args()
    torch.manual_seed(0)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16, n=512, repeats=2)}
    if peaks["bf16"] >= peaks["fp32"] / 4:  # native bf16: measure its peak at full size too
        peaks["bf16"] = max(peaks["bf16"], matmul_peak(torch.bfloat16))
    print(f"machine: {describe()}")
    print(f"matmul peak: fp32 {peaks['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.2f} GFLOP/s")
    emulated = peaks["bf16"] < peaks["fp32"] / 4
    rows = []
    for model, batch in (("dcgan", 64), ("vanilla", 64), ("vanilla", 256)):
        fpi = flops_per_image(model, batch)
        for precision, layout in (("fp32", "off"), ("fp32", "on"), ("bf16", "off"), ("bf16", "on"), ("auto", "auto")):
            if model == "vanilla" and layout == "on":
                continue
            # emulated bf16: measure briefly, it is only for the record
            seconds = min(args.seconds, 3.0) if precision == "bf16" and emulated else args.seconds
            ips, runtime = images_per_second(model, batch, precision, layout, seconds)
            ratio = {p: ips / (peaks[p] / fpi) for p in peaks}
            resolved = f"{'bf16' if runtime.autocast_dtype is not None else 'fp32'}, NHWC {'on' if runtime.channels_last else 'off'}"
            label = f"{precision}/{layout}" + (f" = {resolved}" if precision == "auto" else "")
            rows.append({"model": model, "batch": batch, "precision": precision, "channels_last": layout,
                         "resolved": resolved, "img_per_s": ips, "mflop_per_img": fpi / 1e6,
                         "ratio_vs_fp32_peak": ratio["fp32"], "ratio_vs_bf16_peak": ratio["bf16"]})
            print(f"{model:8s} batch {batch:3d} {label:26s}: {ips:8.0f} img/s, "
                  f"{fpi / 1e6:6.1f} MFLOP/img, {100 * ratio['fp32']:5.1f}% of fp32 peak, "
                  f"{100 * ratio['bf16']:7.1f}% of bf16 peak", flush=True)
    rss = default_training_peak_memory(args.memory_steps)
    print(f"peak resident memory of a default `ganforge train` ({args.memory_steps} rounds, checkpoints, grids, "
          f"curves, GIF, report): {rss:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": describe(), "peaks": peaks, "rows": rows, "max_rss_mib": rss}, indent=2))


if __name__ == "__main__":
    main()
