import json

import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.export import save_players
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.vae import Decoder, Encoder
from ganforge.tools import compare
from ganforge.train.api import train


def fake_scores(generator, info, n, metrics, seed, extractor, data, batch_size):
    calls.append((info["family"], n, metrics, seed, data))
    base = 1.0 if info["family"] == "vae" else 2.0
    return {"fd": base, "kid": base / 1000, "kid_std": 0.0001, "precision": base / 4, "recall": 0.5,
            "extractor": "digits", "n": n}


calls = []


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two tiny runs on the same data and budget: a DCGAN and a VAE."""
    out = tmp_path_factory.mktemp("runs")
    common = dict(data="mnist", steps=3, batch_size=8, image_size=16, out=str(out), log_every=1,
                  sample_every=3, checkpoint_every=3)
    gan = train(TrainConfig(model="dcgan", name="gan", options={"width": 4, "z_dim": 6}, **common), progress=False)
    vae = train(TrainConfig(model="vae", name="vae", options={"width": 4, "z_dim": 6}, **common), progress=False)
    return gan, vae


def test_compare_two_tiny_runs_writes_figure_table_and_json(runs, tmp_path, monkeypatch, capsys):
    gan, vae = runs
    calls.clear()
    monkeypatch.setattr(compare, "score", fake_scores)
    out = tmp_path / "cmp"
    assert main(["compare", str(gan), str(vae), "--out", str(out), "--n", "50", "--grid", "9",
                 "--recon-n", "20", "--speed-n", "40", "--batch-size", "16"]) == 0
    assert "compared 2 models" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["compare.json", "compare.md", "compare.png", "samples.png"]
    report = json.loads((out / "compare.json").read_text())
    gan_row, vae_row = report["models"]
    assert [gan_row["name"], vae_row["name"]] == ["gan", "vae"]
    assert [gan_row["family"], vae_row["family"]] == ["dcgan", "vae"]
    assert gan_row["steps"] == vae_row["steps"] == 3 and gan_row["data"] == "mnist"
    assert calls == [("dcgan", 50, "fd,kid,pr", 0, None), ("vae", 50, "fd,kid,pr", 0, None)]
    assert gan_row["fd"] == 2.0 and vae_row["precision"] == 0.25 and vae_row["kid_milli"] == "1.00 ± 0.10"
    for row in (gan_row, vae_row):
        assert row["images_per_second"] > 0 and row["train_seconds"] > 0 and row["sharpness"] > 0
    state = json.loads((vae / "checkpoints" / "step_00000003" / "state.json").read_text())
    assert vae_row["train_seconds"] == pytest.approx(state["elapsed_seconds"], abs=1e-3)
    assert "recon_mse" not in gan_row and 0 < vae_row["recon_mse"] < 4
    text = (out / "compare.md").read_text()
    assert "| gan | dcgan | mnist | 3 |" in text and "| vae | vae | mnist | 3 |" in text
    assert "| 2.00 |" in text and "| 1.00 |" in text and "—" in text  # the GAN has no reconstruction error
    samples = Image.open(out / "samples.png")
    table = Image.open(out / "compare.png")
    assert samples.width > 400 and samples.height > 400 and table.width > 300  # 2 panels x 2 rows


def test_same_seed_gives_same_noise_to_same_sized_models(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "score", fake_scores)
    info = {"channels": 1, "image_size": 8, "num_classes": 0, "data": "mnist", "train_seconds": 12.5, "steps": 7}
    g = DCGANGenerator(4, 1, 8, 4).eval()
    save_players({"generator": g}, {**info, "family": "dcgan"}, tmp_path / "m")
    save_players({"generator": g}, {**info, "family": "dcgan"}, tmp_path / "copy" / "m")
    enc, dec = Encoder(4, 1, 8, 4), Decoder(4, 1, 8, 4)
    save_players({"generator": dec, "encoder": enc}, {**info, "family": "vae"}, tmp_path / "v")
    settings = compare.CompareSettings(n=10, grid=4, recon_n=4, speed_n=8)
    rows = compare.compare([tmp_path / "m", tmp_path / "copy" / "m", tmp_path / "v"], tmp_path / "out", settings)
    assert [r["name"] for r in rows] == ["m", "m (2)", "v"]
    assert [r["train_seconds"] for r in rows] == [12.5, 12.5, 12.5]
    first = compare.samples_at_seed(g, 4, seed=3)
    assert torch.equal(first, compare.samples_at_seed(g, 4, seed=3))
    assert not torch.equal(first, compare.samples_at_seed(g, 4, seed=4))


def test_no_metrics_and_bad_inputs(runs, tmp_path, capsys):
    gan, vae = runs
    assert main(["compare", str(gan), "--out", str(tmp_path / "o"), "--no-metrics", "--grid", "4",
                 "--speed-n", "8"]) == 0
    row = json.loads((tmp_path / "o" / "compare.json").read_text())["models"][0]
    assert "fd" not in row and row["images_per_second"] > 0
    assert main(["compare", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["compare", str(gan), "--out", str(tmp_path / "x"), "--grid", "0"]) == 2
    assert "--grid 0 is invalid" in capsys.readouterr().err


def test_real_metrics_when_the_digit_classifier_ships(runs, tmp_path, monkeypatch):
    from ganforge.metrics.features.digit_classifier import weights_path

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    if not weights_path("digits").is_file():
        pytest.skip("the digit classifier's weights are not in this checkout yet")
    gan, vae = runs
    assert main(["compare", str(gan), str(vae), "--out", str(tmp_path / "r"), "--n", "200", "--grid", "4",
                 "--recon-n", "8", "--speed-n", "8"]) == 0
    rows = json.loads((tmp_path / "r" / "compare.json").read_text())["models"]
    for row in rows:
        assert row["fd"] > 0 and 0 <= row["precision"] <= 1 and 0 <= row["recall"] <= 1 and row["extractor"] == "digits"


def test_edge_energy_is_zero_for_flat_images_and_drops_with_blur():
    flat = torch.full((2, 1, 8, 8), 0.3)
    assert compare.edge_energy(flat) == 0.0
    sharp = torch.zeros(1, 1, 8, 8) - 1
    sharp[..., 3:5, 3:5] = 1  # a white 2x2 square on black
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, 1, 1, count_include_pad=False)
    assert compare.edge_energy(sharp) > compare.edge_energy(blurred) > 0
    # by hand: on [0, 1], each of the 4 white pixels has |Laplacian| 2, each of the 8 neighbours 1, over 6x6 outputs
    assert compare.edge_energy(sharp) == pytest.approx((4 * 2 + 8 * 1) / 36)
