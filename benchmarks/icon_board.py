"""What the icon benchmarks (ada.py, fastgan.py, colour.py) share: their subcommands' arguments, the images an
exported run generates, and the grids written beside their results."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_prepare(sub) -> argparse.ArgumentParser:
    """`prepare --out DIR`: the icons, split into train/ and test/."""
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, required=True)
    return p


def add_train(sub, names: list[str], minutes: float, seed: int) -> argparse.ArgumentParser:
    """`train --data --runs --minutes --seed --only`: the named runs, each with the same wall-clock budget."""
    p = sub.add_parser("train")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=minutes)
    p.add_argument("--seed", type=int, default=seed)
    p.add_argument("--only", nargs="*", default=list(names))
    return p


def add_score(sub, names: list[str], seed: int, n: int = 500) -> argparse.ArgumentParser:
    """`score --data --runs --only --n --seed --json --img`: the runs' scores, JSON and grids."""
    p = sub.add_parser("score")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--only", nargs="*", default=list(names))
    p.add_argument("--n", type=int, default=n)
    p.add_argument("--seed", type=int, default=seed)
    add_outputs(p)
    return p


def add_outputs(p: argparse.ArgumentParser) -> None:
    """`--json FILE` for the results and `--img DIR` for the grids."""
    p.add_argument("--json", type=Path)
    p.add_argument("--img", type=Path)


def write_json(results: dict, path: Path | None) -> None:
    """Print the results and, with a path, write them there."""
    print(json.dumps(results, indent=2))
    if path is not None:
        path.write_text(json.dumps(results, indent=2) + "\n")


def generated(export: Path, n: int, seed: int, batch: int = 100):
    """(n images in [-1, 1] from the exported generator's seeded noise, the export's info)."""
    import torch

    from ganforge.export import load_players

    players, info = load_players(export)
    G = players["generator"].eval()
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)  # noise maps, where the generator draws them
    with torch.no_grad():
        return torch.cat([G(z[i:i + batch]).float().clamp(-1, 1) for i in range(0, n, batch)]), info


def save_grids(img: Path, stem: str, fakes, train_set=None) -> None:
    """`stem`.png: the first 64 images; with `train_set`, `stem`-nearest.png: 16 of them beside their nearest training image."""
    from ganforge.metrics.scores.memorisation import nearest_grid
    from ganforge.report.grid import save_grid

    img.mkdir(parents=True, exist_ok=True)
    save_grid(fakes[:64], img / f"{stem}.png", nrow=8)
    if train_set is not None:
        save_grid(nearest_grid(fakes[:16], train_set), img / f"{stem}-nearest.png", nrow=8)
