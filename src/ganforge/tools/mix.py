"""`ganforge mix`: a style-mixing grid (Karras et al. 2019, Fig. 3) from an exported StyleGAN model.

The top row holds source images A; each further row starts with a source image B and shows every A
with one group of B's styles copied in: coarse (pose, shape), middle (features) or fine (texture, colour).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.sampling import parse_device
from ganforge.tools import checks
from ganforge.tools.outputs import MAX_PICTURE_IMAGES, add_force, at_most, claim_outputs

GROUPS = ("coarse", "middle", "fine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge mix`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported StyleGAN model folder or run folder")
    parser.add_argument("--out", required=True, metavar="FILE", help="PNG file to write (.png added if missing)")
    parser.add_argument("--cols", type=int, default=5, help="source images A, one per column (default 5)")
    parser.add_argument("--rows", type=int, default=2, help="source images B per style group (default 2)")
    parser.add_argument("--groups", default="coarse,middle,fine", help="style groups to show (default all three)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first source; the others follow")
    parser.add_argument("--truncation", type=float, default=1.0, help="truncation ψ of every source (default 1)")
    parser.add_argument("--label", type=int, help="class of every source (conditional models; default 0)")
    parser.add_argument("--device", default="cpu")
    add_force(parser)


def load_stylegan(path: str, device: str) -> tuple[nn.Module, dict]:
    """An exported generator that has a mapping and a synthesis network, or a clear error."""
    generator, info = load_generator(path, device)
    if not (hasattr(generator, "mapping") and hasattr(generator, "synthesize")):
        raise GanforgeError(f"Model {path!r} holds a {type(generator).__name__}; expected a StyleGAN model.")
    return generator, info


def map_seeds(generator: nn.Module, seeds: list[int], truncation: float, label: Optional[int],
              device: str) -> Tensor:
    """Per-layer styles ws (N, num_ws, w_dim) of one z per seed (each z drawn from its own seed)."""
    z = torch.stack([torch.randn(generator.z_dim, generator=torch.Generator().manual_seed(s)) for s in seeds])
    labels = class_labels(generator, label, len(seeds))
    return generator.mapping(z.to(device), None if labels is None else labels.to(device), truncation=truncation)


def class_labels(generator: nn.Module, label: Optional[int], n: int) -> Optional[Tensor]:
    """`n` copies of the class to draw (0 by default) for conditional models; None for unconditional ones."""
    classes = int(getattr(generator, "num_classes", 0))
    if classes == 0:
        if label is not None:
            raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
        return None
    label = 0 if label is None else label
    if not 0 <= label < classes:
        raise GanforgeError(f"Label {label} is outside this model's classes; expected 0 to {classes - 1}.")
    return torch.full((n,), label, dtype=torch.long)


@torch.no_grad()
def mixing_grid(generator: nn.Module, cols: int, rows: int, groups: list[str], seed: int = 0,
                truncation: float = 1.0, label: Optional[int] = None, device: str = "cpu") -> tuple[Tensor, list[str]]:
    """(images row by row, row labels) of the mixing grid; the first cell is blank (white)."""
    from ganforge.models.stylegan import level_count, mix_styles, style_groups

    levels = style_groups(level_count(generator))
    groups = [g for g in groups if levels[g]]
    ws_a = map_seeds(generator, list(range(seed, seed + cols)), truncation, label, device)
    row_seeds = list(range(seed + cols, seed + cols + rows * len(groups)))
    ws_b = map_seeds(generator, row_seeds, truncation, label, device)
    images_a = generator.synthesize(ws_a).cpu()
    images_b = generator.synthesize(ws_b).cpu()
    blank = torch.ones_like(images_a[:1])
    cells, row_labels = [torch.cat([blank, images_a])], ["A"]
    for g, group in enumerate(groups):
        for r in range(rows):
            i = g * rows + r
            mixed = generator.synthesize(mix_styles(ws_a, ws_b[i:i + 1], levels[group])).cpu()
            cells.append(torch.cat([images_b[i:i + 1], mixed]))
            row_labels.append(f"{group} from B")
    return torch.cat(cells), row_labels


def run(args: argparse.Namespace) -> int:
    """Write the style-mixing grid."""
    from ganforge.report import save_labeled_rows

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise GanforgeError(f"Style groups {args.groups!r} are invalid; expected a comma-separated subset of {', '.join(GROUPS)}.")
    if args.cols < 1 or args.rows < 1:
        raise GanforgeError(f"Grid size --cols {args.cols} --rows {args.rows} is invalid; expected positive integers.")
    at_most((args.cols + 1) * (args.rows * len(groups) + 1), MAX_PICTURE_IMAGES, f"Grid --cols {args.cols} --rows {args.rows} (images)")
    checks.seed(args.seed)
    checks.truncation(args.truncation)
    device = str(parse_device(args.device))
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        out = out.with_name(out.name + ".png")
    generator, _ = load_stylegan(args.model, device)
    class_labels(generator, args.label, 1)
    claim_outputs([out], force=args.force)
    images, labels = mixing_grid(generator, args.cols, args.rows, groups, args.seed, args.truncation,
                                 args.label, device)
    save_labeled_rows(images, out, labels)
    print(f"wrote {out} ({len(labels) - 1} mixed rows x {args.cols} columns)")
    return 0
