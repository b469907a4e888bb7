"""`ganforge interpolate`: walks between seeds in z space (spherical) and in w space (linear), as
strips in a PNG and as a looping GIF through w space (Karras et al. 2019, §4.1 compares the two)."""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge import arguments
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.kinds import kind_of, require
from ganforge.latent.walks import class_labels, seed_noise, slerp
from ganforge.sampling import parse_device
from ganforge.tools.outputs import MAX_GIF_FRAMES, MAX_PICTURE_IMAGES, add_force, at_most, claim_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge interpolate`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported StyleGAN model folder or run folder")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE", help="writes FILE.png (strips) and FILE.gif")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds to walk through (default 0,1,2)")
    parser.add_argument("--steps", type=arguments.positive_int, default=8, help="images per strip, ends included (default 8)")
    parser.add_argument("--frames", type=arguments.positive_int, default=24, help="GIF frames between two seeds (default 24)")
    parser.add_argument("--truncation", type=arguments.finite_float, default=1.0, help="truncation ψ (default 1)")
    parser.add_argument("--label", type=arguments.integer, help="class to draw (conditional models; default 0)")
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


@torch.no_grad()
def strips(generator: nn.Module, seeds: list[int], steps: int, truncation: float = 1.0, label=None,
           device: str = "cpu") -> tuple[Tensor, list[str]]:
    """(images row by row, row labels): for each consecutive pair of seeds a z-space and a w-space strip."""
    t = torch.linspace(0, 1, steps)
    labels = class_labels(generator, label, steps)
    labels = None if labels is None else labels.to(device)
    rows, names = [], []
    for a, b in zip(seeds[:-1], seeds[1:]):
        za, zb = seed_noise(generator, a), seed_noise(generator, b)
        z_path = slerp(za, zb, t).to(device)
        rows.append(generator.synthesize(generator.mapping(z_path, labels, truncation=truncation)).cpu())
        names.append(f"z {a}->{b}")
        ends = generator.mapping(torch.cat([za, zb]).to(device), None if labels is None else labels[:2],
                                 truncation=truncation)
        w_path = torch.lerp(ends[:1], ends[1:], t.to(device).view(-1, 1, 1))
        rows.append(generator.synthesize(w_path).cpu())
        names.append(f"w {a}->{b}")
    return torch.cat(rows), names


@torch.no_grad()
def w_walk(generator: nn.Module, seeds: list[int], frames: int, truncation: float = 1.0, label=None,
           device: str = "cpu") -> Tensor:
    """Images along a closed linear walk in w through the seeds, `frames` per leg (the end not repeated)."""
    z = torch.cat([seed_noise(generator, s) for s in seeds]).to(device)
    labels = class_labels(generator, label, len(seeds))
    ws = generator.mapping(z, None if labels is None else labels.to(device), truncation=truncation)
    t = torch.arange(frames, device=device).float().div(frames).view(-1, 1, 1)
    legs = [torch.lerp(ws[i:i + 1], ws[(i + 1) % len(seeds)][None], t) for i in range(len(seeds))]
    path = torch.cat(legs)
    return torch.cat([generator.synthesize(chunk).cpu() for chunk in path.split(64)])


def run(args: argparse.Namespace) -> int:
    """Write FILE.png and FILE.gif."""
    from ganforge.report import make_gif, save_grid, save_labeled_rows

    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise GanforgeError(f"Seeds {args.seeds!r} are invalid; expected comma-separated integers such as 0,1,2.") from None
    if len(seeds) < 2:
        raise GanforgeError(f"Seeds {args.seeds!r} name fewer than two seeds; expected at least two to walk between.")
    if args.steps < 2 or args.frames < 1:
        raise GanforgeError(f"Sizes --steps {args.steps} --frames {args.frames} are invalid; expected steps >= 2 and frames >= 1.")
    at_most(2 * len(seeds) * args.steps, MAX_PICTURE_IMAGES, f"Strips of {len(seeds)} seeds x --steps {args.steps} (images)")
    at_most(len(seeds) * args.frames, MAX_GIF_FRAMES, f"A walk of {len(seeds)} seeds x --frames {args.frames} (GIF frames)")
    for s in seeds:
        arguments.seed.check(s, "in --seeds")
    device = str(parse_device(args.device))
    base = Path(args.out)
    if base.suffix.lower() in (".png", ".gif"):
        base = base.with_suffix("")
    generator, info = load_generator(args.model, device)
    require(kind_of(info), args.model, "a walk in w", "a StyleGAN model", capability="w_space")
    class_labels(generator, args.label, 1)
    png, gif = claim_outputs([base.with_name(base.name + ".png"), base.with_name(base.name + ".gif")], force=args.force)
    images, names = strips(generator, seeds, args.steps, args.truncation, args.label, device)
    save_labeled_rows(images, png, names)
    frames = w_walk(generator, seeds, args.frames, args.truncation, args.label, device)
    scale = max(1, 128 // frames.shape[-1])
    frames = F.interpolate(frames, scale_factor=scale, mode="nearest") if scale > 1 else frames
    with tempfile.TemporaryDirectory() as tmp:
        paths = [save_grid(frame[None], Path(tmp) / f"{i:05d}.png", padding=0) for i, frame in enumerate(frames)]
        make_gif(paths, gif, duration_ms=60, hold_last_ms=60, max_frames=len(paths))
    print(f"wrote {png} and {gif} ({len(frames)} frames)")
    return 0
