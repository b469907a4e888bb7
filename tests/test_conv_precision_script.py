"""benchmarks/conv_precision.py: the convolutions of one DCGAN round, found in call order and timed."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import conv_precision  # noqa: E402

from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402


def test_every_convolution_of_both_players_is_found_with_its_input_shape():
    g, d = DCGANGenerator(channels=1, image_size=32, width=8), DCGANDiscriminator(1, 32, 8)
    found = conv_precision.conv_shapes([g, d], 2, g.z_dim)
    convs = [m for p in (g, d) for m in p.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert [m for m, _ in found] == convs
    assert found[0][1] == (2, g.z_dim, 1, 1) and found[len(convs) // 2][1] == (2, 1, 32, 32)  # G's input, D's input


def test_a_layer_is_timed_forward_and_backward_in_either_precision():
    layer = torch.nn.Conv2d(4, 8, 3, padding=1)
    for dtype, fmt in ((torch.float32, torch.contiguous_format), (torch.bfloat16, torch.channels_last)):
        assert conv_precision.time_layer(layer, (2, 4, 8, 8), dtype, fmt, repeats=1) > 0
        assert layer.weight.dtype == dtype


def test_a_convolutions_flops_count_forward_and_both_gradients():
    layer = torch.nn.Conv2d(4, 8, 3, padding=1, bias=False)
    forward = 2 * 2 * 8 * 8 * 8 * 4 * 9  # 2 FLOPs a multiply-add, batch 2, 8x8 outputs, 8 out x 4 in x 3x3
    assert conv_precision.layer_flops(layer, (2, 4, 8, 8)) == 3 * forward  # forward, input gradient, weight gradient
