"""`ganforge translate`: translate image files with an exported translation model (CycleGAN or pix2pix).

Writes one PNG per input (same stem) into the output folder, and `grid.png`: one row per input
(up to --grid-rows). For CycleGAN a row shows input, translation and reconstruction (the translation
taken back); for pix2pix input, output and, when targets are given (`--targets DIR`, files matched by
name, or `--aligned` inputs holding A|B side by side), the target.
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ganforge import arguments
from ganforge.data.dataset import to_float, to_uint8
from ganforge.data.images import decode_image, is_image_file, read_header
from ganforge.data.paired import decode_halves
from ganforge.errors import GanforgeError
from ganforge.export import load_players
from ganforge.sampling import check_pass_fits
from ganforge.tools.checks import collect_inputs
from ganforge.tools.outputs import add_force, claim_outputs, output_folder, removed_on_failure
from ganforge.translation import DIRECTIONS, translate_images, translation_pair


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge translate`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported translation model folder, or run folder")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    parser.add_argument("--direction", choices=DIRECTIONS, default="a2b",
                        help="a2b (default) translates domain A images into B; b2a the reverse")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR", help="folder for the translated images and grid.png")
    parser.add_argument("--size", type=arguments.non_negative_int, default=None,
                        help="square side images are resized (and center-cropped) to; default: the model's "
                             "training size; 0: each image's own size (rounded down to what the model accepts)")
    parser.add_argument("--grid-rows", type=arguments.non_negative_int, default=16, help="inputs shown in grid.png (default 16; 0: no grid)")
    parser.add_argument("--targets", metavar="DIR", help="paired models: folder of target images, matched to inputs by name "
                        "without suffix; the grid then shows input | output | target")
    parser.add_argument("--aligned", action="store_true", help="paired models: each input holds A and B side by side "
                        "(A left, translated; B right, the target)")
    parser.add_argument("--seed", type=arguments.seed, default=0, help="seed of the generator's dropout noise (paired models)")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=32)
    parser.add_argument("--device", type=arguments.device, default="cpu")
    add_force(parser)


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


def match_targets(files: Sequence[Path], targets: str | Path) -> list[Path]:
    """The file in `targets` named like each input (without suffix); an error naming the first input without one."""
    folder = Path(targets).expanduser()
    if not folder.is_dir():
        raise GanforgeError(f"Targets {str(targets)!r} is not a folder; expected a folder of target images named like the inputs.")
    by_stem: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and is_image_file(p):
            by_stem.setdefault(p.stem, p)
    missing = [f for f in files if f.stem not in by_stem]
    if missing:
        raise GanforgeError(f"Input {str(missing[0])!r} has no target in {str(folder)!r}; expected an image named {missing[0].stem!r}.")
    return [by_stem[f.stem] for f in files]


def _as_channels(images: Tensor, channels: int) -> Tensor:
    return images.expand(-1, channels, -1, -1) if images.shape[1] != channels else images


def translate_files(model: str | Path, inputs: Sequence[str | Path], out: str | Path, direction: str = "a2b",
                    size: Optional[int] = None, grid_rows: int = 16, batch_size: int = 32, device: str = "cpu",
                    targets: str | Path | None = None, aligned: bool = False, seed: int = 0,
                    force: bool = False) -> list[Path]:
    """Translate image files (or folders of them) and write PNGs and grid.png into `out`; return the PNGs."""
    from ganforge.report.grid import save_grid, save_image, to_pil

    if size is not None and size < 0:
        raise GanforgeError(f"Size {size} is invalid; expected a positive side, 0 (own size) or none (the model's).")
    if batch_size < 1 or grid_rows < 0:
        raise GanforgeError(f"Batch size {batch_size} / grid rows {grid_rows} are invalid; expected >= 1 and >= 0.")
    if targets is not None and aligned:
        raise GanforgeError("Both --targets and --aligned were given; expected at most one source of targets.")
    out = output_folder(Path(out))
    players, info = load_players(model, device)
    forward, backward = translation_pair(players, info, direction, str(model))
    if backward is not None and (targets is not None or aligned):
        raise GanforgeError(f"Model {str(model)!r} is an unpaired translation model; expected --targets and --aligned only with a paired one.")
    channels = int(info.get("channels", 3))
    in_channels = int(info.get("in_channels") or channels)
    multiple = int(info.get("size_multiple", 4))
    default = int(info.get("image_size", 256))
    if size is not None and size > 0 and size % multiple:
        raise GanforgeError(f"Size {size} does not suit this model; expected a multiple of {multiple}.")
    if aligned and size == 0:
        raise GanforgeError("Size 0 (each image's own) is not available with --aligned; expected a side or the model's size.")
    files = collect_inputs(inputs)
    target_files = match_targets(files, targets) if targets is not None else None
    names = _output_names(files)
    sides = [_side(f, size, default, multiple) for f in files]
    check_pass_fits(forward, min(batch_size, len(files)), max(sides), max(sides), torch.device(device),
                    "Translation", "a smaller --size, or --batch-size")
    written: list[Path] = [out / name for name in names]
    claim_outputs(written + ([out / "grid.png"] if grid_rows else []), files + (target_files or []), force=force)
    in_grid = set([i for i, s in enumerate(sides) if s == sides[0]][:grid_rows])  # a grid needs one size
    shown: list[tuple[int, list[Tensor]]] = []
    torch.manual_seed(seed)  # a pix2pix generator keeps its dropout noise on when sampling
    for side in sorted(set(sides)):  # one forward pass per batch of same-sized inputs
        index = [i for i, s in enumerate(sides) if s == side]
        for start in range(0, len(index), batch_size):
            part = index[start:start + batch_size]
            wanted = None
            if aligned:
                halves = [decode_halves(files[i], in_channels, side) for i in part]
                pixels = torch.stack([torch.tensor(h[0]) for h in halves])
                wanted = torch.stack([torch.tensor(decode_halves(files[i], channels, side)[1]) for i in part])
            else:
                pixels = torch.stack([torch.tensor(decode_image(files[i], in_channels, side)) for i in part])
                if target_files is not None:
                    wanted = torch.stack([torch.tensor(decode_image(target_files[i], channels, side)) for i in part])
            images = to_float(pixels).to(device)
            translated, reconstructed = translate_images(forward, backward, images)
            for j, i in enumerate(part):
                with removed_on_failure([written[i]]):  # no truncated file left by a full disk or Ctrl-C
                    save_image(to_pil(to_uint8(translated[j]).permute(1, 2, 0).cpu().numpy()), written[i])
                if i in in_grid:
                    row = [images[j], translated[j]]
                    if reconstructed is not None:
                        row.append(reconstructed[j])
                    elif wanted is not None:
                        row.append(to_float(wanted[j]).to(device))
                    shown.append((i, [r.cpu() for r in row]))
    if grid_rows and shown:
        width = max(r.shape[0] for _, row in shown for r in row)
        rows = [torch.stack([_as_channels(r[None], width)[0] for r in row]) for _, row in sorted(shown, key=lambda item: item[0])]
        with removed_on_failure([out / "grid.png"]):
            save_grid(torch.cat(rows), out / "grid.png", nrow=rows[0].shape[0])
    return written


def run(args: argparse.Namespace) -> int:
    """Translate and say where the results are."""
    written = translate_files(args.model, args.inputs, args.out, args.direction, args.size, args.grid_rows,
                              args.batch_size, args.device, targets=getattr(args, "targets", None),
                              aligned=getattr(args, "aligned", False), seed=getattr(args, "seed", 0),
                              force=getattr(args, "force", False))
    grid = Path(args.out) / "grid.png"
    extra = f" and {grid}" if grid.is_file() else ""
    print(f"wrote {len(written)} translated image(s) ({args.direction}) to {args.out}{extra}")
    return 0
