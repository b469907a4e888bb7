"""`ganforge export`: a run's exported generator (EMA weights when kept) as a standalone folder with a model card, and ONNX graphs with --onnx."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ganforge import arguments
from ganforge.atomic import write_folder_atomic
from ganforge.deploy.card import CARD, build_card, read_scores
from ganforge.deploy.kinds import export_kind
from ganforge.errors import GanforgeError
from ganforge.export import load_players, read_config, run_export_dir, write_players
from ganforge.tools.outputs import claim_outputs

GRID = "samples.png"
GRID_KINDS = ("noise", "stylegan", "vae")  #: kinds whose card shows a grid drawn from noise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge export`."""
    parser.add_argument("run", metavar="RUN", help="run folder made by `ganforge train`")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR", help="new folder for the exported model")
    parser.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                        help="which of the run's generators: the latest step checkpoint's (default) or the best evaluation's (--eval-every)")
    parser.add_argument("--onnx", action="store_true", help="also write ONNX graphs, checked against PyTorch (extra: ganforge[onnx])")
    parser.add_argument("--scores", action="append", default=[], metavar="JSON",
                        help="an eval JSON (`ganforge eval --json`) to show on the model card; may be repeated")


def _grid(players: dict, info: dict, kind: str, folder: Path) -> str | None:
    """Write a grid of 64 samples (seed 0) for noise kinds; its file name, or None."""
    if kind not in GRID_KINDS:
        return None
    import torch

    from ganforge.report import save_grid
    from ganforge.sampling import iter_samples

    images = torch.cat(list(iter_samples(players["generator"], 64, seed=0, batch_size=64, device=torch.device("cpu"))))
    save_grid(images, folder / GRID)
    return GRID


def run(args: argparse.Namespace) -> int:
    """Check the run's export loads, then write it, its card (and its ONNX graphs) to --out, whole or not at all."""
    source = run_export_dir(args.run, None if args.checkpoint == "latest" else args.checkpoint)
    if not Path(args.run).is_dir():
        raise GanforgeError(f"Run folder {args.run!r} does not exist; expected a folder made by `ganforge train`.")
    if not (source / "config.json").is_file() and (Path(args.run) / "config.json").is_file():
        raise GanforgeError(f"Folder {args.run!r} is an exported model already; expected a run folder made by `ganforge train` (copy the folder instead).")
    if not (source / "config.json").is_file():
        expected = ("a run trained with --eval-every, which exports its best evaluation's generator there" if args.checkpoint == "best"
                    else "a run with at least one checkpoint")
        raise GanforgeError(f"Run folder {args.run!r} has no {source.name}/ yet; expected {expected}.")
    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GanforgeError(f"Output {str(out)!r} already exists and is not empty; expected a new folder.")
    if args.onnx:
        from ganforge.deploy.extra import require

        for module in ("onnx", "onnxruntime", "onnxscript"):
            require(module)
    for path in args.scores:
        read_scores(Path(path))
    claim_outputs([out / "config.json"])  # its parent folders can be made and written into
    players, info = load_players(source)
    entries = read_config(source)["players"]
    kind = export_kind(info)

    def fill(tmp: Path) -> None:
        write_players(players, info, tmp)
        manifest = None
        if args.onnx:
            from ganforge.deploy.onnx_export import write_onnx

            manifest = write_onnx(kind, players, entries, info, tmp)
        grid = _grid(players, info, kind, tmp)
        card = build_card(info, kind, Path(args.run), [Path(p) for p in args.scores], manifest, grid)
        (tmp / CARD).write_text(card)

    if out.is_dir():
        shutil.rmtree(out)
    write_folder_atomic(out, fill)
    print(f"exported {', '.join(players)} to {out}" + (" with ONNX graphs" if args.onnx else ""))
    return 0
