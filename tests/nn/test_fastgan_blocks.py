"""Skip-layer excitation, GLU upsampling and the two-path downsampling block."""
import pytest
import torch

from ganforge.nn.down_block import TwoPathDown
from ganforge.nn.excitation import SkipLayerExcitation
from ganforge.nn.glu_blocks import ChannelGLU, glu_upsample, memory_format_of


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
    assert sum(isinstance(m, ChannelGLU) for m in block) == len(convs)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_channel_glu_is_torchs_glu_over_channels_in_value_and_gradient(layout):
    x = torch.randn(2, 6, 5, 7).contiguous(memory_format=layout).requires_grad_()
    reference = x.detach().clone().requires_grad_()
    out, expected = ChannelGLU()(x), torch.nn.GLU(dim=1)(reference)
    assert out.shape == (2, 3, 5, 7)
    torch.testing.assert_close(out, expected)
    grad = torch.randn_like(out)
    out.backward(grad)
    expected.backward(grad)
    torch.testing.assert_close(x.grad, reference.grad)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channel_glu_keeps_a_channels_last_layout_forward_and_backward(dtype):
    x = torch.randn(2, 8, 6, 6, dtype=dtype).contiguous(memory_format=torch.channels_last).requires_grad_()
    h = x * 1  # not a leaf: a leaf's gradient is re-laid out to match it, hiding what GLU's backward returns
    layouts = []
    h.register_hook(lambda grad: layouts.append(memory_format_of(grad)))
    out = ChannelGLU()(h)
    assert memory_format_of(out) == torch.channels_last
    out.backward(torch.randn(out.shape, dtype=dtype).contiguous(memory_format=torch.channels_last))
    assert layouts == [torch.channels_last]  # what the BatchNorm before it receives
    assert memory_format_of(ChannelGLU()(torch.randn(2, 8, 6, 6))) == torch.contiguous_format


def test_memory_format_of_names_only_true_nhwc_layouts():
    assert memory_format_of(torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)) == torch.channels_last
    assert memory_format_of(torch.randn(2, 3, 4, 4)) == torch.contiguous_format
    assert memory_format_of(torch.randn(2, 3, 1, 1).contiguous(memory_format=torch.channels_last)) == torch.contiguous_format
    assert memory_format_of(torch.randn(3, 4)) == torch.contiguous_format


def test_two_path_down_halves_the_size():
    block = TwoPathDown(4, 7)
    assert block(torch.randn(2, 4, 16, 16)).shape == (2, 7, 8, 8)
