import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.dataset import ImageDataset
from ganforge.data.paired import PairedBatchSource, PairedData, has_test_split, load_aligned, load_mnist_edges, load_paired, sobel_edges
from ganforge.errors import GanforgeError

CPU = torch.device("cpu")


def write(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def noise(seed, shape=(16, 16)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_folders_pair_by_name_whatever_the_suffix(tmp_path):
    for i, stem in enumerate(["b", "a", "c"]):
        write(tmp_path / "A" / f"{stem}.png", noise(i))
        write(tmp_path / "B" / f"{stem}.bmp", noise(10 + i, (16, 16, 3)))
    data = load_paired(str(tmp_path))
    assert len(data) == 3 and data.a.channels == 1 and data.b.channels == 3
    # sorted by name: a, b, c -> written with seeds 1, 0, 2
    for index, seed in enumerate([1, 0, 2]):
        assert np.array_equal(data.a.images[index, 0].numpy(), noise(seed))
        assert np.array_equal(data.b.images[index].permute(1, 2, 0).numpy(), noise(10 + seed, (16, 16, 3)))


def test_train_and_test_splits(tmp_path):
    for split, n in (("train", 3), ("test", 2)):
        for i in range(n):
            write(tmp_path / f"{split}A" / f"{i}.png", noise(i))
            write(tmp_path / f"{split}B" / f"{i}.png", noise(i + 50))
    assert len(load_paired(str(tmp_path))) == 3 and len(load_paired(str(tmp_path), split="test")) == 2
    assert has_test_split(str(tmp_path))
    assert not has_test_split(f"{tmp_path / 'trainA'},{tmp_path / 'trainB'}")
    assert len(load_paired(f"{tmp_path / 'trainA'},{tmp_path / 'trainB'}", image_size=8)) == 3


def test_aligned_layout_splits_each_image_in_halves(tmp_path):
    left, right = noise(1, (12, 12, 3)), noise(2, (12, 12, 3))
    write(tmp_path / "train" / "x.png", np.concatenate([left, right], axis=1))
    write(tmp_path / "val" / "y.png", np.concatenate([right, left], axis=1))
    data = load_paired(str(tmp_path))
    assert data.a.images.shape == (1, 3, 12, 12)
    assert np.array_equal(data.a.images[0].permute(1, 2, 0).numpy(), left)
    assert np.array_equal(data.b.images[0].permute(1, 2, 0).numpy(), right)
    held_out = load_paired(str(tmp_path), split="test")  # val/ serves when there is no test/
    assert np.array_equal(held_out.a.images[0].permute(1, 2, 0).numpy(), right)
    resized = load_aligned(tmp_path / "train", image_size=8)
    assert resized.a.images.shape == (1, 3, 8, 8)


def test_mnist_edges_are_outlines_of_the_digits():
    square = torch.zeros(1, 1, 12, 12, dtype=torch.uint8)
    square[..., 3:9, 3:9] = 255
    edges = sobel_edges(square)[0, 0]
    assert set(edges.unique().tolist()) == {0, 255}
    assert edges[5, 5] == 0 and edges[0, 0] == 0 and edges[3, 5] == 255 and edges[2, 5] == 255
    data = load_mnist_edges(16, split="test")
    assert data.a.images.shape == data.b.images.shape == (10000, 1, 16, 16)
    assert data.labels is not None and data.labels[:3].tolist() == [7, 2, 1]
    assert not data.flip and has_test_split("mnist-edges")
    assert set(data.a.images.unique().tolist()) == {0, 255}


def test_colorize_pairs_luma_with_colour(tmp_path):
    for i in range(2):
        write(tmp_path / "photos" / f"{i}.png", noise(i, (10, 10, 3)))
    data = load_paired(f"colorize:{tmp_path / 'photos'}", image_size=8)
    assert data.a.channels == 1 and data.b.channels == 3 and len(data) == 2
    luma = (data.b.images.float() * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert (luma.round() - data.a.images.float()).abs().max() <= 1


def pairs(n=6, size=8, seed=0, channels=(1, 1)):
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, 256, (n, channels[0], size, size), dtype=torch.uint8, generator=g)
    b = a[:, :1].expand(-1, channels[1], -1, -1).clone()
    return PairedData(ImageDataset(a, torch.arange(n)), ImageDataset(b), "a", "b")


@pytest.mark.parametrize("channels", [(1, 1), (1, 3)])
def test_jitter_is_the_same_on_both_sides(channels):
    data = pairs(n=8, size=16, channels=channels)
    source = PairedBatchSource(data, 4, seed=1, device=CPU, jitter=True, flip=True)
    assert source.load_size == 18  # 16 * 286 / 256
    mirrored = 0
    for _ in range(6):
        batch = source.next()
        assert batch["a"].shape == (4, channels[0], 16, 16) and batch["b"].shape == (4, channels[1], 16, 16)
        assert torch.equal(batch["a"][:, :1].expand_as(batch["b"]), batch["b"])  # B was a copy of A: still is
        assert batch["a"].min() >= -1 and batch["a"].max() <= 1
    for epoch, position in ((0, 0), (0, 1), (1, 0)):
        rows, cols, mirror = source.jitter_params(epoch, position)
        mirrored += int(mirror.sum())
        assert ((rows >= 0) & (rows <= 2)).all() and ((cols >= 0) & (cols <= 2)).all()
    assert 0 < mirrored < 12


def test_crop_and_mirror_cut_the_right_pixels():
    data = pairs(n=2, size=8)
    source = PairedBatchSource(data, 2, seed=0, device=CPU, jitter=True, flip=True)
    big = source.pairs[:2]  # uint8 at the 9-px load size
    out = source.crop(big, torch.tensor([1, 0]), torch.tensor([0, 1]), torch.tensor([False, True]))
    assert torch.equal(out[0], big[0, :, 1:9, 0:8])
    assert torch.equal(out[1], big[1, :, 0:8, 1:9].flip(-1))


def test_without_jitter_batches_are_the_images():
    data = pairs(n=4, size=8)
    source = PairedBatchSource(data, 2, seed=0, device=CPU, jitter=False, flip=False)
    batch = source.next()
    index = batch["labels"]
    expected = data.a.images[index].float() * (2 / 255) - 1
    torch.testing.assert_close(batch["a"], expected)


def test_seeded_and_resumable():
    data = pairs(n=10, size=8)
    first = PairedBatchSource(data, 3, seed=5, device=CPU)
    for _ in range(4):  # into the second epoch (3 batches per epoch)
        first.next()
    state = first.state_dict()
    expected = [first.next() for _ in range(3)]
    again = PairedBatchSource(data, 3, seed=5, device=CPU)
    again.load_state_dict(state)
    for want in expected:
        got = again.next()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"]) and torch.equal(got["labels"], want["labels"])
    other = PairedBatchSource(data, 3, seed=6, device=CPU)
    assert not torch.equal(other.next()["a"], PairedBatchSource(data, 3, seed=5, device=CPU).next()["a"])
    channels_last = PairedBatchSource(data, 3, seed=5, device=CPU, channels_last=True).next()["a"]
    assert channels_last.is_contiguous(memory_format=torch.channels_last)


def test_an_a_file_without_a_partner_is_named(tmp_path):
    write(tmp_path / "A" / "one.png", noise(0))
    write(tmp_path / "A" / "two.png", noise(1))
    write(tmp_path / "B" / "one.png", noise(2))
    with pytest.raises(GanforgeError, match=r"two\.png' has no partner in"):
        load_paired(str(tmp_path))


def test_a_b_file_without_a_partner_is_named(tmp_path):
    write(tmp_path / "A" / "one.png", noise(0))
    write(tmp_path / "B" / "one.png", noise(2))
    write(tmp_path / "B" / "extra.png", noise(3))
    with pytest.raises(GanforgeError, match=r"extra\.png' has no partner"):
        load_paired(str(tmp_path), image_size=8)


def test_partners_of_different_sizes_are_refused(tmp_path):
    write(tmp_path / "A" / "one.png", noise(0, (16, 16)))
    write(tmp_path / "B" / "one.png", noise(1, (16, 20)))
    with pytest.raises(GanforgeError, match=r"Pair .*one\.png' \(16x16\) and .*one\.png' \(20x16\) differ in size"):
        load_paired(str(tmp_path), image_size=16)


def test_an_empty_side_is_refused(tmp_path):
    write(tmp_path / "A" / "one.png", noise(0))
    (tmp_path / "B").mkdir()
    with pytest.raises(GanforgeError, match="Side B folder .* holds no images"):
        load_paired(str(tmp_path))
    with pytest.raises(GanforgeError, match="holds no pairs"):
        PairedBatchSource(PairedData(ImageDataset(torch.zeros(0, 1, 4, 4, dtype=torch.uint8)),
                                     ImageDataset(torch.zeros(0, 1, 4, 4, dtype=torch.uint8)), "a", "b"), 2, 0, CPU)


def test_other_bad_specs(tmp_path):
    with pytest.raises(GanforgeError, match="not a paired data spec"):
        load_paired(str(tmp_path / "missing"))
    with pytest.raises(GanforgeError, match="names no folder"):
        load_paired("colorize:")
    write(tmp_path / "odd" / "x.png", noise(0, (9, 19)))
    with pytest.raises(GanforgeError, match="odd width"):
        load_paired(str(tmp_path / "odd"))
    write(tmp_path / "ab" / "A" / "x.png", noise(0))
    write(tmp_path / "ab" / "B" / "x.png", noise(1))
    with pytest.raises(GanforgeError, match="no testA/ and testB/"):
        load_paired(str(tmp_path / "ab"), split="test")
