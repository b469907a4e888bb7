"""`ganforge reconstruct`: encode images with a VAE's encoder and decode them, as a PNG and an .npz."""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ganforge import arguments
from ganforge.data.dataset import to_float, to_uint8
from ganforge.errors import GanforgeError
from ganforge.export import load_players
from ganforge.kinds import kind_of
from ganforge.latent.reconstruction import reconstruct
from ganforge.sampling import parse_device
from ganforge.tools.outputs import add_force, claim_outputs, picture_and_arrays

ROW = 8  #: images per row of the picture


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge reconstruct`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported VAE model folder or VAE run folder")
    parser.add_argument("images", metavar="IMAGES", nargs="+",
                        help="image files, folders of images, or a dataset name (mnist, fashion-mnist: its test images)")
    parser.add_argument("--n", type=arguments.positive_int, default=32, help="at most this many images (default 32)")
    parser.add_argument("--sample", action="store_true",
                        help="decode a draw z ~ q(z|x) instead of the mean code (default: the mean)")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the draws with --sample")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=256)
    parser.add_argument("--device", type=arguments.device, default="cpu")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE",
                        help="writes FILE.png (input rows above reconstruction rows) and FILE.npz")
    add_force(parser)


def encoder_of(players: dict[str, nn.Module], info: dict, model: str) -> nn.Module:
    """The model's encoder, or a clear error for models whose export declares none."""
    kind = kind_of(info)
    if not kind.encoder:
        raise GanforgeError(f"Model {model!r} has no encoder (it is a {kind.name} model); expected a VAE model.")
    return players["encoder"]


@torch.no_grad()
def _files_of(source: Path) -> list[Path]:
    from ganforge.data.images import is_image_file

    if source.is_dir():
        files = sorted((p for p in source.rglob("*") if p.is_file() and is_image_file(p)
                        and not any(part.startswith(".") for part in p.relative_to(source).parts)), key=str)
        if not files:
            raise GanforgeError(f"Folder {str(source)!r} holds no images; expected PNG, JPEG, WebP or BMP files.")
        return files
    if not is_image_file(source):
        raise GanforgeError(f"File {str(source)!r} is not an image; expected a PNG, JPEG, WebP or BMP file.")
    return [source]


def load_images(sources: Sequence[str], channels: int, image_size: int, limit: int) -> Tensor:
    """Up to `limit` uint8 images (N, C, S, S) from files, folders (sorted, recursively) or dataset names."""
    from ganforge.data import DATASETS, load_dataset
    from ganforge.data.images import decode_image

    if limit < 1:
        raise GanforgeError(f"Image count --n {limit} is invalid; expected at least 1.")
    arrays: list[Tensor] = []
    count = 0
    for source in sources:
        if count >= limit:
            break
        path = Path(source).expanduser()
        if not path.exists():
            if source.strip().lower() not in DATASETS:
                raise GanforgeError(f"Images {source!r} are neither a file, a folder nor a dataset ({', '.join(DATASETS)}); expected one of those.")
            data = load_dataset(source, image_size=image_size, channels=channels, split="test")
            arrays.append(data.images[:limit - count])
        else:
            files = _files_of(path)[:limit - count]
            arrays.append(torch.from_numpy(np.stack([decode_image(f, channels, image_size) for f in files])))
        count += len(arrays[-1])
    return torch.cat(arrays)[:limit]


def picture(inputs: Tensor, outputs: Tensor, row: int = ROW) -> tuple[Tensor, list[str]]:
    """(images row by row, row labels): each row of inputs followed by the row of their reconstructions."""
    n = len(inputs)
    blank = torch.ones_like(inputs[:1])
    cells, labels = [], []
    for start in range(0, n, row):
        part_in, part_out = inputs[start:start + row], outputs[start:start + row]
        fill = blank.expand(row - len(part_in), *blank.shape[1:])
        cells += [part_in, fill, part_out, fill]
        labels += ["input", "VAE"]
    return torch.cat(cells), labels


def run(args: argparse.Namespace) -> int:
    """Reconstruct the images and write the picture and the arrays."""
    from ganforge.report import save_labeled_rows

    device = parse_device(args.device)
    players, info = load_players(args.model, device)
    encoder = encoder_of(players, info, args.model)
    decoder = players["generator"]
    channels, size = int(info.get("channels", 1)), int(info.get("image_size", 32))
    images = load_images(args.images, channels, size, args.n)
    png, npz = claim_outputs(picture_and_arrays(args.out), [Path(i) for i in args.images], force=args.force)
    outputs, codes = reconstruct(encoder, decoder, to_float(images), args.batch_size, args.sample, args.seed)
    cells, labels = picture(to_float(images), outputs)
    save_labeled_rows(cells, png, labels)
    recon = to_uint8(outputs)
    np.savez_compressed(npz, inputs=images.numpy(), reconstructions=recon.numpy(), codes=codes.numpy())
    mse = float((to_float(images) - outputs).square().mean())
    print(f"wrote {png} and {npz} ({len(images)} images, mean squared error {mse:.4f} on the [-1, 1] scale)")
    return 0
