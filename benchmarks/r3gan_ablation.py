"""R3GAN's loss ablation on Stacked MNIST (Huang et al. 2024, Table 2): GAN or RpGAN, with R1 alone or R1 + R2.

    python benchmarks/r3gan_ablation.py --seeds 0 1 --steps 1000 --lock /tmp/heavy.lock \
        --out runs/r3gan-ablation --json docs/img/r3gan-ablation.json --plot docs/img/r3gan-ablation.png

Every row trains the same r3gan players on `--data stacked-mnist` with the same budget (rounds, batch, γ, seeds);
only the loss (non-saturating logistic "GAN" or relativistic pairing "RpGAN") and R2 (`--option r2`) change.
Each run is an ordinary in-process `ganforge train` run (run directory with metrics.jsonl, checkpoints, export)
with one extra callback that counts the generator's Stacked-MNIST modes every `--curve-every` rounds
(`--curve-n` samples) and logs them as "modes" events; the end of the run is counted over 26,000 samples as
PacGAN counts (ganforge.theory.modes), for the EMA generator (the table) and for the live one of the last
checkpoint (`final_live`: what the EMA averages over). With `--lock`, each run holds that file's lock for itself alone and
releases it before the next. A run stopped by ganforge's non-finite guard is recorded as diverged.
`--plot-only` redraws the figure and the table from the JSON; `--backfill-live` adds `final_live` to recorded runs
whose run folder is still there.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import math
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.atomic import write_json_atomic  # noqa: E402
from ganforge.config import TrainConfig  # noqa: E402
from ganforge.contract import Callback  # noqa: E402
from ganforge.data.dataset import to_float  # noqa: E402
from ganforge.data.stacked import load_stacked_mnist  # noqa: E402
from ganforge.nn.modes import eval_mode  # noqa: E402
from ganforge.runlog import read_metrics  # noqa: E402
from ganforge.theory.modes import STACKED_SAMPLES, generator_stacked_modes, stacked_modes  # noqa: E402
from ganforge.train.api import default_callbacks, train  # noqa: E402
from ganforge.train.checkpoint import Checkpoints, read_training_state  # noqa: E402
from ganforge.train.guard import TrainingDiverged  # noqa: E402


@dataclass(frozen=True)
class Row:
    """One row of the ablation: its label, ganforge's loss, whether R2 joins R1, and the paper's result."""

    label: str
    loss: str
    r2: bool
    paper: str


ROWS = {
    "gan-r1": Row("GAN + R1", "non_saturating", False, "diverges"),
    "rpgan-r1": Row("RpGAN + R1", "relativistic_pairing", False, "diverges"),
    "gan-r1-r2": Row("GAN + R1 + R2", "non_saturating", True, "693 modes"),
    "rpgan-r1-r2": Row("RpGAN + R1 + R2", "relativistic_pairing", True, "1,000 modes"),
}
COUNT_SEED = 1234  #: noise seed of every mode count (the same draws for every row and round)
#: D's adversarial loss when D cannot tell real from fake (every logit equal): log 4 for GAN's, log 2 for RpGAN's
BLIND_D_LOSS = {"non_saturating": math.log(4), "relativistic_pairing": math.log(2)}


class ModeCurve(Callback):
    """Counts the sampled generator's Stacked-MNIST modes every `every` rounds (and at round 0) over `n` samples."""

    def __init__(self, every: int, n: int):
        self.every, self.n = max(1, int(every)), int(n)
        self.points: list[dict] = []

    def count(self, trainer, step: int) -> None:
        """Count now and log a "modes" event."""
        generator = trainer.sample_generator
        with eval_mode(generator):
            report = generator_stacked_modes(generator, n=self.n, seed=COUNT_SEED)
        point = {"step": step, "modes": report.modes, "reverse_kl": report.reverse_kl, "samples": report.samples}
        self.points.append(point)
        trainer.log_event({"event": "modes", **point})

    def on_start(self, trainer) -> None:
        """The untrained generator's count."""
        if trainer.step == 0:
            self.count(trainer, 0)

    def on_round_end(self, trainer, step: int) -> None:
        """Every `every` rounds."""
        if step % self.every == 0:
            self.count(trainer, step)


@contextlib.contextmanager
def held(lock: Optional[str]) -> Iterator[None]:
    """Hold the exclusive flock of `lock` (the same lock as flock(1)) for the block; nothing when None."""
    if not lock:
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def players(args: argparse.Namespace, row: Row) -> dict:
    """The r3gan options of a row: the same players and γ for all, R2 on or off."""
    return {"widths": args.widths, "blocks": args.blocks, "group_width": args.group_width, "z_dim": args.z_dim,
            "gamma": args.gamma, "gamma_end": args.gamma, "r2": row.r2, "ema_half_life": args.ema_half_life}


def last_values(run: Path) -> dict:
    """The last logged training values of a run (losses, D outputs, penalties)."""
    training, _ = read_metrics(run / "metrics.jsonl")
    if not training:
        return {}
    last = training[-1]
    return {k: last[k] for k in ("step", "loss_d", "loss_g", "d_real", "d_fake", "r1", "r2") if k in last}


def loss_d_curve(run: Path, window: int = 25) -> list[list[float]]:
    """[round, mean D loss over the `window` rounds up to it] along a run, from its metrics.jsonl."""
    training, _ = read_metrics(run / "metrics.jsonl")
    values = [(int(r["step"]), float(r["loss_d"])) for r in training if "loss_d" in r]
    return [[values[i + window - 1][0], statistics.fmean(v for _, v in values[i:i + window])]
            for i in range(0, len(values) - window + 1, window)]


def live_generator(run: Path) -> torch.nn.Module:
    """The live (not averaged) generator of a run's last checkpoint, in the players of its export."""
    from ganforge.export import load_generator

    checkpoint = Checkpoints(run).latest()
    if checkpoint is None:
        raise FileNotFoundError(f"{run} has no checkpoint")
    generator, _ = load_generator(run)
    generator.load_state_dict(read_training_state(checkpoint)["game"]["players"]["generator"])
    return generator.eval()


def final_live(run: Path) -> dict:
    """The end-of-run count (26,000 samples) of a run's live generator."""
    return generator_stacked_modes(live_generator(run), n=STACKED_SAMPLES, seed=COUNT_SEED).as_dict()


def one_run(args: argparse.Namespace, key: str, seed: int, out: Path) -> dict:
    """Train one row with one seed, counting modes along the way and over 26,000 samples at the end."""
    row = ROWS[key]
    name = f"{key}-s{seed}"
    cfg = TrainConfig(model="r3gan", data="stacked-mnist", loss=row.loss, steps=args.steps, seed=seed, out=str(out),
                      name=name, batch_size=args.batch, image_size=args.image_size, precision=args.precision, options=players(args, row),
                      sample_every=max(1, args.steps // 4), checkpoint_every=args.steps, log_every=25, copy_check_n=0)
    curve = ModeCurve(args.curve_every or max(1, args.steps // 8), args.curve_n)
    started = time.perf_counter()
    diverged = None
    try:
        train(cfg, callbacks=[curve, *default_callbacks(cfg, progress=False)], progress=False)
    except TrainingDiverged as error:
        diverged = str(error)
    seconds = time.perf_counter() - started
    final = live = None
    if diverged is None:
        from ganforge.export import load_generator

        generator, _ = load_generator(out / name)
        final = generator_stacked_modes(generator, n=STACKED_SAMPLES, seed=COUNT_SEED).as_dict()
        live = final_live(out / name)
    count_seconds = time.perf_counter() - started - seconds
    return {"row": key, "label": row.label, "loss": row.loss, "r2": row.r2, "seed": seed, "steps": args.steps,
            "batch": args.batch, "image_size": args.image_size, "precision": args.precision, "options": players(args, row),
            "train_seconds": round(seconds, 1), "final_count_seconds": round(count_seconds, 1), "diverged": diverged,
            "final": final, "final_live": live, "curve": curve.points,
            "last_logged": last_values(out / name), "loss_d_curve": loss_d_curve(out / name), "run": str(out / name)}


def real_reference(image_size: int) -> dict:
    """The counter on 26,000 real training images at the players' size: the ceiling the counter allows."""
    data = load_stacked_mnist("train", image_size=image_size)
    return stacked_modes(to_float(data.images[:STACKED_SAMPLES])).as_dict()


def _cell(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    spread = f" ± {statistics.stdev(values):.{digits}f}" if len(values) > 1 else ""
    return f"{statistics.fmean(values):.{digits}f}{spread}"


def table(results: dict) -> str:
    """Markdown: per row, modes and KL at the end (mean ± std over seeds, each seed listed), beside the paper."""
    lines = ["| loss | modes of 1,000 (ours) | KL to uniform (ours) | per seed: modes / KL | stopped non-finite | paper |",
             "|---|---|---|---|---|---|"]
    for key, row in ROWS.items():
        runs = [r for r in results["runs"] if r["row"] == key]
        if not runs:
            continue
        done = [r["final"] for r in runs if r["final"]]
        seeds = ", ".join(f"s{r['seed']}: {r['final']['modes']} / {r['final']['reverse_kl']:.2f}" if r["final"]
                          else f"s{r['seed']}: stopped" for r in runs)
        diverged = sum(r["diverged"] is not None for r in runs)
        lines.append(f"| {row.label} | {_cell([d['modes'] for d in done], 0)} | {_cell([d['reverse_kl'] for d in done], 2)} "
                     f"| {seeds} | {diverged} of {len(runs)} | {row.paper} |")
    return "\n".join(lines)


def live_table(results: dict) -> str:
    """Markdown: per run with a `final_live` count, the EMA generator's modes / KL beside the live generator's."""
    lines = ["| loss | seed | γ | EMA G: modes / KL | live G: modes / KL |", "|---|---|---|---|---|"]
    for run in results["runs"]:
        ema, live = run.get("final"), run.get("final_live")
        if ema and live:
            lines.append(f"| {run['label']} | {run['seed']} | {run['options']['gamma']:g} | {ema['modes']} / {ema['reverse_kl']:.2f} "
                         f"| {live['modes']} / {live['reverse_kl']:.2f} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def plot(results: dict, path: Path) -> None:
    """Modes, KL to uniform and D's loss against rounds, one colour per row, one line style per seed; the modes axis
    is scaled to the runs (the real data's count is in its label), KL's real-data level dashed; one legend below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip(ROWS, ("tab:orange", "tab:red", "tab:blue", "tab:green")))
    styles = ("-", "--", ":", "-.")
    fig, (left, right, third) = plt.subplots(1, 3, figsize=(11, 3.4))
    seeds = sorted({r["seed"] for r in results["runs"]})
    for run in results["runs"]:
        steps = [p["step"] for p in run["curve"]]
        style = styles[seeds.index(run["seed"]) % len(styles)]
        label = f"{ROWS[run['row']].label}, γ {run['options']['gamma']:g}, seed {run['seed']}"
        left.plot(steps, [p["modes"] for p in run["curve"]], style, color=colours[run["row"]], label=label, lw=1.2)
        right.plot(steps, [p["reverse_kl"] for p in run["curve"]], style, color=colours[run["row"]], lw=1.2)
        blind = BLIND_D_LOSS[run["loss"]]
        third.plot([s for s, _ in run["loss_d_curve"]], [v / blind for _, v in run["loss_d_curve"]], style,
                   color=colours[run["row"]], lw=1.0)
    real = results.get("real")
    if real:
        right.axhline(real["reverse_kl"], color="grey", ls=(0, (2, 2)), lw=0.8)
    n = results["runs"][0]["curve"][-1]["samples"] if results["runs"] and results["runs"][0]["curve"] else 0
    top = max([p["modes"] for run in results["runs"] for p in run["curve"]], default=0)
    ceiling = f"; real: {real['modes']:,}" if real else ""
    left.set(xlabel="rounds", ylabel=f"modes ({n:,} samples{ceiling})", ylim=(0, max(10, 1.15 * top)))
    right.set(xlabel="rounds", ylabel="KL to uniform (lower is better)")
    third.set(xlabel="rounds", ylabel="D loss / D loss of a blind D", ylim=(0, None))
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    for ax in (left, right, third):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_size(8), ax.yaxis.label.set_size(8)
    rows_of_legend = math.ceil(len(labels) / 4)
    fig.tight_layout(rect=(0, 0.06 * rows_of_legend, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    """Run the grid (or some rows), write the JSON, draw the curves and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=1000, help="rounds per run, the same for every row")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--widths", type=int, nargs="+", default=[64, 64, 32], help="r3gan widths from 4 px up")
    parser.add_argument("--blocks", type=int, default=1)
    parser.add_argument("--group-width", type=int, default=16)
    parser.add_argument("--z-dim", type=int, default=64)
    parser.add_argument("--gamma", type=float, default=0.05, help="γ of R1 (and R2), constant over the run")
    parser.add_argument("--ema-half-life", type=float, default=2_000, help="images (ramped from 0)")
    parser.add_argument("--precision", default="fp32", help="fp32 (bf16 autocast was slower here for these players)")
    parser.add_argument("--curve-every", type=int, default=0, help="rounds between counts; 0: an eighth of the run")
    parser.add_argument("--curve-n", type=int, default=5_000, help="samples per count along the curve")
    parser.add_argument("--out", default="runs/r3gan-ablation", help="parent folder of the runs")
    parser.add_argument("--json", default="runs/r3gan-ablation/results.json", help="results, merged run by run")
    parser.add_argument("--plot", help="PNG of the curves")
    parser.add_argument("--lock", help="flock this file around each run alone (e.g. /tmp/heavy.lock)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--plot-only", action="store_true", help="only redraw the figure and the table from --json")
    parser.add_argument("--backfill-live", action="store_true",
                        help="only count the live generator of recorded runs that lack it and whose folder is still there")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    json_path = Path(args.json)
    results = json.loads(json_path.read_text()) if json_path.is_file() else {"runs": []}
    if args.backfill_live:
        for run in results["runs"]:
            if run.get("final") and not run.get("final_live") and Checkpoints(Path(run["run"])).latest() is not None:
                with held(args.lock):
                    run["final_live"] = final_live(Path(run["run"]))
                write_json_atomic(json_path, results)
    elif not args.plot_only:
        out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
        results["machine"] = describe()
        with held(args.lock):
            results["real"] = real_reference(args.image_size)
        print(f"# machine: {results['machine']}\n# real data: {json.dumps(results['real'])}", flush=True)
        for seed in args.seeds:
            for key in args.rows:
                with held(args.lock):
                    run = one_run(args, key, seed, out)
                results["runs"] = [r for r in results["runs"] if (r["row"], r["seed"]) != (key, seed)] + [run]
                json_path.parent.mkdir(parents=True, exist_ok=True)
                write_json_atomic(json_path, results)
                print(json.dumps({k: run[k] for k in ("row", "seed", "train_seconds", "final_count_seconds", "diverged", "final")}),
                      flush=True)
    backfilled = False
    for run in results["runs"]:  # runs recorded before the D-loss curve was kept
        if "loss_d_curve" not in run and Path(run["run"], "metrics.jsonl").is_file():
            run["loss_d_curve"], backfilled = loss_d_curve(Path(run["run"])), True
    if backfilled:
        write_json_atomic(json_path, results)
    results["runs"].sort(key=lambda r: (list(ROWS).index(r["row"]), r["seed"]))
    if args.plot:
        plot(results, Path(args.plot))
    print(table(results))
    print(live_table(results))


if __name__ == "__main__":
    main()
