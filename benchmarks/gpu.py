"""StyleGAN on a GPU, measured in one prepared run: img/s, model-FLOPs utilisation, loader, memory.

For StyleGAN at 64, 128 and 256 px, in bf16 autocast and in fp32 with TF32 matmuls, eager and with
torch.compile'd players (`compile: on`), it measures:

* img/s of training rounds (a D step and a G step, style mixing, lazy R1 every r1_interval D steps) fed
  by the batch source the referee uses, after a warm-up that includes compilation (its seconds are kept);
* FLOPs of a round, counted by torch.utils.flop_counter.FlopCounterMode over one R1 interval of rounds
  (forward, backward and R1's double backward) and divided by the interval, and model-FLOPs
  utilisation = achieved FLOP/s ÷ the GPU's dense peak for that precision (a data-sheet table by device
  name, else a measured matmul peak);
* images/s of the batch source alone, against the step's img/s (the loader keeping up);
* peak GPU memory (torch.cuda.max_memory_allocated).

Each configuration runs in its own process under a time box; the most important ones go first and
whatever does not fit in --budget-s is listed as skipped. Writes gpu.json and gpu.md to --out (default
$OUT, else benchmarks/results/gpu). Needs only torch (>= 2.4), numpy and this repository.

    python benchmarks/gpu.py --out DIR             # on a CUDA machine: the whole table in under 8 minutes
    python benchmarks/gpu.py --data PREPARED --out DIR   # the loader over a prepared or folder dataset
    python benchmarks/gpu.py --smoke --out DIR     # on a CPU, tiny sizes, a few seconds: the script works
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

#: dense peaks (FLOP/s) from the vendors' data sheets: name fragment -> (bf16, tf32); more specific names first
PEAKS = (("H100 PCIe", 756e12, 378e12), ("H100", 989e12, 494e12), ("H200", 989e12, 494e12), ("GH200", 989e12, 494e12),
         ("A100", 312e12, 156e12), ("L40S", 362e12, 183e12), ("A10", 125e12, 62.5e12))
PRESETS = ROOT / "src" / "ganforge" / "presets"
SIZES = (64, 128, 256)
RESULT = "RESULT "  # prefix of the worker's one JSON line on stdout


def table_peak(device_name: str, precision: str) -> float | None:
    """Dense data-sheet peak of a GPU for "bf16" or "tf32", or None when the name is not in the table."""
    for key, bf16, tf32 in PEAKS:
        if key in device_name:
            return bf16 if precision == "bf16" else tf32
    return None


def measured_matmul_peak(precision: str, device, n: int) -> float:
    """Best FLOP/s of an n×n matmul in bf16 or fp32 (TF32 where enabled) on `device`, best of 10."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(11):
        _sync(device)
        start = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_round_flops(fn) -> int:
    """FLOPs of fn() (forward, backward, double backward), counted as benchmarks/stylegan_speed.py counts them."""
    from stylegan_speed import count_flops

    return count_flops(fn)


def plan(sizes, precisions, modes) -> list[dict]:
    """The configurations in the order they run, the target first: bf16 at 128 px, each size's eager then
    compiled; then TF32, eager at every size before compiled."""
    order = sorted(sizes, key=lambda s: (s != 128, s))
    configs = [{"size": size, "precision": precision, "mode": mode} for precision in precisions for mode in modes for size in sizes]

    def key(c: dict) -> tuple:
        if c["precision"] == "bf16":
            return (0, order.index(c["size"]), c["mode"] != "eager")
        return (1, c["mode"] != "eager", order.index(c["size"]))

    return sorted(configs, key=key)


def preset_values(size: int, smoke: bool) -> tuple[dict, str]:
    """Config values for StyleGAN at `size` px: a preset stylegan-<size>*.yaml if one exists, else the 64 px preset rescaled."""
    import yaml

    from ganforge.games.registry import get_family

    if smoke:
        return {"model": "stylegan", "batch_size": 8, **get_family("stylegan").tiny, "image_size": size}, "the family's tiny run"
    found = sorted(PRESETS.glob(f"stylegan-{size}*.yaml"))
    if found:
        values = yaml.safe_load(found[0].read_text())
        return {**values, "image_size": size}, found[0].name
    values = yaml.safe_load((PRESETS / "stylegan-64-gpu.yaml").read_text())
    return {**values, "image_size": size}, f"stylegan-64-gpu.yaml at {size} px"


def worker(spec: dict) -> dict:
    """Measure one configuration in this process and return its row."""
    import torch

    from ganforge.config import TrainConfig, resolve_options
    from ganforge.data.batches import BatchSource
    from ganforge.data.dataset import ImageDataset
    from ganforge.games.registry import get_family
    from ganforge.train.run_dir import resolve_defaults
    from ganforge.train.runtime import autocast, compile_players, make_runtime

    size, precision, mode, smoke = spec["size"], spec["precision"], spec["mode"], spec["smoke"]
    values, preset = preset_values(size, smoke)
    cuda = torch.cuda.is_available() and not spec.get("cpu")
    values = {**values, "precision": "bf16" if precision == "bf16" else "fp32", "device": "cuda" if cuda else "cpu",
              "compile": "on" if mode == "compiled" else "off"}
    if spec.get("data"):
        values["data"] = spec["data"]
    cfg = resolve_defaults(TrainConfig(**values))
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    family = get_family("stylegan")
    runtime = make_runtime(cfg)
    device = runtime.device
    if spec.get("data"):
        source = (family.load_data or _image_source())(cfg, runtime)
        channels, source_name = source.info.channels, f"the referee's source over {spec['data']}"
    else:
        count = 64 if smoke else 2048
        images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8)
        source = BatchSource(ImageDataset(images, name="random"), cfg.batch_size, 0, device, runtime.channels_last)
        channels, source_name = 3, f"in-memory source on the device ({count} random images)"
    from ganforge.contract import DataInfo

    info = DataInfo(channels, size)
    game = family.build(cfg, resolve_options(family.options, cfg.options, "stylegan"), info, runtime)
    game.set_phase(1, 1)  # the last growth phase: full resolution
    interval = max(1, game.options.r1_interval)

    def play(rounds: int) -> None:
        for _ in range(rounds):
            with autocast(runtime):
                for _ in range(game.critic_steps):
                    game.discriminator_step(source.next())
                game.generator_step(source.next())

    # loader alone
    _sync(device)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < spec["loader_s"]:
        source.next()
        n += 1
    _sync(device)
    loader_ips = n * cfg.batch_size / (time.perf_counter() - start)
    flops_per_round = count_round_flops(lambda: play(interval)) / interval  # eager, before any compilation
    if mode == "compiled":
        compile_players(game.compilable_players().values())  # as the referee does: R1's D stays eager
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    play(2 * interval)  # every graph (with and without R1) seen twice: compilation, cudnn autotuning
    _sync(device)
    warmup = time.perf_counter() - start
    rounds, start = 0, time.perf_counter()
    while True:
        play(interval)
        rounds += interval
        _sync(device)
        elapsed = time.perf_counter() - start
        if elapsed >= spec["seconds"]:
            break
    batches_per_round = game.critic_steps + 1
    ips = rounds * cfg.batch_size / elapsed  # real images seen by D per second
    achieved = flops_per_round * rounds / elapsed
    name = torch.cuda.get_device_name(device) if cuda else "cpu"
    peak, peak_from = (table_peak(name, precision), "data sheet") if cuda else (None, "")
    if peak is None:
        peak = measured_matmul_peak(precision, device, 512 if smoke else 8192)
        peak_from = "measured matmul"
    return {**{k: spec[k] for k in ("size", "precision", "mode")}, "status": "ok", "device": name, "preset": preset,
            "batch_size": cfg.batch_size, "channels": channels, "rounds": rounds, "seconds": round(elapsed, 2),
            "warmup_s": round(warmup, 2), "img_per_s": round(ips, 1), "gflop_per_round": _sig(flops_per_round / 1e9),
            "achieved_tflops": _sig(achieved / 1e12), "peak_tflops": _sig(peak / 1e12), "peak_from": peak_from,
            "mfu": _sig(achieved / peak), "loader": source_name,
            "loader_img_per_s": round(loader_ips, 1), "loader_vs_step": round(loader_ips / (ips * batches_per_round), 2),
            "peak_mem_gib": round(torch.cuda.max_memory_allocated(device) / 2 ** 30, 2) if cuda else None,
            "torch": torch.__version__, "cuda": torch.version.cuda}


def _sig(x: float, digits: int = 4) -> float:
    """`x` rounded to `digits` significant digits (tiny CPU figures stay non-zero)."""
    return float(f"{x:.{digits}g}")


def _image_source():
    from ganforge.train.sources import image_source

    return image_source


def run_one(spec: dict, timeout: float) -> dict:
    """Run a worker process for one configuration within `timeout` seconds; its row, or a row saying what went wrong."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    base = {k: spec[k] for k in ("size", "precision", "mode")}
    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**base, "status": f"timed out after {timeout:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {**base, "status": f"failed (exit {done.returncode}): {tail[:200]}"}
    row = json.loads(lines[-1][len(RESULT):])
    row["process_s"] = round(time.perf_counter() - started, 1)
    return row


COLUMNS = (("size", "px", "{}"), ("batch_size", "batch", "{}"), ("precision", "precision", "{}"), ("mode", "mode", "{}"),
           ("img_per_s", "img/s", "{:.0f}"), ("gflop_per_round", "GFLOP/round", "{:.3g}"),
           ("achieved_tflops", "TFLOP/s", "{:.3g}"), ("mfu", "MFU", "{:.1%}"), ("loader_img_per_s", "loader img/s", "{:.0f}"),
           ("loader_vs_step", "loader ÷ step", "{:.1f}×"), ("peak_mem_gib", "peak GiB", "{:.2f}"),
           ("warmup_s", "warm-up s", "{:.0f}"), ("status", "status", "{}"))


def markdown(rows: list[dict], header: str) -> str:
    """The rows as a markdown table under a header line."""
    lines = [header, "", "| " + " | ".join(h for _, h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            cells.append("–" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Plan, run each configuration in its own time-boxed process, and write gpu.json and gpu.md."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", help="folder for gpu.json and gpu.md (default $OUT, else benchmarks/results/gpu)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes and windows, eager only: checks the script on a CPU")
    p.add_argument("--sizes", help="comma-separated image sizes (default 64,128,256; smoke: 16)")
    p.add_argument("--precisions", default="bf16,tf32", help="bf16 and/or tf32 (fp32 with TF32 matmuls on CUDA)")
    p.add_argument("--modes", help="eager and/or compiled (default both; smoke: eager)")
    p.add_argument("--seconds", type=float, help="timed seconds per configuration after warm-up (default 8; smoke 0.2)")
    p.add_argument("--budget-s", type=float, default=450.0, help="total seconds for all configurations (default 450)")
    p.add_argument("--cap-s", type=float, default=120.0, help="time box of one configuration's process (default 120)")
    p.add_argument("--data", help="measure the loader and train from this dataset (prepared or folder) instead of random images")
    p.add_argument("--cpu", action="store_true", help="run on the CPU even when CUDA is available")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(RESULT + json.dumps(worker(json.loads(args.worker))), flush=True)
        return 0
    import torch
    from machine import describe

    sizes = [int(s) for s in (args.sizes or ("16" if args.smoke else ",".join(map(str, SIZES)))).split(",")]
    precisions = [s.strip() for s in args.precisions.split(",") if s.strip()]
    modes = [s.strip() for s in (args.modes or ("eager" if args.smoke else "eager,compiled")).split(",") if s.strip()]
    bad = [x for x in precisions if x not in ("bf16", "tf32")] + [x for x in modes if x not in ("eager", "compiled")]
    if bad:
        p.error(f"unknown precision or mode {bad[0]!r}; expected bf16/tf32 and eager/compiled")
    seconds = args.seconds if args.seconds is not None else (0.2 if args.smoke else 8.0)
    out = Path(args.out or os.environ.get("OUT") or ROOT / "benchmarks" / "results" / "gpu")
    out.mkdir(parents=True, exist_ok=True)
    cuda = torch.cuda.is_available() and not args.cpu
    machine = describe()
    print(f"machine: {machine}", flush=True)
    if not cuda and not args.smoke:
        print("no CUDA device: this measures the CPU (use --smoke for a quick check)", flush=True)
    started, rows = time.perf_counter(), []
    for config in plan(sizes, precisions, modes):
        left = args.budget_s - (time.perf_counter() - started)
        if left < min(30.0, args.cap_s):
            rows.append({**config, "status": "skipped: time box"})
        else:
            spec = {**config, "smoke": args.smoke, "seconds": seconds, "loader_s": 0.2 if args.smoke else 2.0,
                    "data": args.data, "cpu": args.cpu}
            rows.append(run_one(spec, min(args.cap_s, left)))
        row = rows[-1]
        print(f"{row['size']:4d} px {row['precision']:4s} {row['mode']:8s}: {row.get('img_per_s', '–')} img/s, "
              f"MFU {row.get('mfu', '–')}, {row['status']}", flush=True)
    total = time.perf_counter() - started
    header = (f"StyleGAN training rounds on {rows[0].get('device', machine) if rows else machine}; "
              f"machine: {machine}; {total:.0f} s in all")
    (out / "gpu.md").write_text(markdown(rows, header))
    (out / "gpu.json").write_text(json.dumps({"machine": machine, "total_s": round(total, 1), "smoke": args.smoke,
                                              "rows": rows}, indent=2) + "\n")
    print(markdown(rows, header), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
