"""The one reader of a run's metrics.jsonl: per-round records and events (evaluations, warnings)."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Union

from ganforge.contract import EVENT, STEP, TIME

__all__ = ["last_time", "number", "read_metrics"]


def number(value: object) -> float | None:
    """A float for JSON numbers and null (NaN); None for anything else (strings, booleans, lists)."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _supersede(records: list[dict]) -> list[dict]:
    """Keep, for a resumed run, only the records written after the last restart at each step."""
    kept: list[dict] = []
    for record in records:
        step = record[STEP]
        while kept and kept[-1]["step"] >= step:
            kept.pop()
        kept.append(record)
    return kept


def read_metrics(path: Union[str, Path]) -> tuple[list[dict], list[dict]]:
    """(per-step training records, event records) of a metrics.jsonl; unreadable lines are skipped."""
    path = Path(path)
    if not path.is_file():
        return [], []
    training, events = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # e.g. a line cut short when a run was killed
                continue
            if not isinstance(record, dict):
                continue
            if EVENT in record:
                events.append(record)
            elif number(record.get(STEP)) is not None and math.isfinite(number(record[STEP])):
                training.append(record)
    return _supersede(training), events


def last_time(path: Union[str, Path]) -> float | None:
    """The training seconds on the last record that has them, or None."""
    training, _ = read_metrics(path)
    times = [r[TIME] for r in training if isinstance(r.get(TIME), (int, float)) and not isinstance(r.get(TIME), bool)]
    return float(times[-1]) if times else None
