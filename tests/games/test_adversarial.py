"""The classic two-player game (vanilla and DCGAN players) keeps the game contract."""
import torch

from ganforge.config import TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.games.registry import get_family
from tests.games.game_contract import GameContract


def make_game(family, **options):
    fam = get_family(family)
    return fam.build(TrainConfig(model=family, loss="non_saturating"), fam.options(**options), DataInfo(1, 16),
                     Runtime(torch.device("cpu")))


class TestDCGANContract(GameContract):
    def make_game(self):
        return make_game("dcgan", width=4, z_dim=8)

    def make_batch(self):
        return {"images": torch.rand(8, 1, 16, 16) * 2 - 1}


class TestVanillaContract(GameContract):
    def make_game(self):
        return make_game("vanilla", z_dim=8)

    def make_batch(self):
        return {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
