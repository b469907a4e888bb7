"""ema.py: the decay schedule, the half-life cap and the checkpointed state."""
import pytest
import torch
from torch import nn

from ganforge.train.ema import EMA


def _scalar(value: float) -> nn.Module:
    module = nn.Module()
    module.w = nn.Parameter(torch.tensor([value]))
    return module


def _decays(ema: EMA, updates: int) -> list[float]:
    """The decay each update applied, read off the weights: the source is 1, the average starts at 0."""
    source, decays = _scalar(1.0), []
    for _ in range(updates):
        ema.module.w.data.zero_()
        ema.update(source)
        decays.append(1.0 - ema.module.w.item())
    return decays


def test_decay_warms_up_then_holds_at_the_configured_value():
    decays = _decays(EMA(_scalar(0.0), decay=0.9), 200)
    assert decays[0] == pytest.approx(2 / 11)
    assert decays[9] == pytest.approx(11 / 20)
    assert decays[199] == pytest.approx(0.9)


def test_rampup_caps_the_half_life_at_a_share_of_the_updates():
    decays = _decays(EMA(_scalar(0.0), decay=0.995, rampup=0.05), 3000)
    for n in (1, 100, 1000, 2000):
        expected = min(0.995, (1 + n) / (10 + n), 0.5 ** (1 / (0.05 * n)))
        assert decays[n - 1] == pytest.approx(expected, rel=1e-6)
    # after 1,000 updates the half-life is 50 updates, not the 138 of a plain 0.995
    assert decays[999] ** 50 == pytest.approx(0.5, rel=1e-5)
    # once 0.05 · n exceeds 0.995's half-life of 138.3 updates (n ≥ 2766), the configured decay holds
    assert decays[2699] < 0.995
    assert decays[2799] == pytest.approx(0.995)
    plain = _decays(EMA(_scalar(0.0), decay=0.995), 1000)
    assert decays[999] < plain[999]


def test_state_dict_restores_weights_and_update_count():
    source = _scalar(3.0)
    ema = EMA(_scalar(0.0), decay=0.99, rampup=0.05)
    for _ in range(7):
        ema.update(source)
    restored = EMA(_scalar(0.0), decay=0.99, rampup=0.05)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 7
    assert restored.module.w.item() == ema.module.w.item()
    ema.update(source), restored.update(source)
    assert restored.module.w.item() == ema.module.w.item()


def test_a_decay_given_by_the_game_replaces_the_ramped_one():
    ema = EMA(_scalar(0.0), decay=0.999, rampup=0.05)
    source = _scalar(1.0)
    ema.update(source, decay=0.75)
    assert ema.module.w.item() == pytest.approx(0.25) and ema.updates == 1
    ema.update(source, decay=0.0)  # no averaging: the copy follows the live weights
    assert ema.module.w.item() == 1.0
