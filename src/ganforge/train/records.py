"""Per-step logs kept on the device and flushed to metrics.jsonl with one host sync."""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch


class RecordBuffer:
    """Collects each round's named 0-d tensors; `flush` turns them into JSON lines in one transfer."""

    def __init__(self, path: Path, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled
        self.pending: list[tuple[int, dict[str, torch.Tensor]]] = []

    def add(self, step: int, logs: dict[str, torch.Tensor]) -> None:
        """Remember one round's logs."""
        self.pending.append((step, logs))

    def flush(self, elapsed: float) -> list[dict]:
        """Write and return the pending records as dicts of floats ({"step", "time", names...})."""
        if not self.pending:
            return []
        values = [v.detach().float().reshape(()) for _, logs in self.pending for v in logs.values()]
        numbers = torch.stack(values).cpu().tolist() if values else []
        records, i = [], 0
        for step, logs in self.pending:
            record = {"step": step}
            for name in logs:
                record[name] = numbers[i]
                i += 1
            records.append(record)
        records[-1]["time"] = round(elapsed, 3)
        self.pending = []
        self.write(records)
        return records

    def write(self, records: list[dict]) -> None:
        """Append records as JSON lines (NaN and infinities written as null)."""
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            for r in records:
                f.write(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                                    for k, v in r.items()}) + "\n")
