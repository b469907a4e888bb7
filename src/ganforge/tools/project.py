"""`ganforge project`: find the w (optionally W+) and noise maps with which a StyleGAN model redraws an image.

Writes into DIR: `projected_w.npz` (w as (1, num_ws, w_dim) and the noise maps), `projected.png`,
`target.png` and `progress.png` (the target, then the projection at evenly spaced steps).  The w can
then be edited: `ganforge edit MODEL --w DIR/projected_w.npz --direction 0 --out strip.png`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge import arguments
from ganforge.data.dataset import to_float
from ganforge.data.images import decode_image
from ganforge.errors import GanforgeError
from ganforge.export import load_players
from ganforge.kinds import kind_of, require
from ganforge.latent.projection import load_lpips, project
from ganforge.metrics.scores.psnr_ssim import psnr_rgb, ssim_rgb
from ganforge.tools.outputs import add_force, claim_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge project`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported StyleGAN model folder or run folder")
    parser.add_argument("image", metavar="IMAGE", help="image file to project (resized and center-cropped to the model's size)")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR",
                        help="folder for projected_w.npz, projected.png, target.png, progress.png")
    parser.add_argument("--steps", type=arguments.positive_int, default=500, help="optimisation steps (default 500)")
    parser.add_argument("--w-plus", action="store_true", help="one w per layer (W+) instead of one w for all")
    parser.add_argument("--no-noise", action="store_true", help="keep the model's noise maps fixed")
    parser.add_argument("--lpips", nargs="+", metavar="FILE",
                        help="LPIPS-VGG weights (torchvision VGG16 `features.*` and LPIPS `lin*` keys, one or more files)")
    parser.add_argument("--label", type=arguments.integer, help="class whose w_avg the search starts from (conditional models)")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


def output_paths(out: Path) -> list[Path]:
    """The four files a projection writes into `out`."""
    return [out / name for name in ("projected_w.npz", "projected.png", "target.png", "progress.png")]


def save_projection(result, target: torch.Tensor, out: Path) -> dict:
    """Write the projection's files into `out`; return PSNR and SSIM against the target."""
    from ganforge.report import save_grid, save_labeled_rows

    arrays = {"w": result.ws.cpu().numpy(), "w_plus": np.array(result.w_plus)}
    arrays.update({f"noise{i}": n.cpu().numpy() for i, n in enumerate(result.noise)})
    np.savez(out / "projected_w.npz", **arrays)
    save_grid(result.image.cpu(), out / "projected.png", padding=0)
    save_grid(target.cpu(), out / "target.png", padding=0)
    cells = torch.cat([target.cpu()] + [s.cpu() for s in result.snapshots])
    save_labeled_rows(cells, out / "progress.png", ["target, then steps"])
    return {"psnr_rgb": psnr_rgb(result.image.cpu(), target.cpu()), "ssim_rgb": ssim_rgb(result.image.cpu(), target.cpu())}


def run(args: argparse.Namespace) -> int:
    """Project the image and write the files."""
    path = Path(args.image)
    if not path.is_file():
        raise GanforgeError(f"Image {args.image!r} does not exist; expected an image file.")
    claim_outputs(output_paths(Path(args.out)), [path], force=args.force)
    players, info = load_players(args.model, args.device)
    generator = players["generator"]
    kind = kind_of(info)
    require(kind, args.model, "projection", "a StyleGAN model", capability="w_space")
    target = to_float(torch.from_numpy(decode_image(path, generator.channels, generator.image_size).copy()))[None]
    lpips = load_lpips(args.lpips).to(args.device) if args.lpips else None
    result = project(generator, target, steps=args.steps, w_plus=args.w_plus, optimize_noise=not args.no_noise,
                     discriminator=players.get("discriminator"), lpips=lpips, label=args.label, seed=args.seed,
                     kind=kind)
    scores = save_projection(result, target, Path(args.out))
    judges = "pixels + MS-SSIM" + (" + D features" if "discriminator" in players else "") + (" + LPIPS" if lpips else "")
    print(f"wrote {args.out}/projected_w.npz, projected.png, target.png, progress.png "
          f"(PSNR {scores['psnr_rgb']:.2f} dB, SSIM {scores['ssim_rgb']:.3f} over RGB; loss: {judges})")
    return 0
