"""The cgan family (games/conditional.py): options, labelled data, a short training run, sampling by class."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge.games.conditional as conditional  # registers the family
from ganforge.cli import main
from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.games.registry import get_family
from ganforge.models.cgan import ConditionalDCGANGenerator, ConditionalVanillaGenerator
from ganforge.train.api import train
from tests.games.game_contract import GameContract

TINY = {"width": 4, "z_dim": 8, "embed_dim": 4}


def one_sentence(err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if line]
    return len(lines) == 1 and "Traceback" not in err


def build(options=None, classes=10, loss="non_saturating"):
    opts = resolve_options(conditional.CGANOptions, {**TINY, **(options or {})}, "cgan")
    return get_family("cgan").build(TrainConfig(model="cgan", loss=loss, lr_g=2e-4, lr_d=2e-4), opts, DataInfo(1, 32, classes), Runtime(torch.device("cpu")))


@pytest.mark.parametrize("values,needle", [
    ({"base": "resnet"}, "base='resnet'"),
    ({"discriminator": "acgan"}, "discriminator='acgan'"),
    ({"base": "vanilla", "conditional_bn": True}, "conditional_bn=True needs base='dcgan'"),
    ({"embed_dim": 0}, "embed_dim=0"),
    ({"conditional_bn": "yes"}, "conditional_bn='yes'"),
])
def test_bad_options_are_clear_errors(values, needle):
    with pytest.raises(GanforgeError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        resolve_options(conditional.CGANOptions, values, "cgan")


def test_defaults_are_dcgan_players_with_a_projection_discriminator():
    game = build({"width": 4})
    g, d = game.players["generator"], game.players["discriminator"]
    assert isinstance(g, ConditionalDCGANGenerator) and g.num_classes == 10 and not g.conditional_bn
    assert d.mode == "projection"
    assert conditional.CGANOptions().embed_dim == 10  # a 50-d N(0, 1) label code drowned z: one image per class
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())  # no spectral norm unless asked
    sn = build({"width": 4, "spectral_norm": True}).players["discriminator"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in sn.modules())
    vanilla = build({"base": "vanilla", "discriminator": "concat"})
    assert isinstance(vanilla.generator, ConditionalVanillaGenerator)
    assert vanilla.players["discriminator"].mode == "concat"


def test_unlabelled_data_is_refused():
    with pytest.raises(GanforgeError, match="has no labels"):
        build(classes=0)


def test_steps_pass_the_batch_labels_to_both_players():
    game = build({"discriminator": "concat", "conditional_bn": True})
    seen = []
    game.players["discriminator"].register_forward_hook(lambda m, args, out: seen.append(args[1].clone()))
    game.players["generator"].register_forward_hook(lambda m, args, out: seen.append(args[1].clone()))
    batch = {"images": torch.rand(6, 1, 32, 32) * 2 - 1, "labels": torch.tensor([0, 1, 2, 3, 4, 9])}
    logs = game.discriminator_step(batch)
    assert {"loss_d", "d_real", "d_fake"} <= set(logs)
    assert len(seen) == 3 and all(torch.equal(s, batch["labels"]) for s in seen)  # G, D(real), D(fake)
    seen.clear()
    assert set(game.generator_step(batch)) == {"loss_g"}
    assert len(seen) == 2 and all(torch.equal(s, batch["labels"]) for s in seen)
    inputs = game.sample_inputs(12, torch.Generator().manual_seed(0))
    assert inputs["labels"].tolist() == [i % 10 for i in range(12)]
    assert game.render(game.generator, inputs).shape == (12, 1, 32, 32)


def test_training_on_an_unlabelled_folder_is_one_sentence(capsys, tmp_path):
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.full((32, 32), 40 * i, dtype=np.uint8)).save(folder / f"{i}.png")
    code = main(["train", "--model", "cgan", "--data", str(folder), "--steps", "1", "--out", str(tmp_path / "runs"),
                 "--option", "width=4", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "has no labels" in err and one_sentence(err), err


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    cfg = TrainConfig(model="cgan", data="mnist", steps=4, batch_size=16, out=str(out), name="c", log_every=2,
                      sample_every=2, checkpoint_every=2, options=dict(TINY))
    return train(cfg, progress=False)


def test_short_conditional_training_exports_a_class_conditional_generator(cgan_run):
    records = [json.loads(line) for line in (cgan_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert all({"loss_d", "loss_g", "d_real", "d_fake"} <= set(r) for r in records)
    generator, info = load_generator(cgan_run)
    assert info["family"] == "cgan" and info["num_classes"] == 10 and len(info["class_names"]) == 10
    assert isinstance(generator, ConditionalDCGANGenerator) and generator.num_classes == 10
    images = generator(torch.randn(3, 8), torch.tensor([7, 7, 1]))
    assert images.shape == (3, 1, 32, 32) and images.abs().max() <= 1
    saved = (cgan_run / "config.yaml").read_text()
    assert "base: dcgan" in saved and "discriminator: projection" in saved


def test_sample_one_label_writes_those_labels(capsys, tmp_path, cgan_run):
    code = main(["sample", str(cgan_run), "--label", "7", "--n", "12", "--out", str(tmp_path / "sevens")])
    assert code == 0, capsys.readouterr().err
    data = np.load(tmp_path / "sevens.npz")
    assert data["images"].shape == (12, 1, 32, 32) and data["images"].dtype == np.uint8
    assert data["labels"].tolist() == [7] * 12


def test_sample_without_label_is_a_class_grid_one_row_per_class(capsys, tmp_path, cgan_run):
    code = main(["sample", str(cgan_run), "--n", "30", "--out", str(tmp_path / "grid.png")])
    assert code == 0, capsys.readouterr().err
    data = np.load(tmp_path / "grid.npz")
    assert data["labels"].tolist() == [i % 10 for i in range(30)]
    picture = np.asarray(Image.open(tmp_path / "grid.png"))
    pad, side, cols = 2, 32, 3
    assert picture.shape[0] == 10 * (side + pad) + pad  # ten rows: one per class
    margin = picture.shape[1] - (cols * (side + pad) + pad)
    assert margin > 0  # class names in a left margin
    for row in range(10):
        for col in range(cols):
            y, x = pad + row * (side + pad), margin + pad + col * (side + pad)
            cell = picture[y:y + side, x:x + side]
            assert np.array_equal(cell, data["images"][row + 10 * col, 0])  # row r shows images asked to be r
            assert data["labels"][row + 10 * col] == row


@pytest.mark.parametrize("label", ["10", "-1"])
def test_label_outside_the_classes_is_one_sentence(capsys, tmp_path, cgan_run, label):
    code = main(["sample", str(cgan_run), "--label", label, "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code == 2 and f"Label {label} is outside" in err and "0 to 9" in err and one_sentence(err), err
    assert not (tmp_path / "bad.npz").exists()


class TestCGANContract(GameContract):
    def make_game(self):
        return build()

    def make_batch(self):
        return {"images": torch.rand(8, 1, 32, 32) * 2 - 1, "labels": torch.arange(8) % 10}
