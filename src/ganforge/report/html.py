"""report.html: one page summing up a run folder — config, latest samples, GIF, curves, evaluation scores."""
from __future__ import annotations

import base64
import html
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Optional, Union
from urllib.parse import quote

import numpy as np
import yaml
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.report.curves import SCORE_TITLES, moving_average, plot_curves, score_events, series, smoothing_window
from ganforge.runlog import read_metrics

#: Images up to this size are embedded in the page (base64); larger ones are linked relative to the run folder.
EMBED_LIMIT_BYTES = 8 * 1024 * 1024
_MIME = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
_CURVES = (("losses.png", "Losses"), ("d_outputs.png", "Discriminator outputs"), ("augment.png", "Augmentation p and r_t"), ("metrics.png", "Evaluations"))
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #222; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd;
     padding-bottom: 0.2rem; margin-top: 2rem; }
.sub { color: #666; margin-top: 0; } .note { color: #888; font-style: italic; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { border: 1px solid #ddd; padding: 0.25rem 0.6rem;
        text-align: left; vertical-align: top; } th { background: #f5f5f5; } td.num { text-align: right;
        font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; } figcaption { color: #555; font-size: 0.9rem; }
img { max-width: 100%; height: auto; } img.pixels { image-rendering: pixelated; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _format(value: object) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_format(v) for v in value)
    return "—" if value is None else str(value)


def image_tag(path: Path, run_dir: Path, alt: str, embed_limit: int = EMBED_LIMIT_BYTES) -> str:
    """An <img> of `path`: embedded as base64 up to `embed_limit` bytes, else linked relative to `run_dir`."""
    try:
        size = path.stat().st_size
        with Image.open(path) as image:
            width, height = image.size
        if size <= embed_limit:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            src = f"data:{_MIME.get(path.suffix.lower(), 'application/octet-stream')};base64,{data}"
        else:
            src = quote(Path(os.path.relpath(path, run_dir)).as_posix())
    except (OSError, ValueError):
        return f'<p class="note">{_e(path.name)} could not be read.</p>'
    small = max(width, height) < 480
    shown = width * 2 if small else width
    pixels = ' class="pixels"' if small else ""
    return f'<img src="{src}" alt="{_e(alt)}" width="{shown}" height="{height * shown // max(width, 1)}"{pixels}>'


def _read_config(run_dir: Path) -> tuple[Optional[dict], Optional[str]]:
    path = run_dir / "config.yaml"
    if not path.is_file():
        return None, "config.yaml is missing."
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, OSError, UnicodeDecodeError) as exc:
        return None, f"config.yaml could not be read ({exc.__class__.__name__})."
    if not isinstance(data, dict):
        return None, "config.yaml does not hold a mapping."
    return data, None


def _flatten(values: dict, prefix: str = "") -> list[tuple[str, object]]:
    rows = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value if not isinstance(value, dict) else "{}"))
    return rows


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{_e(_format(c))}</td>' if isinstance(c, (int, float)) and not isinstance(c, bool)
                        else f"<td>{_e(_format(c))}</td>" for c in row)
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _step_of(path: Path) -> Optional[int]:
    match = re.search(r"(\d+)$", path.stem)
    return int(match.group(1)) if match else None


def _training_summary(training: list[dict]) -> str:
    """The last logged step, time, and each logged value averaged over the final stretch of the run."""
    last = training[-1]
    seconds = next((r["time"] for r in reversed(training) if isinstance(r.get("time"), (int, float))), None)
    keys = []
    for record in training:
        for key in record:
            if key not in ("step", "time") and key not in keys:
                keys.append(key)
    rows = []
    for key in keys:
        _, values = series(training, key)
        if values.size == 0:
            continue
        window = smoothing_window(len(values))
        final = moving_average(values, window)[-1]
        rows.append((key, float(values[-1]), float(final) if np.isfinite(final) else math.nan, window))
    intro = f"<p>Last logged step: <b>{_e(last['step'])}</b>"
    if seconds is not None:
        intro += f", training time {_e(_duration(float(seconds)))}"
    return intro + ".</p>" + _table(("logged value", "last", "mean of the last N", "N"), rows)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else (f"{minutes} min {secs:02d} s" if minutes else f"{seconds:.1f} s")


def _evaluation_rows(scores: dict) -> list[tuple]:
    rows = []
    for key, value in scores.items():
        if key in ("event", "step", "time", "n", "extractor") or key.endswith("_std"):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        spread = scores.get(f"{key}_std")
        rows.append((SCORE_TITLES.get(key, key), float(value),
                     float(spread) if isinstance(spread, (int, float)) and not isinstance(spread, bool) else None))
    return rows


def _evaluations(run_dir: Path, events: list[dict]) -> list[str]:
    """HTML blocks for the last evaluation logged during training and for each eval*.json in the run folder."""
    blocks = []
    evaluations = score_events(events)
    if evaluations:
        latest = evaluations[-1]
        detail = ", ".join(f"{k} {_format(latest[k])}" for k in ("n", "extractor") if k in latest)
        blocks.append(f"<h3>During training, step {_e(_format(latest['step']))}</h3>"
                      + (f'<p class="sub">{_e(detail)}</p>' if detail else "")
                      + _table(("score", "value", "± std"), _evaluation_rows(latest)))
    for path in sorted(run_dir.glob("eval*.json")):
        try:
            scores = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            blocks.append(f'<p class="note">{_e(path.name)} could not be read.</p>')
            continue
        rows = _evaluation_rows(scores) if isinstance(scores, dict) else []
        if rows:
            detail = ", ".join(f"{k} {_format(scores[k])}" for k in ("n", "extractor") if k in scores)
            blocks.append(f"<h3>{_e(path.name)}</h3>" + (f'<p class="sub">{_e(detail)}</p>' if detail else "")
                          + _table(("score", "value", "± std"), rows))
    return blocks


def write_html_report(run_dir: Union[str, Path], embed_limit: int = EMBED_LIMIT_BYTES) -> Path:
    """Write run_dir/report.html from whatever the run folder holds, and return its path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanforgeError(f"Run directory {str(run_dir)!r} does not exist; expected a folder made by `ganforge train`.")
    config, config_note = _read_config(run_dir)
    training, events = read_metrics(run_dir / "metrics.jsonl")
    name = (config or {}).get("name") or run_dir.resolve().name
    parts = [f"<h1>{_e(name)}</h1>"]
    if config:
        facts = [f"{k} {_format(config[k])}" for k in ("model", "data", "loss", "image_size") if config.get(k) is not None]
        parts.append(f'<p class="sub">{_e(" · ".join(facts))}</p>')

    parts.append("<h2>Samples</h2>")
    grids = sorted((run_dir / "samples").glob("*.png")) if (run_dir / "samples").is_dir() else []
    if grids:
        latest = grids[-1]
        step = _step_of(latest)
        caption = f"Fixed-noise samples at step {step}" if step is not None else f"Samples: {latest.name}"
        parts.append(f"<figure>{image_tag(latest, run_dir, caption, embed_limit)}<figcaption>{_e(caption)}"
                     "</figcaption></figure>")
    else:
        parts.append('<p class="note">No sample grids yet (samples/*.png).</p>')
    gifs = [p for p in (run_dir / "training.gif",) if p.is_file()] or sorted(run_dir.glob("*.gif"))
    if gifs:
        parts.append(f"<figure>{image_tag(gifs[0], run_dir, 'Samples over training', embed_limit)}"
                     f"<figcaption>The same noise over training ({len(grids)} grids).</figcaption></figure>")

    parts.append("<h2>Training</h2>")
    if training:
        parts.append(_training_summary(training))
    else:
        parts.append('<p class="note">No training records yet (metrics.jsonl).</p>')
    for filename, title in _CURVES:
        if (run_dir / filename).is_file():
            parts.append(f"<figure>{image_tag(run_dir / filename, run_dir, title, embed_limit)}"
                         f"<figcaption>{_e(title)}</figcaption></figure>")

    evaluation = _evaluations(run_dir, events)
    if evaluation:
        parts.append("<h2>Evaluation</h2>")
        parts.extend(evaluation)

    parts.append("<h2>Configuration</h2>")
    if config:
        parts.append(_table(("key", "value"), _flatten(config)))
    else:
        parts.append(f'<p class="note">{_e(config_note)}</p>')
    if (run_dir / "export" / "config.json").is_file():
        parts.append('<p>Exported generator: <code>export/</code> (load it with '
                     '<code>ganforge.export.load_generator</code> or <code>ganforge sample</code>).</p>')
    parts.append(f'<p class="note">Written {_e(time.strftime("%Y-%m-%d %H:%M:%S"))}.</p>')

    page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(name)} · ganforge report</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(parts) + "\n</body></html>\n")
    out = run_dir / "report.html"
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


def build_run_report(run_dir: Union[str, Path]) -> Path:
    """Redraw a run's curves and GIF from its files, then write its report.html; return the report's path."""
    from ganforge.report.gif import make_gif

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GanforgeError(f"Run directory {str(run_dir)!r} does not exist; expected a folder made by `ganforge train`.")
    plot_curves(run_dir / "metrics.jsonl", run_dir)
    grids = sorted((run_dir / "samples").glob("step_*.png"))
    if grids:
        make_gif(grids, run_dir / "training.gif")
    return write_html_report(run_dir)
