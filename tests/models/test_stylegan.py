import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.models.stylegan import StyleGANDiscriminator, StyleGANGenerator, level_count, mix_styles, style_groups

TINY = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=128, channel_max=16)


def tiny_g(**kw):
    return StyleGANGenerator(**{**TINY, **kw})


def tiny_d(**kw):
    args = {k: TINY[k] for k in ("channel_base", "channel_max")}
    return StyleGANDiscriminator(**{**args, **kw})


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("modulation,channels", [("demod", 1), ("adain", 3)])
def test_shapes_at_every_level_and_phase(size, modulation, channels):
    g = tiny_g(image_size=size, channels=channels, modulation=modulation)
    d = tiny_d(image_size=size, channels=channels)
    z = torch.randn(4, 16)
    assert g.num_ws == 2 * level_count(g)
    for level in range(level_count(g)):
        for alpha in (0.0, 0.5, 1.0):
            x = g(z, level=level, alpha=alpha)
            side = 4 * 2 ** level
            assert x.shape == (4, channels, side, side)
            assert torch.isfinite(x).all()
            assert d(x, alpha=alpha).shape == (4,)
    assert g(z).shape == (4, channels, size, size)


def test_fade_in_starts_from_the_previous_level():
    g, d = tiny_g(image_size=32).eval(), tiny_d(image_size=32)
    ws = g.mapping(torch.randn(3, 16))
    before = g.synthesize(ws, level=1)
    faded = g.synthesize(ws, level=2, alpha=0.0)
    assert torch.allclose(faded, F.interpolate(before, scale_factor=2, mode="nearest"), atol=1e-6)
    assert not torch.allclose(g.synthesize(ws, level=2, alpha=0.5), faded, atol=1e-3)
    x = torch.randn(4, 1, 16, 16)
    assert torch.allclose(d(x, alpha=0.0), d(F.avg_pool2d(x, 2)), atol=1e-5)


def test_tanh_output_squashes_the_linear_image_at_every_level_and_fade():
    linear = tiny_g(image_size=16, tanh_output=False)
    squashed = tiny_g(image_size=16, tanh_output=True)
    squashed.load_state_dict(linear.state_dict())
    assert squashed.config["tanh_output"] is True
    ws = linear.mapping(torch.randn(3, 16))
    for level, alpha in ((0, 1.0), (1, 0.5), (2, 1.0)):
        raw = linear.synthesis(ws, level, alpha, "none")
        out = squashed.synthesis(ws, level, alpha, "none")
        assert torch.allclose(out, torch.tanh(raw), atol=1e-6)
        assert out.abs().max() < 1


def test_truncation_zero_gives_one_image_for_every_z():
    g = tiny_g(image_size=16)
    g.mapping(torch.randn(64, 16), update_w_avg=True)
    g.eval()
    images = g(torch.randn(5, 16), truncation=0.0)
    assert torch.allclose(images, images[:1].expand_as(images), atol=1e-6)
    assert torch.allclose(images[:1], g.synthesize(g.w_avg[None]), atol=1e-6)
    half = g(torch.randn(5, 16), truncation=0.5)
    assert (half - half[:1]).abs().max() > 1e-3


def test_w_avg_tracks_the_mean_of_mapped_w():
    g = tiny_g(w_avg_beta=0.5)
    assert g.w_avg.abs().sum() == 0
    z = torch.randn(32, 16)
    g.mapping(z, update_w_avg=True)
    mean = g.mapping(z)[:, 0].mean(dim=0)
    assert torch.allclose(g.w_avg, 0.5 * mean, atol=1e-5)


def test_style_groups_follow_the_paper_and_shrink_for_small_models():
    assert style_groups(9) == {"coarse": [0, 1], "middle": [2, 3], "fine": [4, 5, 6, 7, 8]}
    assert style_groups(5) == {"coarse": [0, 1], "middle": [2, 3], "fine": [4]}
    assert style_groups(4) == {"coarse": [0, 1], "middle": [2], "fine": [3]}
    assert style_groups(3) == {"coarse": [0], "middle": [1], "fine": [2]}


def test_fine_mixing_keeps_coarse_structure_while_coarse_mixing_changes_it():
    """Coarse structure = the image the coarse and middle levels lay out before the fine ones (their toRGB)."""
    g = tiny_g(image_size=32).eval()
    groups = style_groups(level_count(g))
    ws, other = g.mapping(torch.randn(8, 16)), g.mapping(torch.randn(8, 16))
    last_coarse = groups["fine"][0] - 1
    layout = g.synthesize(ws, level=last_coarse)
    fine = mix_styles(ws, other, groups["fine"])
    coarse = mix_styles(ws, other, groups["coarse"])
    assert torch.allclose(g.synthesize(fine, level=last_coarse), layout, atol=1e-6)
    assert (g.synthesize(coarse, level=last_coarse) - layout).abs().mean() > 0.05
    assert (g.synthesize(fine) - g.synthesize(ws)).abs().mean() > 1e-3  # fine styles still act
    assert torch.equal(fine[:, :6], ws[:, :6]) and torch.equal(fine[:, 6:], other[:, 6:])


def test_phase_buffer_decides_the_default_rendering():
    g = tiny_g(image_size=32).eval()
    z = torch.randn(2, 16)
    full = g(z)
    g.set_phase(1, 1.0)
    assert g.current_phase() == (1, 1.0)
    mid = g(z)
    assert mid.shape == full.shape
    assert torch.allclose(mid, F.interpolate(g(z, level=1), size=32, mode="nearest"))
    rebuilt = StyleGANGenerator(**g.config).eval()
    rebuilt.load_state_dict(g.state_dict())
    assert rebuilt.current_phase() == (1, 1.0) and torch.equal(rebuilt(z), mid)


def test_eval_mode_is_reproducible_and_in_range():
    g = tiny_g(image_size=16)
    z = torch.randn(4, 16)
    g.eval()
    a, b = g(z), g(z)
    assert torch.equal(a, b) and a.abs().max() <= 1
    g.train()
    with torch.no_grad():
        for layer in g.synthesis.layers:
            layer.noise.weight.fill_(1.0)
    assert not torch.equal(g(z), g(z))  # fresh noise each call in training


def test_conditional_players_use_labels():
    g, d = tiny_g(image_size=16, num_classes=3).eval(), tiny_d(image_size=16, num_classes=3)
    z = torch.randn(2, 16).repeat(3, 1)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    images = g(z, labels)
    assert (images[0] - images[2]).abs().mean() > 1e-3
    logits = d(images, labels)
    assert logits.shape == (6,) and not torch.allclose(d(images, (labels + 1) % 3), logits)
    with pytest.raises(ValueError, match="conditional"):
        g(z)


def test_bad_sizes_and_modes_are_clear_errors():
    with pytest.raises(GanforgeError, match="Image size 28"):
        StyleGANGenerator(image_size=28)
    with pytest.raises(GanforgeError, match="'wavelet'"):
        StyleGANGenerator(modulation="wavelet")
