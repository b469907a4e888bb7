"""Skip-layer excitation, GLU upsampling and the two-path downsampling block."""
import pytest
import torch

from ganforge.nn.down_block import TwoPathDown
from ganforge.nn.excitation import SkipLayerExcitation
from ganforge.nn.glu_blocks import glu_upsample


@pytest.mark.parametrize("low_size", [4, 8, 32])
def test_excitation_gates_each_high_channel_by_a_factor_in_zero_one(low_size):
    sle = SkipLayerExcitation(low_channels=6, high_channels=5)
    low, high = torch.randn(3, 6, low_size, low_size), torch.randn(3, 5, 64, 64)
    gate = sle.gate(low)
    assert gate.shape == (3, 5, 1, 1)  # one gate per sample and high-resolution channel
    assert (gate > 0).all() and (gate < 1).all()
    out = sle(low, high)
    assert out.shape == high.shape
    assert torch.allclose(out, high * gate)
    assert (out.abs() <= high.abs()).all()  # a gate only attenuates


def test_excitation_depends_on_the_low_resolution_features():
    sle = SkipLayerExcitation(4, 4)
    high = torch.randn(2, 4, 16, 16)
    a, b = sle(torch.randn(2, 4, 8, 8), high), sle(torch.randn(2, 4, 8, 8), high)
    assert not torch.allclose(a, b)
    assert torch.allclose(a[0] / high[0], (a[0] / high[0])[:, :1, :1].expand(4, 16, 16), atol=1e-5)  # constant per channel


@pytest.mark.parametrize("twice", [False, True])
def test_glu_upsampling_doubles_the_size_and_halves_the_conv_channels(twice):
    block = glu_upsample(8, 6, resolution=16, twice=twice)
    assert block(torch.randn(2, 8, 8, 8)).shape == (2, 6, 16, 16)
    convs = [m for m in block if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [12] * (2 if twice else 1)  # GLU keeps half
    assert sum(isinstance(m, torch.nn.GLU) for m in block) == len(convs)


def test_two_path_down_halves_the_size():
    block = TwoPathDown(4, 7)
    assert block(torch.randn(2, 4, 16, 16)).shape == (2, 7, 8, 8)
