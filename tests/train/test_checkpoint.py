import json

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import Checkpoints, read_checkpoint
from ganforge.train.state_io import join_state, split_state


def test_state_round_trip_keeps_types_and_int_keys():
    state = {"opt": {0: {"step": torch.tensor(3.0), "exp": torch.ones(2)}}, "betas": (0.5, 0.999),
             "groups": [{"lr": 2e-4, "params": [0, 1]}], "name": "x", "none": None}
    skeleton, tensors = split_state(state)
    json.dumps(skeleton)
    back = join_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["opt"][0]["exp"].tolist() == [1.0, 1.0] and back["betas"] == (0.5, 0.999)
    assert back["groups"] == state["groups"] and back["none"] is None


def test_latest_survives_an_interrupted_write(tmp_path):
    ckpts = Checkpoints(tmp_path, keep=2)
    for step in (1, 2, 3):
        ckpts.save({"w": torch.full((2,), float(step))}, step)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000002", "step_00000003"]
    # a write killed half-way leaves only a hidden temporary folder behind
    broken = tmp_path / "checkpoints" / ".tmp-step_00000004-999"
    broken.mkdir()
    (broken / "state.json").write_text("{")
    latest = ckpts.latest()
    assert latest.name == "step_00000003"
    assert read_checkpoint(latest)["w"].tolist() == [3.0, 3.0]


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    folder = Checkpoints(tmp_path).save({"w": torch.zeros(1)}, 1)
    (folder / "state.safetensors").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="corrupt"):
        read_checkpoint(folder)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "meta.json").write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(GanforgeError, match="expected 'ganforge-checkpoint/1'"):
        read_checkpoint(foreign)
    with pytest.raises(GanforgeError, match="meta.json"):
        read_checkpoint(tmp_path / "nothing")
