import json

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.export import load_generator, load_players, save_generator
from ganforge.models.dcgan import DCGANGenerator


def test_round_trip_without_pickle(tmp_path):
    g = DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4).eval()
    save_generator(g, {"image_size": 32, "channels": 3}, tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["config.json", "generator.safetensors"]
    loaded, info = load_generator(tmp_path / "m")
    z = torch.randn(2, 8)
    assert torch.equal(loaded(z), g(z)) and info["channels"] == 3
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_bad_model_folders(tmp_path):
    with pytest.raises(GanforgeError, match="does not exist"):
        load_generator(tmp_path / "missing")
    with pytest.raises(GanforgeError, match="no exported model"):
        load_generator(tmp_path)
    save_generator(DCGANGenerator(width=4), {}, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["players"]["generator"]["class"] = "os:system"
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(GanforgeError, match="ganforge.models class"):
        load_players(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(GanforgeError, match="not valid JSON"):
        load_players(tmp_path / "m")
