"""`ganforge directions`: find latent directions of an exported generator and save them as a .npz.

SeFa (Shen & Zhou 2021) for StyleGAN by default, PCA of w (GANSpace, Härkönen et al. 2020) with
`--method pca-w`, and PCA in z (GANSpace's recipe for generators without a mapping network) for every
other noise family.  Also writes FILE.png: one row per direction, the first seed walked from −3 to +3
spreads along it.
"""
from __future__ import annotations

import argparse

from ganforge import arguments
from ganforge.export import load_generator
from ganforge.kinds import NOISE_DRIVEN, kind_of, require
from ganforge.latent.directions import METHODS, edit_images, find_directions, seed_latents
from ganforge.tools.outputs import add_force, claim_outputs, picture_and_arrays


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge directions`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported noise model folder or run folder")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE", help="writes FILE.npz (directions) and FILE.png (preview)")
    parser.add_argument("--method", choices=METHODS, help="sefa (StyleGAN default), pca-w (StyleGAN) or pca-z (other families' default)")
    parser.add_argument("--k", type=arguments.positive_int, default=10, help="directions to keep (default 10)")
    parser.add_argument("--layers", default=None,
                        help="StyleGAN levels the directions act on: all (default), coarse, middle, fine, a range 0-2 or a list 0,1")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the preview image and of the sampled latents")
    parser.add_argument("--label", type=arguments.integer, help="class of the preview (conditional models)")
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


def run(args: argparse.Namespace) -> int:
    """Find, save and preview the directions."""
    from ganforge.report import save_labeled_rows

    png, npz = claim_outputs(picture_and_arrays(args.out), force=args.force)
    generator, info = load_generator(args.model, args.device)
    kind = kind_of(info)
    require(kind, args.model, "`ganforge directions`", "a noise generator (StyleGAN, GAN or VAE)", kinds=NOISE_DRIVEN)
    directions = find_directions(generator, args.method, args.k, args.layers, args.seed, kind=kind)
    directions.save(npz)
    strengths = [-3, -2, -1, 0, 1, 2, 3]
    latent = seed_latents(generator, [args.seed], label=args.label, kind=kind)
    rows = [edit_images(generator, latent, directions, k, strengths, label=args.label, kind=kind) for k in range(len(directions))]
    import torch

    save_labeled_rows(torch.cat(rows), png, [f"#{k}" for k in range(len(directions))])
    layers = f" on levels {directions.layers}" if directions.space == "w" else ""
    print(f"wrote {npz} ({len(directions)} {directions.method} directions in {directions.space}{layers}) and {png}")
    return 0
