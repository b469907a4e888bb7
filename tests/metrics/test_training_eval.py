"""EvalCallback: scores logged every N steps during training; the best checkpoint follows the first metric."""
import json
from pathlib import Path

import pytest

from ganforge.config import TrainConfig
from ganforge.metrics.training_eval import EvalCallback
from ganforge.train.api import train


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))


def test_training_logs_eval_events_and_keeps_the_best(tmp_path):
    cfg = TrainConfig(model="dcgan", data="mnist", steps=6, batch_size=16, out=str(tmp_path), name="r", log_every=2,
                      sample_every=100, checkpoint_every=100, eval_every=3, eval_n=64, eval_metrics="fd,is",
                      options={"width": 8, "z_dim": 16})
    run = train(cfg, progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == [3, 6]
    for r in evals:
        assert r["n"] == 64 and r["extractor"] == "digits" and r["fd"] > 0 and 1 <= r["is"] <= 10
    best_step = min(evals, key=lambda r: r["fd"])["step"]
    meta = json.loads((run / "checkpoints" / "best" / "meta.json").read_text())
    assert meta["step"] == best_step


class FakeTrainer:
    def __init__(self, run_dir: Path, step: int = 0):
        self.run_dir, self.step, self.is_main = run_dir, step, True
        self.saved, self.logged = [], []

    def save_checkpoint(self, tag=None):
        self.saved.append((self.step, tag))

    def log_event(self, record):
        self.logged.append(record)


def test_best_follows_the_direction_of_the_first_metric(tmp_path):
    lower = EvalCallback(every=1, metrics=["kid", "is"])
    higher = EvalCallback(every=1, metrics=["pr"])
    assert lower.key == "kid" and lower.lower_is_better
    assert higher.key == "precision" and not higher.lower_is_better
    for value in (0.5, 0.3, 0.4):
        if lower._better(value):
            lower.best = value
        if higher._better(value):
            higher.best = value
    assert lower.best == 0.3 and higher.best == 0.5
    assert not lower._better(float("nan"))


def test_resume_recovers_the_best_score_so_far(tmp_path):
    lines = [{"step": 1, "loss_d": 1.0}, {"event": "eval", "step": 2, "fd": 7.0}, {"event": "eval", "step": 4, "fd": 5.0},
             {"event": "eval", "step": 9, "fd": 1.0}]  # step 9 lies beyond the checkpoint resumed from
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    cb = EvalCallback(every=2, metrics=["fd"])
    cb.on_start(FakeTrainer(tmp_path, step=6))
    assert cb.best == 5.0


def test_off_steps_and_other_ranks_do_nothing(tmp_path):
    cb = EvalCallback(every=5, metrics=["fd"])
    trainer = FakeTrainer(tmp_path)
    cb.on_round_end(trainer, 3)
    trainer.is_main = False
    cb.on_round_end(trainer, 5)
    assert trainer.logged == [] and trainer.saved == []
