"""`ganforge sample`: images from an exported model or a run, as a PNG grid and a uint8 .npz."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import to_uint8
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.sampling import check_labels, iter_samples, parse_device
from ganforge.tools import checks
from ganforge.tools.outputs import add_force, claim_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge sample`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported model folder or run folder")
    parser.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=int, help="class to generate (conditional models)")
    parser.add_argument("--truncation", type=float, help="truncation ψ (StyleGAN models)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True, metavar="FILE", help="writes FILE.png (grid) and FILE.npz")
    add_force(parser)


def output_paths(out: str) -> tuple[Path, Path]:
    """(grid PNG, npz) paths for an --out value given with or without a suffix."""
    base = Path(out)
    if base.suffix.lower() in (".png", ".npz"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".png"), base.with_name(base.name + ".npz")


def generate(generator: torch.nn.Module, n: int, seed: int, label: int | None, truncation: float | None,
             batch_size: int, device: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 images (N, C, H, W), labels (N,) or None) filled batch by batch."""
    generator = generator.to(device)
    kwargs = {} if truncation is None else {"truncation": truncation}
    if truncation is not None and "truncation" not in generator.forward.__code__.co_varnames:
        raise GanforgeError(f"Truncation {truncation} was asked of a {type(generator).__name__}; expected a StyleGAN model.")
    classes = int(getattr(generator, "num_classes", 0))
    labels = None
    if label is not None:
        labels = torch.full((n,), label, dtype=torch.long)
    elif classes > 0:
        labels = torch.arange(n) % classes
    out = None
    start = 0
    for batch in iter_samples(generator, n, seed, batch_size, labels, torch.device(device), **kwargs):
        images = to_uint8(batch).cpu().numpy()
        if out is None:
            out = np.empty((n, *images.shape[1:]), dtype=np.uint8)
        out[start:start + len(images)] = images
        start += len(images)
    return out, (labels.numpy() if labels is not None else None)


def run(args: argparse.Namespace) -> int:
    """Write the grid and the .npz."""
    from ganforge.report import save_grid, save_labeled_rows

    checks.positive(args.n, "--n")
    checks.positive(args.batch_size, "--batch-size")
    checks.seed(args.seed)
    checks.truncation(args.truncation)
    device = parse_device(args.device)
    generator, info = load_generator(args.model, device)
    if info.get("kind") == "translation":
        raise GanforgeError(f"Model {args.model!r} translates images; expected a noise generator (use `ganforge translate`).")
    if args.label is not None:
        check_labels(generator, torch.tensor([args.label]))
    png, npz = claim_outputs(output_paths(args.out), force=args.force)
    images, labels = generate(generator, args.n, args.seed, args.label, args.truncation, args.batch_size, device)
    shown = torch.from_numpy(images[:100])
    classes = int(getattr(generator, "num_classes", 0))
    if args.label is None and classes > 0 and args.n >= classes:
        per_class = min(10, args.n // classes)
        index = torch.arange(classes).repeat_interleave(per_class) + classes * torch.arange(per_class).repeat(classes)
        names = info.get("class_names") or [str(c) for c in range(classes)]
        save_labeled_rows(torch.from_numpy(images[index.numpy()]), png, list(names))
    else:
        save_grid(shown, png)
    arrays = {"images": images} if labels is None else {"images": images, "labels": labels}
    np.savez_compressed(npz, **arrays)
    print(f"wrote {png} and {npz} ({args.n} images)")
    return 0
