import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.losses import minimax_generator, non_saturating_generator
from ganforge.theory.saturation import analytic_logit_gradient, parameter_gradient_norm, sample_gradients


def fixed_d(x):  # a fixed linear discriminator: logit = w.x + b
    return x @ torch.tensor([2.0, -1.0]) + 0.3


@pytest.mark.parametrize("loss,fn", [("minimax", minimax_generator), ("non_saturating", non_saturating_generator)])
def test_gradient_magnitudes_match_autograd_and_the_analytic_curve(loss, fn):
    x = torch.randn(50, 2) * 3
    out = sample_gradients(fixed_d, x, loss)
    d = torch.sigmoid(fixed_d(x))
    assert torch.allclose(out["d_fake"], d)
    assert torch.allclose(out["logit_grad"], analytic_logit_gradient(d, loss), atol=1e-6)
    for i in (0, 7, 49):  # each sample's own loss, differentiated by autograd
        xi = x[i:i + 1].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(fixed_d(xi)), xi)
        assert out["sample_grad"][i].item() == pytest.approx(g.norm().item(), rel=1e-5)
    assert torch.allclose(out["sample_grad"], out["logit_grad"] * 5 ** 0.5, rtol=1e-5)  # ‖w‖ = √5


def test_minimax_saturates_where_d_rejects_and_non_saturating_does_not():
    x = torch.tensor([[-5.0, 0.0], [5.0, 0.0]])  # D ≈ 0 and D ≈ 1
    mm, ns = sample_gradients(fixed_d, x, "minimax"), sample_gradients(fixed_d, x, "non_saturating")
    assert mm["logit_grad"][0] < 1e-3 and ns["logit_grad"][0] > 0.999
    assert mm["logit_grad"][1] > 0.999 and ns["logit_grad"][1] < 1e-3
    with pytest.raises(GanforgeError, match="hinge"):
        analytic_logit_gradient(torch.zeros(1), "hinge")


def test_parameter_gradient_norm_matches_autograd_and_restores_flags():
    g = torch.nn.Linear(2, 2)
    g.requires_grad_(False)
    z = torch.randn(16, 2)
    value = parameter_gradient_norm(g, fixed_d, z, "non_saturating")
    g2 = torch.nn.Linear(2, 2)
    g2.load_state_dict(g.state_dict())
    loss = non_saturating_generator(fixed_d(g2(z)))
    grads = torch.autograd.grad(loss, list(g2.parameters()))
    assert value == pytest.approx(torch.sqrt(sum(gr.square().sum() for gr in grads)).item(), rel=1e-5)
    assert not any(p.requires_grad for p in g.parameters())
