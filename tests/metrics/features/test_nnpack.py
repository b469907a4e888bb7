"""NNPACK's fast convolutions: the same numbers as the direct convolution, only where they pay, fp32 only."""
import pytest
import torch
from torch import nn

from ganforge.metrics.features import nnpack
from ganforge.metrics.features.inception import FIDInceptionV3
from ganforge.metrics.features.inference import InferenceNetwork

needs_nnpack = pytest.mark.skipif(not nnpack.available(), reason="this torch build has no NNPACK")


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


@needs_nnpack
@pytest.mark.parametrize("kernel, padding", [(3, 1), (5, 2), (3, 0)])
def test_the_fast_convolution_equals_the_direct_one(kernel, padding):
    torch.manual_seed(0)
    conv = nn.Conv2d(48, 64, kernel, padding=padding).requires_grad_(False)
    x = torch.randn(3, 48, 35, 35)
    with torch.no_grad():
        fast, direct = nnpack.NNPACKConv2d(conv)(x), conv(x)
        small = torch.randn(2, 48, 8, 8)  # below MIN_SIZE: the convolution itself, bit for bit
        assert torch.equal(nnpack.NNPACKConv2d(conv)(small), conv(small))
    assert fast.shape == direct.shape and fast.is_contiguous(memory_format=torch.channels_last)
    assert relative(fast, direct) < 1e-5


def test_only_large_stride_1_convolutions_are_swapped():
    model = nn.Sequential(nn.Conv2d(48, 64, 3, padding=1), nn.Conv2d(32, 64, 3), nn.Conv2d(64, 64, 3, stride=2),
                          nn.Conv2d(64, 64, 1), nn.Conv2d(64, 64, (1, 7), padding=(0, 3)), nn.Conv2d(64, 64, 5, padding=2),
                          nn.Conv2d(64, 64, 3, dilation=2), nn.Conv2d(64, 64, 3, groups=2))
    swapped = [isinstance(m, nnpack.NNPACKConv2d) for m in nnpack.use_nnpack(model)]
    assert swapped == ([True, False, False, False, False, True, False, False] if nnpack.available() else [False] * 8)


@needs_nnpack
def test_the_tuned_inception_uses_it_in_fp32_only_and_keeps_the_features():
    torch.manual_seed(0)
    net = FIDInceptionV3(num_classes=0).eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)

    def count(runner):
        return sum(isinstance(m, nnpack.NNPACKConv2d) for m in runner.module.modules())

    fast = InferenceNetwork(net, "fp32")
    # Conv2d_4a; in the 35x35 blocks the 5x5 and both 3x3 of each Mixed_5 block and Mixed_6a's 3x3; and the
    # 3x3 of Mixed_7b and 7c, which run directly as their maps are 8 px
    assert count(fast) == 1 + 3 * 3 + 1 + 2
    assert count(InferenceNetwork(net, "bf16")) == 0 and count(InferenceNetwork(net, "fp32", nnpack=False)) == 0
    x = torch.rand(2, 3, 299, 299) * 2 - 1
    with torch.no_grad():
        assert relative(fast(x), net.features(x)) < 1e-4
