"""`ganforge edit`: move generated (or projected) images along one latent direction, as a strip and a GIF.

Each row is one seed (or the projected w of `ganforge project --out DIR`, given by `--w DIR/projected_w.npz`)
walked from −strength to +strength spreads along direction K; StyleGAN edits can be limited to some
synthesis levels (`--layers coarse`).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ganforge import arguments
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.kinds import NOISE_DRIVEN, ModelKind, kind_of, require
from ganforge.latent.directions import (
    Directions,
    edit_images,
    find_directions,
    load_directions,
    resolve_levels,
    seed_latents,
)
from ganforge.tools.outputs import MAX_PICTURE_IMAGES, add_force, at_most, claim_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge edit`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported noise model folder or run folder")
    parser.add_argument("--direction", type=arguments.non_negative_int, required=True, metavar="K", help="index of the direction (0: the strongest)")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE", help="writes FILE.png (strip) and, with --gif, FILE.gif")
    parser.add_argument("--directions", metavar="NPZ", help="directions from `ganforge directions` (default: found now, the family's method)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one row each (default 0,1,2)")
    parser.add_argument("--w", metavar="NPZ", help="start from a projected w (`ganforge project`) instead of seeds")
    parser.add_argument("--strength", type=arguments.finite_float, default=3.0, help="the walk goes from -S to +S spreads (default 3)")
    parser.add_argument("--steps", type=arguments.positive_int, default=7, help="images per row (default 7)")
    parser.add_argument("--layers", default=None, help="StyleGAN levels to edit (default: those the directions were found for)")
    parser.add_argument("--truncation", type=arguments.finite_float, default=1.0, help="truncation ψ of the seeds' w (StyleGAN)")
    parser.add_argument("--label", type=arguments.integer, help="class to draw (conditional models)")
    parser.add_argument("--gif", action="store_true", help="also write FILE.gif, a back-and-forth walk")
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


def load_w(path: str, generator: torch.nn.Module) -> torch.Tensor:
    """Projected ws (1, num_ws, w_dim) from a `projected_w.npz`, or a clear error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            ws = torch.from_numpy(data["w"]).float()
    except (OSError, KeyError, ValueError) as exc:
        raise GanforgeError(f"Projected w {path!r} does not load ({type(exc).__name__}); expected projected_w.npz from `ganforge project`.") from None
    expected = (int(generator.num_ws), int(generator.w_dim))
    if ws.dim() == 2:
        ws = ws[None]
    if tuple(ws.shape[1:]) != expected:
        raise GanforgeError(f"Projected w {path!r} has shape {tuple(ws.shape)}; expected (1, {expected[0]}, {expected[1]}) for this model.")
    return ws


def strip(generator, kind: ModelKind, directions: Directions, index: int, latent: torch.Tensor, strength: float,
          steps: int, levels: Optional[list[int]], label: Optional[int]) -> torch.Tensor:
    """Images row by row: each latent walked from -strength to +strength along direction `index`."""
    strengths = torch.linspace(-strength, strength, steps).tolist()
    return edit_images(generator, latent, directions, index, strengths, levels, label, kind=kind)


def run(args: argparse.Namespace) -> int:
    """Write the strip (and GIF)."""
    from ganforge.report import make_gif, save_grid, save_labeled_rows

    if args.steps < 2:
        raise GanforgeError(f"Steps {args.steps} are too few; expected at least 2 images per row.")
    at_most(args.steps, MAX_PICTURE_IMAGES // 16, f"A row of --steps {args.steps} (images)")
    base = Path(args.out)
    if base.suffix.lower() in (".png", ".gif"):
        base = base.with_suffix("")
    png, gif = base.with_name(base.name + ".png"), base.with_name(base.name + ".gif")
    claim_outputs([png, gif] if args.gif else [png], [Path(p) for p in (args.w, args.directions) if p], force=args.force)
    generator, info = load_generator(args.model, args.device)
    kind = kind_of(info)
    require(kind, args.model, "`ganforge edit`", "a noise generator", kinds=NOISE_DRIVEN)
    directions = (load_directions(args.directions) if args.directions
                  else find_directions(generator, k=max(10, args.direction + 1), kind=kind))
    if directions.vectors.shape[1] != (generator.w_dim if directions.space == "w" else generator.z_dim):
        raise GanforgeError(f"Directions {args.directions!r} have {directions.vectors.shape[1]} dimensions; expected this model's {directions.space}.")
    levels = None
    if args.layers is not None:
        if not kind.w_space:
            raise GanforgeError("--layers was given for a model without per-layer styles; expected a StyleGAN model.")
        levels = resolve_levels(generator, args.layers)
    if args.w:
        if not kind.w_space or directions.space != "w":
            raise GanforgeError("--w was given but this model or these directions are not in StyleGAN's w; expected a StyleGAN model.")
        latent = load_w(args.w, generator).to(args.device)
        names = ["projected"]
    else:
        try:
            seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise GanforgeError(f"Seeds {args.seeds!r} are invalid; expected comma-separated integers such as 0,1,2.") from None
        if not seeds:
            raise GanforgeError("No seeds were given; expected comma-separated integers such as 0,1,2.")
        at_most(len(seeds) * args.steps, MAX_PICTURE_IMAGES, f"A strip of {len(seeds)} seeds x --steps {args.steps} (images)")
        latent = seed_latents(generator, seeds, args.truncation, args.label, kind=kind)
        names = [f"seed {s}" for s in seeds]
    images = strip(generator, kind, directions, args.direction, latent, args.strength, args.steps, levels, args.label)
    save_labeled_rows(images, png, names)
    wrote = [png]
    if args.gif:
        frames = strip(generator, kind, directions, args.direction, latent[:1], args.strength, 24, levels, args.label)
        frames = torch.cat([frames, frames.flip(0)[1:-1]])
        scale = max(1, 128 // frames.shape[-1])
        frames = F.interpolate(frames, scale_factor=scale, mode="nearest") if scale > 1 else frames
        with tempfile.TemporaryDirectory() as tmp:
            paths = [save_grid(f[None], Path(tmp) / f"{i:05d}.png", padding=0) for i, f in enumerate(frames)]
            make_gif(paths, gif, duration_ms=60, hold_last_ms=60, max_frames=len(paths))
        wrote.append(gif)
    print(f"wrote {' and '.join(str(p) for p in wrote)} (direction {args.direction} of {len(directions)} {directions.method})")
    return 0
