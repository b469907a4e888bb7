"""Training curves from metrics.jsonl: losses, mean discriminator outputs, and evaluation scores."""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Union

import numpy as np

from ganforge.contract import EVENT
from ganforge.runlog import number, read_metrics

#: Keys of evaluation events that are bookkeeping, not scores.
_NOT_SCORES = {"step", "time", "n", "epoch", "seconds", "elapsed", "rank", "kid_subset_size"}
#: Readable titles of the scores ganforge.metrics reports.
SCORE_TITLES = {
    "fd": "Fréchet distance (lower is better)",
    "fid": "FID (lower is better)",
    "kid": "Kernel inception distance (lower is better)",
    "is": "Inception score (higher is better)",
    "precision": "Precision (higher is better)",
    "recall": "Recall (higher is better)",
    "psnr_y": "Y-PSNR in dB (higher is better; dashed: bicubic)",
    "ssim_y": "Y-SSIM (higher is better; dashed: bicubic)",
    "hf_ratio": "High-frequency energy over the original's (1: as much detail; dashed: bicubic)",
}
#: An evaluation's reference method: `bicubic_<score>` is drawn dashed in the panel of `<score>`.
REFERENCE_PREFIX = "bicubic_"


def series(records: Iterable[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of one numeric key across records; null and infinities become NaN."""
    steps, values = [], []
    for record in records:
        if key not in record:
            continue
        value, step = number(record[key]), number(record.get("step"))
        if value is None or step is None:
            continue
        steps.append(step)
        values.append(value if math.isfinite(value) else math.nan)
    return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Centered moving average over a window of `window` points, ignoring NaN; same length as `values`."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0 or window <= 1:
        return values.copy()
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    half = window // 2
    index = np.arange(n)
    lo, hi = np.clip(index - half, 0, n), np.clip(index + (window - half), 0, n)
    count = counts[hi] - counts[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (sums[hi] - sums[lo]) / np.maximum(count, 1), np.nan)


def smoothing_window(n: int) -> int:
    """The moving-average window used for a curve of `n` points (about 1/40 of the run, at least 1)."""
    return max(1, min(n // 40, 2000))


def _keys(records: list[dict], accept) -> list[str]:
    seen: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in seen and accept(key) and number(value) is not None:
                seen[key] = None
    return list(seen)


def _robust_limits(values: list[np.ndarray]) -> tuple[float, float] | None:
    """y-limits that show 0.5–99.5 % of the finite values, so one early spike does not flatten a curve."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.empty(0)
    if finite.size < 20:
        return None
    low, high = np.percentile(finite, [0.5, 99.5])
    if high <= low:
        return None
    span = high - low
    return float(low - 0.08 * span), float(high + 0.08 * span)


def _figure(rows: int = 1):
    from matplotlib.figure import Figure  # a bare Figure draws with Agg and touches no global pyplot state

    fig = Figure(figsize=(8, 2.6 + 2.2 * rows) if rows > 1 else (8, 4.5), dpi=100)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fig.tight_layout()
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path


def envelope(steps: np.ndarray, values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin centres, minimum, maximum) of the finite values in `bins` equal runs of points; spikes stay visible."""
    edges = np.linspace(0, len(values), bins + 1).astype(int)
    edges = np.unique(edges)
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf)
    high = np.where(finite, values, -np.inf)
    lo, hi = np.minimum.reduceat(low, edges[:-1]), np.maximum.reduceat(high, edges[:-1])
    centres = np.asarray([steps[a:b].mean() for a, b in zip(edges[:-1], edges[1:])])
    empty = ~np.isfinite(lo)
    lo[empty], hi[empty] = np.nan, np.nan
    return centres, lo, hi


#: Above this many points a raw curve is drawn as its min–max band over _BINS runs, which looks the same and draws fast.
_DENSE = 2500
_BINS = 800


def _plot_raw_and_smooth(ax, records: list[dict], keys: list[str]) -> list[np.ndarray]:
    """Each key as a thin raw line plus a thick moving average of the same colour; returns the raw values."""
    raws = []
    for i, key in enumerate(keys):
        steps, values = series(records, key)
        if steps.size == 0:
            continue
        colour = f"C{i % 10}"
        window = smoothing_window(len(values))
        smooth = moving_average(values, window)
        if len(values) > _DENSE:
            centres, lo, hi = envelope(steps, values, _BINS)
            ax.fill_between(centres, lo, hi, color=colour, alpha=0.25, linewidth=0)
            stride = len(values) // _DENSE + 1
            steps_shown, smooth = steps[::stride], smooth[::stride]
        else:
            ax.plot(steps, values, color=colour, linewidth=0.6, alpha=0.35)
            steps_shown = steps
        label = key if window == 1 else f"{key} (mean of {window})"
        ax.plot(steps_shown, smooth, color=colour, linewidth=1.8, label=label)
        raws.append(values)
    return raws


def plot_losses(records: list[dict], path: Path) -> Path | None:
    """losses.png: every `loss*` key, raw and smoothed, against the step; None when there is none."""
    def limit(ax, raws: list[np.ndarray]) -> None:
        limits = _robust_limits(raws)
        if limits is not None:
            ax.set_ylim(*limits)

    return _plot_keys(records, _keys(records, lambda k: k.startswith("loss")), path, "Losses", "loss", limit)


def plot_d_outputs(records: list[dict], path: Path) -> Path | None:
    """d_outputs.png: mean D(x) and D(G(z)) with the equilibrium line D = ½; None without those keys."""
    def equilibrium(ax, raws: list[np.ndarray]) -> None:
        ax.axhline(0.5, color="black", linestyle="--", linewidth=1.0, label="equilibrium D = ½")
        finite = np.concatenate([r[np.isfinite(r)] for r in raws])
        if finite.min() >= 0.0 and finite.max() <= 1.0:
            ax.set_ylim(-0.02, 1.02)

    keys = [k for k in ("d_real", "d_fake") if k in _keys(records, lambda k: k in ("d_real", "d_fake"))]
    return _plot_keys(records, keys, path, "Mean discriminator output on real images D(x) and on generated ones D(G(z))",
                      "mean D output", equilibrium)


def _plot_keys(records: list[dict], keys: list[str], path: Path, title: str, ylabel: str, mark) -> Path | None:
    """One panel of `keys`, raw and smoothed, against the step, `mark(ax, raws)` adding the plot's own marks and limits;
    None without keys or without a finite value."""
    if not keys:
        return None
    fig, (ax,) = _figure()
    raws = _plot_raw_and_smooth(ax, records, keys)
    if not any(np.isfinite(r).any() for r in raws):
        return None
    mark(ax, raws)
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return _save(fig, path)


def plot_augment(records: list[dict], path: Path) -> Path | None:
    """augment.png: the augmentation probability p and ADA's r_t = E[sign D(x)] with its target; None unless augment_p is logged."""
    steps, p = series(records, "augment_p")
    if steps.size == 0:
        return None
    rt_steps, rt = series(records, "ada_rt")
    fig, axes = _figure(2 if rt_steps.size else 1)
    axes[0].plot(steps, p, color="C0", linewidth=1.5, label="p")
    axes[0].set_ylim(-0.02, max(1e-3, float(np.nanmax(p))) * 1.1 + 0.02)
    axes[0].set_ylabel("p")
    axes[0].set_title("Augmentation probability p (Karras et al. 2020)")
    if rt_steps.size:
        axes[1].plot(rt_steps, rt, color="C1", linewidth=0.8, label="r_t")
        target = next((number(r["ada_target"]) for r in records if "ada_target" in r), None)
        axes[1].axhline(0.6 if target is None else target, color="black", linestyle="--", linewidth=1.0, label="target")
        axes[1].set_ylabel("r_t = E[sign D(x)]")
        axes[1].legend(loc="best", fontsize="small")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("step")
    return _save(fig, path)


def score_events(events: list[dict]) -> list[dict]:
    """The evaluation events ("eval", not e.g. a thread-count change): those with a step and at least one numeric score;
    one per step (the last)."""
    by_step: dict[float, dict] = {}
    for event in events:
        if event.get(EVENT) != "eval":
            continue
        step = number(event.get("step"))
        if step is None or not math.isfinite(step):
            continue
        scores = {k: v for k, v in event.items() if _is_score(k, v)}
        if scores:
            by_step.setdefault(step, {}).update({**event, **scores})
    return [by_step[s] for s in sorted(by_step)]


def _is_score(key: str, value: object) -> bool:
    return key not in _NOT_SCORES and not key.endswith("_std") and key != "event" and number(value) is not None


def score_panels(keys: list[str]) -> list[str]:
    """The scores that get a panel of their own: all but a reference method's (`bicubic_<key>` beside `<key>`)."""
    return [k for k in keys if not (k.startswith(REFERENCE_PREFIX) and k.removeprefix(REFERENCE_PREFIX) in keys)]


def plot_scores(events: list[dict], path: Path) -> Path | None:
    """metrics.png: one panel per evaluation score against the step (± its `_std` when logged, a reference method's
    dashed beside it); None if none."""
    evaluations = score_events(events)
    keys = score_panels(_keys(evaluations, lambda k: k not in _NOT_SCORES and not k.endswith("_std") and k != "event"))
    if not keys:
        return None
    fig, axes = _figure(len(keys))
    for i, (ax, key) in enumerate(zip(axes, keys)):
        if any(REFERENCE_PREFIX + key in e for e in evaluations):
            ax.plot(*series(evaluations, REFERENCE_PREFIX + key), color="grey", linestyle="--", linewidth=1.0)
        steps, values = series(evaluations, key)
        spread = np.asarray([number(e.get(f"{key}_std")) or math.nan
                             for e in evaluations if key in e and number(e[key]) is not None], dtype=np.float64)
        colour = f"C{i % 10}"
        if np.isfinite(spread).any():
            ax.errorbar(steps, values, yerr=np.nan_to_num(spread, nan=0.0), color=colour, marker="o",
                        markersize=3, capsize=2, linewidth=1.2)
        else:
            ax.plot(steps, values, color=colour, marker="o", markersize=3, linewidth=1.2)
        ax.set_ylabel(key)
        ax.set_title(SCORE_TITLES.get(key, key), fontsize="medium")
        ax.grid(True, alpha=0.3)
    extractor = next((e["extractor"] for e in reversed(evaluations) if isinstance(e.get("extractor"), str)), None)
    if extractor:
        fig.suptitle(f"Evaluations (features: {extractor})")
    axes[-1].set_xlabel("step")
    return _save(fig, path)


def plot_curves(metrics_jsonl: Union[str, Path], out_dir: Union[str, Path]) -> list[Path]:
    """Write losses.png, d_outputs.png, augment.png and metrics.png (each when its data exists) into `out_dir`."""
    training, events = read_metrics(metrics_jsonl)
    if not training and not events:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [plot_losses(training, out_dir / "losses.png"),
               plot_d_outputs(training, out_dir / "d_outputs.png"),
               plot_augment(training, out_dir / "augment.png"),
               plot_scores(events, out_dir / "metrics.png")]
    return [p for p in written if p is not None]
