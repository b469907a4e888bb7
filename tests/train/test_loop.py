import json

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.train.api import train


def tiny(tmp_path, **kw):
    base = dict(model="dcgan", data="mnist", steps=6, batch_size=16, out=str(tmp_path), log_every=2,
                sample_every=3, checkpoint_every=3, options={"width": 8, "z_dim": 16})
    base.update(kw)
    return TrainConfig(**base)


def test_short_training_writes_every_artifact(tmp_path):
    run = train(tiny(tmp_path, name="r"), progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7))
    for r in records:
        assert {"loss_d", "loss_g", "d_real", "d_fake"} <= set(r)
        assert 0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1
    assert (run / "config.yaml").is_file()
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == [
        "step_00000000.png", "step_00000003.png", "step_00000006.png"]
    assert (run / "checkpoints" / "latest").read_text() == "step_00000006"
    for name in ("losses.png", "d_outputs.png", "training.gif", "report.html"):
        assert (run / name).is_file(), name
    generator, info = load_generator(run)
    assert info["family"] == "dcgan" and info["image_size"] == 32 and info["steps"] == 6
    assert generator(torch.randn(2, 16)).shape == (2, 1, 32, 32)


def test_existing_run_without_resume_is_refused_and_untouched(tmp_path):
    run = train(tiny(tmp_path, name="r", steps=2, copy_check_n=0), progress=False)
    before = (run / "metrics.jsonl").read_text()
    with pytest.raises(GanforgeError, match="already exists"):
        train(tiny(tmp_path, name="r", steps=2), progress=False)
    assert (run / "metrics.jsonl").read_text() == before


def test_every_loss_trains_and_wasserstein_logs_its_penalty(tmp_path):
    for loss in ("minimax", "hinge", "least_squares", "wasserstein"):
        run = train(tiny(tmp_path, name=loss, loss=loss, steps=2, n_critic=2, copy_check_n=0), progress=False)
        last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
        assert all(torch.isfinite(torch.tensor(v)) for k, v in last.items() if k != "step")
        assert ("gradient_penalty" in last) == (loss == "wasserstein")


def test_epoch_budget_counts_batches_per_round(tmp_path):
    from ganforge.train.loop import Trainer
    from ganforge.train.run_dir import new_run

    cfg, run_dir = new_run(tiny(tmp_path, name="e", steps=None, epochs=0.01, n_critic=2, batch_size=100))
    trainer = Trainer(cfg, run_dir)
    assert trainer.total_steps == 2  # 600 batches per epoch * 0.01 = 6 batches, 3 per round


def test_ema_settings_reach_the_trainers_average(tmp_path):
    from ganforge.train.loop import Trainer
    from ganforge.train.run_dir import new_run

    trainer = Trainer(*new_run(tiny(tmp_path, name="ema", ema_decay=0.99, ema_rampup=0.05)))
    assert (trainer.ema.decay, trainer.ema.rampup) == (0.99, 0.05)
    assert Trainer(*new_run(tiny(tmp_path, name="off", ema_decay=0.0))).ema is None


def test_gpu_preset_is_a_valid_config_with_the_papers_ema():
    from pathlib import Path

    import ganforge
    from ganforge.config import load_yaml
    from ganforge.train.run_dir import resolve_defaults

    preset = Path(ganforge.__file__).parent / "presets" / "stylegan-64-gpu.yaml"
    cfg = resolve_defaults(TrainConfig.from_dict(load_yaml(preset)))
    assert (cfg.model, cfg.image_size, cfg.ema_decay, cfg.ema_rampup) == ("stylegan", 64, 0.995, 0.05)
    assert cfg.options["tanh_output"] is False and cfg.options["w_dim"] == 512


def test_minutes_budget_stops_by_the_clock(tmp_path):
    run = train(tiny(tmp_path, name="m", steps=None, minutes=0.02, model="vanilla", copy_check_n=0, options={}), progress=False)
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["time"] >= 1.2 and last["step"] >= 1
