import json

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.export import load_players
from ganforge.games.registry import get_family
from ganforge.train.api import train
from tests.games.game_contract import GameContract

SMALL = {"g_width": 16, "d_width": 16, "g_depth": 2, "d_depth": 2}


def tiny(tmp_path, **kw):
    base = dict(model="toy", data="ring8", steps=6, batch_size=16, out=str(tmp_path), log_every=2,
                sample_every=3, checkpoint_every=3, options=dict(SMALL))
    base.update(kw)
    return TrainConfig(**base)


def test_a_toy_run_trains_logs_and_exports_both_players(tmp_path):
    run = train(tiny(tmp_path, name="r"), progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7))
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in records)
    assert (run / "samples" / "step_00000006.png").is_file() and (run / "training.gif").is_file()
    players, info = load_players(run)
    assert set(players) == {"generator", "discriminator"}
    assert info["kind"] == "points" and info["mixture"] == "ring8" and info["sigma"] == 0.01 and len(info["means"]) == 8
    assert players["generator"](torch.randn(5, 2)).shape == (5, 2)


@pytest.mark.parametrize("options", [dict(SMALL), {**SMALL, "pack": 4, "minibatch_std": 2}])
def test_a_toy_run_resumes_bit_exactly(tmp_path, options):
    straight = train(tiny(tmp_path, name="a", steps=8, options=options), progress=False)
    part = train(tiny(tmp_path, name="b", steps=5, options=options), progress=False)
    resumed = train(TrainConfig(steps=8), resume=part, progress=False)
    a = load_file(str(straight / "checkpoints/step_00000008/state.safetensors"))
    b = load_file(str(resumed / "checkpoints/step_00000008/state.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_packing_needs_a_divisible_batch_and_point_data(tmp_path):
    with pytest.raises(GanforgeError, match="divisible by pack=3"):
        train(tiny(tmp_path, name="p", options={**SMALL, "pack": 3}), progress=False)
    with pytest.raises(GanforgeError, match="Point data .mnist. is unknown"):
        train(tiny(tmp_path, name="m", data="mnist"), progress=False)
    with pytest.raises(GanforgeError, match="pack=0"):
        train(tiny(tmp_path, name="z", options={**SMALL, "pack": 0}), progress=False)
    assert not any(tmp_path.iterdir())


def test_one_dimensional_data_and_the_minimax_loss(tmp_path):
    run = train(tiny(tmp_path, name="one", data="mix1d", loss="minimax"), progress=False)
    players, info = load_players(run)
    assert info["dim"] == 1 and info["loss"] == "minimax"
    assert players["generator"](torch.randn(3, 2)).shape == (3, 1)


def test_image_families_take_the_remedies(tmp_path):
    assert get_family("toy").default_data == "ring8"
    run = train(TrainConfig(model="dcgan", data="mnist", steps=2, batch_size=8, out=str(tmp_path), name="d", copy_check_n=0,
                            options={"width": 8, "z_dim": 8, "pack": 2, "minibatch_std": 2, "d_width": 2}), progress=False)
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0 < record["d_real"] < 1
    run = train(TrainConfig(model="vanilla", data="mnist", steps=2, batch_size=8, out=str(tmp_path), name="v", copy_check_n=0,
                            options={"pack": 4}), progress=False)
    assert (run / "export" / "config.json").is_file()


class TestToyContract(GameContract):
    def make_game(self):
        from ganforge.contract import Runtime
        from ganforge.data.toy import PointInfo, get_mixture

        family = get_family("toy")
        return family.build(TrainConfig(model="toy", lr_g=2e-4, lr_d=2e-4), family.options(**SMALL),
                            PointInfo(channels=1, image_size=0, mixture=get_mixture("ring8")), Runtime(torch.device("cpu")))

    def make_batch(self):
        return {"points": torch.randn(16, 2)}
