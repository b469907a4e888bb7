import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.export import load_players, save_players
from ganforge.games.registry import get_family
from ganforge.kinds import declare
from ganforge.latent.reconstruction import reconstruct
from ganforge.losses import bernoulli_nll, gaussian_kl
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.vae import Decoder, Encoder
from ganforge.train.api import train
from tests.games.game_contract import GameContract

CPU = Runtime(torch.device("cpu"))


def game(**options):
    family = get_family("vae")
    from ganforge.config import resolve_options

    opts = resolve_options(family.options, {"width": 4, "z_dim": 6, **options}, "vae")
    return family.build(TrainConfig(model="vae"), opts,
                        DataInfo(1, 16), CPU)


@pytest.mark.parametrize("channels,size", [(1, 32), (3, 16), (1, 8)])
def test_players_shapes_and_output_range(channels, size):
    enc, dec = Encoder(5, channels, size, 4), Decoder(5, channels, size, 4)
    mean, logvar = enc(torch.rand(3, channels, size, size) * 2 - 1)
    assert mean.shape == logvar.shape == (3, 5)
    z = torch.randn(3, 5) * 10
    images = dec(z)
    assert images.shape == (3, channels, size, size) and images.abs().max() <= 1
    assert torch.allclose(images, 2 * torch.sigmoid(dec.logits(z)) - 1, atol=1e-6)
    assert dec.z_dim == 5 and dec.num_classes == 0
    rebuilt = type(dec)(**dec.config)
    rebuilt.load_state_dict(dec.state_dict())
    assert torch.equal(rebuilt(z), images)


def test_unsupported_sizes_and_options_are_refused():
    with pytest.raises(GanforgeError, match="power of two"):
        Encoder(image_size=28)
    for bad, match in (({"reconstruction": "laplace"}, "reconstruction"), ({"sigma": 0.1}, "sigma"),
                       ({"reconstruction": "gaussian", "sigma": -1.0}, "sigma"), ({"beta": -1.0}, "beta"), ({"lr": 0.0}, "lr")):
        with pytest.raises(GanforgeError, match=match):
            game(**bad)
    family = get_family("vae")
    with pytest.raises(GanforgeError, match="loss='hinge' is not read by model 'vae'"):
        family.refuse_unread(TrainConfig(model="vae", loss="hinge"), family.options())


def test_generator_step_logs_the_beta_weighted_negative_elbo():
    torch.manual_seed(5)
    g = game(beta=0.5)
    assert g.critic_steps == 0 and set(g.players) == {"generator", "encoder"}
    images = torch.rand(4, 1, 16, 16) * 2 - 1
    torch.manual_seed(1)
    logs = g.generator_step({"images": images})
    assert set(logs) == {"loss_g", "recon", "kl"}
    assert logs["loss_g"].item() == pytest.approx(logs["recon"].item() + 0.5 * logs["kl"].item(), rel=1e-6)
    # recomputed by hand from the same noise: the first step saw the initial weights
    torch.manual_seed(5)
    g2 = game(beta=0.5)
    mean, logvar = g2.players["encoder"](images)
    torch.manual_seed(1)
    z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
    recon = bernoulli_nll(g2.generator.logits(z), (images + 1) / 2).mean()
    assert logs["recon"].item() == pytest.approx(recon.item(), rel=1e-5)
    assert logs["kl"].item() == pytest.approx(gaussian_kl(mean, logvar).mean().item(), rel=1e-5)


@pytest.mark.parametrize("options", [{}, {"reconstruction": "gaussian"}, {"reconstruction": "gaussian", "sigma": 0.2}])
def test_training_lowers_the_objective_for_each_likelihood(options):
    g = game(**options)
    images = torch.rand(8, 1, 16, 16).round() * 2 - 1
    torch.manual_seed(0)
    first = [g.generator_step({"images": images})["loss_g"].item() for _ in range(3)]
    for _ in range(40):
        last = g.generator_step({"images": images})
    assert last["loss_g"].item() < min(first)
    fitted = options.get("reconstruction") == "gaussian" and "sigma" not in options
    assert ("sigma" in last) == fitted
    if fitted:  # the decoder keeps the last fitted σ, which shrinks as the reconstructions improve
        assert g.generator.log_sigma.exp().item() == pytest.approx(last["sigma"].item()) and last["sigma"] < 0.5


def test_reconstruct_uses_the_mean_code_and_draws_when_asked():
    enc, dec = Encoder(4, 1, 8, 4).eval(), Decoder(4, 1, 8, 4).eval()
    images = torch.rand(5, 1, 8, 8) * 2 - 1
    out, codes = reconstruct(enc, dec, images, batch_size=2)
    assert out.shape == images.shape and codes.shape == (5, 4)
    assert torch.allclose(out, dec(enc(images)[0]), atol=1e-6)
    drawn, _ = reconstruct(enc, dec, images, sample=True, seed=1)
    again, _ = reconstruct(enc, dec, images, sample=True, seed=1)
    assert torch.equal(drawn, again) and not torch.allclose(drawn, out)


def tiny(tmp_path, **kw):
    base = dict(model="vae", data="mnist", steps=4, batch_size=8, image_size=16, out=str(tmp_path), log_every=2,
                sample_every=2, checkpoint_every=2, options={"width": 4, "z_dim": 6})
    base.update(kw)
    return TrainConfig(**base)


def test_referee_trains_and_exports_the_vae(tmp_path):
    # resuming bit-for-bit is checked for every family in tests/test_families.py
    straight = train(tiny(tmp_path, name="a", steps=4), progress=False)
    records = [json.loads(x) for x in (straight / "metrics.jsonl").read_text().splitlines() if "event" not in x]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all({"loss_g", "recon", "kl"} <= set(r) and "loss_d" not in r for r in records)
    players, info = load_players(straight)
    assert set(players) == {"generator", "encoder"}
    assert info["family"] == "vae" and info["reconstruction"] == "bernoulli" and info["image_size"] == 16
    assert players["generator"](torch.randn(2, 6)).shape == (2, 1, 16, 16)
    # `ganforge sample` works on the exported decoder like on any generator
    assert main(["sample", str(straight), "--n", "4", "--out", str(tmp_path / "s")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape == (4, 1, 16, 16)


def test_loss_option_other_than_the_default_is_refused_by_the_trainer(tmp_path):
    with pytest.raises(GanforgeError, match="loss='hinge' is not read by model 'vae'"):
        train(tiny(tmp_path, name="h", loss="hinge"), progress=False)
    assert not (tmp_path / "h").exists()  # refused before the run folder is made


def _export_vae(folder, size=16):
    enc, dec = Encoder(6, 1, size, 4).eval(), Decoder(6, 1, size, 4).eval()
    info = {"channels": 1, "image_size": size, "num_classes": 0, "family": "vae", "data": "mnist"}
    save_players({"generator": dec, "encoder": enc}, info, folder)
    return enc, dec


def test_reconstruct_command_on_files_folders_and_mnist(tmp_path, capsys):
    enc, dec = _export_vae(tmp_path / "m")
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for where in ["a.png", "b.jpg", "sub/c.png"]:
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / where)
    (folder / "notes.txt").write_text("not an image")
    assert main(["reconstruct", str(tmp_path / "m"), str(folder), str(folder / "a.png"), "mnist", "--n", "6",
                 "--out", str(tmp_path / "r.png")]) == 0
    arrays = np.load(tmp_path / "r.npz")
    assert arrays["inputs"].shape == arrays["reconstructions"].shape == (6, 1, 16, 16)
    assert arrays["codes"].shape == (6, 6)
    x = torch.from_numpy(arrays["inputs"]).float() / 127.5 - 1
    assert np.array_equal(arrays["inputs"][3], arrays["inputs"][0])  # folder (sorted, recursive), then a.png again
    with torch.no_grad():
        expected = ((dec(enc(x)[0]) + 1) * 127.5).round().clamp(0, 255)
    assert np.abs(arrays["reconstructions"].astype(int) - expected.numpy().astype(int)).max() <= 1
    picture = Image.open(tmp_path / "r.png")
    assert picture.height == 2 * (16 + 2) + 2  # one input row above one reconstruction row (8 per row)
    assert picture.width > 8 * (16 + 2)  # and a left margin naming the rows
    assert "mean squared error" in capsys.readouterr().out


def test_reconstruct_errors_are_one_sentence(tmp_path, capsys):
    save_players({"generator": DCGANGenerator(8, 1, 16, 4)}, {"channels": 1, "image_size": 16, **declare("noise")}, tmp_path / "gan")
    assert main(["reconstruct", str(tmp_path / "gan"), "mnist", "--out", str(tmp_path / "x")]) == 2
    assert "has no encoder" in capsys.readouterr().err
    _export_vae(tmp_path / "vae")
    assert main(["reconstruct", str(tmp_path / "vae"), str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")]) == 2
    assert "neither a file, a folder nor a dataset" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["reconstruct", str(tmp_path / "vae"), str(tmp_path / "empty"), "--out", str(tmp_path / "x")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


class TestVAEContract(GameContract):
    def make_game(self):
        return game()

    def make_batch(self):
        return {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
