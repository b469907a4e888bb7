"""Conditional players (models/cgan.py) and conditional BatchNorm (nn/conditional_norm.py)."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.cgan import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, ConditionalVanillaDiscriminator, ConditionalVanillaGenerator
from ganforge.nn.conditional_norm import ConditionalBatchNorm2d


def players(base, mode, cbn=False, channels=1, size=32, classes=10):
    if base == "vanilla":
        return (ConditionalVanillaGenerator(16, channels, size, (16, 16, 16), classes, 8),
                ConditionalVanillaDiscriminator(channels, size, (16, 8), classes, 8, mode))
    return (ConditionalDCGANGenerator(16, channels, size, 8, classes, 8, cbn),
            ConditionalDCGANDiscriminator(channels, size, 8, classes, 8, mode))


@pytest.mark.parametrize("base,mode,cbn", [("dcgan", "projection", False), ("dcgan", "concat", False),
                                           ("dcgan", "projection", True), ("vanilla", "projection", False),
                                           ("vanilla", "concat", False)])
@pytest.mark.parametrize("channels,size", [(1, 32), (3, 64)])
def test_shapes_range_and_attributes(base, mode, cbn, channels, size):
    g, d = players(base, mode, cbn, channels, size, classes=5)
    labels = torch.tensor([0, 4, 2])
    x = g(torch.randn(3, 16), labels)
    assert x.shape == (3, channels, size, size) and x.abs().max() <= 1
    assert d(x, labels).shape == (3,)
    assert g.z_dim == 16 and g.num_classes == 5


@pytest.mark.parametrize("base,mode,cbn", [("dcgan", "projection", False), ("dcgan", "concat", True),
                                           ("vanilla", "concat", False)])
def test_label_changes_output_and_none_cycles_through_classes(base, mode, cbn):
    g, d = players(base, mode, cbn)
    g.eval(), d.eval()
    z = torch.randn(1, 16).repeat(4, 1)
    same_z = g(z, torch.tensor([0, 1, 2, 3]))
    assert not torch.allclose(same_z[0], same_z[1])  # the label, not only z, decides the image
    assert torch.equal(g(z, None), same_z)  # no labels: classes 0, 1, 2, ...
    assert not torch.allclose(d(same_z, torch.tensor([0, 1, 2, 3])), d(same_z, torch.tensor([5, 6, 7, 8])))


@pytest.mark.parametrize("base,mode,cbn", [("dcgan", "projection", True), ("dcgan", "concat", False),
                                           ("vanilla", "projection", False)])
def test_players_rebuild_from_config(base, mode, cbn):
    for module in players(base, mode, cbn):
        clone = type(module)(**module.config)
        clone.load_state_dict(module.state_dict())
        module.eval(), clone.eval()
        labels = torch.tensor([3, 7])
        inputs = torch.randn(2, 16) if hasattr(module, "z_dim") else torch.rand(2, 1, 32, 32) * 2 - 1
        assert torch.equal(module(inputs, labels), clone(inputs, labels))


def test_projection_logit_is_unconditional_term_plus_inner_product():
    d = ConditionalDCGANDiscriminator(1, 32, 8, 10, mode="projection").eval()
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    labels = torch.tensor([1, 1, 2, 3])
    features = d.features(x)
    expected = d.head(features).flatten() + (d.embed(labels) * features.sum(dim=(2, 3))).sum(1)
    assert torch.allclose(d(x, labels), expected, atol=1e-6)
    with torch.no_grad():
        d.embed.weight[1] += 1.0  # moving class 1's vector moves only the logits of images asked to be 1
    moved = d(x, labels) - expected
    assert (moved[:2].abs() > 1e-3).all() and torch.allclose(moved[2:], torch.zeros(2), atol=1e-6)


def test_concat_discriminator_sees_label_maps_as_extra_input_channels():
    d = ConditionalDCGANDiscriminator(3, 32, 8, 10, embed_dim=6, mode="concat")
    assert d.features[0].in_channels == 3 + 6
    v = ConditionalVanillaDiscriminator(1, 28, (16, 8), 10, embed_dim=5, mode="concat")
    assert v.features[0].in_features == 28 * 28 + 5


def test_conditional_bn_generator_uses_class_norms_only_when_asked():
    plain = ConditionalDCGANGenerator(16, 1, 32, 8, 10, 8, conditional_bn=False)
    cbn = ConditionalDCGANGenerator(16, 1, 32, 8, 10, 8, conditional_bn=True)
    assert not any(isinstance(m, ConditionalBatchNorm2d) for m in plain.modules())
    assert sum(isinstance(m, ConditionalBatchNorm2d) for m in cbn.modules()) == 3  # 4x4, 8x8, 16x16 stages


def test_conditional_batchnorm_applies_each_class_gain_and_bias():
    norm = ConditionalBatchNorm2d(2, num_classes=3)
    with torch.no_grad():
        norm.gain.weight[1] = torch.tensor([2.0, 3.0])
        norm.bias.weight[1] = torch.tensor([0.5, -1.0])
    x = torch.randn(6, 2, 4, 4)
    labels = torch.tensor([0, 1, 2, 1, 0, 2])
    normalized = (x - x.mean(dim=(0, 2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5).view(1, 2, 1, 1)
    out = norm(x, labels)
    assert torch.allclose(out[0], normalized[0], atol=1e-5)  # class 0: identity affine at init
    expected = normalized[1] * torch.tensor([2.0, 3.0]).view(2, 1, 1) + torch.tensor([0.5, -1.0]).view(2, 1, 1)
    assert torch.allclose(out[1], expected, atol=1e-5)


def test_bad_construction_is_a_clear_error():
    with pytest.raises(GanforgeError, match="num_classes >= 1"):
        ConditionalDCGANGenerator(num_classes=0)
    with pytest.raises(GanforgeError, match="Discriminator mode 'hybrid'"):
        ConditionalDCGANDiscriminator(mode="hybrid")
    with pytest.raises(GanforgeError, match="embed_dim=0"):
        ConditionalVanillaGenerator(embed_dim=0)
    with pytest.raises(GanforgeError, match="Image size 28"):
        ConditionalDCGANGenerator(image_size=28)


@pytest.mark.parametrize("base,mode", [("dcgan", "projection"), ("dcgan", "concat"), ("vanilla", "projection")])
def test_spectral_norm_bounds_every_layer_and_drops_batchnorm(base, mode):
    from torch.nn.utils import parametrize

    torch.manual_seed(0)
    if base == "vanilla":
        d = ConditionalVanillaDiscriminator(1, 32, (16, 8), 5, 8, mode, spectral_norm=True)
    else:
        d = ConditionalDCGANDiscriminator(1, 32, 8, 5, 8, mode, spectral_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules())
    layers = [m for m in d.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.Embedding))]
    assert layers and all(parametrize.is_parametrized(m, "weight") for m in layers)
    x, labels = torch.randn(6, 1, 32, 32), torch.tensor([0, 1, 2, 3, 4, 0])
    for _ in range(30):  # power iterations run in training mode
        d(x, labels)
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05)
    assert d(x, labels).shape == (6,)
    rebuilt = type(d)(**d.config)
    rebuilt.load_state_dict(d.state_dict())
    rebuilt.eval()
    assert torch.allclose(rebuilt(x, labels), d(x, labels))
