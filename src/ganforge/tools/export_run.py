"""`ganforge export`: copy a run's exported generator (EMA weights when kept) to a folder."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ganforge.errors import GanforgeError
from ganforge.export import load_players, save_players
from ganforge.tools.outputs import claim_outputs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge export`."""
    parser.add_argument("run", metavar="RUN", help="run folder made by `ganforge train`")
    parser.add_argument("--out", required=True, metavar="DIR", help="new folder for the exported model")


def run(args: argparse.Namespace) -> int:
    """Check the run's export loads, then write it to --out (which must not exist or be empty)."""
    source = Path(args.run) / "export"
    if not Path(args.run).is_dir():
        raise GanforgeError(f"Run folder {args.run!r} does not exist; expected a folder made by `ganforge train`.")
    if not (source / "config.json").is_file() and (Path(args.run) / "config.json").is_file():
        raise GanforgeError(f"Folder {args.run!r} is an exported model already; expected a run folder made by `ganforge train` (copy the folder instead).")
    if not (source / "config.json").is_file():
        raise GanforgeError(f"Run folder {args.run!r} has no export/ yet; expected a run with at least one checkpoint.")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(f"Output {str(out)!r} already exists and is not empty; expected a new folder.")
    claim_outputs([out / "config.json"])  # its parent folders can be made and written into
    if out.is_dir():
        shutil.rmtree(out)
    players, info = load_players(source)
    save_players(players, info, out)
    print(f"exported {', '.join(players)} to {out}")
    return 0
