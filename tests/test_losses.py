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
        assert torch.isfinite(loss.generator(-big, big) if loss.relativistic else loss.generator(big))
    assert losses.non_saturating_generator(torch.tensor([-100.0])).item() == pytest.approx(100.0)


def test_gradient_penalty_and_r1_for_a_linear_critic():
    w = torch.tensor([3.0, 4.0])

    def critic(x):
        return x.flatten(1) @ w

    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert losses.gradient_penalty(critic, real, fake).item() == pytest.approx((5.0 - 1.0) ** 2)
    x = real.clone().requires_grad_(True)
    assert losses.r1_penalty(critic(x), x).item() == pytest.approx(25.0)


def test_r2_is_the_squared_gradient_norm_on_generated_samples():
    fake = torch.randn(8, 3).requires_grad_(True)
    half_square = 0.5 * fake.square().sum(dim=1)  # D(x) = ½‖x‖², so ∇D(x) = x and R2 = E‖x‖²
    assert losses.r2_penalty(half_square, fake).item() == pytest.approx(fake.detach().square().sum(dim=1).mean().item())


def test_cycle_and_identity_terms():
    a, b = torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5)
    assert losses.cycle_loss(a, b).item() == pytest.approx(0.5)
    assert losses.identity_loss(b, a).item() == pytest.approx(0.5)


def test_registry_names_and_errors():
    assert set(losses.LOSSES) == {"minimax", "non_saturating", "hinge", "wasserstein", "least_squares", "ragan",
                                  "relativistic_pairing"}
    assert [name for name, loss in losses.LOSSES.items() if loss.relativistic] == ["ragan", "relativistic_pairing"]
    assert losses.get_loss("non-saturating").name == "non_saturating"
    assert losses.get_loss("minimax").generator is losses.minimax_generator
    with pytest.raises(GanforgeError, match="'softmax'"):
        losses.get_loss("softmax")


def test_relativistic_average_losses_match_their_closed_form():
    # C(x_r) = [1, 3] (mean 2), C(x_f) = [0, -2] (mean -1); σ(t) = 1 / (1 + e^-t)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])

    def log_sigmoid(t):
        return -math.log1p(math.exp(-t))

    d_real = [log_sigmoid(r - (-1.0)) for r in (1.0, 3.0)]  # log σ(C(x_r) - E C(x_f))
    d_fake = [log_sigmoid(-(f - 2.0)) for f in (0.0, -2.0)]  # log(1 - σ(C(x_f) - E C(x_r)))
    expected_d = -sum(d_real) / 2 - sum(d_fake) / 2
    assert losses.relativistic_average_discriminator(real, fake).item() == pytest.approx(expected_d)
    g_real = [log_sigmoid(-(r - (-1.0))) for r in (1.0, 3.0)]  # log(1 - σ(C(x_r) - E C(x_f)))
    g_fake = [log_sigmoid(f - 2.0) for f in (0.0, -2.0)]  # log σ(C(x_f) - E C(x_r))
    expected_g = -sum(g_real) / 2 - sum(g_fake) / 2
    assert losses.relativistic_average_generator(real, fake).item() == pytest.approx(expected_g)
    # symmetric: G's loss is D's with the roles of real and fake swapped; equal scores give 2·log 2 for both
    assert losses.relativistic_average_generator(real, fake).item() == pytest.approx(losses.relativistic_average_discriminator(fake, real).item())
    same = torch.zeros(4)
    assert losses.relativistic_average_discriminator(same, same).item() == pytest.approx(2 * math.log(2))
    # the generator's gradient reaches the fake scores through both terms
    f = fake.clone().requires_grad_(True)
    losses.relativistic_average_generator(real, f).backward()
    assert (f.grad < 0).all()


def test_relativistic_pairing_losses_match_their_closed_form():
    # pairs (D(x_r), D(x_f)) = (1, 0) and (3, -2): differences 1 and 5; softplus(t) = log(1 + e^t)
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([0.0, -2.0])
    expected_d = (math.log1p(math.exp(-1.0)) + math.log1p(math.exp(-5.0))) / 2
    expected_g = (math.log1p(math.exp(1.0)) + math.log1p(math.exp(5.0))) / 2
    assert losses.relativistic_pairing_discriminator(real, fake).item() == pytest.approx(expected_d)
    assert losses.relativistic_pairing_generator(real, fake).item() == pytest.approx(expected_g)
    # paired, not averaged: swapping the fakes changes the loss (the average loss would not change)
    assert losses.relativistic_pairing_discriminator(real, fake.flip(0)).item() != pytest.approx(expected_d)
    # equal scores: log 2 on both sides, and G's loss is D's with the roles swapped
    same = torch.zeros(3)
    assert losses.relativistic_pairing_discriminator(same, same).item() == pytest.approx(math.log(2))
    assert losses.relativistic_pairing_generator(real, fake).item() == pytest.approx(
        losses.relativistic_pairing_discriminator(fake, real).item())
    # the generator's gradient raises each fake score and lowers its paired real score, by σ(D(x_r) - D(x_f)) / n
    r, f = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    losses.relativistic_pairing_generator(r, f).backward()
    weights = torch.sigmoid(real - fake) / 2
    assert torch.allclose(f.grad, -weights) and torch.allclose(r.grad, weights)
    big = torch.tensor([100.0, -100.0])
    assert torch.isfinite(losses.relativistic_pairing_discriminator(big, -big))
    assert torch.isfinite(losses.relativistic_pairing_generator(big, -big))


def test_r2_penalty_is_the_squared_input_gradient_at_the_fakes_only():
    # D(x) = ½‖x‖² has ∇D(x) = x, so E‖∇D(x_f)‖² = E‖x_f‖²; the reals play no part
    def critic(x):
        return 0.5 * x.flatten(1).square().sum(1)

    torch.manual_seed(0)
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    f = fake.clone().requires_grad_(True)
    penalty = losses.r2_penalty(critic(f), f)
    assert penalty.item() == pytest.approx(fake.square().sum(1).mean().item(), rel=1e-6)
    x = real.clone().requires_grad_(True)
    assert losses.r1_penalty(critic(x), x).item() == pytest.approx(real.square().sum(1).mean().item(), rel=1e-6)
    # differentiable (D's parameters get its gradient); the gradient of γ/2·R2 in x_f is 2·γ/2·x_f/n here
    penalty.backward()
    assert torch.allclose(f.grad, 2 * fake / 6, atol=1e-6)
