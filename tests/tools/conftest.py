"""Fixtures shared by the tools' tests."""
import pytest
import torch

from ganforge.export import save_players
from ganforge.models.srgan import RRDBGenerator

SR_INFO = {"kind": "superres", "family": "srgan", "scale": 2, "channels": 3, "image_size": 16}


@pytest.fixture(scope="module")
def sr_model(tmp_path_factory):
    """A tiny x2 super-resolution export whose last layer is not zero (its output differs from the skip)."""
    torch.manual_seed(0)
    g = RRDBGenerator(3, 8, 1, 4, 2)
    for p in g.last.parameters():
        p.data.normal_(0, 0.05)
    return save_players({"generator": g}, SR_INFO, tmp_path_factory.mktemp("sr") / "model")
