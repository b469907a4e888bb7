"""The FastGAN game: the reconstruction term on reals trains D alone, 1024 px steps on CPU, defaults from the data."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import LOSS_D, LOSS_G, DataInfo, Runtime
from ganforge.games.fastgan import RECON, defaults_from_data
from ganforge.games.registry import get_family
from ganforge.models.fastgan import PARTS, reconstruction_targets
from ganforge.train.run_dir import resolve_defaults
from tests.games.game_contract import GameContract

CPU = Runtime(torch.device("cpu"))


def game(size=64, channels=3, **options):
    family = get_family("fastgan")
    opts = resolve_options(family.options, {"width": 4, "z_dim": 8, **options}, "fastgan")
    return family.build(TrainConfig(model="fastgan", loss="hinge", lr_g=2e-4, lr_d=2e-4), opts, DataInfo(channels, size), CPU)


def batch(n=4, size=64, channels=3):
    return {"images": torch.rand(n, channels, size, size) * 2 - 1}


def snapshot(module):
    """The learned parameters (not BatchNorm's statistics or spectral norm's power-iteration vectors)."""
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def changed(before, module, prefix=""):
    return {k for k, v in module.named_parameters() if k.startswith(prefix) and not torch.equal(before[k], v)}


def test_the_decoders_learn_only_from_the_reconstruction_term():
    results = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(0)
        g = game(reconstruction_weight=weight)
        D = g.players["discriminator"]
        before = snapshot(D)
        torch.manual_seed(1)
        g.discriminator_step(batch())
        results[weight] = changed(before, D, "decode_")
    assert not results[0.0] and results[1.0]


def test_the_reconstruction_is_scored_against_the_real_images():
    g = game(diffaugment=False)
    D = g.players["discriminator"]
    reals = batch()
    reference, generator = copy.deepcopy(D), copy.deepcopy(g.players["generator"])
    torch.manual_seed(5)
    logs = g.discriminator_step(reals)
    torch.manual_seed(5)  # replay the step's draws: G's inputs and noise maps, then the quadrant
    with torch.no_grad():
        generator(torch.randn(4, 8))
    part = int(torch.randint(PARTS, ()))
    _, whole, quarter = reference.judge_and_reconstruct(reals["images"], part)
    target_whole, target_quarter = reconstruction_targets(reals["images"], part, 64)
    expected = (whole - target_whole).abs().mean() + (quarter - target_quarter).abs().mean()
    assert torch.allclose(logs[RECON], expected, atol=1e-6)


def test_a_d_step_moves_each_spectral_norm_one_power_iteration_for_both_of_ds_passes():
    import torch.nn.functional as F
    from torch.nn.utils.parametrizations import _SpectralNorm

    g = game()
    normed = [(m, m._reshape_weight_to_matrix(module.parametrizations.weight.original.detach().clone()), m._v.clone())
              for player in g.players.values() for module in player.modules() if hasattr(module, "parametrizations")
              for m in module.parametrizations.weight if isinstance(m, _SpectralNorm)]
    g.discriminator_step(batch())
    for norm, matrix, v in normed:  # G's pass and D's two each moved u and v once, from the weights before the update
        u = F.normalize(matrix @ v, dim=0, eps=norm.eps)
        torch.testing.assert_close(norm._u, u)
        torch.testing.assert_close(norm._v, F.normalize(matrix.t() @ u, dim=0, eps=norm.eps))


def test_diffaugment_is_on_by_default_and_hinge_is_the_loss():
    family = get_family("fastgan")
    assert family.default_loss == "hinge"
    g = game()
    assert g.augmenter.mode == "diffaugment" and g.augmenter.policy == ("color", "translation", "cutout")
    assert game(diffaugment=False).augmenter.active is False
    assert g.export_info()["kind"] == "noise"


def test_1024_px_builds_and_plays_a_round_on_cpu():
    g = game(size=1024, width=2, z_dim=8)
    G = g.players["generator"]
    before = snapshot(G)
    data = batch(n=2, size=1024)
    d_logs, g_logs = g.discriminator_step(data), g.generator_step(data)
    assert all(torch.isfinite(v) for v in {**d_logs, **g_logs}.values())
    assert changed(before, G)
    assert G(torch.randn(1, 8)).shape == (1, 3, 1024, 1024)


def folder_of(path, sizes):
    path.mkdir()
    for i, (w, h) in enumerate(sizes):
        Image.fromarray(np.full((h, w, 3), 40 * i % 255, np.uint8)).save(path / f"{i}.png")
    return str(path)


@pytest.mark.parametrize("sizes, device, picked", [
    ([(300, 200)] * 3 + [(900, 900)], "cuda", 128),  # median shorter side 200 -> 128
    ([(600, 700)] * 3, "cuda", 512),
    ([(600, 700)] * 3, "cpu", 128),  # capped on a CPU
    ([(40, 40)] * 2, "cpu", 64),  # small pictures are upsampled to the smallest size
])
def test_image_size_is_picked_from_the_folder(tmp_path, sizes, device, picked):
    values, note = defaults_from_data(TrainConfig(model="fastgan", data=folder_of(tmp_path / "pics", sizes), device=device))
    assert values["image_size"] == picked
    assert f"image size {picked} px" in note


def test_a_budget_and_cpu_widths_are_picked_but_never_over_the_users(tmp_path):
    data = folder_of(tmp_path / "pics", [(64, 64)] * 2)
    values, note = defaults_from_data(TrainConfig(model="fastgan", data=data, device="cpu"))
    assert values["minutes"] == 30 and values["options"]["width"] == 8 and values["batch_size"] == 8
    assert values["lr_g"] == values["lr_d"] == pytest.approx(4e-4)
    assert "30 minutes" in note and "width 8" in note and "D's learning rate 0.0004" in note
    assert defaults_from_data(TrainConfig(model="fastgan", data=data, device="cuda"))[0]["steps"] == 20_000
    mine = TrainConfig(model="fastgan", data=data, device="cpu", image_size=256, steps=10, batch_size=4, lr_g=1e-4,
                       lr_d=3e-4, options={"width": 16, "z_dim": 16})
    assert defaults_from_data(mine) == ({}, "")
    resolved = resolve_defaults(mine)
    assert (resolved.image_size, resolved.steps, resolved.batch_size, resolved.options["width"]) == (256, 10, 4, 16)
    assert (resolved.lr_g, resolved.lr_d) == (1e-4, 3e-4)
    assert resolve_defaults(TrainConfig(model="fastgan", data=data, device="cuda")).lr_g == pytest.approx(2e-4)  # the paper's


def test_train_prints_what_it_picked_and_the_copy_check(capsys, tmp_path):
    data = folder_of(tmp_path / "pics", [(80, 80)] * 4)
    code = main(["train", "--model", "fastgan", "--data", data, "--steps", "1", "--device", "cpu", "--out",
                 str(tmp_path / "runs"), "--name", "r", "--no-progress", "--option", "width=2", "--option", "z_dim=8",
                 "--set", "sample_every=1000", "--set", "copy_check_n=16"])
    out = capsys.readouterr().out
    assert code == 0
    assert (tmp_path / "runs" / "r" / "copy_check.json").is_file() and "closest sample | training image pairs" in out
    assert "fastgan picked" in out and "image size 64 px (the folder's median shorter side is 80 px" in out
    assert "budget" not in out.split("fastgan picked")[1].split("\n")[0]  # the user's --steps stands


class TestFastGANContract(GameContract):
    """The D step trains D and its decoders, not G; the G step leaves D and its decoders alone and logs no RECON."""

    d_logs = frozenset({LOSS_D, RECON})
    g_logs = frozenset({LOSS_G})
    only_g_logs = True
    d_moves = ("discriminator.decode_whole.", "discriminator.decode_quadrant.")

    def make_game(self):
        return game()

    def make_batch(self):
        return batch()

    def test_the_reconstruction_term_is_positive(self):
        assert self.fresh().discriminator_step(self.make_batch())[RECON] > 0
