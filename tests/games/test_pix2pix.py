import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn

from ganforge.config import TrainConfig
from ganforge.contract import D_FAKE, D_REAL, LOSS_D, LOSS_G, Runtime
from ganforge.data.dataset import ImageDataset
from ganforge.data.paired import PairedData
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.games.pix2pix import PairedInfo, Pix2PixGame, Pix2PixOptions
from ganforge.games.registry import get_family
from ganforge.losses import get_loss
from ganforge.schedules import constant_then_linear
from ganforge.train.api import train
from tests.games.game_contract import GameContract

TINY = {"width": 4, "d_width": 4}


def make_game(loss="non_saturating", size=16, c_in=1, c_out=1, cfg=None, **options):
    data = PairedData(ImageDataset(torch.randint(0, 256, (5, c_in, size, size), dtype=torch.uint8)),
                      ImageDataset(torch.randint(0, 256, (5, c_out, size, size), dtype=torch.uint8)), "x", "y")
    info = PairedInfo(c_out, size, in_channels=c_in, domains=("x", "y"), data=data)
    return Pix2PixGame(Runtime(torch.device("cpu")), info, Pix2PixOptions(**{**TINY, **options}), get_loss(loss), cfg or TrainConfig(lr_g=2e-4, lr_d=2e-4))


class Scale(nn.Module):
    """x -> w * x (a generator with a graph)."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w))

    def forward(self, x):
        return self.w * x


class Recorder(nn.Module):
    """A critic scoring every patch `value`, remembering what it was shown."""

    def __init__(self, value):
        super().__init__()
        self.value = nn.Parameter(torch.tensor(value))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return self.value.expand(x.shape[0], 1, 2, 2)


def softplus(x):
    return math.log1p(math.exp(x))


def test_generator_objective_matches_hand_values():
    game = make_game()
    critic = Recorder(0.3)
    game.players.update(generator=Scale(0.5), discriminator=critic)
    a, b = torch.full((2, 1, 4, 4), 0.4), torch.full((2, 1, 4, 4), -0.2)
    logs = game.generator_step({"a": a, "b": b})
    # G(a) = 0.2, |0.2 - (-0.2)| = 0.4; non-saturating: softplus(-D) = log(1 + e^-0.3)
    assert logs["loss_l1"].item() == pytest.approx(0.4)
    assert logs["loss_g_adv"].item() == pytest.approx(softplus(-0.3))
    assert logs[LOSS_G].item() == pytest.approx(softplus(-0.3) + 100 * 0.4)
    # D saw the input and the output concatenated on channels
    shown = critic.seen[-1]
    assert shown.shape == (2, 2, 4, 4)
    torch.testing.assert_close(shown[:, :1], a)
    torch.testing.assert_close(shown[:, 1:], torch.full_like(a, 0.2))


def test_discriminator_objective_is_halved_and_uses_the_last_generated_pair():
    game = make_game()
    critic = Recorder(0.3)
    game.players.update(generator=Scale(0.5), discriminator=critic)
    a_old = torch.full((2, 1, 4, 4), 0.8)
    game.generator_step({"a": a_old, "b": torch.zeros(2, 1, 4, 4)})
    a, b = torch.full((2, 1, 4, 4), 0.4), torch.full((2, 1, 4, 4), -0.2)
    critic.seen.clear()
    logs = game.discriminator_step({"a": a, "b": b})
    # logistic: softplus(-D(real)) + softplus(D(fake)), halved
    assert logs[LOSS_D].item() == pytest.approx(0.5 * (softplus(-0.3) + softplus(0.3)))
    sigmoid = 1 / (1 + math.exp(-0.3))
    assert logs[D_REAL].item() == pytest.approx(sigmoid) and logs[D_FAKE].item() == pytest.approx(sigmoid)
    real, fake = critic.seen  # batch norm (the default): real and fake pairs in separate passes
    torch.testing.assert_close(real, torch.cat([a, b], 1))
    torch.testing.assert_close(fake, torch.cat([a_old, torch.full_like(a, 0.4)], 1))  # (a_old, G(a_old))
    assert game.last_fakes.held is None
    game.discriminator_step({"a": a, "b": b})  # nothing cached: translates this batch
    torch.testing.assert_close(critic.seen[-1], torch.cat([a, torch.full_like(a, 0.2)], 1))


def test_instance_norm_critic_scores_real_and_fake_in_one_pass():
    game = make_game(norm="instance")
    critic = Recorder(0.0)
    game.players.update(generator=Scale(0.5), discriminator=critic)
    game.discriminator_step({"a": torch.zeros(3, 1, 4, 4), "b": torch.zeros(3, 1, 4, 4)})
    assert len(critic.seen) == 1 and critic.seen[0].shape[0] == 6


def test_ablations_cgan_only_l1_only_and_unconditional():
    cgan = make_game(lambda_l1=0.0)
    cgan.players.update(generator=Scale(0.5), discriminator=Recorder(0.3))
    logs = cgan.generator_step({"a": torch.full((1, 1, 4, 4), 0.4), "b": torch.zeros(1, 1, 4, 4)})
    assert logs[LOSS_G].item() == pytest.approx(softplus(-0.3))

    l1 = make_game(adversarial=False)
    assert "discriminator" not in l1.players and l1.critic_steps == 0 and set(l1.optimizers) == {"generator"}
    l1.players["generator"] = Scale(0.5)
    l1.optimizers["generator"] = torch.optim.Adam(l1.players["generator"].parameters())
    logs = l1.generator_step({"a": torch.full((1, 1, 4, 4), 0.4), "b": torch.zeros(1, 1, 4, 4)})
    assert set(logs) == {LOSS_G, "loss_l1"} and logs[LOSS_G].item() == pytest.approx(100 * 0.2)

    plain = make_game(conditional=False)
    critic = Recorder(0.0)
    plain.players.update(generator=Scale(0.5), discriminator=critic)
    plain.generator_step({"a": torch.full((1, 1, 4, 4), 0.4), "b": torch.zeros(1, 1, 4, 4)})
    assert critic.seen[-1].shape[1] == 1
    assert make_game(conditional=False).players["discriminator"].net[0].in_channels == 1
    assert make_game(c_in=1, c_out=3).players["discriminator"].net[0].in_channels == 4


@pytest.mark.parametrize("loss", ["hinge", "least_squares", "wasserstein", "minimax"])
def test_any_loss_of_the_library_runs(loss):
    game = make_game(loss=loss)
    batch = {"a": torch.rand(2, 1, 16, 16), "b": torch.rand(2, 1, 16, 16)}
    logs = {**game.discriminator_step(batch), **game.generator_step(batch)}
    assert all(torch.isfinite(v) for v in logs.values())
    assert ("gradient_penalty" in logs) == (loss == "wasserstein")


def test_learning_rate_schedule_constant_then_linear_to_zero():
    assert [constant_then_linear(s, 10) for s in (0, 4, 5, 6, 9)] == [1.0, 1.0, 1.0, 0.8, 0.2]
    assert constant_then_linear(7, 10, 1.0) == 1.0 and constant_then_linear(0, 10, 0.0) == 1.0
    assert constant_then_linear(5, 10, 0.0) == 0.5
    with pytest.raises(GanforgeError, match="Decay start"):
        constant_then_linear(0, 10, 1.5)
    game = make_game(cfg=TrainConfig(lr_g=2e-4, lr_d=1e-4))
    game.set_phase(75, 100)
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert game.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(0.5e-4)
    game.set_phase(49, 100)
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(2e-4)


def test_automatic_sizes_follow_the_image_size():
    small, paper = Pix2PixOptions().resolved(32), Pix2PixOptions().resolved(256)
    assert (small.width, small.n_down, small.d_width, small.d_layers) == (32, 5, 32, 2)
    assert (paper.width, paper.n_down, paper.d_width, paper.d_layers) == (64, 8, 64, 3)
    assert Pix2PixOptions(d_layers=1, n_down=3).resolved(256).d_layers == 1


def test_bad_options_and_sizes_are_refused():
    for bad, match in (({"norm": "layer"}, "norm"), ({"dropout": 1.0}, "dropout"), ({"lambda_l1": -1.0}, "lambda_l1"),
                       ({"adversarial": False, "lambda_l1": 0.0}, "nothing to learn"), ({"jitter": "maybe"}, "jitter"),
                       ({"decay_start": 2.0}, "decay_start"), ({"d_layers": -1}, "d_layers")):
        with pytest.raises(GanforgeError, match=match):
            Pix2PixOptions(**bad).validate()
    with pytest.raises(GanforgeError, match="multiple of 16"):
        make_game(size=24, n_down=4)
    with pytest.raises(GanforgeError, match="too small"):
        make_game(size=16, d_layers=3)


def test_preview_rows_are_input_output_target_in_one_channel_count():
    game = make_game(c_in=1, c_out=3)
    inputs = game.sample_inputs(64, torch.Generator().manual_seed(0))
    assert inputs["a"].shape == (5, 1, 16, 16) and inputs["b"].shape == (5, 3, 16, 16)
    grid = game.render(game.generator, inputs)
    assert grid.shape == (15, 3, 16, 16)
    assert torch.equal(grid[0], inputs["a"][0].expand(3, -1, -1)) and torch.equal(grid[2], inputs["b"][0])
    assert game.generator.training  # render leaves the mode as it was


def test_family_registered_with_the_papers_defaults():
    family = get_family("pix2pix")
    assert family.default_data == "mnist-edges" and family.default_loss == "non_saturating"
    assert family.default_ema_decay == 0.0
    assert family.default_lr == 2e-4 and TrainConfig().beta1 == 0.5
    assert Pix2PixOptions().lambda_l1 == 100.0 and Pix2PixOptions().decay_start == 0.5


def write_pairs(root, n=6, size=16):
    for i in range(n):
        rng = np.random.default_rng(i)
        for side in ("A", "B"):
            path = root / side / f"{i:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(path)
    return root


def family_cfg(tmp_path, data, **kw):
    base = dict(model="pix2pix", data=str(data), steps=4, batch_size=2, image_size=16, out=str(tmp_path), log_every=1,
                checkpoint_every=2, precision="fp32", options=dict(TINY))
    base.update(kw)
    return TrainConfig(**base)


def test_training_logs_exports_and_resumes_exactly(tmp_path, layout="on"):
    data = write_pairs(tmp_path / "pairs")
    straight = train(family_cfg(tmp_path, data, name="a", channels_last=layout), callbacks=[])
    records = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_g", "loss_l1", "loss_g_adv", "d_real", "d_fake"} <= set(records[-1])
    config = json.loads((straight / "export" / "config.json").read_text())
    assert set(config["players"]) == {"generator"}
    info = config["info"]
    assert info["kind"] == "translation" and info["paired"] and info["family"] == "pix2pix" and info["size_multiple"] == 16
    generator, loaded_info = load_generator(straight)  # like every other family's export
    assert type(generator).__name__ == "UNetGenerator" and loaded_info["in_channels"] == 1
    assert generator(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)

    half = train(family_cfg(tmp_path, data, name="b", steps=2, channels_last=layout), callbacks=[])
    train(family_cfg(tmp_path, data, steps=4), resume=half, callbacks=[])
    x, y = (load_file(str(run / "export" / "generator.safetensors")) for run in (straight, half))
    assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)
    state = [load_file(str(run / "checkpoints" / "step_00000004" / "state.safetensors")) for run in (straight, half)]
    critic = [k for k in state[0] if "discriminator" in k]
    assert critic and all(torch.equal(state[0][k], state[1][k]) for k in state[0])


def test_bad_paired_data_trains_nothing(tmp_path):
    data = write_pairs(tmp_path / "pairs", n=2)
    (data / "A" / "001.png").rename(data / "A" / "lonely.png")
    with pytest.raises(GanforgeError, match="lonely.png' has no partner"):
        train(family_cfg(tmp_path, data, name="bad"), callbacks=[])
    assert not (tmp_path / "bad").exists()


class TestPix2PixContract(GameContract):
    d_logs = frozenset({LOSS_D, D_REAL, D_FAKE})
    g_logs = frozenset({LOSS_G, "loss_l1", "loss_g_adv"})

    def make_game(self):
        return make_game()

    def make_batch(self):
        return {"a": torch.rand(4, 1, 16, 16) * 2 - 1, "b": torch.rand(4, 1, 16, 16) * 2 - 1}


class TestPix2PixGrayToColourContract(TestPix2PixContract):
    """The real players, gray in and colour out, under least squares: each optimizer moves only its own player."""

    def make_game(self):
        return make_game(loss="least_squares", c_in=1, c_out=3)

    def make_batch(self):
        return {"a": torch.rand(2, 1, 16, 16) * 2 - 1, "b": torch.rand(2, 3, 16, 16) * 2 - 1}
