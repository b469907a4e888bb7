"""Per-step logs kept on the device and flushed to metrics.jsonl with one host sync."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import Tensor


class RecordBuffer:
    """Collects each round's named 0-d tensors; `flush` turns them into JSON lines in one transfer."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []
        self.checked_end = False

    def add(self, step: int, logs: dict[str, torch.Tensor]) -> None:
        """Remember one round's logs."""
        self.pending.append((step, logs))

    def flush(self, elapsed: float, extra: Optional[Callable[[Optional[Tensor]], Tensor]] = None) -> tuple[list[dict], list[float]]:
        """Write and return the pending records as dicts of floats ({"step", "time", names...}), and `extra`'s values.

        `extra`, given the pending values stacked on the device (None when there are none), returns a 1-d
        tensor on the same device (e.g. checks) that travels to the host in the same transfer.
        """
        values = [v.detach().float().reshape(()) for _, logs in self.pending for v in logs.values()]
        stacked = torch.stack(values) if values else None
        tail = extra(stacked) if extra is not None else None
        parts = [p for p in (stacked, tail) if p is not None]
        numbers = (torch.cat(parts) if len(parts) > 1 else parts[0]).cpu().tolist() if parts else []
        records, i = [], 0
        for step, logs in self.pending:
            record = {"step": step}
            for name in logs:
                record[name] = numbers[i]
                i += 1
            records.append(record)
        if records:
            records[-1]["time"] = round(elapsed, 3)
        self.pending = []
        self.write(records)
        return records, numbers[i:]

    def write(self, records: list[dict]) -> None:
        """Append records as JSON lines (NaN and infinities written as null)."""
        if not self.enabled or not records:
            return
        if not self.checked_end:  # a line cut short by a kill is ended first, so the next one stays whole
            with open(self.path, "a+b") as f:
                if f.tell() > 0:
                    f.seek(-1, 2)
                    if f.read(1) != b"\n":
                        f.write(b"\n")
            self.checked_end = True
        with open(self.path, "a") as f:
            for r in records:
                f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                    for k, v in r.items()}) + "\n")
