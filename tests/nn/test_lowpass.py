import pytest
import torch
import torch.nn.functional as F

from ganforge.nn.lowpass import LowPassDownsample, LowPassUpsample, lowpass_kernel


def test_the_kernel_is_the_normalised_outer_product_of_the_taps():
    expected = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    assert torch.equal(lowpass_kernel(), expected)
    assert lowpass_kernel((1, 1, 1)).sum().item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="three"):
        LowPassUpsample((1, 3, 3, 1))


def test_upsampling_spreads_a_pixel_by_the_taps_and_interpolates_bilinearly():
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0
    y = LowPassUpsample()(x)
    assert y.shape == (1, 1, 6, 6)
    # the pixel lands at (2, 2); its neighbours get the taps [1, 2, 1] / 2 in each direction
    window = y[0, 0, 1:4, 1:4]
    assert torch.allclose(window, torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]]))
    assert y.sum().item() == pytest.approx(4.0)  # the mean is kept: 4 output pixels per input pixel
    ramp = torch.arange(5.0).view(1, 1, 1, 5).expand(1, 2, 5, 5)  # two channels, filtered alike
    up = LowPassUpsample()(ramp)
    assert torch.allclose(up[0, :, 3, :9], torch.arange(9.0).div(2).expand(2, 9))  # bilinear between the samples


def test_downsampling_averages_with_the_taps_and_keeps_a_constant():
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 2] = 1.0
    y = LowPassDownsample()(x)
    assert y.shape == (1, 1, 4, 4)
    assert y[0, 0, 1, 1].item() == pytest.approx(4 / 16)  # the centre tap
    assert y[0, 0, 1, 2].item() == 0.0
    ones = torch.ones(2, 3, 8, 8)
    assert torch.allclose(LowPassDownsample()(ones)[..., 1:, 1:], torch.ones(2, 3, 3, 3))  # away from the zero padding
    assert torch.allclose(LowPassDownsample()(ones), F.conv2d(ones, lowpass_kernel().expand(3, 1, 3, 3), stride=2,
                                                              padding=1, groups=3))


def test_resampling_has_nothing_to_learn_and_nothing_to_save():
    for layer in (LowPassUpsample(), LowPassDownsample()):
        assert list(layer.parameters()) == [] and layer.state_dict() == {}


def _depthwise_reference(kind: str, x: torch.Tensor) -> torch.Tensor:
    """The resampling as one PyTorch depthwise convolution (autograd's own backward and double backward)."""
    k = lowpass_kernel().to(x.dtype)
    c = x.shape[1]
    if kind == "down":
        return F.conv2d(x, k.expand(c, 1, 3, 3), stride=2, padding=1, groups=c)
    return F.conv_transpose2d(x, (4 * k).expand(c, 1, 3, 3), stride=2, padding=1, output_padding=1, groups=c)


def _penalty_gradients(fn, x: torch.Tensor, r: torch.Tensor):
    """(y, ∇ₓs, ∂(‖∇ₓs‖² + s)/∂x) for s = Σ leaky(fn(leaky(x)))·r: what R1 asks of a layer."""
    x = x.detach().requires_grad_(True)
    s = (F.leaky_relu(fn(F.leaky_relu(x, 0.2)), 0.2) * r).sum()
    (gx,) = torch.autograd.grad(s, x, create_graph=True)
    (dx,) = torch.autograd.grad(gx.square().sum() + s, x)
    return s.detach(), gx.detach(), dx


@pytest.mark.parametrize("kind, shape", [("down", (3, 5, 8, 8)), ("down", (2, 4, 7, 10)), ("up", (3, 5, 4, 4)),
                                         ("up", (2, 4, 3, 6))])
def test_resampling_and_its_first_and_second_order_gradients_match_the_depthwise_convolution(kind, shape):
    torch.manual_seed(0)
    layer = LowPassDownsample() if kind == "down" else LowPassUpsample()
    x = torch.randn(shape)
    r = torch.randn_like(_depthwise_reference(kind, x))
    with torch.no_grad():
        assert torch.allclose(layer(x), _depthwise_reference(kind, x), atol=1e-6)  # the graph-free path
    for got, want in zip(_penalty_gradients(layer, x, r), _penalty_gradients(lambda t: _depthwise_reference(kind, t), x, r)):
        assert got.shape == want.shape
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layer", [LowPassDownsample(), LowPassUpsample()])
def test_resampling_gradients_pass_gradcheck_to_second_order(layer):
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))
    assert torch.autograd.gradgradcheck(layer, (x,))


@pytest.mark.parametrize("kind", ["down", "up"])
def test_resampling_under_bf16_autocast_matches_the_depthwise_convolution_and_differentiates_twice(kind):
    torch.manual_seed(0)
    layer = LowPassDownsample() if kind == "down" else LowPassUpsample()
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, want = layer(x), _depthwise_reference(kind, x)
        assert got.dtype == want.dtype
        assert torch.allclose(got.float(), want.float(), atol=2e-2)
        (grad,) = torch.autograd.grad(got.float().square().sum(), x, create_graph=True)
        (ref,) = torch.autograd.grad(want.float().square().sum(), x, create_graph=True)
        assert grad.dtype == torch.float32 and torch.allclose(grad, ref, atol=5e-2)
        (second,) = torch.autograd.grad(grad.square().sum(), x)
        (second_ref,) = torch.autograd.grad(ref.square().sum(), x)
    assert torch.allclose(second, second_ref, rtol=5e-2, atol=5e-2 * second_ref.abs().max().item())
