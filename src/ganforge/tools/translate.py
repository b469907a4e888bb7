"""`ganforge translate`: translate image files with an exported CycleGAN model, one way or the other.

Writes one PNG per input (same stem) into the output folder, and `grid.png`: one row per input
(up to --grid-rows) showing input, translation and reconstruction (the translation taken back).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor, nn

from ganforge.data.dataset import to_float, to_uint8
from ganforge.data.images import IMAGE_SUFFIXES, decode_image, is_image_file, read_header
from ganforge.errors import GanforgeError
from ganforge.export import load_players

DIRECTIONS = ("a2b", "b2a")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge translate`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported CycleGAN model folder or run folder")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    parser.add_argument("--direction", choices=DIRECTIONS, default="a2b",
                        help="a2b (default) translates domain A images into B; b2a the reverse")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the translated images and grid.png")
    parser.add_argument("--size", type=int, default=None,
                        help="square side images are resized (and center-cropped) to; default: the model's "
                             "training size; 0: each image's own size (rounded down to what the model accepts)")
    parser.add_argument("--grid-rows", type=int, default=16, help="inputs shown in grid.png (default 16; 0: no grid)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")


def collect_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """The image files named, folders expanded to their image files (sorted, not recursive)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p))
            if not found:
                raise GanforgeError(f"Folder {str(item)!r} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}.")
            files += found
        elif path.is_file():
            if not is_image_file(path):
                raise GanforgeError(f"Input {str(item)!r} is not an image file; expected a name ending in {', '.join(IMAGE_SUFFIXES)}.")
            files.append(path)
        else:
            raise GanforgeError(f"Input {str(item)!r} does not exist; expected an image file or a folder of images.")
    if not files:
        raise GanforgeError("No input images were given; expected image files or folders.")
    return files


def translation_pair(players: dict[str, nn.Module], info: dict, direction: str, where: str) -> tuple[nn.Module, nn.Module]:
    """(forward, backward) translators of an exported model for `direction` ("a2b" or "b2a")."""
    if info.get("kind") != "translation":
        raise GanforgeError(f"Model {where!r} is a {info.get('family', 'noise')!r} model, not a translation model; "
                            "expected one trained with --model cyclegan.")
    if direction not in DIRECTIONS:
        raise GanforgeError(f"Direction {direction!r} is unknown; expected a2b or b2a.")
    names = info.get("directions", {"a2b": "generator", "b2a": "generator_b2a"})
    other = "b2a" if direction == "a2b" else "a2b"
    try:
        return players[names[direction]], players[names[other]]
    except KeyError:
        raise GanforgeError(f"Model {where!r} lacks a translator for {direction} or {other}; expected both exported.") from None


def _side(path: Path, size: Optional[int], default: int, multiple: int) -> int:
    """The square side an input is translated at."""
    if size is None:
        return default
    if size == 0:
        header = read_header(path)
        side = min(header.width, header.height) // multiple * multiple
        if side < multiple:
            raise GanforgeError(f"Image {str(path)!r} is {header.width}x{header.height}; expected at least {multiple} px a side.")
        return side
    return size


def _output_names(files: Sequence[Path]) -> list[str]:
    """A distinct PNG name per input: its stem, with -2, -3... when stems repeat."""
    seen: dict[str, int] = {}
    names = []
    for f in files:
        count = seen.get(f.stem, 0) + 1
        seen[f.stem] = count
        names.append(f"{f.stem}.png" if count == 1 else f"{f.stem}-{count}.png")
    return names


@torch.no_grad()
def translate_images(forward: nn.Module, backward: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """(translations, reconstructions) in [-1, 1] of float images in [-1, 1]."""
    translated = forward(images).float().clamp_(-1, 1)
    return translated, backward(translated).float().clamp_(-1, 1)


def translate_files(model: str | Path, inputs: Sequence[str | Path], out: str | Path, direction: str = "a2b",
                    size: Optional[int] = None, grid_rows: int = 16, batch_size: int = 32,
                    device: str = "cpu") -> list[Path]:
    """Translate image files (or folders of them) and write PNGs and grid.png into `out`; return the PNGs."""
    from ganforge.report.grid import save_grid, save_image, to_pil

    if size is not None and size < 0:
        raise GanforgeError(f"Size {size} is invalid; expected a positive side, 0 (own size) or none (the model's).")
    if batch_size < 1 or grid_rows < 0:
        raise GanforgeError(f"Batch size {batch_size} / grid rows {grid_rows} are invalid; expected >= 1 and >= 0.")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise GanforgeError(f"Output {str(out)!r} is a file; expected a folder (new or existing).")
    players, info = load_players(model, device)
    forward, backward = translation_pair(players, info, direction, str(model))
    channels = int(info.get("channels", 3))
    multiple = int(info.get("size_multiple", 4))
    default = int(info.get("image_size", 256))
    if size is not None and size > 0 and size % multiple:
        raise GanforgeError(f"Size {size} does not suit this model; expected a multiple of {multiple}.")
    files = collect_inputs(inputs)
    names = _output_names(files)
    sides = [_side(f, size, default, multiple) for f in files]
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = [out / name for name in names]
    in_grid = set([i for i, s in enumerate(sides) if s == sides[0]][:grid_rows])  # a grid needs one size
    shown: list[tuple[int, Tensor]] = []
    for side in sorted(set(sides)):  # one forward pass per batch of same-sized inputs
        index = [i for i, s in enumerate(sides) if s == side]
        for start in range(0, len(index), batch_size):
            part = index[start:start + batch_size]
            pixels = torch.stack([torch.tensor(decode_image(files[i], channels, side)) for i in part])
            images = to_float(pixels).to(device)
            translated, reconstructed = translate_images(forward, backward, images)
            for j, i in enumerate(part):
                save_image(to_pil(to_uint8(translated[j]).permute(1, 2, 0).cpu().numpy()), written[i])
                if i in in_grid:
                    shown.append((i, torch.stack([images[j], translated[j], reconstructed[j]]).cpu()))
    if grid_rows and shown:
        rows = [row for _, row in sorted(shown, key=lambda item: item[0])]
        save_grid(torch.cat(rows), out / "grid.png", nrow=3)
    return written


def run(args: argparse.Namespace) -> int:
    """Translate and say where the results are."""
    written = translate_files(args.model, args.inputs, args.out, args.direction, args.size, args.grid_rows,
                              args.batch_size, args.device)
    grid = Path(args.out) / "grid.png"
    extra = f" and {grid}" if grid.is_file() else ""
    print(f"wrote {len(written)} translated image(s) ({args.direction}) to {args.out}{extra}")
    return 0
