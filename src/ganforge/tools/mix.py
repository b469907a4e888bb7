"""`ganforge mix`: a style-mixing grid (Karras et al. 2019, Fig. 3) from an exported StyleGAN model.

The top row holds source images A; each further row starts with a source image B and shows every A
with one group of B's styles copied in: coarse (pose, shape), middle (features) or fine (texture, colour).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from torch import nn

from ganforge import arguments
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.kinds import kind_of, require
from ganforge.latent.walks import class_labels, mixing_grid
from ganforge.sampling import parse_device
from ganforge.tools.outputs import MAX_PICTURE_IMAGES, add_force, at_most, claim_outputs

GROUPS = ("coarse", "middle", "fine")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge mix`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported StyleGAN model folder or run folder")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE", help="PNG file to write (.png added if missing)")
    parser.add_argument("--cols", type=arguments.positive_int, default=5, help="source images A, one per column (default 5)")
    parser.add_argument("--rows", type=arguments.positive_int, default=2, help="source images B per style group (default 2)")
    parser.add_argument("--groups", default="coarse,middle,fine", help="style groups to show (default all three)")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the first source; the others follow")
    parser.add_argument("--truncation", type=arguments.finite_float, default=1.0, help="truncation ψ of every source (default 1)")
    parser.add_argument("--label", type=arguments.integer, help="class of every source (conditional models; default 0)")
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


def load_stylegan(path: str, device: str, what: str) -> tuple[nn.Module, dict]:
    """An exported generator whose export declares a w space (StyleGAN), or a clear error naming `what` needs it."""
    generator, info = load_generator(path, device)
    require(kind_of(info), path, what, "a StyleGAN model", capability="w_space")
    return generator, info


def run(args: argparse.Namespace) -> int:
    """Write the style-mixing grid."""
    from ganforge.report import save_labeled_rows

    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    bad = [g for g in groups if g not in GROUPS]
    if bad or not groups:
        raise GanforgeError(f"Style groups {args.groups!r} are invalid; expected a comma-separated subset of {', '.join(GROUPS)}.")
    at_most((args.cols + 1) * (args.rows * len(groups) + 1), MAX_PICTURE_IMAGES, f"Grid --cols {args.cols} --rows {args.rows} (images)")
    device = str(parse_device(args.device))
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        out = out.with_name(out.name + ".png")
    generator, _ = load_stylegan(args.model, device, "style mixing")
    class_labels(generator, args.label, 1)
    claim_outputs([out], force=args.force)
    images, labels = mixing_grid(generator, args.cols, args.rows, groups, args.seed, args.truncation,
                                 args.label, device)
    save_labeled_rows(images, out, labels)
    print(f"wrote {out} ({len(labels) - 1} mixed rows x {args.cols} columns)")
    return 0
