"""`ganforge theory RUN --out DIR`: the theory figures of a toy run, or the mode count of a Stacked-MNIST run.

A toy run (`--model toy`) gives D(x) against the optimal D*(x) at each snapshot (PNGs and a GIF),
D → ½, the minimax loss's saturation and the VEEGAN/PacGAN mode counts; it reads the run's
snapshots/ (written by ganforge.report.snapshots.Snapshots) or, without them, its export/ alone.
A Stacked-MNIST run gives modes covered of 1,000 and KL to uniform over 26,000 samples.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ganforge import arguments
from ganforge.atomic import write_json_atomic
from ganforge.errors import GanforgeError
from ganforge.export import load_generator, resolve_model_dir
from ganforge.kinds import kind_of
from ganforge.report.gif import pick_frames
from ganforge.report.snapshots import snapshot_dirs
from ganforge.runlog import read_metrics
from ganforge.theory.analysis import analyse_snapshot, mixture_of
from ganforge.theory.figures import write_theory_report
from ganforge.theory.modes import STACKED_SAMPLES, generator_stacked_modes
from ganforge.tools.outputs import add_force, claim_outputs, output_folder

TOY_OUTPUTS = ("theory.json", "d_vs_dstar.gif", "d_vs_dstar.png", "d_half.png", "saturation.png")  #: a toy run's figures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge theory`."""
    parser.add_argument("run", metavar="RUN", help="run folder of a toy run (or of a stacked-mnist run)")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR", help="folder for the figures and theory.json")
    parser.add_argument("--resolution", type=arguments.positive_int, default=120, help="grid points per axis for D and D* (default 120)")
    parser.add_argument("--bandwidth", type=arguments.positive_float, help="KDE bandwidth for p_g (default: Scott's rule per snapshot)")
    parser.add_argument("--raw-data", action="store_true",
                        help="use the exact p_data in D* (default: p_data convolved with the KDE kernel, like p_g)")
    parser.add_argument("--max-frames", type=arguments.positive_int, default=24, help="snapshots drawn at most, evenly spread (default 24)")
    parser.add_argument("--n", type=arguments.positive_int, default=STACKED_SAMPLES, help="samples for Stacked MNIST (default 26,000)")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    add_force(parser)


def theory_of_toy_run(run: Path, out: Path, resolution: int = 120, bandwidth: float | None = None,
                      smooth_data: bool = True, max_frames: int = 24, seed: int = 0) -> dict:
    """Analyse a toy run's snapshots (or its export) and write every theory figure; returns theory.json's content."""
    folders = snapshot_dirs(run) or [resolve_model_dir(run)]
    folders = [folders[i] for i in pick_frames(len(folders), max(1, max_frames))]
    frames = [analyse_snapshot(f, resolution, seed=seed, bandwidth=bandwidth, smooth_data=smooth_data) for f in folders]
    _, info = load_generator(folders[-1])
    mixture = mixture_of(info)
    records, _ = read_metrics(run / "metrics.jsonl")
    write_theory_report(frames, mixture.mean_tensor().numpy(), mixture.sigma, out, records,
                        title=f"{mixture.name}, {info.get('loss', '?')}, pack {info.get('pack', 1)}: ")
    return json.loads((out / "theory.json").read_text())


def run(args: argparse.Namespace) -> int:
    """Draw the figures of a toy run or count the modes of a Stacked-MNIST run."""
    run_dir, out = Path(args.run), Path(args.out)
    if args.resolution < 8:
        raise GanforgeError(f"Resolution {args.resolution} is too small; expected at least 8 grid points per axis.")
    generator, info = load_generator(run_dir)
    if kind_of(info).name == "points":
        claim_outputs([output_folder(out) / name for name in TOY_OUTPUTS], force=args.force)
        result = theory_of_toy_run(run_dir, out, args.resolution, args.bandwidth, not args.raw_data, args.max_frames, args.seed)
        last = result["snapshots"][-1]
        print(f"step {last['step']}: modes {last['modes_modes']}/{last['modes_num_modes']}, high quality "
              f"{100 * last['modes_high_quality']:.1f}%, reverse KL {last['modes_reverse_kl']:.3f}, "
              f"E D(x) {last['d_on_data']:.3f}, E D(G(z)) {last['d_on_fake']:.3f}; figures in {out}")
        return 0
    if str(info.get("data", "")).lower().replace("_", "-") != "stacked-mnist":
        raise GanforgeError(f"Run {str(run_dir)!r} trained on {info.get('data')!r}; expected a toy run (--model toy) "
                            "or a stacked-mnist run.")
    claim_outputs([output_folder(out) / "modes.json"], force=args.force)
    report = generator_stacked_modes(generator, args.n, args.seed)
    write_json_atomic(out / "modes.json", report.as_dict())
    print(f"stacked-mnist: modes {report.modes}/1000, KL to uniform {report.reverse_kl:.3f} over {report.samples} samples")
    return 0
