import math

import pytest
import torch

from ganforge import losses
from ganforge.errors import GanforgeError


def _p(x):
    return torch.sigmoid(x)


def test_logistic_discriminator_is_the_value_function_negated():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-3.0, 0.2])
    expected = -(torch.log(_p(real)).mean() + torch.log(1 - _p(fake)).mean())
    assert torch.allclose(losses.logistic_discriminator(real, fake), expected, atol=1e-6)


def test_equilibrium_values():
    zero = torch.zeros(4)
    assert losses.logistic_discriminator(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert losses.minimax_generator(zero).item() == pytest.approx(-math.log(2))
    assert losses.non_saturating_generator(zero).item() == pytest.approx(math.log(2))


def test_generator_losses_closed_forms():
    fake = torch.tensor([-2.0, 0.0, 3.0])
    assert torch.allclose(losses.minimax_generator(fake), torch.log(1 - _p(fake)).mean(), atol=1e-6)
    assert torch.allclose(losses.non_saturating_generator(fake), -torch.log(_p(fake)).mean(), atol=1e-6)
    assert torch.allclose(losses.hinge_generator(fake), -fake.mean())
    assert torch.allclose(losses.least_squares_generator(fake), 0.5 * ((fake - 1) ** 2).mean())


def test_other_discriminator_closed_forms():
    real, fake = torch.tensor([1.5, -0.5]), torch.tensor([0.3, -2.0])
    hinge = torch.clamp(1 - real, min=0).mean() + torch.clamp(1 + fake, min=0).mean()
    assert torch.allclose(losses.hinge_discriminator(real, fake), hinge)
    assert torch.allclose(losses.wasserstein_discriminator(real, fake), fake.mean() - real.mean())
    ls = 0.5 * (((real - 1) ** 2).mean() + (fake ** 2).mean())
    assert torch.allclose(losses.least_squares_discriminator(real, fake), ls)


def test_minimax_saturates_where_non_saturating_does_not():
    """d/dl of log(1 - σ(l)) is -σ(l) -> 0 as D(G(z)) -> 0; d/dl of -log σ(l) is -(1 - σ(l)) -> -1."""
    for logit in (-5.0, -10.0, -20.0):
        f1 = torch.tensor([logit], requires_grad=True)
        losses.minimax_generator(f1).backward()
        f2 = torch.tensor([logit], requires_grad=True)
        losses.non_saturating_generator(f2).backward()
        s = 1 / (1 + math.exp(-logit))
        assert f1.grad.item() == pytest.approx(-s, rel=1e-5)
        assert f2.grad.item() == pytest.approx(-(1 - s), rel=1e-5)
        assert abs(f2.grad.item()) / abs(f1.grad.item()) > 100


def test_losses_are_stable_for_extreme_logits():
    big = torch.tensor([100.0, -100.0])
    for loss in losses.LOSSES.values():
        assert torch.isfinite(loss.discriminator(big, -big))
        assert torch.isfinite(loss.generator(big))
    assert losses.non_saturating_generator(torch.tensor([-100.0])).item() == pytest.approx(100.0)


def test_gradient_penalty_and_r1_for_a_linear_critic():
    w = torch.tensor([3.0, 4.0])

    def critic(x):
        return x.flatten(1) @ w

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)
    x = real.clone().requires_grad_(True)
    assert losses.r1_penalty(critic(x), x).item() == pytest.approx(25.0)


def test_cycle_and_identity_terms():
    a, b = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    assert losses.cycle_loss(a, b).item() == pytest.approx(0.5)
    assert losses.identity_loss(b, a).item() == pytest.approx(0.5)


def test_registry_names_and_errors():
    assert set(losses.LOSSES) == {"minimax", "non_saturating", "hinge", "wasserstein", "least_squares"}
    assert losses.get_loss("non-saturating").name == "non_saturating"
    assert losses.get_loss("minimax").generator is losses.minimax_generator
    with pytest.raises(GanforgeError, match="'softmax'"):
        losses.get_loss("softmax")
