import math

import pytest
import torch

from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.registry import get_family
from ganforge.schedules import ema_decay_for_half_life
from tests.games.game_contract import GameContract

TINY = dict(z_dim=8, widths=[32, 16], blocks=1, group_width=8)


def make_game(classes=0, loss=None, run_augment="none", batch_size=8, **options):
    family = get_family("r3gan")
    opts = resolve_options(family.options, {**TINY, **options}, "r3gan")
    cfg = TrainConfig(model="r3gan", loss=loss, augment=run_augment, batch_size=batch_size)
    return family.build(cfg, opts, DataInfo(1, 8, classes, tuple(str(c) for c in range(classes))), Runtime(torch.device("cpu")))


def batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"images": torch.rand(n, 1, 8, 8, generator=g) * 2 - 1, "labels": torch.arange(n) % 3}


def test_defaults_are_the_papers_loss_and_schedule_ends():
    family = get_family("r3gan")
    assert family.default_loss == "relativistic_pairing"
    game = make_game()
    assert game.loss.name == "relativistic_pairing" and game.loss.relativistic
    recipe = game.recipe(100)
    assert recipe.horizon == 800 and recipe.lr == (2e-4, 5e-5) and recipe.beta2 == (0.9, 0.99)
    assert recipe.gamma == pytest.approx((0.2, 0.02))  # a tenth at the end unless gamma_end says otherwise
    assert make_game(horizon=5000, gamma_end=0.1).recipe(100).gamma == (0.2, 0.1)
    assert make_game(horizon=5000).recipe(100).horizon == 5000


def test_set_phase_applies_every_scheduled_value():
    game = make_game(augment=0.4, ema_half_life=800)
    for step, total in ((0, 100), (50, 100), (100, 100)):
        game.set_phase(step, total)
        values = game.recipe(total).at(step * 8)
        for opt in game.optimizers.values():
            assert opt.param_groups[0]["lr"] == pytest.approx(values["lr"])
            assert opt.param_groups[0]["betas"] == (0.0, pytest.approx(values["beta2"]))
        assert game.penalties.r1_gamma == game.penalties.r2_gamma == pytest.approx(values["gamma"])
        assert game.augmenter.p == pytest.approx(values["augment_p"])
        assert game.current_ema_decay() == pytest.approx(ema_decay_for_half_life(values["ema_half_life"], 8))
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(5e-5)
    assert game.augmenter.p == pytest.approx(0.4) and game.penalties.r1_gamma == pytest.approx(0.02)
    assert game.current_ema_decay() == pytest.approx(0.5 ** (8 / 800))
    game.set_phase(0, 100)
    assert game.current_ema_decay() == 0.0  # the half-life ramps up from 0: no averaging at the start
    momentum = make_game(beta1=0.5)
    momentum.set_phase(50, 100)
    assert all(opt.param_groups[0]["betas"][0] == 0.5 for opt in momentum.optimizers.values())  # β1 is kept, not scheduled


def test_the_d_step_adds_r1_and_r2_and_the_g_step_pairs_fakes_with_reals():
    torch.manual_seed(0)
    game = make_game()
    logs = game.discriminator_step(batch())
    assert {"loss_d", "d_real", "d_fake", "r1", "r2"} <= set(logs)
    assert all(torch.isfinite(v) for v in logs.values())
    assert "r2" not in make_game(r2=False).discriminator_step(batch())
    # RpGAN's G step scores the real batch: the same noise against other reals gives another loss
    state = {k: v.clone() for k, v in game.players["generator"].state_dict().items()}
    losses = []
    for seed in (1, 2):
        game.players["generator"].load_state_dict(state)
        torch.manual_seed(3)
        losses.append(game.generator_step(batch(seed=seed))["loss_g"].item())
    assert losses[0] != pytest.approx(losses[1])
    nsgan = make_game(loss="non_saturating")
    torch.manual_seed(0)
    assert not nsgan.loss.relativistic and math.isfinite(nsgan.generator_step(batch())["loss_g"].item())


def test_conditional_players_get_the_labels():
    game = make_game(classes=3, conditional=True)
    assert game.generator.num_classes == 3 and game.players["discriminator"].num_classes == 3
    inputs = game.sample_inputs(6, torch.Generator().manual_seed(0))
    assert inputs["labels"].tolist() == [0, 1, 2, 0, 1, 2]
    assert game.render(game.generator, inputs).shape == (6, 1, 8, 8)
    assert game.export_info()["kind"] == "noise" and game.export_info()["num_classes"] == 3
    assert {"loss_d", "r1"} <= set(game.discriminator_step(batch()))
    with pytest.raises(GanforgeError, match="needs labelled data"):
        make_game(conditional=True)


@pytest.mark.parametrize("options, match", [
    ({"blocks": 0}, "blocks=0"), ({"gamma": -1.0}, "gamma=-1.0"), ({"beta2": [0.9]}, "beta2"),
    ({"augment": 1.5}, "augment=1.5"), ({"beta1": 1.0}, "beta1=1.0"), ({"lr": 0.0}, "lr=0.0"), ({"horizon": 100, "warmup": 100}, "warmup=100"),
])
def test_bad_options_are_refused_in_one_sentence(options, match):
    with pytest.raises(GanforgeError, match=match):
        make_game(**options)


def test_scheduled_augmentation_and_the_runs_augment_exclude_each_other():
    with pytest.raises(GanforgeError, match="both choose an augmentation"):
        make_game(run_augment="ada", augment=0.3)


def test_lazy_penalties_every_interval_and_the_counter_in_state():
    game = make_game(penalty_interval=3)
    assert game.penalties.interval == 3
    has = [{"r1", "r2"} <= set(game.discriminator_step(batch())) for _ in range(4)]
    assert has == [True, False, False, True]
    other = make_game(penalty_interval=3)
    other.load_extra_state(game.extra_state())
    assert other.d_steps == 4 and "r1" not in other.discriminator_step(batch())


class TestR3GANContract(GameContract):
    d_logs = frozenset({"loss_d", "d_real", "d_fake", "r1", "r2"})

    def make_game(self):
        return make_game()

    def make_batch(self):
        return batch()
