"""Adaptive discriminator augmentation on a small set of real colour pictures (Karras et al. 2020).

The data: the Oxygen icon theme's 64×64 PNG icons (Debian package `oxygen-icon-theme`, LGPL-3), every
category, duplicates (symlinks) dropped, alpha composited over white, a seeded 10 % held out for the
memorisation check:

    apt-get install -y oxygen-icon-theme
    python benchmarks/ada.py prepare --out /tmp/gf/icons64            # train/ and test/ sub-folders
    flock /tmp/gf-heavy.lock python benchmarks/ada.py train --data /tmp/gf/icons64 --runs /tmp/gf/ada-runs --minutes 15
    flock /tmp/gf-heavy.lock python benchmarks/ada.py score --data /tmp/gf/icons64 --runs /tmp/gf/ada-runs --json ada.json --img docs/img

`train` starts the four runs (DCGAN and StyleGAN, each with augment=none and augment=ada) SIDE BY SIDE,
each in its own process with one torch thread (OMP_NUM_THREADS=1, torch.set_num_threads(1)) and the same
wall-clock budget, so on a 2-core machine each gets about half a core. `score` samples each run's EMA
generator (seeded) and reports SWD against the training images, MS-SSIM between random pairs of samples
(diversity; compared with the same statistic of the real images) and the memorisation check; it also
writes sample grids, sample | nearest-training-image grids and each ADA run's p trajectory.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from icon_board import add_prepare, add_score, add_train, generated, save_grids, write_json  # noqa: E402
from machine import describe  # noqa: E402

ICONS = Path("/usr/share/icons/oxygen/base/64x64")
HELD_OUT = 0.1
SEED = 0
#: run name -> (model, augment settings, family options)
RUNS = {
    "dcgan": ("dcgan", {}, {}),
    "dcgan-ada": ("dcgan", {"augment": "ada"}, {}),
    "stylegan": ("stylegan", {}, {}),
    "stylegan-ada": ("stylegan", {"augment": "ada"}, {}),
}
#: same for every run; ada_speed_images is scaled to these short runs (the paper's 500k images would let p move
#: by at most ~0.3 in DCGAN's ~150k images and ~0.06 in StyleGAN's ~30k)
COMMON = {"batch_size": 32, "sample_every": 500, "checkpoint_every": 1000, "log_every": 10, "ada_speed_images": 20000}
OPTIONS = {"dcgan": {"width": 32}, "stylegan": {"growth": False}}


def render_icon(path: Path, size: int = 64):
    """A theme's icon as an RGBA image: a PNG as it is, an SVG rendered at `size` px by rsvg-convert (None if it cannot be)."""
    from PIL import Image

    if path.suffix != ".svg":
        return Image.open(path).convert("RGBA")
    done = subprocess.run(["rsvg-convert", "-w", str(size), "-h", str(size), str(path)], capture_output=True)
    return Image.open(io.BytesIO(done.stdout)).convert("RGBA") if done.returncode == 0 else None


def prepare(out: Path, source: Path = ICONS, held_out: float = HELD_OUT, seed: int = SEED,
            package: str = "oxygen-icon-theme", size: int = 64) -> dict:
    """Write the icons (RGB on white, `size` px) into out/train and out/test; return the counts.

    PNG and SVG icons are read (SVGs need rsvg-convert, Debian `librsvg2-bin`); symlinks and byte-identical copies are
    dropped, as are SVGs that do not render (counted under "unrendered")."""
    import numpy as np
    from PIL import Image

    if not source.is_dir():
        raise SystemExit(f"{source} does not exist; expected the {package} package (apt-get install -y {package}).")
    paths = sorted(p for p in source.rglob("*") if p.suffix in (".png", ".svg") and not p.is_symlink())
    if any(p.suffix == ".svg" for p in paths) and shutil.which("rsvg-convert") is None:
        raise SystemExit(f"{source} holds SVG icons and rsvg-convert was not found; expected the librsvg2-bin package "
                         "(apt-get install -y librsvg2-bin).")
    icons, seen, unrendered = [], set(), 0
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        im = render_icon(path, size)
        if im is None:
            unrendered += 1
            continue
        if im.size != (size, size):
            im = im.resize((size, size), Image.LANCZOS)
        icons.append((path, Image.alpha_composite(Image.new("RGBA", im.size, (255, 255, 255, 255)), im).convert("RGB")))
    order = np.random.default_rng(seed).permutation(len(icons))
    n_test = int(round(held_out * len(icons)))
    for i, index in enumerate(order):
        path, rgb = icons[index]
        target = out / ("test" if i < n_test else "train") / f"{path.parent.name}-{path.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        rgb.save(target)
    return {"train": len(icons) - n_test, "test": n_test, "source": str(source), "unrendered": unrendered}


def _command(name: str, data: Path, runs: Path, minutes: float, seed: int) -> list[str]:
    model, settings, options = RUNS[name]
    args = ["train", "--model", model, "--data", str(data), "--image-size", "64", "--minutes", str(minutes),
            "--seed", str(seed), "--out", str(runs), "--name", name, "--no-progress", "--device", "cpu"]
    for key, value in {**COMMON, **settings}.items():
        args += ["--set", f"{key}={value}"]
    for key, value in {**OPTIONS[model], **options}.items():
        args += ["--option", f"{key}={json.dumps(value) if isinstance(value, bool) else value}"]
    code = ("import sys, torch; torch.set_num_threads(1); torch.set_num_interop_threads(1); "
            "from ganforge.cli import main; sys.exit(main(sys.argv[1:]))")
    return [sys.executable, "-c", code, *args]


def train(data: Path, runs: Path, minutes: float, seed: int, names: list[str], extra: list[str]) -> None:
    """Start the runs side by side (one thread each) and wait for all of them."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    runs.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name in names:
        cmd = _command(name, data, runs, minutes, seed) + extra
        log = open(runs / f"{name}.log", "w")
        print(" ".join(cmd[3:]), flush=True)
        procs[name] = (subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log)
    start = time.time()
    for name, (proc, log) in procs.items():
        rc = proc.wait()
        log.close()
        print(f"{name}: exit {rc} after {time.time() - start:.0f} s", flush=True)


def score(data: Path, runs: Path, names: list[str], n: int, seed: int, img: Path | None) -> dict:
    """Scores of each run's exported EMA generator; grids and p trajectories into `img`."""
    import torch

    from ganforge.data import load_dataset
    from ganforge.data.dataset import to_float
    from ganforge.metrics.scores.memorisation import memorisation
    from ganforge.metrics.scores.ms_ssim import pairwise_ms_ssim
    from ganforge.metrics.scores.swd import sliced_wasserstein
    from ganforge.report.grid import save_grid
    from ganforge.runlog import read_metrics

    torch.manual_seed(seed)
    train_set = to_float(load_dataset(str(data), image_size=64, split="train").images)
    test_set = to_float(load_dataset(str(data), image_size=64, split="test").images)
    results = {"machine": describe(), "n": n, "seed": seed, "train_images": len(train_set), "test_images": len(test_set)}
    real_swd = sliced_wasserstein(test_set, train_set, seed=seed)
    results["real"] = {"swd": real_swd, "ms_ssim": pairwise_ms_ssim(train_set, pairs=n, seed=seed)}
    print(f"real held-out vs train: SWD {real_swd['average']:.2f}  MS-SSIM {results['real']['ms_ssim']['mean']:.3f}", flush=True)
    for name in names:
        run = runs / name
        fakes, _ = generated(run / "export", n, seed)
        D = trained_discriminator(run)
        training, _ = read_metrics(run / "metrics.jsonl")
        steps = max((r.get("step", 0) for r in training), default=0)
        row = {"steps": steps, "images_seen": steps * COMMON["batch_size"],
               "swd": sliced_wasserstein(fakes, train_set, seed=seed),
               "ms_ssim": pairwise_ms_ssim(fakes, pairs=n, seed=seed)}
        features = None if D is None else discriminator_features(D)
        row["memorisation"] = memorisation(fakes, train_set, test_set, features=features)
        ps = [r["augment_p"] for r in training if "augment_p" in r]
        if ps:
            row["p_final"] = ps[-1]
            row["p_max"] = max(ps)
        results[name] = {k: v for k, v in row.items() if k != "memorisation"} | {"memorisation": row["memorisation"]["summary"]}
        print(f"{name}: {steps} steps, SWD {row['swd']['average']:.2f}, MS-SSIM {row['ms_ssim']['mean']:.3f}, "
              f"memorisation {row['memorisation']['summary']}", flush=True)
        if img is not None:
            save_grids(img, f"colour-{name}", fakes, train_set)
    if img is not None:
        plot_p(runs, [nm for nm in names if RUNS[nm][1].get("augment") == "ada"], img / "colour-ada-p.png")
        save_grid(train_set[:64], img / "colour-real.png", nrow=8)
    return results


def trained_discriminator(run: Path):
    """The run's discriminator as of its latest checkpoint (exports hold only the generator), in eval mode."""
    from ganforge.train.loop import Trainer
    from ganforge.train.run_dir import open_run

    cfg, run_dir, checkpoint = open_run(run)
    return Trainer(cfg, run_dir, checkpoint=checkpoint).game.players["discriminator"].eval()


def discriminator_features(D):
    """A function images -> D's hidden features before its last layer (DCGAN: `features`; StyleGAN: up to its epilogue)."""
    import torch

    if hasattr(D, "features") and isinstance(D.features, torch.nn.Module):
        return D.features
    if hasattr(D, "fc"):  # StyleGAN: the output of the hidden fully connected layer (after minibatch-stddev)
        def hidden(x):
            seen = []
            handle = D.fc.register_forward_hook(lambda module, args, out: seen.append(out))
            try:
                D(x)
            finally:
                handle.remove()
            return seen[0]
        return hidden
    return None


def plot_p(runs: Path, names: list[str], path: Path) -> None:
    """p and r_t against images seen, one panel each, for the ADA runs."""
    from matplotlib.figure import Figure

    from ganforge.runlog import read_metrics

    fig = Figure(figsize=(8, 5), dpi=100)
    ax_p, ax_r = fig.subplots(2, 1, sharex=True)
    for i, name in enumerate(names):
        training, _ = read_metrics(runs / name / "metrics.jsonl")
        pts = [(r["step"] * COMMON["batch_size"], r["augment_p"], r.get("ada_rt")) for r in training if "augment_p" in r]
        if not pts:
            continue
        x = [a for a, _, _ in pts]
        ax_p.plot(x, [b for _, b, _ in pts], color=f"C{i}", label=name)
        ax_r.plot(x, [c if c is not None else float("nan") for _, _, c in pts], color=f"C{i}", label=name, linewidth=0.8)
    ax_r.axhline(0.6, color="black", linestyle="--", linewidth=1, label="target 0.6")
    ax_p.set_ylabel("p")
    ax_r.set_ylabel("r_t = E[sign D(x)]")
    ax_r.set_xlabel("real images shown to D")
    ax_p.legend(fontsize="small")
    ax_r.legend(fontsize="small")
    ax_p.grid(True, alpha=0.3)
    ax_r.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)


def main(argv=None) -> int:
    """prepare | train | score."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    add_prepare(sub)
    pt = add_train(sub, list(RUNS), minutes=15.0, seed=SEED)
    pt.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more ganforge train arguments for every run")
    add_score(sub, list(RUNS), seed=SEED)
    args = p.parse_args(argv)
    print(describe(), flush=True)
    if args.cmd == "prepare":
        print(prepare(args.out))
    elif args.cmd == "train":
        train(args.data, args.runs, args.minutes, args.seed, args.only, args.extra)
    else:
        write_json(score(args.data, args.runs, args.only, args.n, args.seed, args.img), args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
