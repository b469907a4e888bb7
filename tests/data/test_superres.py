import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.dataset import to_float
from ganforge.data.superres import (
    MARGIN,
    SuperResBatchSource,
    auto_crop,
    cubic,
    degrade,
    imresize,
    load_images,
    load_superres,
    resize_weights,
    split_files,
    superres_from_tensor,
)
from ganforge.errors import GanforgeError

CPU = torch.device("cpu")
#: MATLAB imresize's taps for halving (kernel 0.5·cubic(0.5·d), a = -0.5, at d = ±0.5, ±1.5, ±2.5, ±3.5), worked by hand
HALVING = [-0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875]


def write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def noise(seed, shape):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_cubic_kernel_values():
    x = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5], dtype=torch.float64)
    # (a+2)|x|³ - (a+3)|x|² + 1 inside 1; a|x|³ - 5a|x|² + 8a|x| - 4a between 1 and 2 (a = -0.5)
    assert cubic(x).tolist() == pytest.approx([1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0])


def test_halving_weights_match_the_hand_computed_taps():
    index, weight = resize_weights(32, 16, 0.5)
    assert weight[5].tolist() == pytest.approx(HALVING)
    assert index[5].tolist() == list(range(7, 15))  # output 5 sits at input 10.5
    assert torch.allclose(weight.sum(1), torch.ones(16, dtype=torch.float64))
    # at the edge the taps past the image are mirrored back: output 0 reads inputs 2, 1, 0, 0, 1, 2, 3, 4
    assert index[0].tolist() == [2, 1, 0, 0, 1, 2, 3, 4]


def test_a_known_bicubic_result_ramps_and_constants():
    ramp = torch.arange(40, dtype=torch.float64).repeat(8, 1)  # value = column
    small = imresize(ramp, 0.25)
    # cubic convolution reproduces linear functions: output j sits at input 4j + 1.5 (interior, away from the mirror)
    assert small[0, 2:-2].tolist() == pytest.approx([4 * j + 1.5 for j in range(2, 8)])
    flat = torch.full((1, 3, 12, 20), 0.3)
    assert torch.allclose(imresize(flat, 0.5), torch.full((1, 3, 6, 10), 0.3)) and torch.allclose(imresize(flat, 4.0), torch.full((1, 3, 48, 80), 0.3))
    up = imresize(ramp, 2.0)  # output i sits at (i + 0.5) / 2 - 0.5
    assert up[0, 6:-6].tolist() == pytest.approx([(i + 0.5) / 2 - 0.5 for i in range(6, 74)])


@pytest.mark.parametrize("scale", [0.5, 0.25, 2.0, 4.0])
def test_agrees_with_pillow_float_bicubic_inside_and_differs_at_the_borders(scale):
    x = np.random.default_rng(0).random((48, 40)).astype(np.float32)
    ours = imresize(torch.from_numpy(x).double(), scale).numpy()
    pil = np.asarray(Image.fromarray(x, mode="F").resize((ours.shape[1], ours.shape[0]), Image.BICUBIC))
    border = 2 if scale < 1 else int(2 * scale)
    inner = np.abs(ours - pil)[border:-border, border:-border]
    assert inner.max() < 1e-5  # same kernel, same antialiasing
    assert np.abs(ours - pil).max() > 1e-3  # MATLAB mirrors at the border, Pillow renormalises a cut kernel


def test_pillow_8bit_bicubic_also_rounds_between_passes():
    x = noise(3, (48, 48))
    ours = imresize(torch.from_numpy(x).double(), 0.25)[2:-2, 2:-2]
    pil = np.asarray(Image.fromarray(x).resize((12, 12), Image.BICUBIC)).astype(np.float64)[2:-2, 2:-2]
    diff = np.abs(ours.numpy() - pil)
    assert diff.max() <= 1.5 and diff.max() > 0  # close, but not MATLAB's values


def make_folder(root, sizes, gray=False):
    for i, (w, h) in enumerate(sizes):
        write(root / f"{i:02d}.png", noise(i, (h, w) if gray else (h, w, 3)))
    return root


def test_images_keep_their_own_sizes_in_one_flat_store(tmp_path):
    root = make_folder(tmp_path / "photos", [(40, 30), (33, 51)])
    data = load_images(split_files(root, 0)[0])
    assert len(data) == 2 and data.channels == 3 and data.store.dtype == torch.uint8
    assert data.store.numel() == 40 * 30 * 3 + 33 * 51 * 3
    for i in range(2):
        expected = np.array(Image.open(root / f"{i:02d}.png")).transpose(2, 0, 1).copy()
        assert torch.equal(data.image(i), torch.from_numpy(expected))
    gray = load_images(split_files(make_folder(tmp_path / "gray", [(20, 20)], gray=True), 0)[0])
    assert gray.channels == 1


def test_held_out_split_by_file(tmp_path):
    root = make_folder(tmp_path / "p", [(24, 24)] * 9)
    train, test = split_files(root, 4)
    assert [p.name for p in test] == ["03.png", "07.png"] and len(train) == 7
    assert split_files(root, 0)[1] == []
    (root / "notes.txt").write_text("not an image")  # skipped: not an image suffix
    assert len(split_files(root, 0)[0]) == 9
    both = tmp_path / "q"
    make_folder(both / "train", [(24, 24)] * 2)
    make_folder(both / "test", [(24, 24)])
    train, test = split_files(both, 4)
    assert len(train) == 2 and len(test) == 1
    assert len(load_superres(both, "test")) == 1


def source_for(data, crop=16, scale=4, batch=3, seed=0, augment=True):
    return SuperResBatchSource(data, batch, seed, CPU, crop, scale, augment=augment)


def test_lr_of_a_crop_is_the_whole_image_lr_at_that_place(tmp_path):
    torch.manual_seed(0)
    images = torch.randint(0, 256, (1, 3, 64, 80), dtype=torch.uint8)
    data = superres_from_tensor(images)
    source = source_for(data, crop=16, scale=4, batch=5, augment=False)
    whole = degrade(to_float(images), 4)[0]  # (3, 16, 20)
    index = torch.zeros(5, dtype=torch.long)
    params = source.crop_params(index, 0, 0)
    lr, hr = source.make_pair(source.cut(index, params))
    for b in range(5):
        top, left = int(params["top"][b]), int(params["left"][b])
        assert top % 4 == 0 and left % 4 == 0
        y, x = top + MARGIN * 4, left + MARGIN * 4  # where the HR crop starts
        assert torch.equal(hr[b], to_float(images[0, :, y:y + 16, x:x + 16]))
        torch.testing.assert_close(lr[b], whole[:, y // 4:y // 4 + 4, x // 4:x // 4 + 4], atol=1e-6, rtol=0)


def test_an_hr_pixel_maps_onto_the_right_lr_pixel():
    hr = torch.full((1, 1, 32, 32), -1.0)
    hr[..., 12:16, 20:24] = 1.0  # one bright 4x4 block: LR pixel (3, 5) at x4
    lr = degrade(hr, 4)[0, 0]
    assert divmod(int(lr.argmax()), 8) == (3, 5)
    assert lr[3, 5] > 0 and lr[3, 4] < 0 and lr[2, 5] < 0


def test_flips_and_transposes_move_lr_and_hr_together():
    images = torch.randint(0, 256, (2, 1, 48, 48), dtype=torch.uint8)
    source = source_for(superres_from_tensor(images), crop=16, scale=2, batch=64)
    batch = source.next()
    lr, hr = batch["a"], batch["b"]
    assert lr.shape == (64, 1, 8, 8) and hr.shape == (64, 1, 16, 16)
    # the LR of each (possibly mirrored) HR crop, recomputed from that crop with its margin cut, matches
    params = source.crop_params(source._order[0], 0, 0)
    assert params["hflip"].any() and params["transpose"].any() and not params["hflip"].all()
    extended = source.cut(source._order[0], params)
    torch.testing.assert_close(source.make_pair(extended)[0], lr)
    plain = source_for(superres_from_tensor(images), crop=16, scale=2, batch=64, augment=False)
    same = plain.crop_params(plain._order[0], 0, 0)
    assert not (same["hflip"].any() or same["vflip"].any() or same["transpose"].any())


def test_order_and_crops_resume_exactly():
    data = superres_from_tensor(torch.randint(0, 256, (5, 3, 40, 40), dtype=torch.uint8))
    a = source_for(data, batch=2)
    for _ in range(3):
        a.next()
    state = a.state_dict()
    expected = [a.next() for _ in range(4)]
    b = source_for(data, batch=2)
    b.load_state_dict(state)
    for want in expected:
        got = b.next()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])
    c = source_for(data, batch=2, seed=1)
    assert not torch.equal(c.next()["b"], source_for(data, batch=2).next()["b"])


def test_bad_inputs_are_one_sentence_each(tmp_path):
    root = make_folder(tmp_path / "p", [(40, 40), (20, 40)])
    data = load_images(split_files(root, 0)[0])
    with pytest.raises(GanforgeError, match=r"'01.png' is 20x40, smaller than the 16-px training crop .* expected at least 32x32"):
        source_for(data, crop=16, scale=4)
    (root / "02.png").write_bytes(b"this is not a png")
    with pytest.raises(GanforgeError, match="02.png' could not be read"):
        load_images(split_files(root, 0)[0])
    with pytest.raises(GanforgeError, match="not a folder"):
        split_files(tmp_path / "missing", 4)
    with pytest.raises(GanforgeError, match="multiple of 4"):
        source_for(superres_from_tensor(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)), crop=18, scale=4)
    with pytest.raises(GanforgeError, match="Scale 3"):
        source_for(superres_from_tensor(torch.zeros(1, 3, 64, 64, dtype=torch.uint8)), crop=18, scale=3)


def test_automatic_crop():
    digits = superres_from_tensor(torch.zeros(3, 1, 28, 28, dtype=torch.uint8))
    assert auto_crop(digits, 2) == 16 and auto_crop(digits, 4) == 8
    photos = superres_from_tensor(torch.zeros(1, 3, 400, 300, dtype=torch.uint8))
    assert auto_crop(photos, 4) == 128
    with pytest.raises(GanforgeError, match="too small for any training crop"):
        auto_crop(superres_from_tensor(torch.zeros(1, 1, 20, 20, dtype=torch.uint8)), 4)
