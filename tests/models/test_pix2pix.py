import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.export import load_generator, save_players
from ganforge.models.pix2pix import PatchGANDiscriminator, UNetGenerator, auto_depth
from ganforge.nn.patchgan import patch_map_size, receptive_field


@pytest.mark.parametrize("size,depth", [(32, 5), (64, 6), (256, 8)])
def test_generator_shapes_and_depth_from_the_image_size(size, depth):
    assert auto_depth(size) == depth
    torch.manual_seed(0)
    g = UNetGenerator(1, 3, width=2, n_down=depth)
    x = torch.rand(2, 1, size, size) * 2 - 1
    y = g(x)
    assert y.shape == (2, 3, size, size) and y.abs().max() <= 1
    assert len(g.down) == len(g.up) == depth and g.size_multiple == 2 ** depth
    # encoder channels double up to 8x the width; the bottleneck is 1x1 at full depth
    assert [b[0].out_channels for b in g.down] == [2 * min(2 ** i, 8) for i in range(depth)]
    h = x
    for block in g.down:
        h = block(h)
    assert h.shape[-1] == 1


def test_auto_depth_stops_where_the_side_stops_halving():
    assert auto_depth(28) == 2 and auto_depth(48) == 4 and auto_depth(512) == 8 and auto_depth(7) == 0


def test_paper_generator_has_the_papers_size():
    # encoder C64-C128-C256-C512-C512-C512-C512-C512, decoder mirrored with skips: about 54.4 M parameters
    g = UNetGenerator(3, 3, 64, 8)
    assert sum(p.numel() for p in g.parameters()) == pytest.approx(54.4e6, rel=0.01)


def test_every_skip_connection_is_used():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, width=4, n_down=4, dropout=0.0).eval()
    x = torch.rand(1, 1, 16, 16) * 2 - 1
    base = g(x)
    for j in range(1, len(g.up)):  # decoder block j gets [previous decoder output, encoder skip]
        block = g.up[j]
        skip_channels = block[0].in_channels // 2

        def zero_skip(module, args, skip_channels=skip_channels):
            h = args[0].clone()
            h[:, skip_channels:] = 0
            return (h,)

        handle = block.register_forward_pre_hook(zero_skip)
        try:
            changed = g(x)
        finally:
            handle.remove()
        assert block[0].in_channels == 2 * skip_channels
        assert not torch.allclose(changed, base), f"skip into decoder block {j} has no effect"
    torch.testing.assert_close(g(x), base)


def test_dropout_stays_on_when_sampling_unless_turned_off():
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    torch.manual_seed(0)
    noisy = UNetGenerator(1, 1, width=4, n_down=5).eval()
    assert not torch.equal(noisy(x), noisy(x))  # eval mode, dropout still the noise source
    torch.manual_seed(3)
    first = noisy(x)
    torch.manual_seed(3)
    assert torch.equal(first, noisy(x))  # seeded noise repeats
    quiet = UNetGenerator(1, 1, width=4, n_down=5, sample_dropout=False).eval()
    assert torch.equal(quiet(x), quiet(x))
    assert not torch.equal(*(quiet.train()(x) for _ in range(2)))  # training mode keeps it
    none = UNetGenerator(1, 1, width=4, n_down=5, dropout=0.0).train()
    assert none.n_dropout == 3
    with torch.no_grad():
        a, b = none(x), none(x)
    torch.testing.assert_close(a, b)


def test_dropout_acts_only_in_the_first_decoder_blocks():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, width=4, n_down=5, n_dropout=2).eval()
    seen = []
    for j, block in enumerate(g.up):
        block.register_forward_hook(lambda m, a, out, j=j: seen.append(j))
    calls = []
    original = torch.nn.functional.dropout

    def spy(x, p, training=False, inplace=False):
        calls.append(seen[-1])
        return original(x, p, training, inplace)

    torch.nn.functional.dropout = spy
    try:
        g(torch.rand(1, 1, 32, 32))
    finally:
        torch.nn.functional.dropout = original
    assert calls == [0, 1]


def test_discriminator_map_and_receptive_field():
    assert receptive_field(3) == 70 and receptive_field(2) == 34 and receptive_field(1) == 16
    assert patch_map_size(256, 3) == 30 and patch_map_size(32, 2) == 6
    torch.manual_seed(0)
    d = PatchGANDiscriminator(channels=4, width=2, n_layers=3, norm="batch").eval()  # eval BN is pointwise
    assert d(torch.rand(2, 4, 256, 256)).shape == (2, 1, 30, 30)
    # the centre score depends on a 70x70 input patch and nothing outside it
    x = torch.rand(1, 4, 160, 160, requires_grad=True)
    scores = d(x)
    c = scores.shape[-1] // 2
    scores[0, 0, c, c].backward()
    touched = x.grad.abs().sum((0, 1)) > 0
    rows, cols = touched.any(1).nonzero().flatten(), touched.any(0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 <= 70 and cols.max() - cols.min() + 1 <= 70
    assert rows.max() - rows.min() + 1 >= 66  # the outermost taps can meet exactly-zero weights only by chance


def test_norm_option_and_bad_sizes():
    g = UNetGenerator(1, 1, width=2, n_down=3, norm="instance")
    assert any(isinstance(m, torch.nn.InstanceNorm2d) for m in g.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules())
    with pytest.raises(GanforgeError, match="Norm 'layer'"):
        UNetGenerator(norm="layer")
    with pytest.raises(GanforgeError, match="dropout"):
        UNetGenerator(dropout=1.0)
    with pytest.raises(GanforgeError, match="n_down=0"):
        UNetGenerator(n_down=0)
    with pytest.raises(GanforgeError, match="n_layers=0"):
        PatchGANDiscriminator(n_layers=0)


def test_export_round_trip_keeps_the_options(tmp_path):
    torch.manual_seed(0)
    g = UNetGenerator(1, 3, width=2, n_down=3, norm="instance", n_dropout=1, sample_dropout=False).eval()
    folder = save_players({"generator": g}, {"channels": 3, "image_size": 8, "family": "pix2pix"}, tmp_path / "m")
    loaded, info = load_generator(folder)
    assert loaded.config == g.config and info["family"] == "pix2pix"
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(loaded(x), g(x))
