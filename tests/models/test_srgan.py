import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from ganforge.data.superres import imresize
from ganforge.errors import GanforgeError
from ganforge.export import rebuild
from ganforge.models.srgan import RRDBGenerator, UNetDiscriminator, VGGDiscriminator, make_discriminator, ramp_window, tile_starts, upscale_tiled
from ganforge.models.vgg19 import CONV5_4, VGG19Features, build_features, expected_shapes


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("upsample", ["nearest", "pixelshuffle"])
def test_generator_upscales_any_size_by_its_scale(scale, upsample):
    g = RRDBGenerator(3, 8, 2, 4, scale, upsample)
    out = g(torch.rand(2, 3, 7, 10) * 2 - 1)
    assert out.shape == (2, 3, 7 * scale, 10 * scale)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in g.modules())
    assert type(g)(**g.config).config == g.config


def test_image_skip_starts_near_the_bicubic_upscaling_or_the_bilinear_one_and_can_be_off():
    x = torch.rand(1, 1, 6, 6) * 2 - 1
    g = RRDBGenerator(1, 8, 1, 4, 2)
    assert g.config["skip_upscale"] == "bicubic"
    assert (g(x) - imresize(x, 2.0)).abs().max() < 0.05  # the untrained correction is near zero: G starts at bicubic
    bilinear = RRDBGenerator(1, 8, 1, 4, 2, skip_upscale="bilinear")
    base = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert (bilinear(x) - base).abs().max() < 0.05
    assert RRDBGenerator(1, 8, 1, 4, 2, image_skip=False)(x).shape == (1, 1, 12, 12)


def test_the_skip_without_its_correction_is_exactly_bicubic_and_older_exports_rebuild_bilinear():
    x = torch.rand(2, 3, 9, 7) * 2 - 1
    g = RRDBGenerator(3, 8, 1, 4, 4)
    torch.nn.init.zeros_(g.last.weight)
    torch.testing.assert_close(g(x), imresize(x, 4.0), atol=1e-5, rtol=0)
    old = {k: v for k, v in g.config.items() if k != "skip_upscale"}  # a config recorded before the option existed
    assert rebuild(RRDBGenerator, old).config["skip_upscale"] == "bilinear"
    assert set(g.state_dict()) == set(RRDBGenerator(3, 8, 1, 4, 4, skip_upscale="bilinear").state_dict())  # same weights either way


def test_generator_refuses_bad_sizes():
    with pytest.raises(GanforgeError, match="Scale 3"):
        RRDBGenerator(scale=3)
    with pytest.raises(GanforgeError, match="Upsampling 'bicubic'"):
        RRDBGenerator(upsample="bicubic")
    with pytest.raises(GanforgeError, match="blocks=0"):
        RRDBGenerator(blocks=0)
    with pytest.raises(GanforgeError, match="Skip upscaling 'lanczos'"):
        RRDBGenerator(skip_upscale="lanczos")


def test_discriminators_score_and_return_features():
    x = torch.rand(2, 3, 32, 32)
    unet = UNetDiscriminator(3, 4)
    score, feats = unet(x, features=True)
    assert score.shape == (2, 1, 32, 32) and len(feats) == 6
    assert any("parametrizations" in name for name, _ in unet.named_parameters())  # spectral norm
    vgg = VGGDiscriminator(3, 4, 3)
    score, feats = vgg(x, features=True)
    assert score.shape == (2, 1) and [f.shape[-1] for f in feats] == [16, 8, 4]
    assert vgg(torch.rand(1, 3, 48, 40)).shape == (1, 1)  # any size
    assert isinstance(make_discriminator("vgg", 3, 4, 128), VGGDiscriminator)
    with pytest.raises(GanforgeError, match="multiple of 8"):
        make_discriminator("unet", 3, 4, 20)
    with pytest.raises(GanforgeError, match="'patch'"):
        make_discriminator("patch", 3, 4, 32)


def test_tile_starts_cover_with_overlap_and_ramps_sum_to_one():
    starts = tile_starts(100, 32, 8)
    assert starts[0] == 0 and starts[-1] == 100 - 32
    assert all(b - a <= 32 - 8 for a, b in zip(starts, starts[1:]))
    assert tile_starts(20, 32, 8) == [0]
    w = ramp_window(12, 8, 4)
    assert w.tolist() == pytest.approx([0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1, 1, 0.75, 0.25, 0])  # a quarter unused at each cut edge
    # a fade-out and the next tile's fade-in over the same pixels sum to one
    for n in (4, 7, 16):
        assert (ramp_window(2 * n, 0, n)[n:] + ramp_window(2 * n, n, 0)[:n]).tolist() == pytest.approx([1.0] * n)


@pytest.mark.parametrize("tile,overlap", [(20, 12), (17, 10)])
def test_tiles_reassembled_equal_a_whole_image_pass(tile, overlap):
    torch.manual_seed(0)
    g = RRDBGenerator(3, 8, 1, 4, 2).eval()
    for p in g.last.parameters():  # a visible correction, so tiles matter
        p.data.normal_(0, 0.05)
    lr = torch.rand(3, 33, 41) * 2 - 1
    with torch.no_grad():
        whole = g(lr[None])[0].clamp(-1, 1)
    tiled = upscale_tiled(g, lr, 2, tile, overlap)
    assert tiled.shape == whole.shape
    diff = (tiled - whole).abs()
    assert diff.mean() < 2e-3 and diff.max() < 0.05  # only the context cut at tile edges differs, and is blended away
    bands = []
    upscale_tiled(g, lr, 2, tile, overlap, emit=lambda top, rows: bands.append((top, rows)))
    assert torch.equal(torch.cat([r for _, r in bands], 1), tiled) and bands[0][0] == 0
    one = upscale_tiled(g, lr, 2, 64, 8)  # one tile: exactly the whole pass
    torch.testing.assert_close(one, whole)


def vgg_state(prefix="features."):
    torch.manual_seed(0)
    return {prefix + k: v for k, v in build_features(CONV5_4).state_dict().items()}


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_vgg19_features_load_a_torchvision_layout_state_dict(tmp_path, suffix):
    state = vgg_state()
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the classifier's keys are ignored
    path = tmp_path / f"vgg19{suffix}"
    (save_file if suffix == ".safetensors" else lambda s, p: torch.save(s, p))(state, str(path))
    vgg = VGG19Features.from_file(path)
    assert vgg.features[CONV5_4].weight.shape == (512, 512, 3, 3)
    assert torch.equal(vgg.features[0].weight, state["features.0.weight"])
    out = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert out.shape == (1, 512, 2, 2)  # four pools before conv5_4
    assert not any(p.requires_grad for p in vgg.parameters()) and not vgg.train().training
    assert expected_shapes()["34.weight"] == (512, 512, 3, 3)


def test_vgg19_bad_files_are_one_sentence(tmp_path):
    state = vgg_state(prefix="")
    state["10.weight"] = torch.zeros(256, 128, 3, 1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(GanforgeError, match=r"'features.10.weight' .* has shape \(256, 128, 3, 1\); expected \(256, 128, 3, 3\)"):
        VGG19Features.from_file(tmp_path / "bad.pth")
    del state["10.weight"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(GanforgeError, match="lack 'features.10.weight'"):
        VGG19Features.from_file(tmp_path / "short.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(GanforgeError, match="could not be read"):
        VGG19Features.from_file(tmp_path / "junk.pth")
    with pytest.raises(GanforgeError, match="do not exist"):
        VGG19Features.from_file(tmp_path / "none.pth")
