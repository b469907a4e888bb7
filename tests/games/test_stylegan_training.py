import json

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import TrainConfig
from ganforge.contract import Callback
from ganforge.export import load_generator
from ganforge.train.api import train

OPTIONS = {"z_dim": 16, "w_dim": 16, "mapping_layers": 2, "channel_base": 128, "channel_max": 16,
           "fade": 0.3, "stable": 0.1, "r1_interval": 4}


def tiny(tmp_path, **kw):
    base = dict(model="stylegan", data="mnist", image_size=16, steps=10, batch_size=8, out=str(tmp_path),
                log_every=5, sample_every=5, checkpoint_every=3, options=dict(OPTIONS))
    base.update(kw)
    return TrainConfig(**base)


class StopAt(Callback):
    """Interrupts training after round `step` (as a kill would), before that round's checkpoint."""

    def __init__(self, step):
        self.step = step

    def on_round_end(self, trainer, step):
        if step == self.step:
            raise KeyboardInterrupt


def phases(run):
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["resolution"], round(r["alpha"], 6)) for r in lines if "resolution" in r]


def test_training_grows_to_full_size_and_exports(tmp_path):
    run = train(tiny(tmp_path, name="r"), progress=False)
    grown = phases(run)
    assert [g[1] for g in grown] == [4, 8, 8, 8, 8, 16, 16, 16, 16, 16]
    assert grown[1][2] == 0 and 0 < grown[2][2] < grown[3][2] < 1 and grown[-1][2] == 1
    assert (run / "samples" / "step_00000005.png").is_file()
    generator, info = load_generator(run)
    assert info["family"] == "stylegan" and info["trained_resolution"] == 16
    assert generator.current_phase() == (2, 1.0)
    images = generator(torch.randn(3, 16), truncation=0.0)
    assert images.shape == (3, 1, 16, 16) and torch.allclose(images, images[:1].expand_as(images))


def test_resume_in_the_middle_of_a_fade_continues_bit_for_bit(tmp_path):
    straight = train(tiny(tmp_path, name="a"), callbacks=[], progress=False)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, name="b"), callbacks=[StopAt(7)], progress=False)
    part = tmp_path / "b"
    assert (part / "checkpoints" / "latest").read_text() == "step_00000006"
    resumed = train(TrainConfig(steps=10), resume=part, callbacks=[], progress=False)
    a = load_file(str(straight / "checkpoints/step_00000010/state.safetensors"))
    b = load_file(str(resumed / "checkpoints/step_00000010/state.safetensors"))
    assert a.keys() == b.keys() and any("w_avg" in k for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)
    resumed_phases = [p for p in phases(resumed) if p[0] > 6]
    assert resumed_phases == [p for p in phases(straight) if p[0] > 6]
    assert resumed_phases[0][1:] == (16, pytest.approx(1 / 3, abs=1e-6))  # resumed mid-fade
    state_a = json.loads((straight / "checkpoints/step_00000010/state.json").read_text())
    state_b = json.loads((resumed / "checkpoints/step_00000010/state.json").read_text())
    assert state_a["game"]["extra"] == state_b["game"]["extra"] == {"d_steps": 10}
