"""The contract every game's tests check, as a mixin: a test class gives `make_game()` and `make_batch()`.

A discriminator step lowers `loss_d` on a fixed batch and leaves every other player untouched; a
generator step leaves the discriminators untouched; `set_phase` is a pure function of (step, total);
`extra_state` round-trips through `load_extra_state`.
"""
import pytest
import torch

from ganforge.contract import LOSS_D


def parameters(game, names):
    """Copies of the named players' parameters."""
    return {f"{name}.{k}": p.detach().clone() for name in names for k, p in game.players[name].named_parameters()}


def changed(before, game):
    """Names of the parameters that differ from `before`."""
    now = {f"{name}.{k}": p for name in game.players for k, p in game.players[name].named_parameters()}
    return [k for k, v in before.items() if not torch.equal(v, now[k])]


def same_state(a, b) -> bool:
    """Whether two nested states (dicts, lists, tuples, tensors, plain values) hold the same values."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


class GameContract:
    """Mix into a test class that defines `make_game()` (a fresh game, same seed, same players) and `make_batch()`."""

    d_steps = 8  #: D steps on the fixed batch before loss_d is compared
    total_steps = 10  #: the run length `set_phase` is told

    def make_game(self):
        raise NotImplementedError

    def make_batch(self):
        raise NotImplementedError

    def fresh(self):
        torch.manual_seed(0)
        return self.make_game()

    def critics(self, game):
        names = [name for name in game.critics if name in game.players]
        if not names or game.critic_steps == 0:
            pytest.skip("this game has no discriminator step")
        return names

    def test_a_d_step_lowers_loss_d_on_a_fixed_batch_and_leaves_the_generators_untouched(self):
        game, batch = self.fresh(), self.make_batch()
        critics = self.critics(game)
        others = [name for name in game.players if name not in critics]
        before = parameters(game, others)
        losses = []
        for _ in range(self.d_steps):
            torch.manual_seed(1)  # the same noise, augmentation and pool draws each time: one fixed batch
            losses.append(game.discriminator_step(batch)[LOSS_D].item())
        assert losses[-1] < losses[0], losses
        assert not changed(before, game), changed(before, game)
        critics_before = parameters(game, critics)
        game.discriminator_step(batch)
        assert len(changed(critics_before, game)) > 0  # ... while the discriminators do move

    def test_a_g_step_leaves_the_discriminators_untouched(self):
        game, batch = self.fresh(), self.make_batch()
        critics = self.critics(game)
        before = parameters(game, critics)
        generators = parameters(game, [name for name in game.players if name not in critics])
        game.generator_step(batch)
        assert not changed(before, game), changed(before, game)
        assert len(changed(generators, game)) > 0
        assert all(p.requires_grad for name in critics for p in game.players[name].parameters())

    def observed_phase(self, game):
        rates = {name: [g["lr"] for g in opt.param_groups] for name, opt in game.optimizers.items()}
        return rates, game.critic_steps, game.twice_differentiated(), game.export_info()

    def test_set_phase_is_a_pure_function_of_step_and_total(self):
        step = self.total_steps * 3 // 4
        played = self.fresh()
        for s in range(self.total_steps):
            played.set_phase(s, self.total_steps)
        played.set_phase(step, self.total_steps)
        jumped = self.fresh()
        jumped.set_phase(step, self.total_steps)
        assert same_state(self.observed_phase(played), self.observed_phase(jumped))

    def test_extra_state_round_trips(self):
        game, batch = self.fresh(), self.make_batch()
        game.set_phase(self.total_steps - 1, self.total_steps)
        for _ in range(game.critic_steps):
            game.discriminator_step(batch)
        game.generator_step(batch)
        state = game.extra_state()
        restored = self.fresh()
        restored.load_extra_state(state)
        assert same_state(restored.extra_state(), state)
