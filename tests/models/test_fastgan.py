"""FastGAN players: sizes, excitation placement, and the reconstruction crops lining up with D's feature crops."""
import pytest
import torch
import torch.nn.functional as F

from ganforge.errors import GanforgeError
from ganforge.models.fastgan import (
    FastGANDiscriminator,
    FastGANGenerator,
    quadrant,
    reconstruction_targets,
)


@pytest.mark.parametrize("size", [64, 128, 256])
def test_shapes_and_range(size):
    g = FastGANGenerator(z_dim=8, channels=3, image_size=size, width=4)
    d = FastGANDiscriminator(channels=3, image_size=size, width=4).eval()  # eval: spectral norm's estimate stays put
    x = g(torch.randn(2, 8))
    assert x.shape == (2, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    logits, whole, part = d.judge_and_reconstruct(x, 2)
    recon = min(size, 128)
    assert logits.shape == (2, 25) and torch.equal(logits, d(x))
    assert whole.shape == part.shape == (2, 3, recon, recon)


def test_excitation_sits_where_the_paper_puts_it():
    g = FastGANGenerator(z_dim=8, image_size=512, width=2)
    d = FastGANDiscriminator(image_size=512, width=2)
    assert sorted(map(int, g.excite)) == [64, 128, 256, 512]  # gated by 4, 8, 16, 32 px features
    assert sorted(map(int, d.excite)) == [8, 16, 32]  # gated by 64, 128, 256 px features
    assert sorted(map(int, FastGANGenerator(z_dim=8, image_size=64, width=2).excite)) == [64]


def test_width_scales_the_channels():
    small, wide = FastGANGenerator(z_dim=8, image_size=64, width=4), FastGANGenerator(z_dim=8, image_size=64, width=8)
    assert small.to_image[0].in_channels * 2 == wide.to_image[0].in_channels
    assert sum(p.numel() for p in small.parameters()) < sum(p.numel() for p in wide.parameters())


@pytest.mark.parametrize("size", [32, 96, 2048])
def test_unsupported_sizes_are_refused(size):
    with pytest.raises(GanforgeError, match=f"Image size {size}"):
        FastGANGenerator(image_size=size)
    with pytest.raises(GanforgeError, match=f"Image size {size}"):
        FastGANDiscriminator(image_size=size)


def test_the_recorded_config_rebuilds_the_players():
    g = FastGANGenerator(z_dim=8, channels=1, image_size=128, width=4)
    rebuilt = type(g)(**g.config)
    rebuilt.load_state_dict(g.state_dict())
    g.eval(), rebuilt.eval()
    z = torch.randn(2, 8)
    torch.manual_seed(3)
    a = g(z)
    torch.manual_seed(3)
    assert torch.equal(a, rebuilt(z))


@pytest.mark.parametrize("part", range(4))
def test_targets_are_the_quadrant_the_feature_crop_covers(part):
    # an image whose four quadrants hold 0, 1, 2, 3: the crop target of `part` is all `part`
    image = torch.zeros(1, 1, 64, 64)
    image[..., :32, 32:], image[..., 32:, :32], image[..., 32:, 32:] = 1, 2, 3
    whole, crop = reconstruction_targets(image, part, 16)
    assert crop.shape == whole.shape == (1, 1, 16, 16)
    assert torch.all(crop == part)
    assert torch.allclose(whole, F.avg_pool2d(image, 4))
    # a 16x16 map of 64x64 px cells: cropping the map then resizing equals resizing the image's crop
    positions = torch.arange(64 * 64, dtype=torch.float).view(1, 1, 64, 64)
    assert torch.equal(quadrant(F.avg_pool2d(positions, 4), part), F.avg_pool2d(quadrant(positions, part), 4))


@pytest.mark.parametrize("part", range(4))
def test_the_quadrant_decoder_reads_the_image_region_of_its_target(part):
    # the quadrant decoder's output depends mostly on the image quadrant its target is cut from
    d = FastGANDiscriminator(channels=1, image_size=64, width=4).eval()
    image = torch.randn(1, 1, 64, 64, requires_grad=True)
    _, _, rebuilt = d.judge_and_reconstruct(image, part)
    rebuilt.abs().sum().backward()
    mass = image.grad.abs()
    shares = torch.stack([quadrant(mass, p).sum() for p in range(4)]) / mass.sum()
    assert shares.argmax() == part and shares[part] > 0.5


def test_an_invalid_quadrant_is_refused():
    with pytest.raises(GanforgeError, match="Quadrant 4"):
        quadrant(torch.zeros(1, 1, 8, 8), 4)
