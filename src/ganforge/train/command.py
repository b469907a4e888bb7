"""`ganforge train`: train a family on a dataset into runs/<name>/, or resume a run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ganforge import arguments
from ganforge.config import TrainConfig, load_yaml, parse_assignment
from ganforge.errors import GanforgeError
from ganforge.games.registry import family_names, get_family

_FIELDS = {  # flag -> config field, for the common knobs with their own flags
    "model": "model", "data": "data", "loss": "loss", "steps": "steps", "epochs": "epochs",
    "minutes": "minutes", "batch_size": "batch_size", "seed": "seed", "out": "out", "name": "name",
    "image_size": "image_size", "channels": "channels", "device": "device", "precision": "precision",
    "eval_every": "eval_every",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge train`."""
    families = [get_family(name) for name in family_names()]
    parser.add_argument("--model", help=f"family: {', '.join(f.name for f in families)} (default {TrainConfig.model})")
    defaults = ", ".join(f"{f.name} {f.default_data}" for f in families)
    parser.add_argument("--data", help=f"mnist, fashion-mnist, a folder of images, or the family's own kind of data "
                        f"(docs/data.md); default per family: {defaults}")
    losses = ", ".join(f"{f.name} {f.default_loss}" for f in families if f.default_loss)
    lossless = ", ".join(f.name for f in families if not f.default_loss)
    parser.add_argument("--loss", help=f"adversarial loss (an unknown name is answered with the known ones); "
                        f"default per family: {losses}" + (f" ({lossless}: none, it reads no loss)" if lossless else ""))
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=arguments.positive_int, help="training rounds (one generator update each)")
    budget.add_argument("--epochs", type=arguments.positive_float, help="passes over the data")
    budget.add_argument("--minutes", type=arguments.positive_float, help="wall-clock minutes, total over resumes")
    parser.add_argument("--batch-size", type=arguments.positive_int)
    parser.add_argument("--seed", type=arguments.seed)
    parser.add_argument("--out", type=arguments.output_path, help="parent folder of runs (default runs)")
    parser.add_argument("--name", help="run folder name (default <model>-<data>-<time>)")
    parser.add_argument("--image-size", type=arguments.positive_int)
    parser.add_argument("--channels", type=arguments.positive_int)
    parser.add_argument("--device", type=arguments.device_setting, help="auto (default), cpu, cuda, cuda:N")
    parser.add_argument("--precision", help="auto (default), fp32, bf16")
    parser.add_argument("--eval-every", type=arguments.non_negative_int, metavar="N",
                        help="score the EMA generator every N steps (eval_n samples, eval_metrics; super-resolution: Y-PSNR and "
                             "HF ratio beside bicubic, eval_data, eval_psnr_cost) and keep the best")
    parser.add_argument("--config", help="YAML file of config values (flags override it)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any config value, e.g. --set lr_g=1e-4 --set ema_decay=0 (repeatable)")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a family option, e.g. --option width=32 (repeatable)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue this run to its total (or a new budget)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the --config file, then --set values, then flags; validated."""
    values: dict = load_yaml(args.config) if args.config else {}
    for text in args.set:
        key, value = parse_assignment(text)
        values[key] = value
    options = values.get("options") or {}
    if not isinstance(options, dict):
        raise GanforgeError(f"Config value options={options!r} is invalid; expected a mapping of family options (use --option KEY=VALUE).")
    options = dict(options)
    for text in args.option:
        key, value = parse_assignment(text)
        options[key] = value
    values["options"] = options
    for flag, field in _FIELDS.items():
        value = getattr(args, flag)
        if value is not None:
            values[field] = value
    return TrainConfig.from_dict(values)


_BUDGET = ("steps", "epochs", "minutes")


def run(args: argparse.Namespace) -> int:
    """Train (or resume) and print where the run lives, with the referee's warning if it gave one."""
    from ganforge.runlog import read_metrics
    from ganforge.train.api import train
    from ganforge.train.distributed import leave_process_group
    from ganforge.train.guard import WARNING
    from ganforge.train.stop import TrainingStopped

    if args.resume:
        given = [f"--{flag.replace('_', '-')}" for flag in _FIELDS if flag not in _BUDGET and getattr(args, flag) is not None]
        given += [f"--{flag}" for flag in ("config", "set", "option") if getattr(args, flag)]
        if given:
            raise GanforgeError(f"Options {' '.join(given)} cannot change a resumed run (it keeps its saved config.yaml); "
                                f"expected only a new budget (--steps, --epochs or --minutes) with --resume.")
    cfg = config_from_args(args)
    if not args.resume:
        from ganforge.train.run_dir import fill_from_data

        cfg, note = fill_from_data(cfg)
        if note:
            print(note)
    try:
        run_dir = train(cfg, resume=Path(args.resume) if args.resume else None, progress=not args.no_progress)
    except TrainingStopped as stopped:
        print(f"ganforge train: {stopped}", file=sys.stderr)
        return stopped.exit_code
    leave_process_group()  # the run is saved: under torchrun, leave the process group before exiting
    warnings = [e for e in read_metrics(run_dir / "metrics.jsonl")[1] if e.get("event") == WARNING]
    print(f"run saved in {run_dir}" + (f" (warning: {warnings[-1].get('message')})" if warnings else ""))
    return 0
