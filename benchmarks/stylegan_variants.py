"""StyleGAN variants against DCGAN on one CPU budget, scoring both the EMA and the live generator.

Each variant is a `ganforge train --model stylegan --minutes M` run with some `--option`s (DCGAN's
defaults are the reference row); runs go `--parallel` at a time with `--threads` torch threads each,
so every run gets the same share of the machine.  After training, `--n` samples of the exported EMA
generator and of the live generator (from the last checkpoint) are scored with the digit classifier.
The live scores tell a generator that never learned from an average of one that moved too fast.

    python benchmarks/stylegan_variants.py                         # the variants in VARIANTS, 5 min each
    python benchmarks/stylegan_variants.py --only "dcgan;tanh output, EMA 0.98 (the defaults)" --minutes 15
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.export import load_generator  # noqa: E402
from ganforge.metrics.evaluate import evaluate  # noqa: E402
from ganforge.train.checkpoint import Checkpoints, read_checkpoint  # noqa: E402

# name -> (family, options[, config values]); "dcgan" is the reference every variant is compared with.  Each StyleGAN
# variant names its output and EMA decay explicitly, so the list keeps its meaning if the family's defaults change.
LINEAR, TANH = {"tanh_output": False}, {"tanh_output": True}
EMA_995, EMA_98 = {"ema_decay": 0.995}, {"ema_decay": 0.98}  # the family's earlier EMA decay and its default now
VARIANTS: dict[str, tuple] = {
    "dcgan": ("dcgan", {}),
    "tanh output, EMA 0.98 (the defaults)": ("stylegan", TANH, EMA_98),
    "tanh output, EMA 0.995": ("stylegan", TANH, EMA_995),
    "tanh, map 2": ("stylegan", {**TANH, "mapping_layers": 2}, EMA_995),
    "tanh, no noise": ("stylegan", {**TANH, "noise": False}, EMA_995),
    "tanh, stable 0.05": ("stylegan", {**TANH, "stable": 0.05}, EMA_995),
    "tanh, γ 1": ("stylegan", {**TANH, "r1_gamma": 1.0}, EMA_995),
    "tanh, mbstd group 16": ("stylegan", {**TANH, "mbstd_group": 16}, EMA_995),
    "tanh, no growth": ("stylegan", {**TANH, "growth": False}, EMA_98),
    "linear output (the papers')": ("stylegan", LINEAR, EMA_995),
    "linear, no noise": ("stylegan", {**LINEAR, "noise": False}, EMA_995),
    "linear, small-data (map 2, no mixing, mbstd 8, γ 0.01)": (
        "stylegan", {**LINEAR, "mapping_layers": 2, "style_mixing": 0, "mbstd_group": 8, "r1_gamma": 0.01}, EMA_995),
    "linear, lr 0.005": ("stylegan", {**LINEAR, "lr": 0.005}, EMA_995),
    "linear, lr 0.01": ("stylegan", {**LINEAR, "lr": 0.01}, EMA_995),
    "linear, DiffAugment, γ 1": ("stylegan", {**LINEAR, "diffaugment": "translation,cutout", "r1_gamma": 1.0}, EMA_995),
    "linear, DiffAugment, γ 1, map 2, no mixing, no noise": (
        "stylegan", {**LINEAR, "diffaugment": "translation,cutout", "r1_gamma": 1.0, "mapping_layers": 2,
                     "style_mixing": 0, "noise": False}, EMA_995),
    "linear, lr 5e-4, β (0.5, 0.99)": ("stylegan", {**LINEAR, "lr": 0.0005, "betas": [0.5, 0.99]}, EMA_995),
    "linear, lr 2e-4, β (0.5, 0.999) (DCGAN's)": ("stylegan", {**LINEAR, "lr": 0.0002, "betas": [0.5, 0.999]}, EMA_995),
}


def slug(name: str) -> str:
    """A folder name for a variant."""
    return "".join(c if c.isalnum() or c in ".-" else "-" for c in name).strip("-")[:60]


def train_variant(name: str, minutes: float, threads: int, seed: int, out: Path) -> Path:
    """Train one variant in its own process (so its thread count holds); return its run folder."""
    family, options, *settings = VARIANTS[name]
    run = out / "runs" / slug(name)
    if run.exists():
        raise SystemExit(f"Run folder {str(run)!r} already exists; expected a fresh --out.")
    cmd = [sys.executable, "-m", "ganforge", "train", "--model", family, "--minutes", str(minutes), "--seed", str(seed),
           "--out", str(run.parent), "--name", run.name, "--no-progress"]
    for key, value in options.items():
        cmd += ["--option", f"{key}={json.dumps(value)}"]
    for key, value in (settings[0] if settings else {}).items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return run


def live_generator(run: Path, exported: torch.nn.Module) -> torch.nn.Module:
    """A copy of the exported generator carrying the live (not averaged) weights of the run's last checkpoint."""
    live = copy.deepcopy(exported)
    live.load_state_dict(read_checkpoint(Checkpoints(run).latest())["game"]["players"]["generator"])
    return live.eval()


def score(run: Path, n: int, seed: int) -> dict:
    """FD, KID, IS, precision and recall of the EMA and the live generator, and the rounds trained."""
    ema, info = load_generator(run)
    keep = ("fd", "kid", "is", "precision", "recall")
    row = {"rounds": int(info.get("steps", 0)), "run": str(run)}
    row.update({k: evaluate(ema, info, n=n, seed=seed)[k] for k in keep})
    live = live_generator(run, ema)
    row.update({f"live_{k}": v for k, v in evaluate(live, info, n=n, seed=seed).items() if k in keep})
    return row


def markdown(rows: dict[str, dict]) -> str:
    """The results as a markdown table."""
    lines = ["| variant | rounds | FD (EMA) ↓ | precision (EMA) ↑ | recall (EMA) ↑ | FD (live) ↓ | precision (live) ↑ | recall (live) ↑ |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['rounds']} | {r['fd']:.1f} | {r['precision']:.3f} | {r['recall']:.3f} | "
                     f"{r['live_fd']:.1f} | {r['live_precision']:.3f} | {r['live_recall']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Train and score the chosen variants; print and save the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="training budget per run (default 5)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--parallel", type=int, default=2, help="runs at once (default 2: one per core of a 2-core machine)")
    p.add_argument("--only", help="variant names separated by ; (default: all)")
    p.add_argument("--n", type=int, default=5000, help="samples scored per generator (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/stylegan_variants", help="folder for runs and results")
    args = p.parse_args(argv)
    names = [s.strip() for s in args.only.split(";")] if args.only else list(VARIANTS)
    unknown = [s for s in names if s not in VARIANTS]
    if unknown:
        p.error(f"unknown variant {unknown[0]!r}; expected one of: {', '.join(VARIANTS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {describe()}; {args.parallel} run(s) at a time, {args.threads} thread(s) each", flush=True)
    with ThreadPoolExecutor(args.parallel) as pool:
        runs = dict(zip(names, pool.map(lambda s: train_variant(s, args.minutes, args.threads, args.seed, out), names)))
    rows = {name: score(run, args.n, args.seed) for name, run in runs.items()}
    text = (f"MNIST 32 px, {args.minutes:g} min per run, {args.parallel} at a time with {args.threads} thread(s) each, "
            f"{args.n} samples; machine: {describe()}\n\n{markdown(rows)}\n")
    print(text)
    (out / "variants.md").write_text(text)
    (out / "variants.json").write_text(json.dumps({"machine": describe(), "minutes": args.minutes, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
