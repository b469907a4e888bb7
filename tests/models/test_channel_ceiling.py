"""The channel ceiling of the families whose width doubles at every halving (DCGAN, cGAN, VAE)."""
import json

import pytest
import torch

from ganforge.export import load_generator, save_generator
from ganforge.games.adversarial import DCGANOptions
from ganforge.games.conditional import CGANOptions
from ganforge.games.vae import VAEOptions
from ganforge.models.cgan import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.vae import Decoder, Encoder
from ganforge.nn.widths import CHANNEL_MAX, capped_width

# Parameter counts of the default players, measured on main before the ceiling existed (channels, size).
BEFORE = {
    (DCGANGenerator, 1, 32): 1066881, (DCGANDiscriminator, 1, 32): 661313,
    (ConditionalDCGANGenerator, 1, 32): 1107941, (ConditionalDCGANDiscriminator, 1, 32): 663873,
    (Decoder, 1, 32): 791745, (Encoder, 1, 32): 919040,
    (DCGANGenerator, 1, 64): 3574657, (DCGANDiscriminator, 1, 64): 2763585,
    (ConditionalDCGANGenerator, 1, 64): 3656677, (ConditionalDCGANDiscriminator, 1, 64): 2768705,
    (Decoder, 1, 64): 3024321, (Encoder, 1, 64): 3278848,
    (DCGANGenerator, 3, 32): 1068931, (DCGANDiscriminator, 3, 32): 663361,
    (ConditionalDCGANGenerator, 3, 32): 1109991, (ConditionalDCGANDiscriminator, 3, 32): 665921,
    (Decoder, 3, 32): 793795, (Encoder, 3, 32): 921088,
    (DCGANGenerator, 3, 64): 3576707, (DCGANDiscriminator, 3, 64): 2765633,
    (ConditionalDCGANGenerator, 3, 64): 3658727, (ConditionalDCGANDiscriminator, 3, 64): 2770753,
    (Decoder, 3, 64): 3026371, (Encoder, 3, 64): 3280896,
}
PLAYERS = (DCGANGenerator, DCGANDiscriminator, ConditionalDCGANGenerator, ConditionalDCGANDiscriminator, Decoder, Encoder)


def build(cls, channels, size, **kw):
    with torch.device("meta"):
        return cls(channels=channels, image_size=size, **kw)


def count(module):
    return sum(p.numel() for p in module.parameters())


def widths(module):
    convs = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    return [c for m in convs for c in (m.in_channels, m.out_channels)]


def test_capped_width():
    assert [capped_width(64, i) for i in range(6)] == [64, 128, 256, 512, 512, 512]
    assert capped_width(64, 5, channel_max=0) == 2048
    assert capped_width(64, 2, channel_max=100) == 100


@pytest.mark.parametrize("key", list(BEFORE), ids=lambda k: f"{k[0].__name__}-{k[1]}ch-{k[2]}px")
def test_32_and_64_px_players_are_unchanged(key):
    cls, channels, size = key
    assert count(build(cls, channels, size)) == BEFORE[key]


@pytest.mark.parametrize("cls", PLAYERS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("size", [128, 256])
def test_no_layer_is_wider_than_the_ceiling_and_0_lifts_it(cls, size):
    capped, uncapped = build(cls, 3, size), build(cls, 3, size, channel_max=0)
    assert max(widths(capped)) == CHANNEL_MAX
    assert max(widths(uncapped)) == 64 * 2 ** (size.bit_length() - 4)  # 1,024 at 128 px, 2,048 at 256 px
    assert count(capped) < count(uncapped)


def test_dcgan_at_256_px_stays_its_size():
    g, d = build(DCGANGenerator, 3, 256), build(DCGANDiscriminator, 3, 256)
    assert count(g) <= 15_000_000 and count(d) <= 15_000_000
    real = DCGANGenerator(z_dim=8, channels=3, image_size=256, width=4, channel_max=16)
    assert real(torch.randn(2, 8)).shape == (2, 3, 256, 256)


@pytest.mark.parametrize("options", [DCGANOptions, CGANOptions, VAEOptions])
def test_every_growing_family_declares_the_one_ceiling_and_refuses_a_negative_one(options):
    assert options().channel_max == CHANNEL_MAX
    with pytest.raises(Exception, match="channel_max=-1"):
        options(channel_max=-1).validate()


def test_an_export_made_before_the_ceiling_loads_as_it_was(tmp_path):
    old = DCGANGenerator(z_dim=8, channels=1, image_size=128, width=64, channel_max=0)
    folder = save_generator(old, {"family": "dcgan"}, tmp_path / "old")
    config = json.loads((folder / "config.json").read_text())
    del config["players"]["generator"]["config"]["channel_max"]  # as written before the option existed
    (folder / "config.json").write_text(json.dumps(config))
    loaded, _ = load_generator(folder)
    assert count(loaded) == count(old)
    z = torch.randn(2, 8)
    assert torch.equal(loaded.eval()(z), old.eval()(z))
