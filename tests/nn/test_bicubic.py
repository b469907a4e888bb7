import pytest
import torch

from ganforge.data.superres import imresize
from ganforge.errors import GanforgeError
from ganforge.nn.bicubic import CubicUpscale, mirror_pad, upscale_taps


def test_x2_taps_are_the_hand_computed_cubic_weights():
    # phase 0 sits 0.25 px left of its input pixel: cubic(1.75), cubic(0.75), cubic(0.25), cubic(1.25), cubic(2.25) with a = -0.5
    taps = upscale_taps(2)
    assert taps[0].tolist() == pytest.approx([-0.0234375, 0.2265625, 0.8671875, -0.0703125, 0.0])
    assert taps[1].tolist() == pytest.approx(taps[0].flip(0).tolist())
    assert upscale_taps(4).sum(1).tolist() == pytest.approx([1.0] * 4)


def test_mirror_pad_is_matlabs_symmetric_padding():
    x = torch.arange(9.0).view(1, 3, 3)
    padded = mirror_pad(x, 2)[0]
    assert padded[2].tolist() == [1.0, 0.0, 0.0, 1.0, 2.0, 2.0, 1.0]
    assert padded[:, 2].tolist() == [3.0, 0.0, 0.0, 3.0, 6.0, 6.0, 3.0]


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("size", [(2, 3), (7, 10), (33, 17)])
def test_upscale_equals_matlab_imresize_borders_included(scale, size):
    x = torch.rand(2, 3, *size) * 2 - 1
    torch.testing.assert_close(CubicUpscale(3, scale)(x), imresize(x, float(scale)), atol=1e-5, rtol=0)


def test_upscale_stays_float32_under_bf16_autocast_and_holds_no_state():
    x = torch.rand(1, 1, 9, 9) * 2 - 1
    layer = CubicUpscale(1, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, imresize(x, 4.0), atol=1e-5, rtol=0)
    assert layer.state_dict() == {}


def test_a_one_pixel_side_is_refused():
    with pytest.raises(GanforgeError, match="1x5 pixels is too small"):
        CubicUpscale(1, 2)(torch.zeros(1, 1, 5, 1))
