"""The run page's content, read from a run folder while it trains: metrics.jsonl, samples/, config.yaml."""
from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ganforge.errors import GanforgeError
from ganforge.runlog import number, read_metrics

CURVE_KEYS = ("loss_d", "loss_g", "d_real", "d_fake", "recon", "kl")


def is_run_dir(path: Path) -> bool:
    """Whether a folder looks like a training run (metrics.jsonl, config.yaml or samples/)."""
    return path.is_dir() and any((path / n).exists() for n in ("metrics.jsonl", "config.yaml", "samples"))


def find_runs(path: Path) -> list[Path]:
    """The run folder `path`, or the run folders directly inside it."""
    if is_run_dir(path):
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if is_run_dir(p))
    return []


@dataclass
class RunView:
    """What the run page shows at one moment."""

    step: int
    total: Optional[int]
    status: str
    curves: Optional[np.ndarray]
    sample: Optional[np.ndarray]
    sample_step: Optional[int]
    scores: str


CONFIG_BYTES = 1 << 20  #: a config.yaml larger than this is not one `ganforge train` wrote
SAMPLE_BYTES = 64 << 20  #: a sample grid file larger than this is not one `ganforge train` wrote
SAMPLE_PIXELS = 8192 * 8192  #: nor is a grid with more pixels than this


def _planned_total(run: Path) -> tuple[Optional[int], str]:
    """(the run's planned steps or None, a sentence when its config.yaml is malformed)."""
    import yaml

    path = run / "config.yaml"
    if not path.exists():
        return None, ""
    try:
        if not path.is_file() or path.stat().st_size > CONFIG_BYTES:
            raise ValueError("not a small file")
        cfg = yaml.safe_load(path.read_bytes().decode("utf-8"))
        if not isinstance(cfg, dict):
            raise ValueError(f"a {type(cfg).__name__}, not a mapping")
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) and not isinstance(exc, UnicodeDecodeError) else type(exc).__name__
        return None, f"Its config.yaml is malformed ({reason[:80]}); expected the file `ganforge train` wrote."
    steps = cfg.get("steps")
    return (int(steps) if isinstance(steps, (int, float)) and not isinstance(steps, bool) and math.isfinite(steps) else None), ""


def curves_picture(training: list[dict], width: float = 7.0) -> Optional[np.ndarray]:
    """A uint8 (H, W, 3) plot of the losses and mean D outputs over steps (None without records)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    if not training:
        return None
    def value(record: dict, key: str) -> float:
        v = number(record.get(key)) if key in record else None
        return math.nan if v is None else v

    keys = [k for k in CURVE_KEYS if any(not math.isnan(value(r, k)) for r in training)]
    fig = Figure(figsize=(width, 3.2), dpi=100)
    axes = fig.subplots(1, 2)
    steps = np.array([r["step"] for r in training], dtype=float)
    for key in keys:
        values = np.array([value(r, key) for r in training], dtype=float)
        ax = axes[1] if key in ("d_real", "d_fake") else axes[0]
        ax.plot(steps, values, label=key, linewidth=1)
    for ax, title in zip(axes, ("losses", "mean D outputs")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    from PIL import Image

    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


def _latest_sample(run: Path) -> tuple[Optional[np.ndarray], Optional[int], str]:
    """(the newest readable sample grid enlarged, its step, a sentence naming a newer grid that is malformed)."""
    from PIL import Image

    files = sorted((run / "samples").glob("step_*.png")) if (run / "samples").is_dir() else []
    note = ""
    for f in reversed(files):
        try:
            if not f.is_file() or f.stat().st_size > SAMPLE_BYTES:
                raise ValueError("not a small file")
            with Image.open(f) as im:
                if im.width * im.height > SAMPLE_PIXELS:
                    raise ValueError(f"{im.width}x{im.height} pixels")
                pixels = np.asarray(im.convert("RGB"))
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:  # malformed, or being written now
            if not note and f.stat().st_mtime < time.time() - 2:
                note = f"Sample {f.name} is malformed ({str(exc)[:60] or type(exc).__name__}); expected a PNG grid written by the run."
            continue
        scale = max(1, min(8, 512 // max(pixels.shape[:2])))
        try:
            step = int(f.stem.split("_")[-1])
        except ValueError:
            step = None
        return pixels.repeat(scale, 0).repeat(scale, 1), step, note
    return None, None, note


def _scores(events: list[dict]) -> str:
    rows = []
    for e in events:
        if e.get("event") != "eval":
            continue
        values = {k: v for k, v in e.items() if k not in ("event", "step", "time") and isinstance(number(v), float)}
        rows.append((e.get("step"), values))
    if not rows:
        return "No evaluation yet (train with `--eval-every N` to score the generator during training)."
    keys = sorted({k for _, v in rows for k in v})
    lines = ["| step | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 1)]
    for step, values in rows[-10:]:
        lines.append(f"| {step} | " + " | ".join(f"{values[k]:.3f}" if k in values else "" for k in keys) + " |")
    return "\n".join(lines)


def view_run(run: Path) -> RunView:
    """The run page's content now: latest step, curves, newest sample grid and evaluation scores."""
    if not run.is_dir():
        raise GanforgeError(f"Run folder {str(run)!r} does not exist; expected a folder written by `ganforge train`.")
    training, events = read_metrics(run / "metrics.jsonl")
    step = int(training[-1]["step"]) if training else 0
    total, config_note = _planned_total(run)
    finished = (run / "report.html").is_file()
    status = f"**{run.name}**: step {step}" + (f" of {total}" if total else "") + (" (finished)" if finished else " (training or stopped)")
    sample, sample_step, sample_note = _latest_sample(run)
    status += "".join(f"\n\n⚠ {note}" for note in (config_note, sample_note) if note)
    return RunView(step, total, status, curves_picture(training), sample, sample_step, _scores(events))
