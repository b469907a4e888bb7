"""The classic two-player game (vanilla and DCGAN players) keeps the game contract."""
import torch

from ganforge.config import TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.games.registry import get_family
from tests.games.game_contract import GameContract


def make_game(family, **options):
    fam = get_family(family)
    return fam.build(TrainConfig(model=family, loss="non_saturating", lr_g=2e-4, lr_d=2e-4), fam.options(**options), DataInfo(1, 16),
                     Runtime(torch.device("cpu")))


class TestDCGANContract(GameContract):
    def make_game(self):
        return make_game("dcgan", width=4, z_dim=8)

    def make_batch(self):
        return {"images": torch.rand(8, 1, 16, 16) * 2 - 1}


class TestVanillaContract(GameContract):
    def make_game(self):
        return make_game("vanilla", z_dim=8)

    def make_batch(self):
        return {"images": torch.rand(8, 1, 16, 16) * 2 - 1}


def r1_rounds(game, rounds, start=0):
    """The D steps (by round and index within it) on which R1 was evaluated over `rounds` rounds from `start`."""
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    seen = []
    for step in range(start, start + rounds):
        game.set_phase(step, 100)
        for index in range(game.critic_steps):
            if "r1" in game.discriminator_step(batch):
                seen.append((step, index))
    return seen


def test_dcgan_r1_is_lazy_by_default_weighted_by_its_interval():
    game = make_game("dcgan", width=4, z_dim=8)
    assert game.penalties.r1_gamma == 0.2 and game.penalties.interval == 16
    assert r1_rounds(game, 33) == [(0, 0), (16, 0), (32, 0)]
    eager = make_game("dcgan", width=4, z_dim=8, r1_interval=1)
    assert r1_rounds(eager, 3) == [(0, 0), (1, 0), (2, 0)]
    assert make_game("vanilla", z_dim=8, r1_gamma=1.0).penalties.interval == 1


def test_lazy_r1_steps_are_a_pure_function_of_the_round_and_its_d_steps():
    fam = get_family("dcgan")
    cfg = TrainConfig(model="dcgan", loss="non_saturating", n_critic=3, lr_g=2e-4, lr_d=2e-4)
    game = fam.build(cfg, fam.options(width=4, z_dim=8, r1_interval=4), DataInfo(1, 16), Runtime(torch.device("cpu")))
    # D steps 0..11 over rounds 0..3; every 4th gets R1: (0,0), (1,1), (2,2)
    assert r1_rounds(game, 4) == [(0, 0), (1, 1), (2, 2)]
    resumed = fam.build(cfg, fam.options(width=4, z_dim=8, r1_interval=4), DataInfo(1, 16), Runtime(torch.device("cpu")))
    assert r1_rounds(resumed, 2, start=2) == [(2, 2)]  # a run resumed at round 2 places R1 where the whole run did


def test_an_r1_interval_below_one_is_refused():
    import pytest

    from ganforge.errors import GanforgeError

    with pytest.raises(GanforgeError, match="r1_interval=0"):
        get_family("dcgan").options(r1_interval=0).validate()


def g_forwards_per_round(game, rounds=3):
    """How many times G runs forward over `rounds` rounds of the game."""
    calls = []
    hook = game.players["generator"].register_forward_hook(lambda *_: calls.append(1))
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    for step in range(rounds):
        game.set_phase(step, 100)
        for _ in range(game.critic_steps):
            game.discriminator_step(batch)
        game.generator_step(batch)
    hook.remove()
    return len(calls) / rounds


def test_reuse_fake_saves_one_generator_forward_a_round():
    assert g_forwards_per_round(make_game("dcgan", width=4, z_dim=8, reuse_fake=False)) == 2
    assert g_forwards_per_round(make_game("dcgan", width=4, z_dim=8)) == 1  # the default
    fam = get_family("dcgan")
    cfg = TrainConfig(model="dcgan", loss="non_saturating", n_critic=3, lr_g=2e-4, lr_d=2e-4)
    three = fam.build(cfg, fam.options(width=4, z_dim=8, reuse_fake=True), DataInfo(1, 16), Runtime(torch.device("cpu")))
    assert g_forwards_per_round(three) == 3  # only the last of the round's D steps keeps its fakes for G


def test_reused_fakes_give_the_g_step_of_fresh_fakes_drawn_with_the_same_noise():
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    torch.manual_seed(0)
    reused = make_game("dcgan", width=4, z_dim=8, reuse_fake=True)
    torch.manual_seed(0)
    fresh = make_game("dcgan", width=4, z_dim=8, reuse_fake=False)
    for game in (reused, fresh):
        game.set_phase(1, 100)  # a round without R1
        torch.manual_seed(1)
        game.discriminator_step(batch)
        if game is fresh:
            torch.manual_seed(1)  # G's step draws the noise the D step drew
        before = [p.detach().clone() for p in game.players["generator"].parameters()]
        game.generator_step(batch)
        assert any(not torch.equal(a, p) for a, p in zip(before, game.players["generator"].parameters()))
    assert reused._fake_for_g is None
    for a, b in zip(reused.players["generator"].parameters(), fresh.players["generator"].parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_kept_fakes_are_dropped_when_gs_weights_are_written_between_the_steps():
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    game = make_game("dcgan", width=4, z_dim=8)
    game.set_phase(1, 100)
    game.discriminator_step(batch)
    state = {k: v.clone() for k, v in game.generator.state_dict().items()}
    game.generator.load_state_dict(state)  # an in-place write: the kept graph would no longer backpropagate
    calls = []
    hook = game.players["generator"].register_forward_hook(lambda *_: calls.append(1))
    game.generator_step(batch)  # falls back to fresh fakes instead of failing in backward
    hook.remove()
    assert calls == [1] and game._fake_for_g is None


def test_fakes_are_kept_every_round_also_when_rounds_are_played_without_set_phase():
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    game = make_game("dcgan", width=4, z_dim=8)
    game.set_phase(1, 100)  # once, as the speed benchmarks do; then round after round
    calls = []
    hook = game.players["generator"].register_forward_hook(lambda *_: calls.append(1))
    for _ in range(3):
        game.discriminator_step(batch)
        game.generator_step(batch)
    hook.remove()
    assert len(calls) == 3
