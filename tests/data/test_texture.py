import pytest
import torch

from ganforge.data.superres import MARGIN, SuperResBatchSource, SuperResData, superres_from_tensor
from ganforge.data.texture import crop_texture, image_texture, texture_table
from ganforge.errors import GanforgeError

CPU = torch.device("cpu")


def direct_texture(image, top, left, side):
    """Mean over a crop's pixels of |Y(x+1) - Y(x)| + |Y(y+1) - Y(y)| on the BT.601 luma (0-255) of a uint8 (C, H, W)
    image, the neighbours read from the image (a term past the image's last row or column is 0), by plain loops."""
    x = image.double()
    y = x[0] if len(x) == 1 else 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    h, w = y.shape
    total = 0.0
    for r in range(top, top + side):
        for c in range(left, left + side):
            total += abs(float(y[r, c + 1] - y[r, c])) if c + 1 < w else 0.0
            total += abs(float(y[r + 1, c] - y[r, c])) if r + 1 < h else 0.0
    return total / side ** 2


def half_flat(n=2, side=64):
    """uint8 (n, 3, side, side) images: the left half one grey, the right half noise."""
    images = torch.full((n, 3, side, side), 128, dtype=torch.uint8)
    images[..., side // 2:] = torch.randint(0, 256, (n, 3, side, side // 2), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return images


@pytest.mark.parametrize("sizes", [[(40, 40), (40, 40)], [(36, 52), (48, 40)]])
def test_crop_texture_equals_the_direct_mean_gradient(sizes):
    g = torch.Generator().manual_seed(1)
    images = [torch.randint(0, 256, (h, w, 3), dtype=torch.uint8, generator=g) for h, w in sizes]
    data = SuperResData(torch.cat([im.flatten() for im in images]), torch.tensor([0, images[0].numel()]),
                        torch.tensor([h for h, _ in sizes]), torch.tensor([w for _, w in sizes]), 3)
    table = texture_table(data.store, data.offsets, data.heights, data.widths, 3, 4)
    for i, top, left in ((0, 0, 0), (1, 8, 12), (0, 12, 4), (1, 24, 24)):  # the last one touches the right edge
        got = crop_texture(table, torch.tensor([i]), torch.tensor([top]), torch.tensor([left]), 16)
        assert float(got) == pytest.approx(direct_texture(data.image(i), top, left, 16), rel=1e-6)


def test_image_texture_equals_the_direct_mean_gradient():
    images = half_flat(n=2, side=24)
    images[1] = 7
    got = image_texture(images.permute(0, 2, 3, 1))
    assert got.tolist() == pytest.approx([direct_texture(images[0], 0, 0, 24), 0.0], rel=1e-6) and float(got[0]) > 4


def hr_textures(source, params, index):
    inset = MARGIN * source.scale
    places = zip(index.tolist(), params["top"].tolist(), params["left"].tolist())
    return [direct_texture(source.data.image(i), top + inset, left + inset, source.crop) for i, top, left in places]


def test_flat_crops_are_refused_and_the_choice_is_reproducible():
    data = superres_from_tensor(half_flat())
    textured = SuperResBatchSource(data, 64, 0, CPU, 16, 2, min_texture=20.0)
    index = textured._order[0]
    params = textured.crop_params(index, 0, 0)
    assert min(hr_textures(textured, params, index)) >= 20.0
    plain = SuperResBatchSource(data, 64, 0, CPU, 16, 2)
    unselected = plain.crop_params(index, 0, 0)
    assert min(hr_textures(plain, unselected, index)) == 0.0  # without selection some crops are all grey
    assert all(torch.equal(params[k], unselected[k]) for k in ("vflip", "hflip", "transpose"))  # the flips are drawn as before
    again = SuperResBatchSource(data, 64, 0, CPU, 16, 2, min_texture=20.0).crop_params(index, 0, 0)
    assert all(torch.equal(params[k], again[k]) for k in params)


def test_textured_crops_resume_exactly_from_the_state():
    data = superres_from_tensor(half_flat(5, 48))
    a = SuperResBatchSource(data, 3, 7, CPU, 16, 2, min_texture=20.0)
    for _ in range(3):
        a.next()
    state = a.state_dict()
    expected = [a.next() for _ in range(4)]
    b = SuperResBatchSource(data, 3, 7, CPU, 16, 2, min_texture=20.0)
    b.load_state_dict(state)
    for want in expected:
        got = b.next()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])


def test_all_flat_images_still_give_crops_and_bad_thresholds_are_refused():
    flat = superres_from_tensor(torch.full((2, 1, 40, 40), 7, dtype=torch.uint8))
    batch = SuperResBatchSource(flat, 4, 0, CPU, 16, 2, min_texture=5.0).next()
    assert batch["b"].shape == (4, 1, 16, 16)
    for bad in (-1.0, float("nan")):
        with pytest.raises(GanforgeError, match="min_texture"):
            SuperResBatchSource(flat, 4, 0, CPU, 16, 2, min_texture=bad)
