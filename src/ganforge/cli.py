"""The `ganforge` command: each subcommand is a thin shell over the library."""
from __future__ import annotations

import argparse
import errno
import importlib
import sys
from collections.abc import Sequence
from typing import Optional

from ganforge.arguments import Invalid
from ganforge.errors import GanforgeError

# subcommand -> (module with add_arguments/run, one-line help)
COMMANDS = {
    "train": ("ganforge.train.command", "train a family (listed by `ganforge train --help`) on a dataset, or resume a run"),
    "prepare": ("ganforge.tools.prepare", "decode a folder of images once into a prepared dataset read batch by batch"),
    "sample": ("ganforge.tools.sample", "write a grid and a .npz of generated images"),
    "export": ("ganforge.tools.export_run", "copy a run's generator to a standalone model folder"),
    "eval": ("ganforge.tools.eval", "score generated images: FD, KID, IS, precision/recall"),
    "translate": ("ganforge.tools.translate", "translate images with an image-to-image (translation) model"),
    "upscale": ("ganforge.tools.upscale", "upscale images with a super-resolution model, tile by tile"),
    "reconstruct": ("ganforge.tools.reconstruct", "encode and reconstruct images with a model that has an encoder"),
    "compare": ("ganforge.tools.compare", "compare models: samples side by side and a score table"),
    "report": ("ganforge.tools.report", "rebuild a run's curves, GIF and HTML report"),
    "mix": ("ganforge.tools.mix", "style-mixing grid of a model with a w space"),
    "interpolate": ("ganforge.tools.interpolate", "z- and w-space interpolation strips and GIF of a model with a w space"),
    "serve": ("ganforge.tools.serve", "a page in the browser to look at and steer models and follow runs"),
    "directions": ("ganforge.tools.directions", "find latent directions (SeFa, GANSpace PCA) of a noise model"),
    "edit": ("ganforge.tools.edit", "move generated or projected images along a latent direction (strip, GIF)"),
    "project": ("ganforge.tools.project", "project an image into the w (and W+) of a model with a w space, to edit it"),
    "theory": ("ganforge.tools.theory", "D vs D*, saturation and mode figures of a 2-D points run; Stacked-MNIST mode count"),
}


class Parser(argparse.ArgumentParser):
    """An argument parser that refuses bad arguments with one `GanforgeError` sentence instead of usage text and exit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **{**kwargs, "exit_on_error": False})

    def parse_known_args(self, args=None, namespace=None):
        """The parsed arguments; a value refused by its type (`tools.checks`) or by argparse is one sentence."""
        try:
            return super().parse_known_args(args, namespace)
        except argparse.ArgumentError as exc:
            cause = exc.__context__
            if isinstance(cause, Invalid):
                raise GanforgeError(cause.sentence(exc.argument_name)) from None
            raise GanforgeError(f"Option {exc.argument_name}: {exc.message}.") from None

    def error(self, message: str):
        """Refuse the command line in one sentence (argparse calls this for missing or unknown arguments)."""
        raise GanforgeError(f"{message[:1].upper()}{message[1:]}; expected the arguments of `{self.prog} --help`.")


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The argument parser with every available subcommand."""
    parser = Parser(prog="ganforge", description="Train, measure and use GANs for images.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue  # this build has no such command
            raise
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
        modules[name] = module
    return parser, modules


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; errors at the edges become one sentence and exit status 2."""
    parser, modules = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except GanforgeError as exc:
        command = next((a for a in argv if not a.startswith("-")), "")
        print(f"ganforge{' ' + command if command in modules else ''}: error: {exc}", file=sys.stderr)
        return 2
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(modules[args.command].run(args) or 0)
    except GanforgeError as exc:
        print(f"ganforge {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" while writing {exc.filename!r}" if exc.filename else ""
        print(f"ganforge {args.command}: error: The disk is full{where}; expected free space (nothing half-written was "
              "kept: run the command again once there is room).", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganforge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
