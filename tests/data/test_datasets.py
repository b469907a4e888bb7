"""Tests for ganforge.data: embedded MNIST, Fashion-MNIST IDX files, image folders, batch sources."""
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import BatchSource, ImageDataset, load_dataset
from ganforge.data.fashion import FASHION_CLASSES, FASHION_DEFAULT_DIR, FASHION_ENV, read_idx
from ganforge.data.images import decode_image, match_channels, read_header, resize_tensor
from ganforge.errors import GanforgeError

# --- embedded MNIST ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mnist_train():
    return load_dataset("mnist")


def test_mnist_train_shapes_labels_and_classes(mnist_train):
    ds = mnist_train
    assert ds.images.shape == (60000, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (60000,) and ds.labels.dtype == torch.int64
    assert ds.class_names == tuple("0123456789") and ds.num_classes == 10
    assert ds.channels == 1 and ds.image_size == 28 and ds.name == "mnist"
    counts = torch.bincount(ds.labels, minlength=10)
    assert counts.sum() == 60000 and counts.min() > 5000  # every digit well represented
    assert int(ds.images.max()) == 255 and int(ds.images.min()) == 0
    assert 25 < ds.images.float().mean() < 40  # mostly black background, white strokes


def test_mnist_test_split_resized_and_three_channels():
    ds = load_dataset("MNIST", image_size=32, channels=3, split="test")
    assert ds.images.shape == (10000, 3, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.labels.shape == (10000,)
    assert torch.equal(ds.images[:, 0], ds.images[:, 1]) and torch.equal(ds.images[:, 1], ds.images[:, 2])
    original = load_dataset("mnist", split="test")
    assert torch.equal(ds.labels, original.labels)
    # Resizing keeps the mean brightness of every image within a few grey levels.
    diff = (ds.images[:, 0].float().mean((1, 2)) - original.images[:, 0].float().mean((1, 2))).abs()
    assert diff.max() < 6


def test_resize_tensor_keeps_constants_and_averages_when_shrinking():
    flat = torch.full((3, 1, 28, 28), 77, dtype=torch.uint8)
    assert torch.equal(resize_tensor(flat, 32), torch.full((3, 1, 32, 32), 77, dtype=torch.uint8))
    stripes = torch.zeros(2, 1, 16, 16, dtype=torch.uint8)
    stripes[..., ::4] = 255  # one white column in four
    small = resize_tensor(stripes, 4, max_elements=1)  # one image at a time
    assert small.shape == (2, 1, 4, 4) and small.dtype == torch.uint8
    assert (small[..., 1:3] == 64).all()  # antialiased average; plain bilinear would miss the stripes (0)


def test_match_channels_repeats_gray_and_uses_luma_for_rgb():
    rgb = torch.tensor([255, 0, 0], dtype=torch.uint8).view(1, 3, 1, 1)
    assert match_channels(rgb, 1).item() == 76  # 0.299 * 255
    gray = torch.tensor([9], dtype=torch.uint8).view(1, 1, 1, 1)
    assert match_channels(gray, 3).flatten().tolist() == [9, 9, 9]
    assert match_channels(gray, None) is gray


# --- Fashion-MNIST -------------------------------------------------------------------------------

def _write_idx(path: Path, array: np.ndarray, code: int = 0x08, compress: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def _fake_fashion(folder: Path, compress: bool) -> None:
    rng = np.random.default_rng(0)
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
                   compress=compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n, dtype=np.uint8) % 10, compress=compress)


@pytest.mark.parametrize("compress", [False, True])
def test_fashion_mnist_from_synthetic_idx_files(tmp_path, monkeypatch, compress):
    _fake_fashion(tmp_path, compress)
    monkeypatch.setenv(FASHION_ENV, str(tmp_path))
    train = load_dataset("fashion-mnist", channels=3)
    assert train.images.shape == (12, 3, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert train.class_names == FASHION_CLASSES and train.class_names[0] == "T-shirt/top"
    expected = read_idx(tmp_path / f"train-images-idx3-ubyte{'.gz' if compress else ''}")
    assert torch.equal(train.images[:, 1], torch.from_numpy(expected))
    test = load_dataset("fashion_mnist", split="test", image_size=14)
    assert test.images.shape == (5, 1, 14, 14) and test.labels.tolist() == [0, 1, 2, 3, 4]


def test_read_idx_types_and_shapes(tmp_path):
    values = np.arange(24, dtype=np.int16).reshape(2, 3, 4) - 5
    _write_idx(tmp_path / "a.idx", values, code=0x0B)
    out = read_idx(tmp_path / "a.idx")
    assert out.dtype == np.int16 and out.shape == (2, 3, 4) and np.array_equal(out, values)
    floats = np.linspace(-1, 1, 6, dtype=np.float32)
    _write_idx(tmp_path / "f.idx", floats, code=0x0D, compress=True)
    assert np.array_equal(read_idx(tmp_path / "f.idx"), floats)


def test_read_idx_rejects_bad_magic_and_truncated_files(tmp_path):
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(GanforgeError, match="magic number 12340801"):
        read_idx(bad)
    good = tmp_path / "good.idx"
    _write_idx(good, np.zeros((4, 5), dtype=np.uint8))
    short = tmp_path / "short.idx"
    short.write_bytes(good.read_bytes()[:-3])
    with pytest.raises(GanforgeError, match=r"short\.idx.*expected 32 for shape \(4, 5\)"):
        read_idx(short)
    header_only = tmp_path / "header.idx"
    header_only.write_bytes(b"\x00\x00\x08\x03\x00\x00")
    with pytest.raises(GanforgeError, match="ends inside its header"):
        read_idx(header_only)


def test_fashion_mnist_missing_directory_and_files(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    monkeypatch.setenv(FASHION_ENV, str(missing))
    with pytest.raises(GanforgeError, match="apt-get install dataset-fashion-mnist") as info:
        load_dataset("fashion-mnist")
    assert str(missing) in str(info.value)
    monkeypatch.setenv(FASHION_ENV, str(tmp_path))
    with pytest.raises(GanforgeError, match="train-images-idx3-ubyte"):
        load_dataset("fashion-mnist")


@pytest.mark.skipif(not Path(FASHION_DEFAULT_DIR, "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_test_split(monkeypatch):
    monkeypatch.delenv(FASHION_ENV, raising=False)
    ds = load_dataset("fashion-mnist", split="test")
    assert ds.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(ds.labels).tolist() == [1000] * 10


# --- folders -------------------------------------------------------------------------------------

def _save(path: Path, image: Image.Image) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def test_folder_with_classes_of_mixed_modes_and_sizes(tmp_path):
    _save(tmp_path / "cats" / "a.PNG", Image.new("RGB", (40, 30), (200, 10, 10)))
    _save(tmp_path / "cats" / "b.jpg", Image.new("L", (17, 23), 90))
    _save(tmp_path / "ants" / "c.png", Image.new("RGBA", (16, 16), (0, 0, 0, 0)))  # fully transparent
    _save(tmp_path / "ants" / "d.bmp", Image.new("RGB", (64, 64), (0, 255, 0)))
    _save(tmp_path / "ants" / "e.webp", Image.new("RGB", (16, 16), (0, 0, 255)))
    (tmp_path / "ants" / "notes.txt").write_text("not an image")
    (tmp_path / "empty").mkdir()
    ds = load_dataset(str(tmp_path), image_size=16)
    assert isinstance(ds, ImageDataset)
    assert ds.images.shape == (5, 3, 16, 16) and ds.images.dtype == torch.uint8
    assert ds.class_names == ("ants", "cats") and ds.num_classes == 2
    assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == [0, 0, 0, 1, 1]
    pixel = ds.images[:, :, 8, 8].int()
    assert pixel[0].tolist() == [255, 255, 255]  # transparent composited over white
    assert pixel[1].tolist() == [0, 255, 0]
    assert abs(pixel[2] - torch.tensor([0, 0, 255])).max() <= 3  # webp is lossy
    assert pixel[3].tolist() == [200, 10, 10]
    assert (pixel[4] - 90).abs().max() <= 2 and pixel[4][0] == pixel[4][1] == pixel[4][2]  # gray to RGB
    assert ds.name == tmp_path.name


def test_folder_grayscale_palette_and_16bit_give_one_channel(tmp_path):
    _save(tmp_path / "g.png", Image.new("L", (8, 8), 30))
    palette = Image.new("P", (8, 8), 3)
    palette.putpalette([v for c in range(256) for v in (c, c, c)])
    _save(tmp_path / "p.png", palette)
    _save(tmp_path / "w.png", Image.fromarray(np.full((8, 8), 257 * 200, dtype=np.uint16)))
    _save(tmp_path / "x.png", Image.new("LA", (8, 8), (10, 255)))
    ds = load_dataset(tmp_path)
    assert ds.images.shape == (4, 1, 8, 8) and ds.labels is None and ds.num_classes == 0
    assert ds.images[:, 0, 0, 0].tolist() == [30, 3, 200, 10]
    forced = load_dataset(tmp_path, channels=3)
    assert forced.images.shape == (4, 3, 8, 8) and torch.equal(forced.images[:, :1], ds.images)


def test_colour_palette_and_forced_one_channel(tmp_path):
    palette = Image.new("P", (8, 8), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    _save(tmp_path / "p.png", palette)
    ds = load_dataset(tmp_path)
    assert ds.images.shape == (1, 3, 8, 8) and ds.images[0, :, 0, 0].tolist() == [255, 0, 0]
    gray = load_dataset(tmp_path, channels=1)
    assert gray.images.shape == (1, 1, 8, 8) and gray.images[0, 0, 0, 0].item() == 76  # luma of red
    _save(tmp_path / "cmyk" / "c.jpg", Image.new("CMYK", (8, 8), (0, 255, 255, 0)))  # red in print colours
    cmyk = load_dataset(tmp_path / "cmyk")
    assert cmyk.images.shape == (1, 3, 8, 8) and cmyk.images[0, 0, 4, 4] > 200 and cmyk.images[0, 1, 4, 4] < 60


def test_folder_resize_is_shorter_side_then_center_crop(tmp_path):
    wide = np.zeros((20, 60, 3), dtype=np.uint8)
    wide[:, :20] = (255, 0, 0)
    wide[:, 20:40] = (0, 255, 0)
    wide[:, 40:] = (0, 0, 255)
    _save(tmp_path / "wide.png", Image.fromarray(wide))
    ds = load_dataset(tmp_path, image_size=10)
    assert ds.images.shape == (1, 3, 10, 10)
    centre = ds.images[0, :, :, 3:7].int()  # beyond the Lanczos reach of red and blue
    assert (centre[1] == 255).all() and (centre[0] == 0).all() and (centre[2] == 0).all()


def test_jpeg_exif_orientation_is_applied(tmp_path):
    array = np.zeros((10, 20), dtype=np.uint8)
    array[:, 10:] = 255  # left half black, right half white as stored
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif.tobytes(), quality=95)
    header = read_header(path)
    assert (header.width, header.height, header.gray) == (10, 20, True)
    upright = decode_image(path, 1, 10)
    assert upright.shape == (1, 10, 10)
    assert upright[0, :3].mean() < 40 and upright[0, -3:].mean() > 215  # black on top, white below


def test_same_size_square_images_need_no_image_size(tmp_path):
    for i in range(3):
        _save(tmp_path / f"{i}.png", Image.new("RGB", (12, 12), (i, 2 * i, 3 * i)))
    ds = load_dataset(tmp_path)
    assert ds.images.shape == (3, 3, 12, 12) and ds.images[2, :, 0, 0].tolist() == [2, 4, 6]


def test_different_or_non_square_sizes_ask_for_image_size(tmp_path):
    _save(tmp_path / "a" / "x.png", Image.new("L", (12, 12)))
    _save(tmp_path / "a" / "y.png", Image.new("L", (14, 14)))
    with pytest.raises(GanforgeError, match=r"12x12 in 'x.png', 14x14 in 'y.png'.*image_size"):
        load_dataset(tmp_path / "a")
    _save(tmp_path / "b" / "z.png", Image.new("L", (12, 10)))
    with pytest.raises(GanforgeError, match=r"12x10, not square; pass image_size"):
        load_dataset(tmp_path / "b")


def test_many_images_keep_sorted_order_through_the_thread_pool(tmp_path):
    for i in range(70):
        _save(tmp_path / f"img{i:03d}.png", Image.new("L", (6, 6), i))
    ds = load_dataset(tmp_path, image_size=4)
    assert ds.images.shape == (70, 1, 4, 4)
    assert ds.images[:, 0, 1, 1].tolist() == list(range(70))
    (tmp_path / "img050.png").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="img050.png"):
        load_dataset(tmp_path, image_size=4)


def test_truncated_image_names_the_file(tmp_path):
    full = tmp_path / "full.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full)
    data = full.read_bytes()
    full.unlink()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(GanforgeError, match=r"cut\.png.*could not be read"):
        load_dataset(tmp_path)


def test_folder_errors(tmp_path):
    with pytest.raises(GanforgeError, match="neither a known dataset"):
        load_dataset(str(tmp_path / "missing"))
    with pytest.raises(GanforgeError, match="neither a known dataset"):
        load_dataset("imagenet-9000")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(GanforgeError, match="is empty"):
        load_dataset(empty)
    other = tmp_path / "other"
    other.mkdir()
    (other / "readme.txt").write_text("hello")
    (other / "sub").mkdir()
    (other / "sub" / "data.csv").write_text("1,2")
    with pytest.raises(GanforgeError, match="holds no images"):
        load_dataset(other)
    afile = tmp_path / "file.png"
    Image.new("L", (4, 4)).save(afile)
    with pytest.raises(GanforgeError, match="is not a directory"):
        load_dataset(afile)
    mixed = tmp_path / "mixed"
    _save(mixed / "top.png", Image.new("L", (4, 4)))
    _save(mixed / "cls" / "in.png", Image.new("L", (4, 4)))
    with pytest.raises(GanforgeError, match="mixes 1 image at its top level"):
        load_dataset(mixed)
    with pytest.raises(GanforgeError, match="no train/ and test/"):
        load_dataset(mixed / "cls", split="test")


def test_bad_arguments_are_named():
    with pytest.raises(GanforgeError, match="Channels 2"):
        load_dataset("mnist", channels=2)
    with pytest.raises(GanforgeError, match="Split 'val'"):
        load_dataset("mnist", split="val")
    with pytest.raises(GanforgeError, match="Image size 0"):
        load_dataset("mnist", image_size=0)


def test_train_and_test_sub_folders_share_class_names(tmp_path):
    for name, value in (("bird", 10), ("cat", 20), ("dog", 30)):
        _save(tmp_path / "train" / name / "0.png", Image.new("L", (8, 8), value))
    _save(tmp_path / "test" / "dog" / "0.png", Image.new("L", (8, 8), 31))
    _save(tmp_path / "test" / "bird" / "0.png", Image.new("RGB", (8, 8), (11, 11, 11)))
    train = load_dataset(tmp_path)
    test = load_dataset(tmp_path, split="test")
    assert train.class_names == test.class_names == ("bird", "cat", "dog")
    assert train.labels.tolist() == [0, 1, 2] and test.labels.tolist() == [0, 2]
    assert train.channels == 1 and test.channels == 3  # RGB in test makes the held-out set colour
    _save(tmp_path / "test" / "eel" / "0.png", Image.new("L", (8, 8)))
    with pytest.raises(GanforgeError, match="expected those of train/"):
        load_dataset(tmp_path, split="test")


# --- batch source --------------------------------------------------------------------------------

def _numbered(n: int, labelled: bool = True) -> ImageDataset:
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous()
    labels = torch.arange(n) if labelled else None
    return ImageDataset(images, labels, tuple(str(i) for i in range(n)) if labelled else ())


def _ids(batch) -> list:
    return batch["labels"].tolist()


def test_batches_have_shapes_range_and_cover_an_epoch_once():
    source = BatchSource(_numbered(12), batch_size=4, seed=3, device=torch.device("cpu"))
    batches = [source.next() for _ in range(3)]
    for batch in batches:
        assert batch["images"].shape == (4, 1, 4, 4) and batch["images"].dtype == torch.float32
        assert batch["labels"].dtype == torch.int64
        assert batch["images"].min() >= -1 and batch["images"].max() <= 1
        assert torch.allclose(batch["images"][:, 0, 0, 0], batch["labels"].float() * 2 / 255 - 1)
    assert sorted(i for b in batches for i in _ids(b)) == list(range(12))
    assert source.epoch == 0 and source.steps_per_epoch == 3
    nxt = source.next()
    assert source.epoch == 1 and len(set(_ids(nxt))) == 4


def test_batches_are_deterministic_from_seed():
    first = [_ids(BatchSource(_numbered(50), 5, seed=7, device=torch.device("cpu")).next()) for _ in range(2)]
    assert first[0] == first[1]
    other = BatchSource(_numbered(50), 5, seed=8, device=torch.device("cpu")).next()
    assert _ids(other) != first[0]


def test_state_dict_resumes_to_the_same_next_batch():
    source = BatchSource(_numbered(20), 3, seed=1, device=torch.device("cpu"))
    for _ in range(8):  # crosses an epoch boundary (6 batches per epoch)
        source.next()
    state = source.state_dict()
    expected = [_ids(source.next()) for _ in range(5)]
    resumed = BatchSource(_numbered(20), 3, seed=1, device=torch.device("cpu"))
    resumed.load_state_dict(state)
    assert [_ids(resumed.next()) for _ in range(5)] == expected


def test_ranks_draw_disjoint_shards():
    sources = [BatchSource(_numbered(24), 4, seed=0, device=torch.device("cpu"), rank=r, world_size=2)
               for r in range(2)]
    seen = [[i for _ in range(3) for i in _ids(s.next())] for s in sources]
    assert sources[0].steps_per_epoch == 3
    assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == list(range(24))


def test_dataset_smaller_than_a_batch_is_repeated_and_unlabelled_works():
    source = BatchSource(_numbered(3, labelled=False), 8, seed=0, device=torch.device("cpu"),
                         channels_last=True)
    batch = source.next()
    assert set(batch) == {"images"} and batch["images"].shape == (8, 1, 4, 4)
    values = sorted(round(float(v)) for v in (batch["images"][:, 0, 0, 0] + 1) * 127.5)
    assert set(values) == {0, 1, 2}
    with pytest.raises(GanforgeError, match="Batch size 0"):
        BatchSource(_numbered(3), 0, seed=0, device=torch.device("cpu"))


def test_typical_size_is_the_median_shorter_side_of_the_training_pictures(tmp_path):
    from ganforge.data.folder import typical_size

    for split, sides in (("train", [(300, 100), (120, 500), (90, 90)]), ("test", [(1000, 1000)] * 5)):
        (tmp_path / split).mkdir()
        for i, (w, h) in enumerate(sides):
            Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(tmp_path / split / f"{i}.png")
    assert typical_size(tmp_path) == 100  # shorter sides 100, 120, 90 of train/; test/ is not looked at
    assert typical_size(tmp_path / "test") == 1000
    assert typical_size("mnist") is None and typical_size(tmp_path / "missing") is None
    (tmp_path / "empty").mkdir()
    assert typical_size(tmp_path / "empty") is None  # the loader says what is wrong with it
