import pytest
import torch
import torch.nn.functional as F

from ganforge.config import TrainConfig, parse_assignment, resolve_options
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.registry import get_family
from ganforge.games.stylegan import StyleGANOptions
from tests.games.game_contract import GameContract, assert_g_loss_pairs_with_reals

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16)


def make_game(size=16, classes=0, **options):
    family = get_family("stylegan")
    opts = resolve_options(family.options, {**TINY, **options}, "stylegan")
    return family.build(TrainConfig(model="stylegan", loss="non_saturating"), opts,
                        DataInfo(1, size, classes, tuple(str(c) for c in range(classes))), Runtime(torch.device("cpu")))


def batch(size=16, n=8):
    return {"images": torch.rand(n, 1, size, size) * 2 - 1, "labels": torch.arange(n) % 3}


def test_defaults_are_the_small_cpu_config():
    options = StyleGANOptions()
    assert options.mapping_layers == 8 and options.mapping_lr_mul == 0.01 and options.style_mixing == 0.9
    assert options.r1_interval == 16 and options.growth and options.start_resolution == 4
    assert options.tanh_output  # the small config squashes its output; the GPU preset keeps it linear
    family = get_family("stylegan")
    assert family.default_image_size == 32 and family.default_loss == "non_saturating"


def test_the_first_d_step_logs_r1_and_a_g_step_moves_the_w_average():
    """What the contract (TestStyleGANContract) does not say: R1 on the first D step, w_avg tracked by G steps."""
    game = make_game()
    G = game.players["generator"]
    assert "r1" in game.discriminator_step(batch())
    w_avg = G.w_avg.clone()
    game.generator_step(batch())
    assert not torch.equal(G.w_avg, w_avg)


def test_lazy_r1_every_interval_and_counter_in_state():
    game = make_game(r1_interval=3)
    has_r1 = ["r1" in game.discriminator_step(batch()) for _ in range(7)]
    assert has_r1 == [True, False, False, True, False, False, True]
    assert game.extra_state() == {"d_steps": 7}
    other = make_game(r1_interval=3)
    other.load_extra_state(game.extra_state())
    assert "r1" not in other.discriminator_step(batch()) and other.d_steps == 8
    group = game.optimizers["discriminator"].param_groups[0]
    c = 3 / 4
    assert group["lr"] == pytest.approx(0.002 * c) and group["betas"] == pytest.approx((0.0, 0.99 ** c))
    assert all("r1" not in make_game(r1_gamma=0.0).discriminator_step(batch()) for _ in range(2))


def test_relativistic_pairing_and_r2_come_from_the_run_settings():
    family = get_family("stylegan")
    cfg = TrainConfig(model="stylegan", loss="relativistic_pairing", r2_gamma=0.5)
    game = family.build(cfg, resolve_options(family.options, {**TINY, "r1_interval": 2}, "stylegan"), DataInfo(1, 16),
                        Runtime(torch.device("cpu")))
    assert game.loss.relativistic and game.penalties.r2_gamma == 0.5
    torch.manual_seed(0)
    real = batch()["images"]
    logs = [game.discriminator_step({"images": real}) for _ in range(3)]
    assert [("r1" in log, "r2" in log) for log in logs] == [(True, True), (False, False), (True, True)]  # lazy together
    assert logs[0]["r2"] > 0
    assert_g_loss_pairs_with_reals(game, real)


def test_phase_sets_resolution_and_fades_real_images():
    game = make_game(size=16, fade=0.3, stable=0.1)
    game.set_phase(0, 10)
    assert (game.level, game.alpha, game.resolution) == (0, 1.0, 4)
    real = batch()["images"]
    assert torch.allclose(game.real_images(real), F.avg_pool2d(real, 4))
    game.set_phase(6, 10)  # a third into the fade to 16 px
    assert (game.resolution, game.alpha) == (16, pytest.approx(1 / 3))
    low = F.interpolate(F.avg_pool2d(real, 2), scale_factor=2, mode="nearest")
    assert torch.allclose(game.real_images(real), torch.lerp(low, real, 1 / 3), atol=1e-6)
    assert game.generator.current_phase() == (2, pytest.approx(1 / 3))
    logs = game.generator_step(batch())
    assert logs["resolution"].item() == 16 and logs["alpha"].item() == pytest.approx(1 / 3)
    assert game.fake_images(4, None).shape == (4, 1, 16, 16)
    game.set_phase(1, 10)
    grid = game.render(game.generator, game.sample_inputs(6, torch.Generator().manual_seed(0)))
    assert grid.shape == (6, 1, 16, 16)  # upsampled to the full size
    assert torch.equal(grid[:, :, ::2, ::2], grid[:, :, 1::2, 1::2])  # 8 px drawn as 2x2 blocks
    assert game.export_info()["trained_resolution"] == 8


def test_style_mixing_switches_styles_after_a_cutoff():
    seen = []

    def spy(game):
        real = game.generator.synthesize

        def capture(ws, *args, **kwargs):
            seen.append(ws.detach().clone())
            return real(ws, *args, **kwargs)
        game.generator.synthesize = capture

    for p in (1.0, 0.0):
        game = make_game(style_mixing=p)
        spy(game)
        game.fake_images(16, None)
        ws = seen[-1]
        changes = (ws[:, 1:] != ws[:, :-1]).any(dim=-1).sum(dim=1)  # switches along the layers
        if p == 1.0:
            assert changes.eq(1).all()
        else:
            assert changes.eq(0).all()
    game = make_game(style_mixing=1.0)
    spy(game)
    game.set_phase(0, 10)  # at 4 px only the two 4 px layers can be mixed
    game.fake_images(16, None)
    ws = seen[-1]
    assert (ws[:, 1] != ws[:, 0]).any(dim=-1).all() and (ws[:, 1:] == ws[:, 1:2]).all()


def test_diffaugment_and_conditional_games_train():
    game = make_game(classes=3, conditional=True, diffaugment="color,translation,cutout")
    assert game.generator.num_classes == 3
    for _ in range(2):
        logs = {**game.discriminator_step(batch()), **game.generator_step(batch())}
        assert all(torch.isfinite(v) for v in logs.values())
    inputs = game.sample_inputs(6, torch.Generator().manual_seed(0))
    assert inputs["labels"].tolist() == [0, 1, 2, 0, 1, 2]


def test_options_read_from_the_command_line_build_the_optimizers():
    game = make_game(**dict(parse_assignment(a) for a in ("betas=[0, 0.99]", "lr=2e-3", "tanh_output=false")))
    assert game.optimizers["generator"].param_groups[0]["betas"] == (0.0, 0.99)
    assert game.optimizers["generator"].param_groups[0]["lr"] == 0.002
    assert not game.generator.synthesis.tanh_output
    logs = {**game.discriminator_step(batch()), **game.generator_step(batch())}
    assert all(torch.isfinite(v) for v in logs.values())


def test_bad_options_are_clear_errors():
    with pytest.raises(GanforgeError, match="modulation='film'"):
        make_game(modulation="film")
    with pytest.raises(GanforgeError, match="betas"):
        make_game(betas=[0.9])
    with pytest.raises(GanforgeError, match="'zoom'"):
        make_game(diffaugment="zoom")
    with pytest.raises(GanforgeError, match="Resolution 6"):
        make_game(start_resolution=6)
    with pytest.raises(GanforgeError, match="conditional=True needs labelled data"):
        make_game(conditional=True)
    with pytest.raises(GanforgeError, match="Image size 28"):
        make_game(size=28)
    with pytest.raises(GanforgeError, match="expected less than 1"):
        make_game(size=32, fade=0.2, stable=0.2)
    with pytest.raises(GanforgeError, match="Unknown option 'width'"):
        make_game(width=3)


class TestStyleGANContract(GameContract):
    d_logs = frozenset({"loss_d", "d_real", "d_fake"})
    g_logs = frozenset({"loss_g", "resolution", "alpha"})

    def make_game(self):
        return make_game(r1_interval=2)

    def make_batch(self):
        return batch()
