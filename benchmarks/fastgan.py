"""FastGAN on a CPU: seconds per round at 64 and 128 px, and a short run on 300 real icons against DCGAN + ADA.

    python benchmarks/fastgan.py speed --json fastgan-speed.json            # CPU preset, batch 8, random images
    apt-get install -y oxygen-icon-theme
    python benchmarks/fastgan.py prepare --out /tmp/gf/icons300             # 300 training icons, 100 held out
    python benchmarks/fastgan.py prepare --out /tmp/gf/icons100 --train 100 # the first 100 of them, same held-out
    apt-get install -y papirus-icon-theme librsvg2-bin                      # for 1,000 icons (Oxygen has 587)
    python benchmarks/fastgan.py prepare --out /tmp/gf/papirus1000 --theme papirus  # 1,000 Papirus icons, 100 held out
    python benchmarks/fastgan.py prepare --out /tmp/gf/icons300-128 --theme oxygen-128  # Oxygen's 128 px icons, 300 + 100
    flock /tmp/heavy.lock python benchmarks/fastgan.py train --data /tmp/gf/icons300 --runs /tmp/gf/fg-runs --minutes 3.5 --only fastgan
    flock /tmp/heavy.lock python benchmarks/fastgan.py train --data /tmp/gf/icons300 --runs /tmp/gf/fg-runs --minutes 3.5 --only dcgan-ada
    python benchmarks/fastgan.py score --data /tmp/gf/icons300 --runs /tmp/gf/fg-runs --json fastgan.json --img docs/img

The icons are those of benchmarks/ada.py (Oxygen theme, 64 px, on white, duplicates dropped), of which a
seeded 300 train and 100 are held out for the memorisation check; `--theme papirus` draws up to 1,000 (and 100 held out)
from the Papirus theme's application icons the same way. Runs train one at a time with the
same wall-clock budget, FastGAN with what `ganforge train --model fastgan` picks on a CPU (64 px from the
data, presets/fastgan-cpu.yaml), DCGAN with ADA as benchmarks/ada.py runs it. `score` reports SWD of 500
EMA samples against the training icons, the memorisation check, and writes grids.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from icon_board import add_prepare, add_score, add_train, generated, save_grids, write_json  # noqa: E402
from machine import describe  # noqa: E402

SEED = 0
TRAIN, HELD_OUT = 300, 100
POOL = "icons-pool"  #: benchmarks/ada.py's prepared Oxygen icons, beside the folders, shared by every size


@dataclass(frozen=True)
class Theme:
    """An icon theme's icons at one size (a Debian package; PNG or SVG) and the largest training folder drawn from them."""

    source: Path
    package: str
    most: int  #: training icons of the largest folder; the held-out icons are the next HELD_OUT of the seeded order
    pool: str  #: folder beside the prepared folders that holds the theme's icons, split as benchmarks/ada.py does
    size: int = 64  #: the icons' side in pixels, as prepared


#: Oxygen (LGPL-3; 587 distinct 64 px icons) for the 100- and 300-icon boards; Papirus's application icons (GPL-3; about
#: 3,600 distinct SVGs drawn on a 64 px grid, rendered by rsvg-convert) for folders of up to 1,000, which Oxygen cannot
#: fill (nor can Paper, 648 distinct, Moka, 805, or Faenza, 691); Oxygen's own 128 px drawings (601 files) for a 128 px
#: board, a pool of its own (its seeded order is not the 64 px pool's, so its icons are not the same ones)
THEMES = {"oxygen": Theme(Path("/usr/share/icons/oxygen/base/64x64"), "oxygen-icon-theme", TRAIN, POOL),
          "oxygen-128": Theme(Path("/usr/share/icons/oxygen/base/128x128"), "oxygen-icon-theme", TRAIN, "icons-pool-128", 128),
          "papirus": Theme(Path("/usr/share/icons/Papirus/64x64/apps"), "papirus-icon-theme", 1000, "icons-pool-papirus")}
#: run name -> ganforge train arguments besides data, budget, seed and output
RUNS = {
    "fastgan": ["--model", "fastgan"],
    "dcgan-ada": ["--model", "dcgan", "--image-size", "64", "--batch-size", "32", "--set", "augment=ada",
                  "--set", "ada_speed_images=20000", "--option", "width=32"],
}


def speed(sizes=(64, 128), rounds: int = 10, warmup: int = 2) -> dict:
    """Seconds per round (one D and one G step) of the CPU preset at batch 8 on random images, in the precision and
    memory layout a training run picks on this machine (bf16 autocast and channels-last where the CPU runs bf16 natively)."""
    import torch

    from ganforge.config import TrainConfig, resolve_options
    from ganforge.contract import DataInfo
    from ganforge.games.registry import get_family
    from ganforge.train.run_dir import resolve_defaults
    from ganforge.train.runtime import autocast, make_runtime

    family = get_family("fastgan")
    result = {"machine": describe(), "threads": torch.get_num_threads(), "rounds": rounds}
    for size in sizes:
        cfg = resolve_defaults(TrainConfig(model="fastgan", device="cpu", image_size=size, steps=1))
        runtime = make_runtime(cfg)
        game = family.build(cfg, resolve_options(family.options, cfg.options, "fastgan"), DataInfo(3, size), runtime)
        torch.manual_seed(SEED)
        batch = {"images": runtime.place_images(torch.rand(cfg.batch_size, 3, size, size) * 2 - 1)}
        times = []
        for i in range(warmup + rounds):
            start = time.perf_counter()
            with autocast(runtime):
                game.discriminator_step(batch)
                game.generator_step(batch)
            if i >= warmup:
                times.append(time.perf_counter() - start)
        times.sort()
        result[f"{size}px"] = {"median_s": round(times[len(times) // 2], 3), "min_s": round(times[0], 3),
                               "batch": cfg.batch_size, "width": cfg.options["width"],
                               "precision": "bf16" if runtime.autocast_dtype is not None else "fp32",
                               "channels_last": runtime.channels_last,
                               "g_params": sum(p.numel() for p in game.generator.parameters()),
                               "d_params": sum(p.numel() for p in game.players["discriminator"].parameters())}
        print(size, result[f"{size}px"], flush=True)
    return result


def prepare(out: Path, train: int | None = None, theme: str = "oxygen", seed: int = SEED) -> dict:
    """`train` training icons (the theme's `most` by default) and HELD_OUT held-out ones (seeded) from one theme.

    The folders are nested: the first `train` icons of one seeded order of one pool (the theme's, beside `out`), so 100
    icons are a subset of the 300, and the same icons after the theme's `most` are held out at every size."""
    import numpy as np
    from ada import prepare as prepare_icons

    chosen = THEMES[theme]
    train = chosen.most if train is None else train
    if not 1 <= train <= chosen.most:
        raise SystemExit(f"--train {train}: expected a count from 1 to {chosen.most} for the {theme} theme "
                         f"(the held-out icons follow the first {chosen.most})")
    full = out.parent / chosen.pool
    if not full.is_dir():
        prepare_icons(full, chosen.source, package=chosen.package, size=chosen.size)
    files = sorted((full / "train").glob("*.png")) + sorted((full / "test").glob("*.png"))
    if len(files) < chosen.most + HELD_OUT:
        raise SystemExit(f"{full} holds {len(files)} icons; expected at least {chosen.most + HELD_OUT} "
                         f"({chosen.most} to train on and {HELD_OUT} held out)")
    order = np.random.default_rng(seed).permutation(len(files))
    for split, picked in (("train", order[:train]), ("test", order[chosen.most:chosen.most + HELD_OUT])):
        (out / split).mkdir(parents=True, exist_ok=True)
        for i in picked:
            shutil.copyfile(files[i], out / split / files[i].name)
    return {"train": train, "test": HELD_OUT, "from": len(files), "theme": theme}


def train(data: Path, runs: Path, minutes: float, seed: int, names: list[str]) -> None:
    """Train the runs one after another, each with the same wall-clock budget."""
    for name in names:
        cmd = [sys.executable, "-m", "ganforge", "train", *RUNS[name], "--data", str(data), "--minutes", str(minutes),
               "--seed", str(seed), "--out", str(runs), "--name", name, "--no-progress", "--device", "cpu",
               "--set", "sample_every=100000", "--set", "checkpoint_every=100000"]
        print(" ".join(cmd[3:]), flush=True)
        start = time.time()
        subprocess.run(cmd, check=True)
        print(f"{name}: {time.time() - start:.0f} s", flush=True)


def score(data: Path, runs: Path, names: list[str], n: int, seed: int, img: Path | None) -> dict:
    """SWD against the training icons and the memorisation check of each run's exported EMA generator; grids."""
    import torch

    from ganforge.data import load_dataset
    from ganforge.data.dataset import to_float
    from ganforge.metrics.scores.memorisation import memorisation
    from ganforge.metrics.scores.swd import sliced_wasserstein
    from ganforge.runlog import read_metrics

    train_set = to_float(load_dataset(str(data), image_size=64, split="train").images)
    test_set = to_float(load_dataset(str(data), image_size=64, split="test").images)
    results = {"machine": describe(), "n": n, "seed": seed, "train_images": len(train_set), "test_images": len(test_set)}
    results["real"] = {"swd": sliced_wasserstein(test_set, train_set, seed=seed)["average"]}
    print(f"held-out icons vs training icons: SWD {results['real']['swd']:.2f}", flush=True)
    for name in names:
        fakes, info = generated(runs / name / "export", n, seed, batch=50)
        if fakes.shape[-1] != 64:
            fakes = torch.nn.functional.interpolate(fakes, size=64, mode="area")
        training, _ = read_metrics(runs / name / "metrics.jsonl")
        steps = max((r.get("step", 0) for r in training), default=0)
        copies = memorisation(fakes, train_set, test_set)["summary"]["pixels"]
        results[name] = {"steps": steps, "image_size": info["image_size"],
                         "swd": sliced_wasserstein(fakes, train_set, seed=seed)["average"], "memorisation": copies}
        print(name, results[name], flush=True)
        if img is not None:
            save_grids(img, f"fastgan-icons-{name}", fakes, train_set)
    return results


def main(argv=None) -> int:
    """speed | prepare | train | score."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--rounds", type=int, default=10)
    sp.add_argument("--json", type=Path)
    prep = add_prepare(sub)
    prep.add_argument("--train", type=int, help="training icons (nested subsets): at most 300 of Oxygen (the default), 1,000 of Papirus")
    prep.add_argument("--theme", choices=list(THEMES), default="oxygen", help="icon theme (a Debian package)")
    add_train(sub, list(RUNS), minutes=3.5, seed=SEED)
    add_score(sub, list(RUNS), seed=SEED)
    args = p.parse_args(argv)
    print(describe(), flush=True)
    if args.cmd == "speed":
        results = speed(rounds=args.rounds)
    elif args.cmd == "prepare":
        results = prepare(args.out, args.train, args.theme)
    elif args.cmd == "train":
        train(args.data, args.runs, args.minutes, args.seed, args.only)
        return 0
    else:
        results = score(args.data, args.runs, args.only, args.n, args.seed, args.img)
    write_json(results, getattr(args, "json", None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
