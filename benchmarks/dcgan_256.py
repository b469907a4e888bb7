"""DCGAN at 256 px with and without the channel ceiling: seconds per round, peak memory, checkpoint size.

Prepares the 256 px Oxygen icons (`apt-get install oxygen-icon-theme`) once (or reads `--prepared`), then
trains DCGAN at batch 8 from that prepared set for a few rounds in a fresh process per setting
(`channel_max=0`, the width doubling without limit as before the ceiling, and the default 512), `--repeats`
times alternating, and reads each run's seconds per round (the logged training time over the rounds after
the first), the process's peak RSS and the size of its checkpoint folder. Each child computes with
`--threads` threads (default: every core), so a busy neighbour cannot change the count halfway.
`--phases` then trains the default setting once more in this process and prints where its time and
resident memory go (benchmarks/run_phases.py); `--precisions` times the default players' round in this
process under each precision and memory layout, with and without R1 (where its op categories go:
`python benchmarks/speed.py --profile --cases DCGAN-256`); `--allocator` times the default round in child
processes with glibc's defaults and with `GLIBC_TUNED` (no heap trimming, no mmap below 32 MB), alternating,
with each child's system time, page faults and peak RSS.

    python benchmarks/dcgan_256.py --steps 10 --phases
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

ICONS = Path("/usr/share/icons/oxygen")
GANFORGE = [sys.executable, "-m", "ganforge"]
# the command line in a child that reports its own peak RSS (kB) on its last stderr line
MEASURED = [sys.executable, "-c", "import resource, sys\nfrom ganforge.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
            "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)"]


def icons_folder(work: Path) -> Path:
    """A flat folder of links to the 256 px Oxygen icons."""
    folder = work / "icons256"
    folder.mkdir()
    for i, path in enumerate(sorted(ICONS.rglob("256x256/*/*.png"))):
        (folder / f"{i:04d}.png").symlink_to(path)
    return folder


#: the run's settings beyond the model, the data and the ceiling: batch 8, a round logged each step, no copy check
SETTINGS = {"image_size": 256, "batch_size": 8, "log_every": 1, "copy_check_n": 0}


def train(data: Path, out: Path, steps: int, channel_max: int, threads: int, name: str) -> dict:
    """One short run in a child process; its seconds per round, peak RSS and checkpoint size."""
    settings = [arg for key, value in {**SETTINGS, "threads": threads}.items() for arg in ("--set", f"{key}={value}")]
    done = subprocess.run([*MEASURED, "train", "--model", "dcgan", "--data", str(data), "--steps", str(steps), "--out", str(out),
                           "--name", name, "--no-progress", "--option", f"channel_max={channel_max}", *settings],
                          check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    run = out / name
    times = [json.loads(line)["time"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"time"' in line]
    checkpoint = max((run / "checkpoints").glob("step_*"))
    return {"channel_max": channel_max, "s_per_round": (times[-1] - times[0]) / (len(times) - 1),
            "peak_rss_gb": peak_kb / 1e6, "checkpoint_mb": sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file()) / 1e6}


def phases(data: Path, out: Path, steps: int, threads: int) -> None:
    """Train the default setting in this process and print where its time and resident memory go."""
    from run_phases import phase_table, run_phases

    from ganforge.config import TrainConfig

    cfg = TrainConfig(model="dcgan", data=str(data), steps=steps, out=str(out), name="phases", threads=threads, **SETTINGS)
    _, table, peak = run_phases(cfg)
    print(f"phases of one default run ({steps} rounds, in this process; peak RSS {peak:.0f} MB):")
    print(phase_table(table))


def precisions(rounds: int = 3) -> None:
    """Median seconds of the default 256 px round (random images) per precision and layout, plain and with R1."""
    from round_profile import forced_penalties, timed
    from speed import make_game, round_once

    print("| precision, layout | plain round s | R1 round s | average round over R1's interval s |\n|---|---|---|---|")
    for precision, layout in (("bf16", "on"), ("bf16", "off"), ("fp32", "on"), ("fp32", "off")):
        game, runtime, data = make_game("dcgan", SETTINGS["batch_size"], precision, layout, image_size=SETTINGS["image_size"],
                                        channels=3)
        seconds = {}
        for due in (False, True):
            with forced_penalties(game, due):
                round_once(game, runtime, data)  # warm
                seconds[due] = timed(functools.partial(round_once, game, runtime, data), rounds)
        average = seconds[False] + (seconds[True] - seconds[False]) / game.penalties.interval
        print(f"| {precision}, channels_last {layout} | {seconds[False]:.3f} | {seconds[True]:.3f} | {average:.3f} |", flush=True)


#: glibc malloc settings that keep freed memory in the heap instead of handing it back and faulting it in again
GLIBC_TUNED = {"MALLOC_TRIM_THRESHOLD_": str(4 << 30), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)}


def rounds_cost(rounds: int = 8) -> dict:
    """Per round of the default 256 px players (random images, R1 on its interval): wall, user and system seconds,
    minor page faults; and the process's peak RSS."""
    import resource
    import time

    from speed import make_game, round_once

    game, runtime, data = make_game("dcgan", SETTINGS["batch_size"], "auto", "auto", image_size=SETTINGS["image_size"], channels=3)
    for step in range(2):
        game.set_phase(step, 100)
        round_once(game, runtime, data)
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for step in range(2, 2 + rounds):
        game.set_phase(step, 100)
        round_once(game, runtime, data)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": wall / rounds, "user_s": (after.ru_utime - before.ru_utime) / rounds,
            "sys_s": (after.ru_stime - before.ru_stime) / rounds, "minor_faults": (after.ru_minflt - before.ru_minflt) / rounds,
            "peak_rss_gb": after.ru_maxrss / 1e6}


def allocator(threads: int, repeats: int) -> None:
    """`rounds_cost` in child processes under glibc's defaults and GLIBC_TUNED, alternating."""
    for _ in range(repeats):
        for name, extra in (("glibc defaults", {}), ("no trim, mmap >= 32 MB", GLIBC_TUNED)):
            env = {**os.environ, **extra, "OMP_NUM_THREADS": str(threads)}
            done = subprocess.run([sys.executable, __file__, "--rounds-cost"], env=env, check=True, capture_output=True, text=True)
            print(json.dumps({"allocator": name, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)


def main() -> None:
    """Print one row per setting and run, then the phases of the default setting when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each setting")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads of each run (the config's threads)")
    parser.add_argument("--prepared", type=Path, help="an already prepared 256 px folder to train from (default: prepare the icons)")
    parser.add_argument("--phases", action="store_true", help="also the phases of one default run (benchmarks/run_phases.py)")
    parser.add_argument("--precisions", action="store_true", help="only the round per precision and layout, in this process")
    parser.add_argument("--allocator", action="store_true", help="only the round under glibc's defaults and GLIBC_TUNED")
    parser.add_argument("--rounds-cost", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds_cost:
        print(json.dumps(rounds_cost()))
        return
    print(describe(), f"; {args.threads} threads")
    if args.allocator:
        allocator(args.threads, args.repeats)
        return
    if args.precisions:
        import torch

        torch.set_num_threads(args.threads)
        precisions()
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = args.prepared or work / "prepared"
        if args.prepared is None:
            subprocess.run([*GANFORGE, "prepare", str(icons_folder(work)), "--out", str(data), "--size", "256", "--no-progress"],
                           check=True, stdout=subprocess.DEVNULL)
        for repeat in range(args.repeats):
            for channel_max in (0, 512):
                row = train(data, work / "runs", args.steps, channel_max, args.threads, f"cmax{channel_max}-{repeat}")
                print(json.dumps(row), flush=True)
        if args.phases:
            phases(data, work / "runs", args.steps, args.threads)


if __name__ == "__main__":
    main()
