import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.nn.diffaugment import cutout, diff_augment, parse_policy, translation
from ganforge.nn.equalized import EqualConv2d, EqualLinear, pixel_norm
from ganforge.nn.minibatch_std import MinibatchStd, group_size_for
from ganforge.nn.style import AdaIN, ModulatedConv2d, NoiseInjection


def test_equalized_linear_keeps_unit_variance_and_lr_mul_scales_gradients():
    layer = EqualLinear(256, 256)
    x = torch.randn(512, 256)
    assert 0.9 < layer(x).std().item() < 1.1
    slow = EqualLinear(8, 4, lr_mul=0.01)
    fast = EqualLinear(8, 4, lr_mul=1.0)
    with torch.no_grad():  # same effective weights and biases
        fast.weight.copy_(slow.weight * 0.01)
        slow.bias.fill_(0.5 / 0.01)
        fast.bias.fill_(0.5)
    x = torch.randn(3, 8)
    assert torch.allclose(slow(x), fast(x), atol=1e-5)
    slow(x).sum().backward()
    fast(x).sum().backward()
    assert torch.allclose(slow.weight.grad, fast.weight.grad * 0.01, atol=1e-6)
    assert slow.weight.std().item() > 50  # stored 1/lr_mul larger


def test_equalized_conv_keeps_unit_variance():
    conv = EqualConv2d(64, 64, 3)
    assert 0.85 < conv(torch.randn(8, 64, 16, 16)).std().item() < 1.15
    assert torch.allclose(pixel_norm(torch.full((2, 4), 3.0)), torch.ones(2, 4), atol=1e-5)


def test_modulated_conv_equals_per_sample_weights_and_demodulates():
    conv = ModulatedConv2d(6, 5, 3, w_dim=4, demodulate=True)
    x, w = torch.randn(3, 6, 8, 8), torch.randn(3, 4) * 3
    out = conv(x, w)
    styles = conv.affine(w)
    for i in range(3):
        weight = conv.weight * conv.weight_gain * styles[i].view(1, -1, 1, 1)
        weight = weight / weight.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        assert torch.allclose(out[i:i + 1], F.conv2d(x[i:i + 1], weight, padding=1), atol=1e-5)
    big = ModulatedConv2d(128, 64, 3, w_dim=8)
    y = big(torch.randn(4, 128, 16, 16), torch.randn(4, 8) * 5)  # large styles, unit output
    assert 0.85 < y.std().item() < 1.15
    up = ModulatedConv2d(4, 4, 3, w_dim=4, upsample=True)
    assert up(torch.randn(2, 4, 4, 4), torch.randn(2, 4)).shape == (2, 4, 8, 8)


def test_adain_sets_each_feature_map_to_the_style_statistics():
    adain = AdaIN(3, w_dim=5)
    w = torch.randn(2, 5)
    out = adain(torch.randn(2, 3, 8, 8) * 4 + 2, w)
    style = adain.affine(w)
    assert torch.allclose(out.mean(dim=(2, 3)), style[:, 3:], atol=1e-4)
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), style[:, :3].abs(), atol=1e-3)


def test_noise_injection_modes():
    noise = NoiseInjection(3, 8)
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(noise(x), x)  # zero weight at start
    with torch.no_grad():
        noise.weight.fill_(1.0)
    assert torch.equal(noise(x, "const"), noise(x, "const"))
    assert not torch.equal(noise(x, "random"), noise(x, "random"))
    assert torch.equal(noise(x, "none"), x)
    diff = noise(x, "const") - x
    assert torch.allclose(diff[:, 0], diff[:, 2])  # one noise map shared by the channels


def test_minibatch_std_values_and_groups():
    assert group_size_for(6, 4) == 3 and group_size_for(8, 4) == 4 and group_size_for(1, 4) == 1
    layer = MinibatchStd(group_size=4)
    same = torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1)
    out = layer(same)
    assert out.shape == (4, 4, 4, 4) and out[:, 3].abs().max() < 1e-3
    x = torch.randn(4, 3, 4, 4)
    expected = x.std(dim=0, unbiased=False).mean()
    assert torch.allclose(layer(x)[:, 3], expected.expand(4, 4, 4), atol=1e-4)
    assert layer(torch.randn(6, 3, 4, 4)).shape == (6, 4, 4, 4)


def test_diffaugment_shapes_gradients_and_policy():
    assert parse_policy("") == () and parse_policy("color, cutout") == ("color", "cutout")
    with pytest.raises(GanforgeError, match="'flip'"):
        parse_policy("color,flip")
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    assert torch.equal(diff_augment(x, ""), x)
    y = diff_augment(x, "color,translation,cutout")
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.abs().sum() > 0


def test_translation_moves_content_by_at_most_an_eighth():
    x = torch.zeros(64, 1, 32, 32)
    x[:, :, 16, 16] = 1.0
    y = translation(x)
    assert torch.equal(y.sum(dim=(1, 2, 3)), torch.ones(64))  # nothing left the image
    pos = y.flatten(1).argmax(dim=1)
    dy, dx = pos // 32 - 16, pos % 32 - 16
    assert dy.abs().max() <= 4 and dx.abs().max() <= 4 and (dy != 0).any() and (dx != 0).any()


def test_cutout_zeroes_one_half_size_square():
    y = cutout(torch.ones(32, 1, 16, 16))
    zeros = (y == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 64 and zeros.min() > 0  # 8x8, clipped at the borders


@pytest.mark.parametrize("layer", [EqualConv2d(3, 5, 3, activate=True), EqualLinear(6, 5, activate=True)])
def test_activated_equalized_layers_fold_the_lrelu_gain_into_weight_and_bias(layer):
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(4, 3, 8, 8) if isinstance(layer, EqualConv2d) else torch.randn(4, 6)
    layer.activate = False
    plain = layer(x)
    layer.activate = True
    torch.testing.assert_close(layer(x), F.leaky_relu(plain, 0.2) * 2 ** 0.5)


def reference_style_layer(layer, x, w, noise_mode):
    """A styled layer computed pass by pass: conv · d, + weight · noise, + bias, lrelu · sqrt(2), AdaIN."""
    if layer.modulation == "demod":
        x = layer.conv(x, w)
    else:
        if layer.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = layer.conv(x)
    x = layer.noise(x, noise_mode)
    x = F.leaky_relu(x + layer.bias.view(1, -1, 1, 1), 0.2) * 2 ** 0.5
    return layer.adain(x, w) if layer.modulation == "adain" else x


@pytest.mark.parametrize("modulation", ["demod", "adain"])
@pytest.mark.parametrize("noise_mode", ["random", "const", "none"])
def test_style_layer_folds_its_passes_without_changing_values_gradients_or_memory_format(modulation, noise_mode):
    from ganforge.models.stylegan_synthesis import StyleLayer

    # float64: AdaIN leaves the bias's gradient a near-cancelling sum, which fp32 rounds differently per CPU kernel
    torch.manual_seed(0)
    layer = StyleLayer(4, 6, 8, 8, modulation, upsample=True, noise=True).double()
    with torch.no_grad():
        layer.bias.normal_()
        layer.noise.weight.normal_()
    x = torch.randn(3, 4, 4, 4, dtype=torch.float64).to(memory_format=torch.channels_last).requires_grad_(True)
    w = torch.randn(3, 8, dtype=torch.float64, requires_grad=True)
    probe = torch.randn(3, 6, 8, 8, dtype=torch.float64)  # a loss that AdaIN's normalisation does not make constant in x
    outs, grads = [], []
    for fn in (layer.forward, lambda *a: reference_style_layer(layer, *a)):
        torch.manual_seed(1)  # the same random noise map
        out = fn(x, w, noise_mode)
        outs.append(out)
        grads.append(torch.autograd.grad((out * probe).sum(), [x, w, layer.bias, layer.noise.weight, *layer.conv.parameters()],
                                         allow_unused=True, materialize_grads=True))
    for a, b in zip([outs[0], *grads[0]], [outs[1], *grads[1]]):  # demodulation runs in fp32: ~1e-7 apart
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert outs[0].is_contiguous(memory_format=torch.channels_last)
    assert noise_mode == "none" or not torch.equal(outs[0], reference_style_layer(layer, x, w, "none"))
