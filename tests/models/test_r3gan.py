import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.r3gan import R3GANDiscriminator, R3GANGenerator, stage_widths
from ganforge.nn.bottleneck import BottleneckBlock
from ganforge.nn.lowpass import LowPassDownsample, LowPassUpsample

SMALL = dict(blocks=1, group_width=8)


def small_widths(size):
    return [32] * (len(stage_widths(size, None)) - 1) + [16]


@pytest.mark.parametrize("size", [8, 16, 32, 64, 128, 256])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_every_size(size, channels):
    widths = small_widths(size)
    g = R3GANGenerator(16, channels, size, widths, **SMALL)
    d = R3GANDiscriminator(channels, size, widths, **SMALL)
    x = g(torch.randn(2, 16))
    assert x.shape == (2, channels, size, size) and torch.isfinite(x).all()
    assert d(x).shape == (2,)
    ups = sum(isinstance(m, LowPassUpsample) for m in g.modules())
    downs = sum(isinstance(m, LowPassDownsample) for m in d.modules())
    assert ups == downs == len(widths) - 1  # one fixed resampling between stages, from 4 px


def test_the_default_widths_and_their_refusals():
    assert stage_widths(32, None) == [96, 96, 96, 48]
    assert stage_widths(64, None) == [96, 96, 96, 48, 24]
    with pytest.raises(GanforgeError, match="expected 4 positive widths"):
        stage_widths(32, [64, 64])
    with pytest.raises(GanforgeError, match="Image size 48"):
        R3GANGenerator(image_size=48)
    with pytest.raises(GanforgeError, match="group_width=16"):
        R3GANGenerator(image_size=8, widths=[12, 12])


def test_fresh_players_are_their_stages_without_the_residual_branches():
    torch.manual_seed(0)
    g = R3GANGenerator(16, 3, 16, [32, 32, 16], **SMALL)
    blocks = [m for m in g.modules() if isinstance(m, BottleneckBlock)]
    assert len(blocks) == 3
    z = torch.randn(2, 16)
    x = g.basis.unsqueeze(0) * g.to_scales(z).view(2, -1, 1, 1)
    for stage in g.stages:  # the same path with every block skipped
        x = torch.nn.Sequential(*[m for m in stage if not isinstance(m, BottleneckBlock)])(x)
    assert torch.allclose(g(z), g.to_pixels(x), atol=1e-6)
    d = R3GANDiscriminator(3, 16, [32, 32, 16], **SMALL)
    assert all(torch.count_nonzero(b.project.weight) == 0 for b in d.modules() if isinstance(b, BottleneckBlock))


def test_d_mirrors_g():
    g = R3GANGenerator(16, 1, 32, [64, 64, 32, 16], blocks=2, group_width=16)
    d = R3GANDiscriminator(1, 32, [64, 64, 32, 16], blocks=2, group_width=16)
    g_blocks = [m.expand.in_channels for m in g.modules() if isinstance(m, BottleneckBlock)]
    d_blocks = [m.expand.in_channels for m in d.modules() if isinstance(m, BottleneckBlock)]
    assert d_blocks == g_blocks[::-1] == [16, 16, 32, 32, 64, 64, 64, 64]
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in [*g.modules(), *d.modules()])


def test_conditional_players_use_their_labels():
    torch.manual_seed(0)
    g = R3GANGenerator(16, 1, 8, [32, 16], num_classes=10, **SMALL)
    d = R3GANDiscriminator(1, 8, [32, 16], num_classes=10, **SMALL)
    assert g.embed.weight.shape == (10, 16) and d.embed.weight.shape == (10, 32)  # z's width; D's 4 px width
    z = torch.randn(4, 16)
    a, b = torch.tensor([0, 1, 2, 3]), torch.tensor([5, 6, 7, 8])
    assert not torch.allclose(g(z, a), g(z, b))
    x = torch.randn(4, 1, 8, 8)
    assert not torch.allclose(d(x, a), d(x, b))
    # D's score is the projection of its features on the class embedding
    features = d.to_score(d.basis(d.stages[-1](d.stages[0](d.from_pixels(x)))).flatten(1))
    assert torch.allclose(d(x, a), (features * d.embed(a)).sum(1), atol=1e-6)
    with pytest.raises(GanforgeError, match="expected labels"):
        g(z)
    with pytest.raises(GanforgeError, match="expected labels"):
        d(x)


def test_players_rebuild_from_their_recorded_config():
    g = R3GANGenerator(16, 3, 16, (32, 32, 16), **SMALL)
    assert g.config["widths"] == [32, 32, 16]
    rebuilt = R3GANGenerator(**g.config)
    rebuilt.load_state_dict(g.state_dict())
    z = torch.randn(2, 16)
    assert torch.equal(rebuilt(z), g(z))


def test_d_head_is_the_depthwise_4x4_convolution_with_its_gradients():
    torch.manual_seed(0)
    d = R3GANDiscriminator(3, 8, [16, 16], **SMALL)
    for block in d.modules():  # live residual branches, so every layer reaches the score
        if isinstance(block, BottleneckBlock):
            torch.nn.init.normal_(block.project.weight, 0.0, 0.1)

    def reference(images):  # the head as PyTorch's depthwise convolution of the 4×4 map
        x = d.from_pixels(images)
        for stage in d.stages:
            x = stage(x)
        return d.to_score(torch.nn.functional.conv2d(x, d.basis.weight, groups=x.shape[1]).flatten(1)).flatten()

    images = torch.randn(4, 3, 8, 8)
    results = []
    for score in (d, reference):
        x = images.clone().requires_grad_(True)
        logits = score(x)
        (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)  # R1's gradient, then its own gradient
        weights = torch.autograd.grad(grad.square().sum() + logits.sum(), [d.basis.weight, d.from_pixels.weight])
        results.append((logits.detach(), grad.detach(), *weights))
    assert results[0][0].shape == (4,)
    for got, want in zip(*results):
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-6)
    assert d.state_dict()["basis.weight"].shape == (16, 1, 4, 4)  # the checkpoint layout is the convolution's
