"""Steering a trained StyleGAN: SeFa directions against random ones, projection, and edits that keep the digit.

    flock /tmp/gf-heavy.lock python benchmarks/steering.py runs/sg30/export --json steering.json

Prints, for an exported StyleGAN model trained on MNIST:
  (a) mean |Δpixel| (on the [0, 1] scale) when w moves `s` spreads along the top SeFa directions, against
      random unit directions moved by the same distance (several random draws), over many seeds;
  (b) projection (`ganforge.latent.projection.project`, W, noise maps optimised) of images the generator
      itself made (distance of the found w to the true w, relative to the start w_avg; PSNR) and of held-out
      real MNIST test digits (PSNR, SSIM, and whether the shipped classifier reads the projection as the
      digit's label), with the number of steps;
  (c) the fraction of edits along the top SeFa directions (and random directions of the same length)
      after which the shipped digit classifier still reads the digit it read before, per step size.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.dataset import to_float  # noqa: E402
from ganforge.export import load_generator  # noqa: E402
from ganforge.latent.directions import find_directions, seed_latents  # noqa: E402
from ganforge.latent.projection import project  # noqa: E402
from ganforge.metrics.features.digit_classifier import classify  # noqa: E402
from ganforge.metrics.scores.psnr_ssim import psnr_rgb as psnr  # noqa: E402
from ganforge.metrics.scores.psnr_ssim import ssim_rgb as ssim  # noqa: E402


def random_units(n: int, dim: int, seed: int) -> torch.Tensor:
    """n random unit vectors in `dim` dimensions."""
    return torch.nn.functional.normalize(torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)), dim=1)


@torch.no_grad()
def moved(g, ws: torch.Tensor, vector: torch.Tensor, distance: float) -> torch.Tensor:
    """Images of ws moved `distance` along the unit `vector` (every layer)."""
    return g.synthesize(ws + distance * vector.view(1, 1, -1)).clamp(-1, 1)


@torch.no_grad()
def direction_effect(g, directions, seeds: int, strengths: list[float], random_draws: int) -> list[dict]:
    """Mean |Δpixel| ([0, 1] scale) of the top directions and of random directions moved as far."""
    ws = seed_latents(g, range(seeds))
    base = g.synthesize(ws).clamp(-1, 1)
    randoms = random_units(random_draws, ws.shape[-1], 1234)
    rows = []
    for s in strengths:
        distance = s * float(directions.scales[0])
        row = {"strength": s, "distance": distance}
        for k in range(min(3, len(directions))):
            row[f"sefa_{k}"] = float(((moved(g, ws, directions.vectors[k], distance) - base).abs() / 2).mean())
        rand = torch.tensor([float(((moved(g, ws, r, distance) - base).abs() / 2).mean()) for r in randoms])
        row.update(random_mean=float(rand.mean()), random_max=float(rand.max()), random_min=float(rand.min()))
        rows.append(row)
    return rows


def projections(g, targets: torch.Tensor, steps: int, true_ws=None, **options) -> list[dict]:
    """Project each target; PSNR, SSIM and (when the true ws are known) the relative w distance."""
    out = []
    w_avg = g.w_avg.detach().float()
    for i in range(targets.shape[0]):
        target = targets[i:i + 1]
        result = project(g, target, steps=steps, snapshots=0, seed=i, **options)
        row = {"psnr": psnr(result.image, target), "ssim": ssim(result.image, target)}
        with torch.no_grad():
            start = g.synthesize(w_avg.view(1, 1, -1).expand(1, g.num_ws, -1)).clamp(-1, 1)
        row["psnr_start"] = psnr(start, target)
        if true_ws is not None:
            w_true = true_ws[i, 0]
            found = result.ws[0].mean(0)  # W+: the mean of the per-layer ws
            row["w_rel_distance"] = float((found - w_true).norm() / (w_avg - w_true).norm())
        row["image"] = result.image
        out.append(row)
    return out


@torch.no_grad()
def digit_kept(g, directions, seeds: int, strengths: list[float], count: int) -> list[dict]:
    """Fraction of seeds whose classifier digit survives a ±s-spread edit, top directions vs random ones."""
    ws = seed_latents(g, range(seeds))
    before = classify(g.synthesize(ws).clamp(-1, 1))
    randoms = random_units(count, ws.shape[-1], 99)
    rows = []
    for s in strengths:
        row = {"strength": s}
        for name, vectors in (("sefa", directions.vectors[:count]), ("random", randoms)):
            kept = []
            for k in range(vectors.shape[0]):
                distance = s * float(directions.scales[k if name == "sefa" else 0])
                for sign in (-1, 1):
                    kept.append((classify(moved(g, ws, vectors[k], sign * distance)) == before).float().mean())
            row[name] = float(torch.stack(kept).mean())
        rows.append(row)
    return rows


def main() -> int:
    """Run the three measurements and print them as tables."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="exported StyleGAN model trained on MNIST (or its run folder)")
    parser.add_argument("--seeds", type=int, default=128, help="seeds for (a) and (c)")
    parser.add_argument("--random-draws", type=int, default=20, help="random directions for (a)")
    parser.add_argument("--n-project", type=int, default=8, help="images projected, per kind (generated, real)")
    parser.add_argument("--steps", type=int, default=200, help="projection steps")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--strip", help="write a PNG: real targets over their projections")
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    g, info = load_generator(args.model, "cpu")
    g = g.eval().requires_grad_(False)
    print(f"machine: {describe()}")
    print(f"model: {args.model} ({info.get('family')}, {info.get('image_size')} px, {info.get('steps')} steps)")
    t0 = time.time()
    sefa = find_directions(g, "sefa", k=5)
    report: dict = {"machine": describe(), "model": str(args.model), "steps_trained": info.get("steps")}

    effect = direction_effect(g, sefa, args.seeds, [1.0, 2.0, 3.0], args.random_draws)
    report["direction_effect"] = effect
    print(f"\n(a) mean |Δpixel| ([0,1] scale) over {args.seeds} seeds; random: {args.random_draws} unit directions moved as far "
          "(distance = strength x spread of w along SeFa #0)")
    print("| strength (spreads) | distance in w | SeFa #0 | SeFa #1 | SeFa #2 | random mean | random min–max |")
    print("|---|---|---|---|---|---|---|")
    for r in effect:
        print(f"| {r['strength']:g} | {r['distance']:.3f} | {r['sefa_0']:.4f} | {r['sefa_1']:.4f} | {r['sefa_2']:.4f} | "
              f"{r['random_mean']:.4f} | {r['random_min']:.4f}–{r['random_max']:.4f} |")

    kept = digit_kept(g, sefa, args.seeds, [0.25, 0.5, 1.0, 2.0, 3.0], 5)
    report["digit_kept"] = kept
    print(f"\n(c) fraction of edits after which the shipped classifier reads the same digit ({args.seeds} seeds, "
          "top 5 SeFa directions vs 5 random directions of the same length, both signs)")
    print("| strength (spreads) | SeFa top 5 | random |")
    print("|---|---|---|")
    for r in kept:
        print(f"| ±{r['strength']:g} | {r['sefa']:.3f} | {r['random']:.3f} |")
    print(f"[(a)+(c) took {time.time() - t0:.1f} s]")

    t1 = time.time()
    n = args.n_project
    true_ws = seed_latents(g, range(1000, 1000 + n))
    with torch.no_grad():
        made = g.synthesize(true_ws).clamp(-1, 1)
    settings = {"W, noise maps optimised (default)": {}, "W, the model's own noise maps fixed (--no-noise)": {"optimize_noise": False},
                "W+, noise maps optimised (--w-plus)": {"w_plus": True}}
    data = load_dataset("mnist", image_size=int(g.image_size), split="test")
    pick = torch.cat([(data.labels == d).nonzero()[:1, 0] for d in range(10)])[:n] if n <= 10 else torch.arange(n)
    real = to_float(data.images[pick])
    labels = data.labels[pick]

    def mean(rows, key):
        return sum(r[key] for r in rows) / len(rows)

    def spread(rows, key):
        values = [r[key] for r in rows]
        return f"{mean(rows, key):.3f} ({min(values):.3f}–{max(values):.3f})"

    report["projection"] = {"steps": args.steps, "n": n}
    print(f"\n(b) projection, {args.steps} steps, loss L1 + L2 + (1 − MS-SSIM) (the export has no discriminator); "
          f"mean (min–max) over {n} images each; start: w_avg")
    print("| targets | setting | PSNR at start (dB) | PSNR (dB) | SSIM | ‖w − w_true‖ / ‖w_avg − w_true‖ | classifier reads the label |")
    print("|---|---|---|---|---|---|---|")
    shown = {}
    for setting, options in settings.items():
        gen = projections(g, made, args.steps, true_ws, **options)
        real_rows = projections(g, real, args.steps, **options)
        read = classify(torch.cat([r["image"] for r in real_rows]))
        shown.setdefault("gen", gen)
        shown.setdefault("real", real_rows)
        report["projection"][setting] = {
            "generated": {k: [r[k] for r in gen] for k in ("psnr", "ssim", "psnr_start", "w_rel_distance")},
            "real": {k: [r[k] for r in real_rows] for k in ("psnr", "ssim", "psnr_start")},
            "real_digit_read_as_label": float((read == labels).float().mean())}
        print(f"| made by the generator | {setting} | {spread(gen, 'psnr_start')} | {spread(gen, 'psnr')} | {spread(gen, 'ssim')} | "
              f"{spread(gen, 'w_rel_distance')} | – |")
        print(f"| held-out MNIST test digits | {setting} | {spread(real_rows, 'psnr_start')} | {spread(real_rows, 'psnr')} | "
              f"{spread(real_rows, 'ssim')} | – | {int((read == labels).sum())}/{n} |")
    print(f"[(b) took {time.time() - t1:.1f} s, {(time.time() - t1) / (2 * n * len(settings)):.1f} s per projection]")
    gen, real_rows = shown["gen"], shown["real"]
    if args.strip:
        from ganforge.report import save_labeled_rows

        save_labeled_rows(torch.cat([made, torch.cat([r["image"] for r in gen]), real, torch.cat([r["image"] for r in real_rows])]),
                          args.strip, ["generated", "projected", "real (test)", "projected"])
        print(f"wrote {args.strip}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
