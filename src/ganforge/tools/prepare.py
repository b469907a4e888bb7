"""`ganforge prepare`: decode a folder of images once into a prepared dataset that trains without loading it whole."""
from __future__ import annotations

import argparse

from ganforge import arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge prepare`."""
    parser.add_argument("folder", metavar="FOLDER", help="a folder of images (class sub-folders become labels; train/ and test/ splits)")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DATA",
                        help="the prepared folder to write (new or empty; the same command continues an interrupted one)")
    parser.add_argument("--size", required=True, type=arguments.positive_int, metavar="S", help="side of the square images, e.g. 64, 128, 256")
    parser.add_argument("--crop", choices=("center", "pad"), default="center",
                        help="non-square images: center (crop the central square, default) or pad (fit the whole image on black)")
    parser.add_argument("--channels", type=arguments.integer, choices=(1, 3), help="1 or 3 (default: 1 when every image is gray, else 3)")
    parser.add_argument("--split", choices=("train", "test"), default="train", help="which split of a folder with train/ and test/")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="leave out files that cannot be decoded (listed in prepared.json) instead of stopping at the first")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Prepare the folder and say what was written (and which files were left out)."""
    from ganforge.data.prepare import prepare_folder

    header = prepare_folder(args.folder, args.out, args.size, fit=args.crop, channels=args.channels, split=args.split,
                            skip_unreadable=args.skip_unreadable, progress=not args.no_progress)
    gib = header.count * header.row_bytes / 2**30
    classes = f", {len(header.class_names)} classes" if header.class_names else ""
    print(f"prepared {header.count} images ({header.channels}x{header.size}x{header.size} uint8, {gib:.2f} GiB{classes}) in {args.out}; "
          f"train with --data {args.out} --image-size {header.size}")
    if header.skipped:
        print(f"left out {len(header.skipped)} unreadable files:")
        for item in header.skipped[:20]:
            print(f"  {item['file']}: {item['reason']}")
        if len(header.skipped) > 20:
            print(f"  ... and {len(header.skipped) - 20} more (all listed in {args.out}/prepared.json)")
    return 0
