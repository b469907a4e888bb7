import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator
from ganforge.models.vanilla import VanillaDiscriminator, VanillaGenerator


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_shapes_and_range(size, channels):
    g = DCGANGenerator(z_dim=16, channels=channels, image_size=size, width=8)
    d = DCGANDiscriminator(channels=channels, image_size=size, width=8)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (3,)


def test_dcgan_has_no_hidden_linear_layers_and_paper_init():
    g, d = DCGANGenerator(width=64), DCGANDiscriminator(width=64)
    for m in (g, d):
        assert not any(isinstance(x, torch.nn.Linear) for x in m.modules())
    convs = [m.weight for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert abs(torch.cat([w.flatten() for w in convs]).std().item() - 0.02) < 0.002
    assert isinstance(d.features[0], torch.nn.Conv2d) and isinstance(d.features[1], torch.nn.LeakyReLU)


@pytest.mark.parametrize("size", [28, 32])
@pytest.mark.parametrize("channels", [1, 3])
def test_vanilla_shapes_and_textbook_widths(size, channels):
    g = VanillaGenerator(channels=channels, image_size=size)
    d = VanillaDiscriminator(channels=channels, image_size=size)
    linears = [m.out_features for m in g.modules() if isinstance(m, torch.nn.Linear)]
    assert linears == [256, 512, 1024, channels * size * size]
    assert [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)] == [512, 256, 1]
    x = g(torch.randn(4, 100))
    assert x.shape == (4, channels, size, size) and x.abs().max() <= 1
    p = d.probability(x)
    assert p.shape == (4,) and ((p > 0) & (p < 1)).all()


def test_players_rebuild_from_config():
    g = DCGANGenerator(z_dim=10, channels=3, image_size=32, width=4)
    clone = type(g)(**g.config)
    clone.load_state_dict(g.state_dict())
    z = torch.randn(2, 10)
    g.eval(), clone.eval()
    assert torch.equal(g(z), clone(z))


def test_unsupported_dcgan_size_is_a_clear_error():
    with pytest.raises(GanforgeError, match="Image size 48"):
        DCGANGenerator(image_size=48)


@pytest.mark.parametrize("pack", [2, 4])
def test_packing_discriminators_judge_packs(pack):
    d = DCGANDiscriminator(channels=3, image_size=32, width=8, pack=pack)
    assert d.features[0].in_channels == 3 * pack
    assert d(torch.randn(8, 3, 32, 32)).shape == (8 // pack,)
    v = VanillaDiscriminator(channels=1, image_size=28, pack=pack)
    assert v.net[0].in_features == 28 * 28 * pack
    assert v(torch.randn(8, 1, 28, 28)).shape == (8 // pack,)
    with pytest.raises(GanforgeError, match="divisible"):
        d(torch.randn(pack + 1, 3, 32, 32))


def test_pack_one_keeps_the_parameter_layout_of_before():
    assert list(VanillaDiscriminator().state_dict()) == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                                                         "net.4.weight", "net.4.bias"]
    keys = list(DCGANDiscriminator(width=8).state_dict())
    assert keys[0] == "features.0.weight" and keys[-1] == "head.bias"


def test_minibatch_std_adds_one_channel_to_the_head():
    d = DCGANDiscriminator(channels=1, image_size=32, width=8, minibatch_std=4)
    assert d.head.in_channels == 8 * 4 + 1 and d(torch.randn(8, 1, 32, 32)).shape == (8,)
    v = VanillaDiscriminator(minibatch_std=4)
    assert v.net[-1].in_features == 257 and v(torch.randn(8, 1, 28, 28)).shape == (8,)
