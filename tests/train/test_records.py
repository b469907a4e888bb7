"""Per-step logs: flushed with the checks in one transfer, NaN written as null, appended after a cut-short line."""
import json
import math

import torch

from ganforge.train.records import RecordBuffer


def test_flush_returns_records_and_the_extra_values(tmp_path):
    buffer = RecordBuffer(tmp_path / "m.jsonl")
    buffer.add(1, {"loss_d": torch.tensor(0.5), "loss_g": torch.tensor(math.nan)})
    buffer.add(2, {"loss_d": torch.tensor(0.25), "loss_g": torch.tensor(2.0)})
    seen = []
    records, extra = buffer.flush(3.14159, lambda values: (seen.append(values), values.isfinite().float())[1])
    assert seen[0].shape == (4,)
    assert extra == [1.0, 0.0, 1.0, 1.0]
    assert records[0]["step"] == 1 and math.isnan(records[0]["loss_g"]) and records[1] == {"step": 2, "loss_d": 0.25, "loss_g": 2.0, "time": 3.142}
    lines = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert lines[0]["loss_g"] is None and lines[1]["time"] == 3.142
    assert buffer.flush(4.0, lambda values: torch.ones(2) if values is None else values) == ([], [1.0, 1.0])


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next_record(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1, "loss_d": 1.0}\n{"step": 2, "lo')
    buffer = RecordBuffer(path)
    buffer.write([{"step": 1, "loss_d": 2.0}])
    buffer.write([{"step": 2, "loss_d": 3.0}])
    lines = path.read_text().splitlines()
    assert lines[1] == '{"step": 2, "lo'
    assert [json.loads(line) for line in lines[2:]] == [{"step": 1, "loss_d": 2.0}, {"step": 2, "loss_d": 3.0}]
