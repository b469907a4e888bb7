"""`ganforge report`: rebuild a run's curves, GIF and report.html (e.g. for a run stopped early)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ganforge.errors import GanforgeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge report`."""
    parser.add_argument("run", metavar="RUN_DIR", help="run folder made by `ganforge train`")


def run(args: argparse.Namespace) -> int:
    """Write the report and print where it is."""
    from ganforge.report import build_run_report

    if not (Path(args.run) / "config.yaml").is_file():
        raise GanforgeError(f"Run folder {args.run!r} has no config.yaml; expected a folder made by `ganforge train`.")
    print(f"wrote {build_run_report(Path(args.run))}")
    return 0
