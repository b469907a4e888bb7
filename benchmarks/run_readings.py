"""The command line of a script that reads run folders: RUN_DIR..., whole-number flags, --json, a markdown table."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.errors import GanforgeError  # noqa: E402


def main_over_runs(doc: str, read: Callable[..., dict], table: Callable[[list[dict]], str], runs_help: str,
                   numbers: dict[str, tuple[int, int, str]]) -> None:
    """Parse the command line, `read(run, **numbers)` each run folder, print `table` of the results, write them as JSON
    where --json names a file. `numbers` maps a flag's name to (default, least value, help); a value below its least,
    or a run folder `read` refuses, ends the script with one sentence."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help=runs_help)
    for name, (default, _, text) in numbers.items():
        parser.add_argument(f"--{name}", type=int, default=default, help=text)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    values = {name: getattr(args, name) for name in numbers}
    for name, (_, least, _) in numbers.items():
        if values[name] < least:
            raise SystemExit(f"--{name} {values[name]}: expected a whole number of at least {least}.")
    try:
        results = [read(run, **values) for run in args.runs]
    except GanforgeError as error:
        raise SystemExit(str(error)) from None
    print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
