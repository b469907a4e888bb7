import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.cyclegan import PatchDiscriminator, ResnetGenerator
from ganforge.nn.patchgan import patch_map_size as patch_output_size
from ganforge.nn.residual import ResidualBlock


@pytest.mark.parametrize("size,channels,n_down", [(28, 1, 2), (32, 1, 2), (32, 3, 2), (64, 3, 2), (24, 3, 3), (10, 1, 1)])
def test_generator_keeps_the_input_shape_and_range(size, channels, n_down):
    g = ResnetGenerator(channels, width=4, n_res_blocks=2, n_down=n_down)
    x = torch.rand(2, channels, size, size) * 2 - 1
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1
    assert g.size_multiple == 2 ** n_down


def test_generator_is_fully_convolutional_and_per_sample():
    g = ResnetGenerator(1, width=4, n_res_blocks=1)
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    batched = g(x)
    alone = torch.cat([g(x[i:i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)  # instance norm: no cross-sample mixing
    assert g(torch.rand(1, 1, 48, 40)).shape == (1, 1, 48, 40)  # another size than it was built for


def test_generator_has_the_paper_layout():
    g = ResnetGenerator(3, width=64, n_res_blocks=9)
    blocks = [m for m in g.modules() if isinstance(m, ResidualBlock)]
    transposed = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(blocks) == 9 and len(transposed) == 2
    assert [m.out_channels for m in transposed] == [128, 64]
    assert all(m.in_channels == 256 for b in blocks for m in b.modules() if isinstance(m, torch.nn.Conv2d))
    assert any(isinstance(m, torch.nn.ReflectionPad2d) for m in g.modules())
    # c7s1-64, d128, d256, 9 x R256 (two 3x3 convs each), u128, u64, c7s1-3: about 11.4 M parameters
    assert 11.3e6 < sum(p.numel() for p in g.parameters()) < 11.5e6


@pytest.mark.parametrize("size,layers", [(256, 3), (70, 3), (32, 3), (28, 3), (16, 2)])
def test_patch_discriminator_output_size(size, layers):
    d = PatchDiscriminator(3, width=4, n_layers=layers)
    out = d(torch.rand(2, 3, size, size))
    side = patch_output_size(size, layers)
    assert out.shape == (2, 1, side, side)
    assert patch_output_size(256, 3) == 30  # the paper's 30x30 map of 70x70 patches


def test_players_rebuild_from_config():
    for module in (ResnetGenerator(1, 8, 2, 2), PatchDiscriminator(3, 8, 2)):
        rebuilt = type(module)(**module.config)
        rebuilt.load_state_dict(module.state_dict())
        x = torch.rand(1, module.config["channels"], 32, 32)
        torch.testing.assert_close(rebuilt(x), module(x))


def test_bad_sizes_are_refused():
    with pytest.raises(GanforgeError, match="width=0"):
        ResnetGenerator(1, width=0)
    with pytest.raises(GanforgeError, match="n_layers=0"):
        PatchDiscriminator(1, n_layers=0)


def test_residual_block_adds_its_input():
    block = ResidualBlock(4)
    for p in block.parameters():
        torch.nn.init.zeros_(p)  # zero weights and zero norm scales: the body outputs 0
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(block(x), x)
