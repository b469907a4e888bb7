"""benchmarks/layout_probe.py: modules whose channels-last output receives a contiguous gradient."""
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import layout_probe  # noqa: E402

from ganforge.nn.glu_blocks import ChannelGLU  # noqa: E402


def counts_for(glu: nn.Module):
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), glu).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 6, 6).contiguous(memory_format=torch.channels_last)

    def play():
        out = net(x)
        out.backward(torch.ones_like(out))

    return layout_probe.mixed_layout_outputs({"g": net}, play), net


def test_the_batchnorm_behind_torchs_glu_is_named_and_none_behind_the_layout_keeping_glu():
    counts, _ = counts_for(nn.GLU(dim=1))
    assert counts == {"g.1 BatchNorm2d": 1}
    counts, _ = counts_for(ChannelGLU())
    assert not counts


def test_the_hooks_are_removed_after_the_round():
    _, net = counts_for(nn.GLU(dim=1))
    assert all(not m._forward_hooks for m in net.modules())


def test_layouts_are_told_apart_and_one_pixel_maps_are_neither():
    nhwc = torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    assert layout_probe.is_channels_last(nhwc) and not layout_probe.is_plain_contiguous(nhwc)
    assert layout_probe.is_plain_contiguous(torch.randn(2, 3, 4, 4))
    pixel = torch.randn(2, 3, 1, 1)
    assert not layout_probe.is_channels_last(pixel) and not layout_probe.is_plain_contiguous(pixel)
