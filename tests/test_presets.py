"""The resolution presets in ganforge/presets: valid configs whose settings follow the papers' rules."""
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge.config import TrainConfig, load_yaml, resolve_options
from ganforge.contract import DataInfo, Runtime
from ganforge.games.registry import get_family
from ganforge.train.run_dir import resolve_defaults

PRESETS = Path(ganforge.__file__).parent / "presets"


def _cfg(name: str) -> TrainConfig:
    return resolve_defaults(TrainConfig.from_dict({**load_yaml(PRESETS / name), "device": "cpu"}))


@pytest.mark.parametrize("name, size, batch", [("stylegan-128.yaml", 128, 32), ("stylegan-256.yaml", 256, 16)])
def test_stylegan_presets_follow_stylegan2_ada(name, size, batch):
    cfg = _cfg(name)
    o = cfg.options
    assert (cfg.model, cfg.image_size, cfg.batch_size) == ("stylegan", size, batch)
    assert o["r1_gamma"] == pytest.approx(0.0002 * size ** 2 / batch, rel=1e-3)  # ADA's γ heuristic
    half_life = batch * 10 / 32 * 1000  # ADA's EMA half-life in images
    assert cfg.ema_decay == pytest.approx(0.5 ** (batch / half_life), abs=1e-5) and cfg.ema_rampup == 0.05
    assert (o["z_dim"], o["w_dim"], o["channel_base"], o["channel_max"], o["mapping_layers"]) == (512, 512, 16384, 512, 8)
    family = get_family("stylegan")
    game = family.build(cfg, resolve_options(family.options, o, "stylegan"), DataInfo(3, size), Runtime(torch.device("cpu")))
    assert game.schedule.validate() is None  # the growth schedule fits in the run
    assert game.discriminator(torch.zeros(2, 3, size, size), None, 1.0).shape[0] == 2


@pytest.mark.parametrize("name, size, widest", [("dcgan-64.yaml", 64, 512), ("dcgan-128.yaml", 128, 512)])
def test_dcgan_presets_build_players_of_the_papers_width(name, size, widest):
    cfg = _cfg(name)
    family = get_family("dcgan")
    game = family.build(cfg, resolve_options(family.options, cfg.options, "dcgan"), DataInfo(3, size), Runtime(torch.device("cpu")))
    assert (cfg.lr_g, cfg.lr_d) == (2e-4, 2e-4)  # the paper's, where the family's own default is twice it
    first = game.generator.net[0]
    assert first.out_channels == widest and cfg.options["z_dim"] == 100
    with torch.no_grad():
        assert game.generator(torch.randn(2, 100)).shape == (2, 3, size, size)
    assert cfg.batch_size == (128 if size == 64 else 64)


@pytest.mark.parametrize("name, size, widths, cardinalities, gamma, batch", [
    ("r3gan-cifar10.yaml", 32, [768] * 4, [96] * 4, 0.05, 512),
    ("r3gan-ffhq-64.yaml", 64, [768] * 4 + [384], [96] * 4 + [48], 2.0, 256),
    ("r3gan-ffhq-256.yaml", 256, [768] * 4 + [384, 192, 96], [96] * 4 + [48, 24, 12], 150.0, 256),
])
def test_r3gan_presets_build_the_papers_players_and_schedules(name, size, widths, cardinalities, gamma, batch):
    from ganforge.nn.bottleneck import BottleneckBlock

    cfg = _cfg(name)
    assert (cfg.model, cfg.image_size, cfg.batch_size) == ("r3gan", size, batch)
    family = get_family("r3gan")
    info = DataInfo(3, size, num_classes=10 if cfg.options.get("conditional") else 0)
    game = family.build(cfg, resolve_options(family.options, cfg.options, "r3gan"), info, Runtime(torch.device("cpu")))
    blocks = [m for m in game.generator.modules() if isinstance(m, BottleneckBlock)]
    assert [m.expand.in_channels for m in blocks[::2]] == widths and len(blocks) == 2 * len(widths)
    assert [m.grouped.groups for m in blocks[::2]] == cardinalities  # the paper's cardinality at 16 channels per group
    d_blocks = [m for m in game.players["discriminator"].modules() if isinstance(m, BottleneckBlock)]
    assert [m.expand.in_channels for m in d_blocks[::2]] == widths[::-1]
    recipe = game.recipe(10 ** 6)
    assert recipe.horizon == 2e7 and recipe.lr == (2e-4, 5e-5) and recipe.beta2 == (0.9, 0.99)
    assert recipe.gamma == pytest.approx((gamma, gamma / 10))
    with torch.no_grad():
        z = torch.randn(1, 64)
        labels = torch.tensor([3]) if info.num_classes else None
        assert game.generator(z, labels).shape == (1, 3, size, size)


def test_the_r3gan_cpu_preset_is_small():
    cfg = _cfg("r3gan-32-cpu.yaml")
    family = get_family("r3gan")
    game = family.build(cfg, resolve_options(family.options, cfg.options, "r3gan"), DataInfo(3, 32), Runtime(torch.device("cpu")))
    assert sum(p.numel() for p in game.generator.parameters()) < 500_000
    assert game.recipe(1000).horizon == 1000 * 32  # the schedules span the whole run


def test_the_r3gan_64_cpu_preset_matches_the_scoreboards_stylegan_in_size():
    cfg = _cfg("r3gan-64-cpu.yaml")
    assert (cfg.model, cfg.image_size, cfg.batch_size) == ("r3gan", 64, 32)
    family = get_family("r3gan")
    game = family.build(cfg, resolve_options(family.options, cfg.options, "r3gan"), DataInfo(3, 64), Runtime(torch.device("cpu")))
    counts = [sum(p.numel() for p in game.players[name].parameters()) for name in ("generator", "discriminator")]
    assert counts == [331_624, 323_560]  # the preset's comment; the scoreboard's stylegan (growth off): 396,599 + 214,217
    recipe = game.recipe(1000)
    assert recipe.horizon == 1000 * 32 and recipe.gamma == pytest.approx((2.0, 0.2))  # FFHQ-64's γ over the whole run
    assert game.options.penalty_interval == 16  # lazy R1 + R2, measured on the colour board
    with torch.no_grad():
        assert game.generator(torch.randn(2, 64)).shape == (2, 3, 64, 64)


def test_the_fastgan_cpu_preset_is_what_fastgan_picks_on_a_cpu():
    cfg = _cfg("fastgan-cpu.yaml")
    picked = resolve_defaults(TrainConfig(model="fastgan", device="cpu"))
    assert (cfg.model, cfg.batch_size, cfg.options["width"], cfg.options["z_dim"]) == ("fastgan", 8, 8, 256)
    assert (cfg.lr_g, cfg.lr_d) == (4e-4, 4e-4)  # dcgan's on a CPU; the paper's 2e-4 stays the GPU default
    assert (picked.batch_size, picked.options, picked.image_size, picked.minutes) == (cfg.batch_size, cfg.options, 64, 30)
    assert (picked.lr_g, picked.lr_d) == (cfg.lr_g, cfg.lr_d)
    family = get_family("fastgan")
    game = family.build(cfg, resolve_options(family.options, cfg.options, "fastgan"), DataInfo(3, 128), Runtime(torch.device("cpu")))
    with torch.no_grad():
        assert game.generator(torch.randn(2, 256)).shape == (2, 3, 128, 128)
