"""Mode collapse measured: the ring, the grid and Stacked MNIST for several seeds, with PacGAN's published figures.

    flock /tmp/gf-heavy.lock python benchmarks/modes.py --seeds 0 1 --toy-steps 1500 --stacked-minutes 2 \
        --out runs/modes --json docs/modes.json

Every run is an ordinary `ganforge train` run (same referee, losses, checkpoints), then counted by
ganforge.theory.modes: point mixtures by the VEEGAN/PacGAN protocol (2,500 samples, high quality within
3σ of the nearest mode, reverse KL over the high-quality samples' modes), Stacked MNIST over 26,000
samples classified channel by channel with the shipped digit classifier. Prints one Markdown table:
ours (mean ± std over seeds) beside the paper's (Lin et al. 2018, Tables 1-3, 10 trials).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.data.toy import get_mixture  # noqa: E402
from ganforge.export import load_generator  # noqa: E402
from ganforge.theory.modes import POINT_SAMPLES, generator_stacked_modes, point_modes  # noqa: E402
from ganforge.train.api import train  # noqa: E402

#: (experiment, published modes, published high-quality %, published reverse KL), PacGAN Tables 1-3
PUBLISHED = {
    ("ring8", 1): (6.3, None, None), ("ring8", 2): (7.9, None, None), ("ring8", 4): (7.8, None, None),
    ("grid25", 1): (17.3, 94.8, 0.70), ("grid25", 2): (None, None, None), ("grid25", 4): (24.8, 93.6, 0.04),
    ("stacked-mnist", 1): (99.0, None, 3.40), ("stacked-mnist", 2): (1000.0, None, 0.06),
    ("stacked-mnist-small-d", 1): (78.5, None, None), ("stacked-mnist-small-d", 4): (667.4, None, None),
}


def toy_run(data: str, pack: int, seed: int, steps: int, out: Path) -> dict:
    """Train the toy game on `data` with packing `pack`, then count its modes."""
    cfg = TrainConfig(model="toy", data=data, steps=steps, seed=seed, out=str(out), name=f"{data}-pack{pack}-s{seed}",
                      options={"pack": pack}, sample_every=max(1, steps // 4), checkpoint_every=steps, log_every=50)
    started = time.perf_counter()
    run = train(cfg, progress=False)
    seconds = time.perf_counter() - started
    generator, _ = load_generator(run)
    mixture = get_mixture(data)
    with torch.no_grad():
        samples = generator(torch.randn(POINT_SAMPLES, generator.z_dim, generator=torch.Generator().manual_seed(1234)))
    report = point_modes(samples, mixture.mean_tensor(), mixture.sigma)
    return {"experiment": data, "pack": pack, "seed": seed, "steps": steps, "seconds": round(seconds, 1), **report.as_dict()}


def stacked_run(pack: int, seed: int, minutes: float, width: int, d_width: int, out: Path, tag: str) -> dict:
    """Train DCGAN on Stacked MNIST with packing `pack` for `minutes`, then count its modes over 26,000 samples."""
    cfg = TrainConfig(model="dcgan", data="stacked-mnist", minutes=minutes, seed=seed, out=str(out),
                      name=f"{tag}-pack{pack}-s{seed}", batch_size=64, options={"pack": pack, "width": width, "d_width": d_width},
                      sample_every=500, checkpoint_every=100000, log_every=50)
    run = train(cfg, progress=False)
    generator, info = load_generator(run)
    report = generator_stacked_modes(generator, seed=1234)
    return {"experiment": tag, "pack": pack, "seed": seed, "steps": info.get("steps"), "seconds": info.get("train_seconds"),
            **report.as_dict()}


def _cell(values: list, scale: float = 1.0, digits: int = 1) -> str:
    values = [v * scale for v in values if v == v]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


def table(rows: list[dict]) -> str:
    """The Markdown table of ours (mean ± std over seeds) beside the published figures."""
    lines = ["| experiment | D | modes (ours) | modes (PacGAN) | high quality % (ours) | (PacGAN) | reverse KL (ours) | (PacGAN) "
             "| seeds | steps | train s/run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["experiment"], r["pack"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for experiment, pack in keys:
        group = [r for r in rows if r["experiment"] == experiment and r["pack"] == pack]
        paper = PUBLISHED.get((experiment, pack), (None, None, None))
        name = "GAN" if pack == 1 else f"PacGAN{pack}"
        if experiment.startswith("stacked"):
            name = "DCGAN" if pack == 1 else f"PacDCGAN{pack}"
        images = experiment.startswith("stacked")
        lines.append(f"| {experiment} of {group[0]['num_modes']} | {name} | {_cell([r['modes'] for r in group])} | "
                     f"{paper[0] if paper[0] is not None else '–'} | "
                     f"{'–' if images else _cell([r['high_quality'] for r in group], 100)} | "
                     f"{paper[1] if paper[1] is not None else '–'} | {_cell([r['reverse_kl'] for r in group], digits=2)} | "
                     f"{paper[2] if paper[2] is not None else '–'} | {len(group)} | "
                     f"{statistics.fmean(r['steps'] for r in group):.0f} | {statistics.fmean(r['seconds'] for r in group):.0f} |")
    return "\n".join(lines)


def main() -> None:
    """Run the experiments asked for and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--toy-steps", type=int, default=1500)
    parser.add_argument("--packs", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--stacked-minutes", type=float, default=2.0, help="0 skips Stacked MNIST")
    parser.add_argument("--stacked-width", type=int, default=32, help="DCGAN width (PacGAN: 64)")
    parser.add_argument("--small-d", action="store_true", help="also PacGAN Table 3: D at a quarter of G's width, pack 1 and 4")
    parser.add_argument("--skip-toy", action="store_true")
    parser.add_argument("--out", default="runs/modes", help="parent folder of the runs")
    parser.add_argument("--json", help="write every run's numbers here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    print(f"# machine: {describe()}")
    rows: list[dict] = []

    def record(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"machine": describe(), "runs": rows}, indent=2))

    if not args.skip_toy:
        for data in ("ring8", "grid25"):
            for pack in args.packs:
                for seed in args.seeds:
                    record(toy_run(data, pack, seed, args.toy_steps, out))
    if args.stacked_minutes > 0:
        for pack in (1, 2):
            for seed in args.seeds:
                record(stacked_run(pack, seed, args.stacked_minutes, args.stacked_width, 0, out, "stacked-mnist"))
        if args.small_d:
            for pack in (1, 4):
                record(stacked_run(pack, args.seeds[0], args.stacked_minutes, args.stacked_width,
                                   max(1, args.stacked_width // 4), out, "stacked-mnist-small-d"))
    print(table(rows))


if __name__ == "__main__":
    main()
