"""Create a new run folder or reopen one to resume, resolving family defaults into the saved config."""
from __future__ import annotations

import re
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional

import yaml

from ganforge.atomic import check_writable_folder, write_text_atomic
from ganforge.config import TrainConfig, load_yaml, resolve_options
from ganforge.errors import GanforgeError
from ganforge.games.registry import get_family
from ganforge.train.checkpoint import Checkpoints


def fill_from_data(cfg: TrainConfig) -> tuple[TrainConfig, str]:
    """`cfg` with what the family works out from the data (e.g. image size, budget) filled in where the user left it
    unset, and the family's sentence saying what it picked ("" when nothing)."""
    family = get_family(cfg.model)
    if family.defaults_from_data is None:
        return cfg, ""
    values, note = family.defaults_from_data(replace(cfg, data=cfg.data or family.default_data))
    return replace(cfg, **values), note


def resolve_defaults(cfg: TrainConfig) -> TrainConfig:
    """Fill what the user left to the family (first what it works out from the data, then learning rates, data, loss,
    image size, batch, EMA, budget), validate options and refuse a run setting the family does not read."""
    family = get_family(cfg.model)
    cfg, _ = fill_from_data(cfg)
    options = resolve_options(family.options, cfg.options, cfg.model)
    family.refuse_unread(cfg, options)
    reads = family.keys_read(options)
    unset_rates = {key: family.default_lr for key in ("lr_g", "lr_d") if key in reads and getattr(cfg, key) is None}
    cfg = replace(cfg, **unset_rates, data=cfg.data or family.default_data,
                  loss=(cfg.loss or family.default_loss) if "loss" in reads else None,
                  image_size=cfg.image_size or family.default_image_size,
                  batch_size=cfg.batch_size or family.default_batch_size,
                  ema_decay=family.default_ema_decay if cfg.ema_decay is None else cfg.ema_decay)
    if cfg.steps is None and cfg.epochs is None and cfg.minutes is None:
        cfg = replace(cfg, steps=family.default_steps)
    budgets = [n for n in ("steps", "epochs", "minutes") if getattr(cfg, n) is not None]
    if len(budgets) > 1:
        raise GanforgeError(f"Budgets {', '.join(budgets)} were all given; expected exactly one of --steps, --epochs, --minutes.")
    cfg = replace(cfg, options=_plain(options.__dict__))
    cfg.validate()
    return cfg


def _plain(values: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def new_run(cfg: TrainConfig) -> tuple[TrainConfig, Path]:
    """Resolve `cfg`, create its run folder and write config.yaml; refuse to reuse an existing folder."""
    cfg = resolve_defaults(cfg)
    if cfg.name is None:
        data_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(str(cfg.data)).name or "data").strip("-")
        cfg = replace(cfg, name=f"{cfg.model}-{data_name}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = Path(cfg.out) / cfg.name
    check_writable_folder(Path(cfg.out), "--out to name a folder for run directories that you can write into")
    if run_dir.exists() or run_dir.is_symlink():
        raise GanforgeError(f"Run directory {str(run_dir)!r} already exists; expected a new --name or --resume {str(run_dir)!r}.")
    created = False
    try:
        run_dir.mkdir(parents=True)
        created = True
        write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    except OSError as exc:
        if created:  # a half-made run would block the same command run again
            shutil.rmtree(run_dir, ignore_errors=True)
        raise GanforgeError(f"Run directory {str(run_dir)!r} cannot be created ({exc.strerror or type(exc).__name__}); "
                            f"expected a writable --out folder.") from None
    return cfg, run_dir


def open_run(run_dir: Path, steps: Optional[int] = None, epochs: Optional[float] = None,
             minutes: Optional[float] = None) -> tuple[TrainConfig, Path, Optional[Path]]:
    """(config, run folder, latest checkpoint) of a run to resume; a new budget may replace the saved one.

    The checkpoint is None for a run stopped before its first one: it then starts again from step 0 with its
    saved config (what it logged before is superseded step by step, as after any resume).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise GanforgeError(f"Run directory {str(run_dir)!r} has no config.yaml; expected a folder made by `ganforge train`.")
    cfg = TrainConfig.from_dict(load_yaml(run_dir / "config.yaml"))
    if steps is not None or epochs is not None or minutes is not None:
        cfg = replace(cfg, steps=steps, epochs=epochs, minutes=minutes)
    cfg = resolve_defaults(cfg)
    return cfg, run_dir, Checkpoints(run_dir).latest()
