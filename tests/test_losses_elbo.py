import math

import pytest
import torch

from ganforge.losses import bernoulli_nll, gaussian_kl, gaussian_nll, reparameterize


def test_kl_matches_the_closed_form_by_hand():
    mean = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # row 0: ½[(1 + 1 - 1 - 0) + (0 + 2 - 1 - log 2)] = ½(2 - log 2); row 1: the prior itself, 0
    assert gaussian_kl(mean, logvar).tolist() == pytest.approx([0.5 * (2 - math.log(2.0)), 0.0], abs=1e-6)


def test_bernoulli_nll_by_hand_for_gray_targets():
    logits = torch.tensor([0.0, math.log(3.0)]).view(1, 1, 1, 2)
    target = torch.tensor([1.0, 0.5]).view(1, 1, 1, 2)
    # -log σ(0) = log 2; σ(log 3) = ¾, so -(½ log ¾ + ½ log ¼)
    expected = math.log(2.0) - 0.5 * (math.log(0.75) + math.log(0.25))
    assert bernoulli_nll(logits, target).item() == pytest.approx(expected, abs=1e-6)


def test_gaussian_nll_by_hand_and_its_sum_over_pixels():
    mean = torch.tensor([[0.5, 0.25]])
    target = torch.tensor([[1.0, 0.25]])
    sigma = 0.5

    def pixel(d):
        return 0.5 * (d / sigma) ** 2 + math.log(sigma) + 0.5 * math.log(2 * math.pi)

    assert gaussian_nll(mean, target, math.log(sigma)).item() == pytest.approx(pixel(0.5) + pixel(0.0), abs=1e-6)
    log_sigma = torch.tensor(math.log(sigma), requires_grad=True)
    gaussian_nll(mean, target, log_sigma).backward()
    # d/d log σ of Σ [½ d² e^{-2 log σ} + log σ] = Σ (1 - d²/σ²) = (1 - 1) + (1 - 0)
    assert log_sigma.grad.item() == pytest.approx(1.0, abs=1e-6)


def test_reparameterize_is_mean_plus_scaled_seeded_noise_and_passes_gradients():
    mean = torch.tensor([[1.0, -2.0, 0.5]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(4.0), -100.0]], requires_grad=True)
    z = reparameterize(mean, logvar, torch.Generator().manual_seed(3))
    noise = torch.randn(1, 3, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(z, mean.detach() + torch.tensor([[1.0, 2.0, 0.0]]) * noise, atol=1e-6)
    z.sum().backward()
    assert mean.grad.tolist() == [[1.0, 1.0, 1.0]]
    assert logvar.grad[0, 1].item() == pytest.approx(0.5 * 2.0 * noise[0, 1].item(), abs=1e-5)


def test_fitted_sigma_is_the_root_mean_squared_error_and_minimizes_the_gaussian_nll():
    from ganforge.games.vae import optimal_log_sigma

    mean = torch.zeros(1, 1, 1, 2)
    target = torch.tensor([0.3, 0.4]).view(1, 1, 1, 2)
    log_sigma = optimal_log_sigma(mean, target)
    assert log_sigma.item() == pytest.approx(0.5 * math.log((0.09 + 0.16) / 2), abs=1e-6)
    best = gaussian_nll(mean, target, log_sigma).item()
    for factor in (0.9, 1.1):
        assert gaussian_nll(mean, target, log_sigma + math.log(factor)).item() > best
    assert optimal_log_sigma(target, target).item() == pytest.approx(math.log(1e-3))  # a perfect fit is floored
