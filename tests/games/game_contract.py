"""The contract every game's tests check, as a mixin: a test class gives `make_game()` and `make_batch()`.

A discriminator step lowers `loss_d` on a fixed batch, moves the discriminators and leaves every other
player untouched; a generator step moves every generator and leaves the discriminators untouched (and
trainable afterwards); each step logs finite 0-d values under its keys; `set_phase` is a pure function
of (step, total); `extra_state` round-trips through `load_extra_state`; the critics' augmentation is declared.
"""
import pytest
import torch

from ganforge.contract import LOSS_D, LOSS_G
from ganforge.nn.augment import Augmenter


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


def assert_g_loss_pairs_with_reals(game, real) -> None:
    """G's loss pairs its fakes with the real batch: other reals give another loss for the same noise and weights."""
    state = {k: v.clone() for k, v in game.generator.state_dict().items()}
    losses = []
    for images in (real, -real):
        game.generator.load_state_dict(state)
        torch.manual_seed(1)
        losses.append(game.generator_step({"images": images})["loss_g"].item())
    assert losses[0] != pytest.approx(losses[1])


class GameContract:
    """Mix into a test class that defines `make_game()` (a fresh game, same seed, same players) and `make_batch()`."""

    d_steps = 8  #: D steps on the fixed batch before loss_d is compared
    total_steps = 10  #: the run length `set_phase` is told
    d_logs = frozenset({LOSS_D})  #: keys a D step logs (at least)
    g_logs = frozenset({LOSS_G})  #: keys a G step logs (at least)
    only_g_logs = False  #: the G step logs exactly `g_logs`
    d_moves = ()  #: parameter-name prefixes ("player.part.") a D step must move, beside the critic as a whole

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

    def check_logs(self, logs, keys, exact=False):
        assert keys <= set(logs) and (not exact or set(logs) == keys), sorted(logs)
        assert all(v.dim() == 0 and torch.isfinite(v) for v in logs.values()), logs

    def test_a_d_step_lowers_loss_d_on_a_fixed_batch_and_leaves_the_generators_untouched(self):
        game, batch = self.fresh(), self.make_batch()
        critics = self.critics(game)
        others = [name for name in game.players if name not in critics]
        before = parameters(game, others)
        losses = []
        for _ in range(self.d_steps):
            torch.manual_seed(1)  # the same noise, augmentation and pool draws each time: one fixed batch
            logs = game.discriminator_step(batch)
            self.check_logs(logs, self.d_logs)
            losses.append(logs[LOSS_D].item())
        assert losses[-1] < losses[0], losses
        assert not changed(before, game), changed(before, game)
        critics_before = parameters(game, critics)
        game.discriminator_step(batch)
        moved = changed(critics_before, game)
        assert len(moved) > 0  # ... while the discriminators do move
        for prefix in self.d_moves:
            assert any(name.startswith(prefix) for name in moved), (prefix, moved)

    def test_a_g_step_leaves_the_discriminators_untouched(self):
        game, batch = self.fresh(), self.make_batch()
        critics = self.critics(game)
        before = parameters(game, critics)
        names = [name for name in game.players if name not in critics]
        generators = parameters(game, names)
        self.check_logs(game.generator_step(batch), self.g_logs, self.only_g_logs)
        assert not changed(before, game), changed(before, game)
        moved = changed(generators, game)
        for name in names:  # every generator moves
            assert any(key.startswith(f"{name}.") for key in moved), name
        assert all(p.requires_grad for name in critics for p in game.players[name].parameters())

    def observed_phase(self, game):
        rates = {name: [g["lr"] for g in opt.param_groups] for name, opt in game.optimizers.items()}
        return rates, game.critic_steps, game.twice_differentiated(), game.export_info()

    def test_the_critics_augmentation_is_declared(self):
        """Tools (benchmarks/d_verdicts.py) read what the critics' images pass through from `augmenter`."""
        game = self.fresh()
        assert game.augmenter is None or (isinstance(game.augmenter, Augmenter) and isinstance(game.augmenter.active, bool))

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
