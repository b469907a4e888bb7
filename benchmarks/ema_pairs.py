"""Generator averages compared on the same training runs: several EMA decays tracked side by side.

The EMA never feeds back into training, so one run can keep an average per decay and score each
one, with the live generator, free of the seed-to-seed noise that separate runs would add.  Each
seed is one `--minutes` run in its own process with `--threads` torch threads; seeds run at once,
so with two seeds and one thread each a 2-core machine is split evenly, as in stylegan_variants.py.

    python benchmarks/ema_pairs.py --model stylegan --minutes 15 --seeds 0,1 --decays 0.995,0.98
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.contract import Callback  # noqa: E402
from ganforge.metrics.evaluate import evaluate  # noqa: E402
from ganforge.train.api import default_callbacks, train  # noqa: E402
from ganforge.train.ema import EMA  # noqa: E402

KEEP = ("fd", "precision", "recall")


class Averages(Callback):
    """Keeps one EMA of the live generator per decay, with the trainer's warm-up, and scores them all at the end."""

    def __init__(self, decays: list[float], n: int):
        self.decays, self.n, self.scores = decays, n, {}

    def on_start(self, trainer) -> None:
        self.averages = {d: EMA(trainer.game.generator, d) for d in self.decays}

    def on_round_end(self, trainer, step: int) -> None:
        for average in self.averages.values():
            average.update(trainer.game.generator)

    def on_end(self, trainer) -> None:
        info = {**trainer.game.export_info(), "family": trainer.cfg.model, "data": trainer.cfg.data}
        generators = {f"EMA {d:g}": a.module for d, a in self.averages.items()}
        generators["live"] = copy.deepcopy(trainer.game.generator).eval()
        self.scores = {"rounds": trainer.step}
        for name, generator in generators.items():
            scores = evaluate(generator, info, n=self.n, seed=0)
            self.scores[name] = {k: scores[k] for k in KEEP}


def run_seed(args: argparse.Namespace, seed: int, out: Path) -> dict:
    """Train one seed in this process and return its scores."""
    averages = Averages([float(d) for d in args.decays.split(",")], args.n)
    cfg = TrainConfig(model=args.model, minutes=args.minutes, seed=seed, out=str(out / "runs"), name=f"seed{seed}")
    train(cfg, callbacks=default_callbacks(cfg, progress=False) + [averages], progress=False)
    return averages.scores


def markdown(results: dict[int, dict]) -> str:
    """One row per seed and generator."""
    lines = ["| seed | rounds | generator | FD ↓ | precision ↑ | recall ↑ |", "|---|---|---|---|---|---|"]
    for seed, scores in results.items():
        for name, s in scores.items():
            if name != "rounds":
                lines.append(f"| {seed} | {scores['rounds']} | {name} | {s['fd']:.2f} | {s['precision']:.3f} | {s['recall']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run every seed (each in a child process), then print and save the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="stylegan", help="family (default stylegan)")
    p.add_argument("--minutes", type=float, default=15.0, help="training budget per seed (default 15)")
    p.add_argument("--seeds", default="0,1", help="comma-separated seeds, trained at the same time (default 0,1)")
    p.add_argument("--decays", default="0.995,0.98", help="comma-separated EMA decays to track (default 0.995,0.98)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per seed (default 1)")
    p.add_argument("--n", type=int, default=5000, help="samples scored per generator (default 5000)")
    p.add_argument("--out", default="benchmarks/results/ema_pairs", help="folder for runs and results")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.child:
        (out / f"seed{seeds[0]}.json").write_text(json.dumps(run_seed(args, seeds[0], out), indent=2) + "\n")
        return 0
    taken = [str(out / "runs" / f"seed{s}") for s in seeds if (out / "runs" / f"seed{s}").exists()]
    if taken:
        raise SystemExit(f"Run folder {taken[0]!r} already exists; expected a fresh --out.")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    base = [sys.executable, __file__, "--child", "--model", args.model, "--minutes", str(args.minutes),
            "--decays", args.decays, "--n", str(args.n), "--out", str(out)]
    children = [subprocess.Popen(base + ["--seeds", str(s)], env=env) for s in seeds]
    if any([child.wait() != 0 for child in children]):  # a list: wait for every child
        raise SystemExit("A training run failed; its error is printed above.")
    results = {s: json.loads((out / f"seed{s}.json").read_text()) for s in seeds}
    text = (f"{args.model} on MNIST, {args.minutes:g} min per seed, {len(seeds)} at a time with {args.threads} thread(s) "
            f"each, {args.n} samples; machine: {describe()}\n\n{markdown(results)}\n")
    print(text)
    (out / "ema_pairs.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
