"""EvalCallback: scores logged every N steps during training; the best checkpoint follows the first metric."""
import json
from pathlib import Path

import pytest

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.metrics.training_eval import EvalCallback
from ganforge.train.api import train
from tests.data.photo_folder import write_photos


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))


def test_training_logs_eval_events_and_keeps_the_best(tmp_path):
    cfg = TrainConfig(model="dcgan", data="mnist", steps=6, batch_size=16, out=str(tmp_path), name="r", log_every=2,
                      sample_every=100, checkpoint_every=100, eval_every=3, eval_n=64, eval_metrics="fd,is", copy_check_n=0,
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
    best = json.loads((run / "export-best" / "config.json").read_text())["info"]  # the best's generator, exported beside it
    assert (best["steps"], best["checkpoint"]) == (best_step, "best")
    assert json.loads((run / "export" / "config.json").read_text())["info"]["steps"] == 6
    assert main(["export", str(run), "--checkpoint", "best", "--out", str(tmp_path / "model")]) == 0
    assert json.loads((tmp_path / "model" / "config.json").read_text())["info"]["steps"] == best_step
    assert f"- checkpoint: best (the generator the run's evaluations kept, at round {best_step})" in (tmp_path / "model" / "README.md").read_text()


class FakeGame:
    def __init__(self, kind: str):
        self.kind = kind

    def export_info(self):
        return {"kind": self.kind, "capabilities": []}


class FakeTrainer:
    def __init__(self, run_dir: Path, step: int = 0, kind: str = "noise", data: str = "mnist"):
        self.run_dir, self.step, self.is_main, self.game = run_dir, step, True, FakeGame(kind)
        self.cfg = TrainConfig(data=data)
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


def test_resume_replays_the_sharpest_pick_of_a_superres_run(tmp_path):
    lines = [{"event": "eval", "step": 2, "psnr_y": 30.0, "hf_ratio": 0.2}, {"event": "eval", "step": 4, "psnr_y": 29.6, "hf_ratio": 0.5},
             {"event": "eval", "step": 6, "psnr_y": 29.8, "hf_ratio": 0.3}, {"event": "eval", "step": 8, "psnr_y": 29.0, "hf_ratio": 1.0}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    cb = EvalCallback(every=2, max_psnr_cost=1.0)
    cb.on_start(FakeTrainer(tmp_path, step=6, kind="superres", data=str(write_photos(tmp_path / "photos"))))  # step 8: beyond the checkpoint
    assert cb.sharpest.pick == (29.6, 0.5) and cb.sharpest.best_psnr == 30.0 and cb.best is None


def test_off_steps_and_other_ranks_do_nothing(tmp_path):
    cb = EvalCallback(every=5, metrics=["fd"])
    trainer = FakeTrainer(tmp_path)
    cb.on_round_end(trainer, 3)
    trainer.is_main = False
    cb.on_round_end(trainer, 5)
    assert trainer.logged == [] and trainer.saved == []


SR_TINY = {"scale": 2, "blocks": 1, "features": 8, "growth": 4, "d_width": 4, "crop": 16, "psnr_fraction": 0.5}


def _sr_config(tmp_path, data, **kw):
    base = dict(model="srgan", data=str(data), steps=6, batch_size=2, out=str(tmp_path), name="sr", log_every=1, sample_every=100,
                checkpoint_every=100, precision="fp32", copy_check_n=0, eval_every=2, options=dict(SR_TINY))
    return TrainConfig(**{**base, **kw})


def test_a_superres_run_is_scored_beside_bicubic_and_keeps_the_sharpest_within_the_psnr_cost(tmp_path):
    from ganforge.metrics.superres import SharpestWithinPSNR
    data = write_photos(tmp_path / "photos")
    run = train(_sr_config(tmp_path, data, eval_psnr_cost=0.5), progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == [2, 4, 6]
    for r in evals:  # the held-out photo (every 4th file: 03.png) of the training folder, beside bicubic
        assert r["n"] == 1 and r["data"] == str(data) and "fd" not in r
        assert 10 < r["psnr_y"] < 60 and 0 < r["ssim_y"] <= 1 and r["hf_ratio"] > 0 and r["bicubic_hf_ratio"] < 1
    assert len({r["bicubic_psnr_y"] for r in evals}) == 1  # bicubic does not train
    rule, picked = SharpestWithinPSNR(0.5), None
    for r in evals:
        if rule.consider(r["psnr_y"], r["hf_ratio"]):
            picked = r["step"]
    assert json.loads((run / "checkpoints" / "best" / "meta.json").read_text())["step"] == picked
    assert json.loads((run / "export-best" / "config.json").read_text())["info"]["steps"] == picked  # a model folder for upscale


def test_a_superres_run_evaluates_on_every_image_of_a_validation_folder(tmp_path):
    data, val = write_photos(tmp_path / "photos"), write_photos(tmp_path / "val", n=3, size=(32, 32))
    (val / "notes.txt").write_text("not an image")
    run = train(_sr_config(tmp_path, data, steps=2, eval_data=str(val)), progress=False)
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert [(r["n"], r["data"]) for r in evals] == [(3, str(val))]


def test_validation_images_are_refused_where_they_cannot_be_used(tmp_path):
    with pytest.raises(GanforgeError, match="eval_data='v' is set but eval_every is 0"):
        TrainConfig(eval_data="v").validate()
    with pytest.raises(GanforgeError, match="eval_psnr_cost=-1.0 is invalid"):
        TrainConfig(eval_psnr_cost=-1.0).validate()
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="holds no images"):
        EvalCallback(every=1, superres_data=str(tmp_path / "empty"))
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "a.png").write_bytes(b"")  # listed by name; the folder check is what is tested here
    cfg = TrainConfig(model="dcgan", data="mnist", steps=1, batch_size=4, out=str(tmp_path), name="d", eval_every=1,
                      eval_data=str(tmp_path / "val"), options={"width": 4, "z_dim": 8})
    with pytest.raises(GanforgeError, match="is for super-resolution runs; expected it empty for model 'dcgan'"):
        train(cfg, progress=False)
    no_held_out = _sr_config(tmp_path, write_photos(tmp_path / "photos"), name="none", options={**SR_TINY, "holdout_every": 0})
    with pytest.raises(GanforgeError, match="has no held-out images"):  # before the first round, not at the first evaluation
        train(no_held_out, progress=False)
    assert not list((tmp_path / "none").glob("checkpoints/*"))
