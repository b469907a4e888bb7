"""`ganforge eval` on colour data without Inception weights: SWD, MS-SSIM and memorisation, and it says so."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.export import save_generator
from ganforge.metrics.features import inception_weights as iw
from ganforge.models.dcgan import DCGANGenerator


@pytest.fixture()
def colour_model(tmp_path, monkeypatch, no_tf_inception):
    """A tiny untrained 32 px colour DCGAN generator and a colour folder with train/ and test/ (no TF-Inception file)."""
    for name in (iw.ENV_VAR, iw.URL_ENV, iw.SHA_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    data = tmp_path / "pictures"
    for split, n in (("train", 24), ("test", 8)):
        (data / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), mode="RGB").save(data / split / f"{i}.png")
    torch.manual_seed(0)
    gen = DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4)
    info = {"channels": 3, "image_size": 32, "num_classes": 0, "class_names": [], "family": "dcgan", "data": str(data)}
    return save_generator(gen, info, tmp_path / "model"), data


def test_colour_data_without_weights_gets_the_pretrained_free_scores(colour_model, tmp_path, capsys):
    model, _ = colour_model
    assert main(["eval", str(model), "--n", "16", "--json", str(tmp_path / "s.json")]) == 0
    out, err = capsys.readouterr()
    assert "no InceptionV3 weights found" in err and "SWD" in err
    assert "sliced Wasserstein" in out and "MS-SSIM" in out and "held-out" in out
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["n"] == 16 and scores["swd"] > 0 and 0 <= scores["ms_ssim"] <= 1
    assert set(scores["swd_levels"]) == {"32", "16"} and 0 <= scores["memorisation"]["copies"] <= 1
    assert scores["memorisation"]["reference"] == "held-out" and scores["memorisation"]["n_train"] == 24


def test_weights_in_the_hub_cache_are_found_and_used_instead(colour_model, capsys):
    model, _ = colour_model
    bad = iw.hub_checkpoints() / iw.PYTORCH_FID_NAME
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a state dict")
    assert main(["eval", str(model), "--n", "16"]) == 2  # the cached file was picked up (and is refused as unreadable)
    assert str(bad) in capsys.readouterr().err
