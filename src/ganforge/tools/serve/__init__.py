"""`ganforge serve`: a page in the browser to look at and steer models and to follow runs as they train.

Needs the optional extra `ganforge[serve]` (Gradio).  Each argument is an exported model, a run folder
(its export is served as a model and its logs as a run page) or a folder of runs.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganforge import arguments
from ganforge.errors import GanforgeError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge serve`."""
    parser.add_argument("paths", nargs="+", metavar="RUN_OR_MODEL", help="exported model folders, run folders or folders of runs")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=arguments.port, default=7860, help="port (default 7860)")


def open_library(paths: list[str]):
    """A Library with every model and run the paths name, or a one-sentence error for a path that holds neither."""
    from ganforge.tools.serve.app import Library
    from ganforge.tools.serve.runs import find_runs, is_run_dir

    library = Library()
    for path in paths:
        p = Path(path).expanduser()
        if not p.exists():
            raise GanforgeError(f"Path {path!r} does not exist; expected an exported model, a run folder or a folder of runs.")
        before = (len(library.models), len(library.runs))
        try:
            library.open(str(p))
        except GanforgeError:
            if not find_runs(p):
                raise
        for run in [] if is_run_dir(p) else find_runs(p):
            if (run / "export" / "config.json").is_file():
                library.open(str(run))
        if (len(library.models), len(library.runs)) == before:
            raise GanforgeError(f"Path {path!r} holds no model and no run; expected an exported model, a run folder or a folder of runs.")
    return library


def run(args: argparse.Namespace) -> int:
    """Serve the page until interrupted."""
    if args.host in ("0.0.0.0", "::", ""):
        print(f"ganforge serve: warning: listening on all interfaces ({args.host or '0.0.0.0'}); anyone who can reach this "
              "machine can use the page and open folders on it.", file=sys.stderr)
    library = open_library(args.paths)
    from ganforge.tools.serve.app import launch

    print(f"serving {len(library.models)} model(s) and {len(library.runs)} run(s) at http://{args.host}:{args.port}/ (Ctrl-C stops)")
    launch(library, args.host, args.port, block=True)
    return 0
