import math

import pytest
import torch
import torch.nn.functional as F

from ganforge.nn.bottleneck import ACTIVATION_GAIN, BiasedLeakyReLU, BottleneckBlock, GroupedConv3x3


def test_a_fresh_block_is_the_identity():
    torch.manual_seed(0)
    block = BottleneckBlock(32, group_width=16, expansion=2, total_blocks=8)
    x = torch.randn(4, 32, 8, 8)
    assert torch.equal(block(x), x)
    with torch.no_grad():
        block.project.weight.normal_()
    assert not torch.allclose(block(x), x)  # the branch is live once its last conv learns


def test_block_layout_grouping_and_fixup_gains():
    torch.manual_seed(0)
    total = 16
    block = BottleneckBlock(64, group_width=16, expansion=2, total_blocks=total)
    assert (block.expand.out_channels, block.grouped.groups, block.project.out_channels) == (128, 8, 64)
    assert block.grouped.weight.shape == (128, 16, 3, 3)  # 16 channels per group
    assert all(conv.bias is None for conv in (block.expand, block.grouped, block.project))  # biases live in the activations
    assert block.act1.bias.shape == (128,)
    gain = ACTIVATION_GAIN * total ** -0.25
    assert block.expand.weight.std().item() == pytest.approx(gain / math.sqrt(64), rel=0.05)
    assert block.grouped.weight.std().item() == pytest.approx(gain / math.sqrt(16 * 9), rel=0.05)
    assert torch.count_nonzero(block.project.weight) == 0
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.InstanceNorm2d)) for m in block.modules())
    with pytest.raises(ValueError, match="group width"):
        BottleneckBlock(12, group_width=16, expansion=1)


def test_biased_leaky_relu_adds_the_bias_then_leaks_at_0_2():
    act = BiasedLeakyReLU(2)
    with torch.no_grad():
        act.bias.copy_(torch.tensor([1.0, -1.0]))
    x = torch.zeros(1, 2, 1, 1)
    assert act(x).flatten().tolist() == pytest.approx([1.0, -0.2])


def _penalty_gradients(conv, x, weight, r):
    """(y, ∇ₓs, ∂/∂x and ∂/∂w of ‖∇ₓs‖² + s) for s = Σ leaky(conv(leaky(x)))·r: what R1 and R2 ask of a layer."""
    x = x.detach().requires_grad_(True)
    y = conv(torch.nn.functional.leaky_relu(x, 0.2))
    s = (torch.nn.functional.leaky_relu(y, 0.2) * r).sum()
    (gx,) = torch.autograd.grad(s, x, create_graph=True)
    dx, dw = torch.autograd.grad(gx.square().sum() + s, (x, weight))
    return y.detach(), gx.detach(), dx, dw


@pytest.mark.parametrize("channels, groups, size", [(48, 3, 8), (96, 6, 4), (32, 2, 5)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_grouped_conv_and_its_first_and_second_order_gradients_match_pytorchs(channels, groups, size, channels_last):
    torch.manual_seed(0)
    layer = GroupedConv3x3(channels, groups)
    x, r = torch.randn(4, channels, size, size), torch.randn(4, channels, size, size)
    if channels_last:
        layer = layer.to(memory_format=torch.channels_last)
        x, r = x.contiguous(memory_format=torch.channels_last), r.contiguous(memory_format=torch.channels_last)
    got = _penalty_gradients(layer, x, layer.weight, r)
    want = _penalty_gradients(lambda t: F.conv2d(t, layer.weight, padding=1, groups=groups), x, layer.weight, r)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())
    with torch.no_grad():
        assert torch.equal(layer(x), F.conv2d(x, layer.weight, padding=1, groups=groups))


def test_the_grouped_conv_under_bf16_autocast_keeps_autocasts_dtypes_and_values():
    torch.manual_seed(0)
    layer = GroupedConv3x3(32, 2)
    x = torch.randn(2, 32, 6, 6, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = layer(x)
        want = F.conv2d(x, layer.weight, padding=1, groups=2)
    assert got.dtype == want.dtype == torch.bfloat16
    assert torch.allclose(got.float(), want.float(), atol=1e-2)
    (gw,) = torch.autograd.grad(got.float().square().sum(), layer.weight)
    (ref,) = torch.autograd.grad(want.float().square().sum(), layer.weight)
    assert gw.dtype == torch.float32 and torch.allclose(gw, ref, rtol=2e-2, atol=2e-2 * ref.abs().max().item())


def test_the_block_keeps_the_parameter_names_and_shapes_of_a_plain_grouped_conv():
    block = BottleneckBlock(48, group_width=16, expansion=2)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == {
        "expand.weight": (96, 48, 1, 1), "act1.bias": (96,), "grouped.weight": (96, 16, 3, 3), "act2.bias": (96,),
        "project.weight": (48, 96, 1, 1)}
    assert isinstance(block.grouped, torch.nn.Conv2d) and block.grouped.groups == 6


def test_the_grouped_conv_passes_gradcheck_to_second_order():
    torch.manual_seed(0)
    layer = GroupedConv3x3(8, 2).double()
    x = torch.randn(2, 8, 4, 4, dtype=torch.float64, requires_grad=True)

    def conv(t, weight):  # the layer's forward with `weight` in its place
        return torch.func.functional_call(layer, {"weight": weight}, (t,))

    assert torch.autograd.gradcheck(conv, (x, layer.weight))
    assert torch.autograd.gradgradcheck(conv, (x, layer.weight))
