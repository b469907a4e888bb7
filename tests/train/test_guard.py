"""The referee checks its numbers: non-finite values stop a run before they are saved, runaway ones warn once."""
import json
import math

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.contract import Callback
from ganforge.errors import GanforgeError
from ganforge.runlog import read_metrics
from ganforge.train.api import train
from ganforge.train.guard import Guard, TrainingDiverged


def tiny(tmp_path, **kw):
    base = dict(model="dcgan", data="mnist", steps=6, batch_size=8, out=str(tmp_path), log_every=2,
                sample_every=100, checkpoint_every=3, copy_check_n=0, options={"width": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


class Poison(Callback):
    """Sets one weight of a module to `value` at the end of round `at` (what a blow-up would do)."""

    def __init__(self, at: int, which: str = "discriminator", value: float = math.nan):
        self.at, self.which, self.value = at, which, value

    def on_round_end(self, trainer, step):
        if step == self.at:
            module = trainer.ema.module if self.which == "ema" else trainer.game.players[self.which]
            with torch.no_grad():
                next(module.parameters()).fill_(self.value)


def all_finite(folder):
    tensors = load_file(str(folder))
    return all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())


def test_guard_flags_and_messages():
    good, bad = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight[0, 0] = math.inf
    guard = Guard({"generator": good, "discriminator": bad}, bound=100.0)
    flags = guard.device_flags(torch.tensor([1.0, math.nan]), torch.device("cpu"))
    assert flags.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(TrainingDiverged, match=r"step 7 because loss_d is nan; kept X"):
        guard.check(8, [{"step": 7, "loss_d": math.nan}], [0.0, 1.0, 1.0], "kept X")
    with pytest.raises(TrainingDiverged, match=r"step 8 because the weights of discriminator are no longer finite"):
        guard.check(8, [{"step": 8, "loss_d": 1.0}], [1.0, 1.0, 0.0], "kept X")
    assert guard.check(8, [{"step": 8, "loss_d": 99.0, "time": 1e9}], [1.0, 1.0, 1.0], "") is None
    warning = guard.check(9, [{"step": 9, "loss_g": -250.0}], [1.0, 1.0, 1.0], "")
    assert warning["event"] == "warning" and warning["key"] == "loss_g" and warning["value"] == -250.0
    assert "loss_g reached -250 at step 9" in warning["message"]
    assert guard.check(10, [{"step": 10, "loss_g": 1e6}], [1.0, 1.0, 1.0], "") is None  # once


def test_nan_loss_stops_the_run_and_keeps_the_last_finite_checkpoint(tmp_path):
    cfg = tiny(tmp_path, name="nan", steps=8)
    with pytest.raises(GanforgeError, match=r"Training stopped at step 5 because \w+ is nan; the run keeps its last finite checkpoint step_00000003"):
        train(cfg, callbacks=[Poison(at=4, which="generator")])
    run = tmp_path / "nan"
    assert sorted(p.name for p in (run / "checkpoints").glob("step_*")) == ["step_00000003"]
    assert (run / "checkpoints" / "latest").read_text() == "step_00000003"
    assert all_finite(run / "checkpoints" / "step_00000003" / "state.safetensors")
    assert json.loads((run / "export" / "config.json").read_text())["info"]["steps"] == 3
    assert all_finite(run / "export" / "generator.safetensors")
    records, events = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert events[-1]["event"] == "stopped" and "step 5" in events[-1]["message"]


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    # the EMA copy takes no part in the losses: only the weight check can see it; the checkpoint at step 3
    # comes before any log flush (log_every=100), so the check before saving is what stops it
    cfg = tiny(tmp_path, name="w", log_every=100)
    with pytest.raises(TrainingDiverged, match=r"step 3 because the weights of the EMA generator are no longer finite.*no checkpoint"):
        train(cfg, callbacks=[Poison(at=3, which="ema", value=math.inf)])
    assert not (tmp_path / "w" / "checkpoints").exists() or not list((tmp_path / "w" / "checkpoints").glob("step_*"))
    assert not (tmp_path / "w" / "export").exists()


def test_runaway_losses_warn_once_in_the_log_and_the_command(tmp_path, capsys):
    code = main(["train", "--model", "vanilla", "--steps", "2", "--batch-size", "8", "--out", str(tmp_path), "--name", "hot",
                 "--set", "lr_g=50", "--set", "lr_d=50", "--set", "loss_bound=1000", "--set", "log_every=1", "--no-progress"])
    assert code == 0
    records, events = read_metrics(tmp_path / "hot" / "metrics.jsonl")
    warnings = [e for e in events if e["event"] == "warning"]
    assert len(warnings) == 1 and abs(warnings[0]["value"]) > 1000 and warnings[0]["step"] == 1
    assert abs(records[0][warnings[0]["key"]]) == abs(warnings[0]["value"])
    assert "warning:" in capsys.readouterr().out
    assert all_finite(tmp_path / "hot" / "export" / "generator.safetensors")


def test_the_bar_shows_the_warning_and_closes_on_a_stop(tmp_path, capsys):
    from ganforge.train.observers import ProgressBar

    with pytest.raises(TrainingDiverged):
        train(tiny(tmp_path, name="bar", steps=8, loss_bound=1e-9), callbacks=[ProgressBar(), Poison(at=4, which="generator")])
    err = capsys.readouterr().err
    assert err.count("warning: ") == 1 and "past loss_bound=1e-09" in err
    assert err.endswith("\n")


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_loss_bound_must_be_a_positive_number(value):
    with pytest.raises(GanforgeError, match="loss_bound"):
        TrainConfig(loss_bound=float(value)).validate()
