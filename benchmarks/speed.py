"""Training speed of the textbook GAN and DCGAN on this machine, against its matmul throughput.

Prints img/s per family and, for DCGAN-32, the achieved fraction of the machine's peak:
    ratio = img/s ÷ (peak matmul FLOP/s ÷ FLOPs of one training step per image)
with the step's FLOPs counted by torch.utils.flop_counter (D step + G step, forward and backward).
Peaks are measured here for fp32 and bf16 matmuls (2048², best of several runs).
Also prints the peak resident memory of a default `ganforge train` process (a shortened run), and
eager against torch.compile'd players (`compile: on`) side by side for DCGAN-32 (bf16 and fp32),
StyleGAN-32 and FastGAN-64 (colour, its CPU defaults): several alternating runs of each, the compiled figure after its compilation (whose
seconds are reported beside it).

    python benchmarks/speed.py                                   # everything
    python benchmarks/speed.py --sections compile --repeats 3    # only eager vs compiled
    python benchmarks/speed.py --profile                         # where a round's time goes (round_profile.py)
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
from ganforge.train.runtime import autocast, compile_players, make_runtime  # noqa: E402


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


def make_game(model: str, batch: int | None, precision: str, channels_last: str, image_size: int | None = None,
              compiled: bool = False, channels: int = 1, **settings):
    """(game, runtime, batch dict) of a family's defaults on random images, at its last growth phase;
    `settings` are further config values (augment=..., options={...})."""
    cfg = resolve_defaults(TrainConfig(model=model, batch_size=batch, precision=precision,
                                       channels_last=channels_last, image_size=image_size, **settings))
    family = get_family(model)
    runtime = make_runtime(cfg)
    info = DataInfo(channels, cfg.image_size, 10, tuple(str(i) for i in range(10)))
    game = family.build(cfg, resolve_options(family.options, cfg.options, model), info, runtime)
    game.set_phase(1, 1)  # growing families: the full resolution
    if compiled:
        compile_players(game.compilable_players().values())  # as the referee does: not a D differentiated twice (R1)
    batch = cfg.batch_size
    images = torch.rand(batch, channels, cfg.image_size, cfg.image_size) * 2 - 1
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


#: (label, family, batch, precision, channels_last, further make_game settings) compared eager against compiled
COMPILE_CASES = (("DCGAN-32 bf16 NHWC", "dcgan", 64, "bf16", "on", {}), ("DCGAN-32 fp32 NHWC", "dcgan", 64, "fp32", "on", {}),
                 ("StyleGAN-32 auto", "stylegan", None, "auto", "auto", {}),
                 ("FastGAN-64 colour, its CPU defaults", "fastgan", None, "auto", "auto", {"image_size": 64, "channels": 3}))


def timed_rounds(game, runtime, data, seconds: float, warmup: int) -> dict:
    """Seconds of `warmup` rounds (compilation included), then img/s of rounds played for at least `seconds`."""
    batch = data["images"].shape[0]
    start = time.perf_counter()
    for _ in range(warmup):
        round_once(game, runtime, data)
    warm = time.perf_counter() - start
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        round_once(game, runtime, data)
        rounds += 1
    return {"warmup_s": warm, "img_per_s": rounds * batch / (time.perf_counter() - start), "rounds": rounds}


def compare_compile(seconds: float, repeats: int, cases: str = "") -> list[dict]:
    """Eager and compiled img/s of each COMPILE_CASES entry (those whose label contains one of the comma-separated
    `cases`, all when empty), `repeats` alternating runs of each, printed as they come."""
    import statistics

    wanted = [c.strip() for c in cases.split(",") if c.strip()]
    rows = []
    for label, model, batch, precision, layout, settings in COMPILE_CASES:
        if wanted and not any(w in label for w in wanted):
            continue
        runs = {"eager": [], "compiled": []}
        for _ in range(repeats):
            for mode in runs:
                torch._dynamo.reset()  # each compiled run pays its own compilation
                game, runtime, data = make_game(model, batch, precision, layout, compiled=mode == "compiled", **settings)
                warmup = 2 * max(1, getattr(getattr(game, "options", None), "r1_interval", 1))  # every graph seen twice
                runs[mode].append(timed_rounds(game, runtime, data, seconds, warmup))
                print(f"  {label:20s} {mode:8s}: {runs[mode][-1]['img_per_s']:7.0f} img/s "
                      f"(warm-up {runs[mode][-1]['warmup_s']:.1f} s)", flush=True)
        row = {"case": label, "model": model, "batch": data["images"].shape[0],
               "precision": "bf16" if runtime.autocast_dtype is not None else "fp32", "channels_last": runtime.channels_last}
        for mode, values in runs.items():
            ips = [r["img_per_s"] for r in values]
            row[mode] = {"img_per_s": ips, "median": statistics.median(ips), "min": min(ips), "max": max(ips),
                         "warmup_s": [round(r["warmup_s"], 2) for r in values]}
        row["speedup"] = row["compiled"]["median"] / row["eager"]["median"]
        rows.append(row)
    return rows


def compile_table(rows: list[dict]) -> str:
    """Eager and compiled side by side as a markdown table."""
    lines = ["| case | batch | eager img/s (median, range) | compiled img/s (median, range) | compiled ÷ eager | compile warm-up s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        e, c = r["eager"], r["compiled"]
        lines.append(f"| {r['case']} | {r['batch']} | {e['median']:.0f} ({e['min']:.0f}–{e['max']:.0f}) | "
                     f"{c['median']:.0f} ({c['min']:.0f}–{c['max']:.0f}) | {r['speedup']:.2f}× | "
                     f"{min(c['warmup_s']):.0f}–{max(c['warmup_s']):.0f} (eager {max(e['warmup_s']):.1f}) |")
    return "\n".join(lines)


def default_training_peak_memory(steps: int) -> float:
    """Peak resident memory (MiB) of a `ganforge train` child process with default options and `steps` rounds."""
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sys.executable, "-m", "ganforge", "train", "--steps", str(steps), "--out", out,
                        "--name", "memory"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


#: (label, make_game arguments, whether the run's own data source is timed) of the profile section
PROFILE_CASES = (
    ("DCGAN-32 default (MNIST)", dict(model="dcgan", batch=64, precision="auto", channels_last="auto"), True),
    ("DCGAN-64 colour, ADA p=0.3", dict(model="dcgan", batch=64, precision="auto", channels_last="auto", image_size=64,
                                        channels=3, augment="ada", augment_p=0.3), False),
    ("StyleGAN-64 colour, ADA p=0.3", dict(model="stylegan", batch=None, precision="auto", channels_last="auto",
                                           image_size=64, channels=3, augment="ada", augment_p=0.3), False),
    ("DCGAN-256 colour, batch 8", dict(model="dcgan", batch=8, precision="auto", channels_last="auto", image_size=256,
                                       channels=3), False),
    # the small-data board's two (benchmarks/colour.py): FastGAN's CPU defaults, DCGAN + ADA as it runs there
    ("FastGAN-64 colour, its CPU defaults", dict(model="fastgan", batch=None, precision="auto", channels_last="auto",
                                                 image_size=64, channels=3), False),
    ("DCGAN-64 colour, width 32, batch 32, ADA p=0.3", dict(model="dcgan", batch=32, precision="auto", channels_last="auto",
                                                            image_size=64, channels=3, augment="ada", augment_p=0.3,
                                                            options={"width": 32}), False),
)


def profile_section(rounds: int, cases: str = "") -> dict:
    """torch.profiler's view of each PROFILE_CASES entry (those whose label contains one of the comma-separated
    `cases`, all when empty): the share of an average round per op category, its FLOPs, the bf16 peak's share, and
    the ops with the most self CPU time."""
    from round_profile import data_seconds, markdown, ops_markdown, profile_case

    wanted = [c.strip() for c in cases.split(",") if c.strip()]
    peak = max(matmul_peak(torch.bfloat16), matmul_peak(torch.bfloat16))
    print(f"bf16 matmul peak (2048², best of 10): {peak / 1e9:.0f} GFLOP/s", flush=True)
    results = []
    for label, kwargs, with_data in PROFILE_CASES:
        if wanted and not any(w in label for w in wanted):
            continue
        game, runtime, data = make_game(**kwargs)
        batch = data["images"].shape[0]
        seconds_data = data_seconds({"model": kwargs["model"], "batch_size": batch}, game.critic_steps + 1) if with_data else 0.0
        result = {"case": label, "batch": batch, **profile_case(game, runtime, data, round_once, rounds, seconds_data)}
        results.append(result)
        print(f"  {label}: {result['round_s']:.3f} s per round (R1 interval {result['interval']}), "
              f"{result['flops_per_round'] / 1e9:.1f} GFLOP", flush=True)
    print(markdown(results, peak), flush=True)
    for result in results:
        print("\n" + ops_markdown(result), flush=True)
    return {"bf16_peak": peak, "cases": results}


def main() -> None:
    """Measure the peaks, each configuration's img/s and the default training's memory; print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="timing window per configuration")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--memory-steps", type=int, default=500, help="rounds of the default training whose memory is measured")
    parser.add_argument("--sections", default="throughput,compile,memory",
                        help="comma-separated: throughput (precision/layout rows), compile (eager vs compiled), memory")
    parser.add_argument("--repeats", type=int, default=3, help="alternating eager/compiled runs per case (compile section)")
    parser.add_argument("--cases", default="", help="compile and profile sections: only cases whose label contains one of these (comma-separated)")
    parser.add_argument("--profile", action="store_true", help="only the profile section: where each round's time goes")
    parser.add_argument("--profile-rounds", type=int, default=3, help="profiled rounds of each kind (with and without R1) per case")
    args = parser.parse_args()
    sections = {"profile"} if args.profile else {s.strip() for s in args.sections.split(",")}
    torch.manual_seed(0)
    print(f"machine: {describe()}")
    results: dict = {"machine": describe()}
    if "compile" in sections:
        print(f"eager vs torch.compile ({args.repeats} alternating runs of {args.seconds:g} s each):", flush=True)
        results["compile"] = compare_compile(args.seconds, args.repeats, args.cases)
        print(compile_table(results["compile"]), flush=True)
    if "profile" in sections:
        results["profile"] = profile_section(args.profile_rounds, args.cases)
    if "throughput" in sections:
        results.update(throughput(args.seconds))
    if "memory" in sections:
        rss = default_training_peak_memory(args.memory_steps)
        print(f"peak resident memory of a default `ganforge train` ({args.memory_steps} rounds, checkpoints, grids, "
              f"curves, GIF, report): {rss:.0f} MiB")
        results["max_rss_mib"] = rss
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def throughput(seconds_each: float) -> dict:
    """The matmul peaks and img/s of each precision and layout for DCGAN-32 and the vanilla GAN, printed as they come."""
    args = argparse.Namespace(seconds=seconds_each)
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16, n=512, repeats=2)}
    if peaks["bf16"] >= peaks["fp32"] / 4:  # native bf16: measure its peak at full size too
        peaks["bf16"] = max(peaks["bf16"], matmul_peak(torch.bfloat16))
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
    return {"peaks": peaks, "rows": rows}


if __name__ == "__main__":
    main()
