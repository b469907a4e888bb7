"""The round's toolkit: freezing, the last-fakes holder, learning-rate scaling, and D's and G's losses."""
import pytest
import torch
from torch import nn

from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import D_FAKE, D_REAL, GRADIENT_PENALTY, LOSS_D, R1, R2, DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.base import Game
from ganforge.games.registry import get_family
from ganforge.games.toolkit import LastFakes, Penalties, discriminator_loss, frozen, generator_loss
from ganforge.losses import get_loss, logistic_discriminator, relativistic_average_generator
from tests.games.game_contract import assert_g_loss_pairs_with_reals

CPU = Runtime(torch.device("cpu"))


def half_square(x):
    """D(x) = ½‖x‖² per sample: ∇D(x) = x, so R1 = E‖x_real‖² and R2 = E‖x_fake‖²."""
    return 0.5 * x.flatten(1).square().sum(dim=1)


def test_frozen_turns_gradients_off_and_restores_each_flag_even_after_an_error():
    a, b = nn.Linear(2, 2), nn.Linear(2, 1)
    b.bias.requires_grad_(False)
    with pytest.raises(RuntimeError):
        with frozen(a, b):
            assert not any(p.requires_grad for m in (a, b) for p in m.parameters())
            raise RuntimeError("boom")
    assert a.weight.requires_grad and a.bias.requires_grad and b.weight.requires_grad
    assert not b.bias.requires_grad  # a flag that was off stays off


def test_last_fakes_are_taken_once_and_round_trip_through_state():
    holder = LastFakes(Runtime(torch.device("cpu"), channels_last=True), ("a", "out"))
    assert holder.take() is None and holder.state_dict() is None
    x, y = torch.randn(2, 3, 4, 4, requires_grad=True), torch.randn(2, 3, 4, 4)
    holder.keep(x, y)
    state = holder.state_dict()
    assert set(state) == {"a", "out"} and not state["a"].requires_grad
    again = LastFakes(Runtime(torch.device("cpu"), channels_last=True), ("a", "out"))
    again.load_state_dict(state)
    a, out = again.take()
    assert torch.equal(a, x.detach()) and torch.equal(out, y)
    assert a.is_contiguous(memory_format=torch.channels_last)
    assert again.take() is None
    again.load_state_dict(None)
    assert again.held is None
    again.load_state_dict({"out": y})  # saved by a holder of fewer names: nothing held, the next D step makes its own
    assert again.held is None


def test_penalties_reject_negative_weights_and_intervals_below_one():
    with pytest.raises(GanforgeError, match="r2_gamma=-1"):
        Penalties(r2_gamma=-1.0)
    with pytest.raises(GanforgeError, match="interval=0"):
        Penalties(interval=0)
    assert not Penalties().any and Penalties(r2_gamma=1.0).any


def test_discriminator_loss_adds_r1_and_r2_in_closed_form():
    real, fake = torch.randn(6, 3), torch.randn(6, 3)
    loss = get_loss("non_saturating")
    terms = discriminator_loss(half_square, real, fake, loss, Penalties(r1_gamma=2.0, r2_gamma=0.5))
    adversarial = logistic_discriminator(half_square(real), half_square(fake))
    r1, r2 = real.square().sum(1).mean(), fake.square().sum(1).mean()
    assert terms.adversarial.item() == pytest.approx(adversarial.item())
    assert terms.logs[R1].item() == pytest.approx(r1.item()) and terms.logs[R2].item() == pytest.approx(r2.item())
    assert terms.loss.item() == pytest.approx((adversarial + 0.5 * 2.0 * r1 + 0.5 * 0.5 * r2).item())
    assert terms.logs[LOSS_D].item() == pytest.approx(adversarial.item())
    assert terms.logs[D_REAL].item() == pytest.approx(torch.sigmoid(half_square(real)).mean().item())
    assert terms.logs[D_FAKE].item() == pytest.approx(torch.sigmoid(half_square(fake)).mean().item())


def test_lazy_penalties_run_every_interval_weighted_by_it():
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    loss, penalties = get_loss("hinge"), Penalties(r1_gamma=1.0, r2_gamma=1.0, interval=4)
    due = [R1 in discriminator_loss(half_square, real, fake, loss, penalties, d_step=k).logs for k in range(8)]
    assert due == [True, False, False, False, True, False, False, False]
    terms = discriminator_loss(half_square, real, fake, loss, penalties, d_step=4)
    weighted = 0.5 * 4 * (real.square().sum(1).mean() + fake.square().sum(1).mean())
    assert terms.loss.item() == pytest.approx(terms.adversarial.item() + weighted.item())


def test_gradient_penalty_scale_and_joint_pass():
    w = torch.tensor([3.0, 4.0])
    calls = []

    def linear(x):
        calls.append(x.shape[0])
        return x @ w

    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    terms = discriminator_loss(linear, real, fake, get_loss("wasserstein"), Penalties(gp_weight=10.0), joint=True, scale=0.5)
    assert calls[0] == 10  # real and fake in one pass, then the penalty's interpolates
    adversarial = 0.5 * ((fake @ w).mean() - (real @ w).mean())
    assert terms.logs[LOSS_D].item() == pytest.approx(adversarial.item(), abs=1e-5)
    assert terms.logs[GRADIENT_PENALTY].item() == pytest.approx(16.0)  # (‖w‖ - 1)² = 4²
    assert terms.loss.item() == pytest.approx(adversarial.item() + 160.0, abs=1e-4)


def test_generator_loss_reads_real_logits_only_for_a_relativistic_loss():
    real, fake = torch.full((3, 1), 1.0), torch.full((3, 1), -1.0, requires_grad=True)
    seen = []

    def critic(x):
        seen.append(x)
        return 2.0 * x

    assert generator_loss(critic, fake, get_loss("hinge"), real).item() == pytest.approx(2.0)
    assert len(seen) == 1
    value = generator_loss(critic, fake, get_loss("ragan"), real)
    assert value.item() == pytest.approx(relativistic_average_generator(2.0 * real, 2.0 * fake.detach()).item())
    value.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    with pytest.raises(GanforgeError, match="'ragan'"):
        generator_loss(critic, fake, get_loss("ragan"))


class PairGame(Game):
    """A bare game seated with the toolkit."""


def test_seat_pair_builds_two_adams_and_scales_their_rates():
    cfg = TrainConfig(lr_g=1e-3, lr_d=4e-4, beta1=0.1, beta2=0.9, n_critic=3)
    game = PairGame(CPU, DataInfo(1, 4))
    game.seat_pair(nn.Linear(2, 2), nn.Linear(2, 1), cfg, Penalties(r1_gamma=1.0))
    assert set(game.optimizers) == {"generator", "discriminator"} and game.critic_steps == 3
    assert game.optimizers["discriminator"].param_groups[0]["betas"] == (0.1, 0.9)
    game.scale_learning_rates(0.5)
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(5e-4)
    assert game.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(2e-4)
    assert game.twice_differentiated() == {"discriminator"}
    game.penalties = Penalties()
    assert game.twice_differentiated() == set()


def test_add_adam_over_several_players_keeps_their_order():
    game = PairGame(CPU, DataInfo(1, 4))
    game.seat(g=nn.Linear(2, 2), f=nn.Linear(3, 3))
    game.add_adam("both", 1e-3, (0.5, 0.999), ("g", "f"))
    params = game.optimizers["both"].param_groups[0]["params"]
    assert [p.shape for p in params] == [p.shape for name in ("g", "f") for p in game.players[name].parameters()]


def test_dcgan_plays_the_relativistic_pairing_loss_with_the_runs_r2():
    family = get_family("dcgan")
    cfg = TrainConfig.from_dict({"model": "dcgan", "loss": "relativistic_pairing", "r2_gamma": 0.5, "image_size": 8, "lr_g": 4e-4, "lr_d": 4e-4})
    game = family.build(cfg, resolve_options(family.options, {"width": 8}, "dcgan"), DataInfo(1, 8),
                        Runtime(torch.device("cpu")))
    assert game.loss.relativistic and game.penalties.r2_gamma == 0.5 and game.penalties.r1_gamma == 0.2
    torch.manual_seed(0)
    real = torch.rand(4, 1, 8, 8) * 2 - 1
    logs = game.discriminator_step({"images": real})
    assert {"r1", "r2"} <= set(logs) and logs["r2"] > 0
    assert_g_loss_pairs_with_reals(game, real)
    with pytest.raises(GanforgeError, match="r2_gamma=-1"):
        family.build(TrainConfig(model="dcgan", loss="non_saturating", r2_gamma=-1.0, lr_g=2e-4, lr_d=2e-4), resolve_options(family.options, {}, "dcgan"),
                     DataInfo(1, 8), Runtime(torch.device("cpu")))


def test_in_passes_splits_rows_by_the_pixel_budget_and_joins_them_in_order():
    from ganforge.games.toolkit import in_passes

    calls = []

    def make(rows):
        calls.append(rows["z"].shape[0])
        return rows["z"] * 2 + rows["labels"][:, None]

    inputs = {"z": torch.randn(64, 3), "labels": torch.arange(64)}
    assert torch.equal(in_passes(make, inputs, 256), inputs["z"] * 2 + inputs["labels"][:, None])
    assert calls == [16, 16, 16, 16]  # 16 images of 256 px a pass
    calls.clear()
    in_passes(make, inputs, 128)
    assert calls == [64]  # a 64-image grid up to 128 px stays one pass


def test_a_256_px_dcgan_preview_is_rendered_in_passes_with_the_images_of_one_pass():
    fam = get_family("dcgan")
    game = fam.build(TrainConfig(model="dcgan", loss="non_saturating", lr_g=2e-4, lr_d=2e-4), fam.options(width=2, z_dim=8), DataInfo(3, 256), CPU)
    inputs = game.sample_inputs(64, torch.Generator().manual_seed(0))
    rows = []
    hook = game.generator.register_forward_hook(lambda module, args, out: rows.append(out.shape[0]))
    images = game.render(game.generator, inputs)
    hook.remove()
    assert rows == [16, 16, 16, 16] and images.shape == (64, 3, 256, 256)
    with torch.no_grad():
        game.generator.eval()
        whole = game.generator(inputs["z"])
    assert torch.allclose(images, whole, atol=1e-6)
