import math

import pytest
import torch

from ganforge.nn.bottleneck import ACTIVATION_GAIN, BiasedLeakyReLU, BottleneckBlock


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


def test_the_block_state_keeps_its_names_and_shapes():  # what r3gan checkpoints hold
    block = BottleneckBlock(48, group_width=16, expansion=2)
    assert {k: tuple(v.shape) for k, v in block.state_dict().items()} == {
        "expand.weight": (96, 48, 1, 1), "act1.bias": (96,), "grouped.weight": (96, 16, 3, 3), "act2.bias": (96,),
        "project.weight": (48, 96, 1, 1)}
