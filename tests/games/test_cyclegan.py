import copy
import json

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganforge.config import TrainConfig
from ganforge.contract import Runtime
from ganforge.data.dataset import ImageDataset
from ganforge.data.unpaired import UnpairedData
from ganforge.errors import GanforgeError
from ganforge.games.cyclegan import CycleGANGame, CycleGANOptions, TranslationInfo, translation_runtime
from ganforge.games.registry import get_family
from ganforge.losses import get_loss
from ganforge.schedules import constant_then_linear as lr_factor
from ganforge.train.api import train
from tests.games.game_contract import GameContract

TINY = {"width": 4, "n_res_blocks": 1, "d_width": 4, "d_layers": 2}


def make_game(loss="least_squares", size=16, channels=1, cfg=None, **options):
    opts = CycleGANOptions(**{**TINY, **options})
    info = TranslationInfo(channels, size, data=UnpairedData(
        ImageDataset(torch.randint(0, 256, (5, channels, size, size), dtype=torch.uint8)),
        ImageDataset(torch.randint(0, 256, (7, channels, size, size), dtype=torch.uint8)), "x", "y"))
    return CycleGANGame(Runtime(torch.device("cpu")), info, opts, get_loss(loss), cfg or TrainConfig(lr_g=2e-4, lr_d=2e-4))


def batch(n=3, size=16, channels=1):
    return {"a": torch.rand(n, channels, size, size) * 2 - 1, "b": torch.rand(n, channels, size, size) * 2 - 1}


class Scale(nn.Module):
    """x -> w * x + c, with w a parameter (so the loss has a graph)."""

    def __init__(self, w, c=0.0):
        super().__init__()
        self.w, self.c = nn.Parameter(torch.tensor(w)), c

    def forward(self, x):
        return self.w * x + self.c


class Constant(nn.Module):
    """A critic that scores every patch `value`."""

    def __init__(self, value):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))

    def forward(self, x):
        return self.value.expand(x.shape[0], 1, 2, 2)


def test_cycle_and_identity_terms_match_hand_computed_values():
    game = make_game()
    game.players.update(g_ab=Scale(0.5), g_ba=Scale(1.0, 0.25), d_a=Constant(0.0), d_b=Constant(0.5))
    a, b = torch.full((2, 1, 4, 4), 0.4), torch.full((2, 1, 4, 4), -0.2)
    logs = game.generator_step({"a": a, "b": b})
    # G(a) = 0.2, F(G(a)) = 0.45: |0.45 - 0.4| = 0.05;  F(b) = 0.05, G(F(b)) = 0.025: |0.025 + 0.2| = 0.225
    assert logs["loss_cycle"].item() == pytest.approx(0.05 + 0.225)
    # G(b) = -0.1 vs b: 0.1;  F(a) = 0.65 vs a: 0.25
    assert logs["loss_identity"].item() == pytest.approx(0.1 + 0.25)
    # least squares: ½(D_B(G(a)) - 1)² + ½(D_A(F(b)) - 1)² = ½·0.25 + ½·1
    assert logs["loss_g_adv"].item() == pytest.approx(0.125 + 0.5)
    assert logs["loss_g"].item() == pytest.approx(0.625 + 10 * 0.275 + 10 * 0.5 * 0.35)


def test_identity_weight_zero_drops_the_term():
    game = make_game(lambda_identity=0.0, lambda_cycle=2.0)
    game.players.update(g_ab=Scale(0.5), g_ba=Scale(1.0, 0.25), d_a=Constant(0.0), d_b=Constant(0.5))
    logs = game.generator_step({"a": torch.full((1, 1, 4, 4), 0.4), "b": torch.full((1, 1, 4, 4), -0.2)})
    assert "loss_identity" not in logs
    assert logs["loss_g"].item() == pytest.approx(0.625 + 2 * 0.275)


def test_batched_generator_passes_equal_separate_ones():
    game = make_game()
    before = {k: copy.deepcopy(m) for k, m in game.players.items()}
    data = batch()
    logs = game.generator_step(data)
    g, f = before["g_ab"], before["g_ba"]
    a, b = data["a"], data["b"]
    cycle = (f(g(a)) - a).abs().mean() + (g(f(b)) - b).abs().mean()
    same = (g(b) - b).abs().mean() + (f(a) - a).abs().mean()
    adv = 0.5 * (before["d_b"](g(a)) - 1).square().mean() + 0.5 * (before["d_a"](f(b)) - 1).square().mean()
    assert logs["loss_cycle"].item() == pytest.approx(cycle.item(), rel=1e-5)
    assert logs["loss_identity"].item() == pytest.approx(same.item(), rel=1e-5)
    assert logs["loss_g_adv"].item() == pytest.approx(adv.item(), rel=1e-5)
    # that the generators moved and the critics did not: TestCycleGANContract


def test_critic_step_uses_the_last_translations_through_the_pools():
    game = make_game()
    data = batch()
    first = game.discriminator_step(data)  # no translations yet: made from this batch
    assert {"loss_d", "loss_d_a", "loss_d_b", "d_real", "d_fake"} <= set(first)
    assert len(game.pools["a"]) == len(game.pools["b"]) == 3
    game.generator_step(data)
    fake_a, fake_b = game.last_fakes.held
    game.discriminator_step(batch())
    assert game.last_fakes.held is None
    assert len(game.pools["a"]) == 6
    stored = game.pools["b"].state_dict()["images"]
    assert torch.equal(stored[3:], fake_b)  # a pool still filling keeps every image, in order


def test_critic_losses_are_least_squares_by_default():
    game = make_game()
    game.players.update(d_a=Constant(0.3), d_b=Constant(0.7))
    logs = game.discriminator_step(batch())
    # each critic: ½(s - 1)² + ½s², real and fake scored alike by a constant critic
    expected = 0.5 * (0.7 ** 2 + 0.3 ** 2) + 0.5 * (0.3 ** 2 + 0.7 ** 2)
    assert logs["loss_d"].item() == pytest.approx(expected)
    assert logs["d_real"].item() == pytest.approx(0.5) and logs["d_fake"].item() == pytest.approx(0.5)


@pytest.mark.parametrize("loss", ["hinge", "non_saturating", "wasserstein"])
def test_other_losses_run(loss):
    game = make_game(loss=loss)
    logs = {**game.discriminator_step(batch()), **game.generator_step(batch())}
    assert all(torch.isfinite(v) for v in logs.values())
    assert ("gradient_penalty" in logs) == (loss == "wasserstein")


def test_learning_rates_decay_linearly_in_the_second_half():
    assert [lr_factor(s, 10, 0.5) for s in (0, 4, 5, 6, 9)] == [1.0, 1.0, 1.0, 0.8, 0.2]
    assert lr_factor(3, 10, 1.0) == 1.0
    game = make_game(cfg=TrainConfig(lr_g=2e-4, lr_d=1e-4))
    game.set_phase(75, 100)
    assert game.optimizers["generators"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert game.optimizers["discriminators"].param_groups[0]["lr"] == pytest.approx(0.5e-4)
    game.set_phase(10, 100)
    assert game.optimizers["generators"].param_groups[0]["lr"] == pytest.approx(2e-4)


def test_automatic_sizes_follow_the_image_size():
    assert (CycleGANOptions().resolved(32).width, CycleGANOptions().resolved(32).n_res_blocks) == (32, 3)
    assert CycleGANOptions().resolved(128).n_res_blocks == 6
    paper = CycleGANOptions().resolved(256)
    assert (paper.width, paper.n_res_blocks, paper.d_width) == (64, 9, 64)
    assert CycleGANOptions(width=8).resolved(256).width == 8


def test_bad_options_and_sizes_are_refused():
    with pytest.raises(GanforgeError, match="decay_start"):
        CycleGANOptions(decay_start=1.5).validate()
    with pytest.raises(GanforgeError, match="lambda_cycle"):
        CycleGANOptions(lambda_cycle=-1).validate()
    with pytest.raises(GanforgeError, match="multiple of 4"):
        make_game(size=18)
    with pytest.raises(GanforgeError, match="too small"):
        make_game(size=16, d_layers=3)


def test_preview_grid_rows():
    game = make_game()
    inputs = game.sample_inputs(64, torch.Generator().manual_seed(0))
    assert inputs["a"].shape == (6, 1, 16, 16) and inputs["b"].shape == (6, 1, 16, 16)
    grid = game.render(game.generator, inputs)
    assert grid.shape == (36, 1, 16, 16)
    assert torch.equal(grid[0], inputs["a"][0]) and torch.equal(grid[3], inputs["b"][0])
    with torch.no_grad():
        torch.testing.assert_close(grid[1], game.players["g_ab"](inputs["a"][:1])[0])


def family_cfg(tmp_path, **kw):
    base = dict(model="cyclegan", steps=4, batch_size=2, image_size=16, out=str(tmp_path), log_every=1,
                checkpoint_every=2, options={**TINY, "pool_size": 3})
    base.update(kw)
    return TrainConfig(**base)


def test_nhwc_layout_is_off_on_cpu_unless_asked_for():
    cpu = Runtime(torch.device("cpu"), None, True)
    assert not translation_runtime(TrainConfig(channels_last="auto"), cpu).channels_last
    assert translation_runtime(TrainConfig(channels_last="on"), cpu).channels_last
    assert not translation_runtime(TrainConfig(channels_last="off"), cpu).channels_last
    assert translation_runtime(TrainConfig(channels_last="auto"), Runtime(torch.device("cuda"), None, True)).channels_last


def test_family_defaults():
    family = get_family("cyclegan")
    assert family.default_data == "mnist-thickness" and family.default_loss == "least_squares"
    assert family.default_image_size == 32


@pytest.mark.parametrize("layout", ["auto", "on"])
def test_training_exports_both_translators_and_resumes_exactly(tmp_path, layout):
    straight = train(family_cfg(tmp_path, name="a", channels_last=layout), callbacks=[])
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g", "loss_cycle", "loss_identity", "d_real", "d_fake"} <= set(records[-1])
    config = json.loads((straight / "export" / "config.json").read_text())
    assert set(config["players"]) == {"generator", "generator_b2a"}
    assert config["info"]["kind"] == "translation" and config["info"]["domains"] == ["thin", "thick"]
    assert config["info"]["data"] == "mnist-thickness"

    half = train(family_cfg(tmp_path, name="b", steps=2, channels_last=layout), callbacks=[])
    train(family_cfg(tmp_path, steps=4), resume=half, callbacks=[])
    for name in ("generator", "generator_b2a"):
        x, y = (load_file(str(run / "export" / f"{name}.safetensors")) for run in (straight, half))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
    state = [load_file(str(run / "checkpoints" / "step_00000004" / "state.safetensors")) for run in (straight, half)]
    pools = [k for k in state[0] if "pool_" in k]
    assert pools and all(torch.equal(state[0][k], state[1][k]) for k in pools)


class TestCycleGANContract(GameContract):
    def make_game(self):
        return make_game()

    def make_batch(self):
        return batch()
