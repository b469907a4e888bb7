import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from ganforge.config import TrainConfig
from ganforge.contract import D_FAKE, D_REAL, LOSS_D, LOSS_G, Callback, Runtime
from ganforge.data.superres import superres_from_tensor
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.games.registry import get_family
from ganforge.games.srgan import SRGANGame, SRGANOptions, SuperResInfo
from ganforge.losses import relativistic_average_discriminator, relativistic_average_generator
from ganforge.models.vgg19 import CONV5_4, build_features
from ganforge.schedules import psnr_then_gan
from ganforge.train.api import train
from tests.data.photo_folder import write_photos
from tests.games.game_contract import GameContract

TINY = {"scale": 2, "blocks": 1, "features": 8, "growth": 4, "d_width": 4}


def make_game(cfg=None, crop=16, **options):
    data = superres_from_tensor(torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8))
    info = SuperResInfo(3, crop, scale=options.get("scale", 2), data=data)
    return SRGANGame(Runtime(torch.device("cpu")), info, SRGANOptions(**{**TINY, **options}), cfg or TrainConfig(lr_g=2e-4, lr_d=2e-4))


class Scale(nn.Module):
    """LR -> nearest x2 of w·LR (a generator with a graph)."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return torch.nn.functional.interpolate(self.w * x, scale_factor=2, mode="nearest")


class Critic(nn.Module):
    """Scores each image by its mean times `a`; its features are the image itself and twice it."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x, features=False):
        score = self.a * x.mean((1, 2, 3)).unsqueeze(1)
        return (score, [x, 2 * x]) if features else score


def test_phases_switch_at_the_right_round_with_their_learning_rates():
    assert [psnr_then_gan(s, 10, 0.3) for s in range(5)] == ["psnr"] * 3 + ["gan"] * 2
    assert psnr_then_gan(0, 10, 0.0) == "gan" and psnr_then_gan(9, 10, 1.0) == "psnr"
    assert psnr_then_gan(12, 10, 1.0) == "psnr"  # a time budget's projected total may fall short of the rounds played
    assert [psnr_then_gan(s, 100, 0.29) for s in (28, 29)] == ["psnr", "gan"]  # exact, not 28.999...
    with pytest.raises(GanforgeError, match="psnr_fraction"):
        psnr_then_gan(0, 10, 1.5)
    game = make_game(TrainConfig(lr_g=2e-4, lr_d=1e-4), psnr_fraction=0.5)
    game.set_phase(4, 10)
    assert game.phase == "psnr" and game.critic_steps == 0
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2e-4)
    game.set_phase(5, 10)
    assert game.phase == "gan" and game.critic_steps == 1
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert game.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(0.5e-4)


def test_d_betas_give_ds_adam_its_own_betas_and_leave_gs_at_the_runs():
    cfg = TrainConfig(lr_g=2e-4, lr_d=1e-4, beta1=0.5, beta2=0.999)
    game = make_game(cfg, psnr_fraction=0.5, d_betas=[0.9, 0.9])
    assert game.optimizers["discriminator"].param_groups[0]["betas"] == (0.9, 0.9)
    assert game.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    game.set_phase(5, 10)  # the GAN phase scales D's own Adam's rate as before
    assert game.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(0.5e-4)
    assert make_game(cfg).optimizers["discriminator"].param_groups[0]["betas"] == (0.5, 0.999)  # null: the run's


def test_psnr_phase_is_l1_alone_and_leaves_d_untouched():
    game = make_game()
    game.players["generator"] = Scale(0.5)
    game.optimizers["generator"] = torch.optim.SGD(game.players["generator"].parameters(), lr=0.0)
    game.set_phase(0, 10)
    d_before = [p.clone() for p in game.players["discriminator"].parameters()]
    logs = game.generator_step({"a": torch.full((2, 3, 4, 4), 0.4), "b": torch.full((2, 3, 8, 8), -0.2)})
    assert set(logs) == {LOSS_G, "loss_l1"} and logs[LOSS_G].item() == pytest.approx(0.4)  # |0.2 - (-0.2)|
    assert all(torch.equal(a, b) for a, b in zip(d_before, game.players["discriminator"].parameters()))


def test_gan_phase_objective_matches_its_weighted_terms():
    game = make_game(psnr_fraction=0.0)
    game.players.update(generator=Scale(0.5), discriminator=Critic(2.0))
    for name in ("generator", "discriminator"):
        game.optimizers[name] = torch.optim.SGD(game.players[name].parameters(), lr=0.0)
    game.set_phase(0, 10)
    lr, hr = torch.full((2, 3, 4, 4), 0.4), torch.full((2, 3, 8, 8), -0.2)
    logs = game.generator_step({"a": lr, "b": hr})
    fake = torch.full((2, 1), 2.0 * 0.2)  # a · mean(G(lr))
    real = torch.full((2, 1), 2.0 * -0.2)
    adversarial = relativistic_average_generator(real, fake).item()
    # features x and 2x: mean(|0.2 + 0.2|, |0.4 + 0.4|) = 0.6
    assert logs["loss_l1"].item() == pytest.approx(0.4) and logs["loss_perceptual"].item() == pytest.approx(0.6)
    assert logs["loss_g_adv"].item() == pytest.approx(adversarial)
    assert logs[LOSS_G].item() == pytest.approx(1e-2 * 0.4 + 1.0 * 0.6 + 5e-3 * adversarial)
    # D then learns RaGAN on the crops G just trained on: their HR against G's outputs, not its own batch's HR
    d_logs = game.discriminator_step({"a": torch.zeros(2, 3, 4, 4), "b": torch.full((2, 3, 8, 8), 0.1)})
    expected = relativistic_average_discriminator(real, fake).item()
    assert d_logs[LOSS_D].item() == pytest.approx(expected)
    assert d_logs[D_REAL].item() == pytest.approx(-0.4) and d_logs[D_FAKE].item() == pytest.approx(0.4)
    assert game.last_fakes.held is None


def test_r1_and_r2_add_their_closed_forms_to_ds_loss_and_gradient():
    """Critic(a) scores a·mean(x): its input gradient is a/n on each of the n = 3·8·8 values, so ‖∇‖² = a²/n."""
    lr, hr = torch.full((2, 3, 4, 4), 0.4), torch.full((2, 3, 8, 8), -0.2)
    grads = {}
    for r1_gamma, r2_gamma in ((0.0, 0.0), (10.0, 0.0), (10.0, 4.0)):
        game = make_game(TrainConfig(r2_gamma=r2_gamma, lr_g=2e-4, lr_d=2e-4), psnr_fraction=0.0, r1_gamma=r1_gamma)
        game.players.update(generator=Scale(0.5), discriminator=Critic(2.0))
        game.optimizers["discriminator"] = torch.optim.SGD(game.players["discriminator"].parameters(), lr=0.0)
        game.set_phase(0, 10)
        assert game.twice_differentiated() == ({"discriminator"} if r1_gamma else set())
        logs = game.discriminator_step({"a": lr, "b": hr})
        grads[r1_gamma, r2_gamma] = game.players["discriminator"].a.grad.item()
        assert ("r1" in logs) == (r1_gamma > 0) and ("r2" in logs) == (r2_gamma > 0)
        for key in ("r1", "r2"):
            if key in logs:
                assert logs[key].item() == pytest.approx(4.0 / 192)
    # d/da of γ/2 · a²/n is γ·a/n
    assert grads[10.0, 0.0] - grads[0.0, 0.0] == pytest.approx(10.0 * 2.0 / 192)
    assert grads[10.0, 4.0] - grads[10.0, 0.0] == pytest.approx(4.0 * 2.0 / 192)


def test_r1_differentiates_twice_through_the_spectral_norm_unet():
    game = make_game(psnr_fraction=0.0, r1_gamma=1.0)
    game.set_phase(0, 10)
    d_before = [p.detach().clone() for p in game.players["discriminator"].parameters()]
    logs = game.discriminator_step({"a": torch.rand(2, 3, 8, 8) * 2 - 1, "b": torch.rand(2, 3, 16, 16) * 2 - 1})
    assert logs["r1"].item() > 0 and torch.isfinite(logs[LOSS_D])
    assert any(not torch.equal(a, b) for a, b in zip(d_before, game.players["discriminator"].parameters()))


def test_first_gan_step_of_d_upscales_its_own_batch_and_pairs_it_with_its_hr():
    game = make_game(psnr_fraction=0.0)
    game.players.update(generator=Scale(0.5), discriminator=Critic(2.0))
    game.optimizers["discriminator"] = torch.optim.SGD(game.players["discriminator"].parameters(), lr=0.0)
    game.set_phase(0, 10)
    d_logs = game.discriminator_step({"a": torch.full((2, 3, 4, 4), 0.6), "b": torch.full((2, 3, 8, 8), 0.1)})
    real, fake = torch.full((2, 1), 2.0 * 0.1), torch.full((2, 1), 2.0 * 0.3)  # a · mean(HR), a · mean(0.5 · LR)
    assert d_logs[LOSS_D].item() == pytest.approx(relativistic_average_discriminator(real, fake).item())
    assert d_logs[D_REAL].item() == pytest.approx(0.2) and d_logs[D_FAKE].item() == pytest.approx(0.6)


def test_a_checkpoint_holding_only_gs_output_resumes_with_d_upscaling_its_batch():
    game = make_game(psnr_fraction=0.0)
    game.load_extra_state({"fake": {"out": torch.zeros(2, 3, 16, 16)}})  # saved before the HR crops were held too
    assert game.last_fakes.held is None
    game.load_extra_state({"fake": {"out": torch.zeros(2, 3, 16, 16), "hr": torch.ones(2, 3, 16, 16)}})
    fake, hr = game.last_fakes.held
    assert torch.equal(fake, torch.zeros(2, 3, 16, 16)) and torch.equal(hr, torch.ones(2, 3, 16, 16))


def test_the_preview_is_bicubic_generated_and_high_resolution_rows():
    game = make_game(discriminator="vgg")
    grid = game.render(game.generator, game.sample_inputs(64, torch.Generator().manual_seed(0)))
    assert grid.shape == (9, 3, 16, 16)  # three rows of bicubic | G | HR


def test_vgg19_perceptual_path_with_random_weights(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in build_features(CONV5_4).state_dict().items()}, path)
    game = make_game(psnr_fraction=0.0, vgg19_weights=str(path), crop=32)
    assert game.vgg is not None and game.export_info()["perceptual"] == "vgg19"
    batch = {"a": torch.rand(2, 3, 16, 16) * 2 - 1, "b": torch.rand(2, 3, 32, 32) * 2 - 1}
    with torch.no_grad():
        fake = game.generator(batch["a"])
        expected = (game.vgg(fake) - game.vgg(batch["b"])).abs().mean().item()
    logs = game.generator_step(batch)
    assert logs["loss_perceptual"].item() == pytest.approx(expected, rel=1e-4)
    assert not any(p.requires_grad for p in game.vgg.parameters())


def test_bad_options_are_refused():
    for bad, match in (({"scale": 3}, "scale=3"), ({"discriminator": "patch"}, "discriminator"), ({"psnr_fraction": 2.0}, "psnr_fraction"),
                       ({"upsample": "deconv"}, "upsample"), ({"crop": 30, "scale": 4}, "crop=30"), ({"holdout_every": 1}, "holdout_every"),
                       ({"gan_weight": -1.0}, "gan_weight"), ({"blocks": 0}, "blocks"), ({"min_texture": -1.0}, "min_texture"),
                       ({"skip_upscale": "nearest"}, "skip_upscale"), ({"d_betas": [0.9]}, r"d_betas=\[0.9\] is invalid"),
                       ({"d_betas": [0.9, 1.0]}, r"d_betas=\[0.9, 1.0\] is invalid; expected two numbers in \[0, 1\)"),
                       ({"d_betas": "0.9, 0.9"}, "d_betas='0.9, 0.9'"), ({"r1_gamma": -1.0}, r"r1_gamma=-1.0 is invalid; expected a number >= 0"),
                       ({"r1_gamma": float("nan")}, "r1_gamma=nan")):
        with pytest.raises(GanforgeError, match=match):
            SRGANOptions(**bad).validate()
    with pytest.raises(GanforgeError, match="Loss 'hinge' is not available for srgan"):
        get_family("srgan").build(TrainConfig(loss="hinge"), SRGANOptions(**TINY), None, None)


class Stopped(Exception):
    """Ends a run as a kill would."""


class KeepBetas(Callback):
    """Records each optimizer's Adam betas when a run starts."""

    def __init__(self):
        self.betas = {}

    def on_start(self, trainer):
        self.betas = {k: o.param_groups[0]["betas"] for k, o in trainer.game.optimizers.items()}


class StopAfter(Callback):
    """Raises in the round after `step`."""

    def __init__(self, step):
        self.step = step

    def on_round_end(self, trainer, step):
        if step > self.step:
            raise Stopped


def sr_cfg(tmp_path, data, **kw):
    base = dict(model="srgan", data=str(data), steps=6, batch_size=2, out=str(tmp_path), log_every=1, checkpoint_every=3,
                keep_checkpoints=5, precision="fp32", options={**TINY, "crop": 16, "psnr_fraction": 0.5, "d_betas": [0.9, 0.9]})
    base.update(kw)
    return TrainConfig(**base)


def test_training_switches_phase_exports_and_resumes_bit_exact_across_the_switch(tmp_path):
    data = write_photos(tmp_path / "photos")
    straight = train(sr_cfg(tmp_path, data, name="a"), callbacks=[])
    rows = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "step" in r and "loss_g" in r]
    assert [LOSS_D in r for r in rows] == [False] * 3 + [True] * 3  # the switch after round 3 of 6
    generator, info = load_generator(straight)
    assert info["kind"] == "superres" and info["scale"] == 2 and info["held_out"] == ["03.png"] and info["image_size"] == 16
    assert generator(torch.zeros(1, 3, 5, 7)).shape == (1, 3, 10, 14)
    # killed in round 4 (the first GAN round) of the same 6-round run: resumed from round 3's checkpoint, through the switch
    with pytest.raises(Stopped):
        train(sr_cfg(tmp_path, data, name="b"), callbacks=[StopAfter(3)])
    half = tmp_path / "b"
    resumed = KeepBetas()
    train(TrainConfig(), resume=half, callbacks=[resumed])
    run = TrainConfig()  # the run's betas for G, the option d_betas for D, also after the resume
    assert resumed.betas == {"generator": (run.beta1, run.beta2), "discriminator": (0.9, 0.9)}
    a = load_file(str(straight / "checkpoints" / "step_00000006" / "state.safetensors"))
    b = load_file(str(half / "checkpoints" / "step_00000006" / "state.safetensors"))
    assert a.keys() == b.keys() and any("discriminator" in k for k in a)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


def test_bad_training_data_trains_nothing(tmp_path):
    data = write_photos(tmp_path / "small", n=2, size=(20, 20))
    with pytest.raises(GanforgeError, match="smaller than the 16-px training crop"):
        train(sr_cfg(tmp_path, data, name="bad"), callbacks=[])
    assert not (tmp_path / "bad").exists()


class TestSRGANContract(GameContract):
    d_logs = frozenset({LOSS_D, D_REAL, D_FAKE})
    g_logs = frozenset({LOSS_G, "loss_l1", "loss_perceptual", "loss_g_adv"})

    def make_game(self):
        return make_game(psnr_fraction=0.0)

    def make_batch(self):
        return {"a": torch.rand(4, 3, 8, 8) * 2 - 1, "b": torch.rand(4, 3, 16, 16) * 2 - 1}


class TestSRGANVGGCriticContract(TestSRGANContract):
    """The VGG-style critic in the GAN phase: the real players step."""

    def make_game(self):
        return make_game(discriminator="vgg", psnr_fraction=0.0)

    def make_batch(self):
        return {"a": torch.rand(2, 3, 8, 8) * 2 - 1, "b": torch.rand(2, 3, 16, 16) * 2 - 1}


def test_photo_data_refuses_flat_crops_by_default_and_the_generator_skips_from_bicubic(tmp_path):
    from ganforge.games.srgan import load_data

    data = write_photos(tmp_path / "photos")
    cfg = sr_cfg(tmp_path, data)
    options = SRGANOptions(**{**TINY, "crop": 16})
    source = load_data(cfg, options, Runtime(torch.device("cpu")))
    assert options.min_texture == 4.0 and source.min_texture == 4.0 and source.texture is not None
    assert load_data(cfg, SRGANOptions(**{**TINY, "crop": 16, "min_texture": 0.0}), Runtime(torch.device("cpu"))).texture is None
    game = make_game()
    assert game.generator.config["skip_upscale"] == "bicubic"
    assert make_game(skip_upscale="bilinear").generator.config["skip_upscale"] == "bilinear"


class PixelCritic(nn.Module):
    """Per-pixel scores: `a` times the image's channel mean, a (B, 1, H, W) map like the U-Net D's."""

    def __init__(self, a):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a))

    def forward(self, x, features=False):
        score = self.a * x.mean(1, keepdim=True)
        return (score, [x]) if features else score


def test_relativistic_pairing_judges_each_pixel_against_the_same_pixel_of_gs_output():
    game = get_family("srgan").build(TrainConfig(loss="relativistic_pairing", lr_g=2e-4, lr_d=2e-4), SRGANOptions(**TINY, psnr_fraction=0.0),
                                     SuperResInfo(3, 16, scale=2, data=None), Runtime(torch.device("cpu")))
    assert game.loss.name == "relativistic_pairing"
    game.players.update(generator=Scale(1.0), discriminator=PixelCritic(3.0))
    game.optimizers["discriminator"] = torch.optim.SGD(game.players["discriminator"].parameters(), lr=0.0)
    game.set_phase(0, 10)
    hr = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)  # scores vary over pixels and crops
    game.last_fakes.keep(hr.clone(), hr)  # G's outputs equal to their HR crops: nothing to tell apart
    logs = game.discriminator_step({"a": torch.zeros(2, 3, 4, 4), "b": torch.zeros(2, 3, 8, 8)})
    assert logs[LOSS_D].item() == pytest.approx(np.log(2.0))
    assert game.players["discriminator"].a.grad.item() == 0.0  # nothing pulls D's score spread in


def test_ragan_shrinks_a_per_pixel_ds_score_spread_where_real_and_fake_are_the_same():
    """The collapse of docs/superres.md: RaGAN compares each pixel with the other side's mean score, so on crops
    D cannot tell apart it pays for any spread of its scores and drives them to a constant."""
    game = make_game(psnr_fraction=0.0)
    game.players.update(generator=Scale(1.0), discriminator=PixelCritic(3.0))
    game.optimizers["discriminator"] = torch.optim.SGD(game.players["discriminator"].parameters(), lr=0.0)
    game.set_phase(0, 10)
    hr = torch.linspace(-1, 1, 2 * 3 * 8 * 8).reshape(2, 3, 8, 8)
    game.last_fakes.keep(hr.clone(), hr)
    logs = game.discriminator_step({"a": torch.zeros(2, 3, 4, 4), "b": torch.zeros(2, 3, 8, 8)})
    assert logs[LOSS_D].item() > 2 * np.log(2.0) + 0.1
    assert game.players["discriminator"].a.grad.item() > 0.1  # a descent step shrinks the spread
