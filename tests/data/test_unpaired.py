import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data.dataset import ImageDataset
from ganforge.data.unpaired import UnpairedBatchSource, domain_specs, ink_mass, load_thickness_demo, load_unpaired, split_by_thickness
from ganforge.errors import GanforgeError


def write_images(folder, n, mode="L", size=8, value=0):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        shape = (size, size) if mode == "L" else (size, size, 3)
        Image.fromarray(np.full(shape, (value + 20 * i) % 256, dtype=np.uint8), mode).save(folder / f"{i}.png")
    return folder


def test_thickness_split_takes_thirds_of_each_class_ordered_by_ink():
    ink = torch.tensor([5, 1, 9, 3, 7, 8, 2, 6, 4, 0, 11, 10], dtype=torch.uint8)
    images = ink.view(12, 1, 1, 1).expand(12, 1, 2, 2).contiguous()
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1])
    thin, thick = split_by_thickness(ImageDataset(images, labels, ("0", "1")))
    # class 0 inks 5,1,9,2,6,4 -> thin 1,2 / thick 6,9; class 1 inks 3,7,8,0,11,10 -> thin 0,3 / thick 10,11
    assert sorted((ink_mass(thin.images) / 4).tolist()) == [0, 1, 2, 3]
    assert sorted((ink_mass(thick.images) / 4).tolist()) == [6, 9, 10, 11]
    assert thin.labels.tolist() == [0, 1, 0, 1]  # kept with their images, in data order
    assert thick.labels.tolist() == [0, 0, 1, 1]
    unlabelled = split_by_thickness(ImageDataset(images))
    assert sorted((ink_mass(unlabelled[0].images) / 4).tolist()) == [0, 1, 2, 3]
    with pytest.raises(GanforgeError, match="too few"):
        split_by_thickness(ImageDataset(images[:2]))


def test_thickness_demo_domains():
    data = load_thickness_demo(image_size=16)
    assert (data.name_a, data.name_b) == ("thin", "thick")
    assert len(data.a) == len(data.b) and 19990 < len(data.a) <= 20000
    assert data.a.images.shape[1:] == (1, 16, 16) and data.a.labels is not None
    assert ink_mass(data.a.images).mean() * 1.5 < ink_mass(data.b.images).mean()
    # both domains hold every digit in the same proportions
    torch.testing.assert_close(torch.bincount(data.a.labels).float() / len(data.a),
                               torch.bincount(data.b.labels).float() / len(data.b))
    test = load_thickness_demo(image_size=16, channels=3, split="test")
    assert 3320 < len(test.a) <= 3333 and test.a.channels == 3


def test_domain_spec_syntax(tmp_path):
    assert domain_specs("mnist,fashion-mnist") == ("mnist", "fashion-mnist")
    assert domain_specs(" x , y ") == ("x", "y")
    write_images(tmp_path / "set" / "trainA", 1)
    write_images(tmp_path / "set" / "trainB", 1)
    write_images(tmp_path / "set" / "testA", 1)
    write_images(tmp_path / "set" / "testB", 1)
    assert domain_specs(str(tmp_path / "set")) == (str(tmp_path / "set" / "trainA"), str(tmp_path / "set" / "trainB"))
    assert domain_specs(str(tmp_path / "set"), split="test")[1].endswith("testB")
    with pytest.raises(GanforgeError, match="two domains"):
        domain_specs("a,b,c")
    with pytest.raises(GanforgeError, match="trainA"):
        domain_specs(str(tmp_path))
    with pytest.raises(GanforgeError, match="translation data spec"):
        domain_specs("mnist")


def test_two_folders_load_at_one_size(tmp_path):
    a = write_images(tmp_path / "a", 3, size=8)
    b = write_images(tmp_path / "b", 5, size=12)
    data = load_unpaired(f"{a},{b}", image_size=16)
    assert data.a.images.shape == (3, 1, 16, 16) and data.b.images.shape == (5, 1, 16, 16)
    assert (data.name_a, data.name_b) == ("a", "b")


def test_mismatched_channels_error_unless_converted(tmp_path):
    gray = write_images(tmp_path / "gray", 2, "L")
    rgb = write_images(tmp_path / "rgb", 2, "RGB")
    for i in range(2):  # make the colour images really colourful
        Image.fromarray(np.stack([np.full((8, 8), 200, np.uint8), np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8)], -1)).save(rgb / f"{i}.png")
    with pytest.raises(GanforgeError, match=r"differ in channels.*--channels"):
        load_unpaired(f"{gray},{rgb}", image_size=8)
    data = load_unpaired(f"{gray},{rgb}", image_size=8, channels=3)
    assert data.a.channels == data.b.channels == 3
    data = load_unpaired(f"{gray},{rgb}", image_size=8, channels=1)
    assert data.b.channels == 1


def test_empty_domain_is_an_error(tmp_path):
    a = write_images(tmp_path / "a", 2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="empty"):
        load_unpaired(f"{a},{tmp_path / 'empty'}", image_size=8)
    with pytest.raises(GanforgeError, match="missing"):
        load_unpaired(f"{a},{tmp_path / 'missing'}", image_size=8)


def test_unpaired_source_draws_both_domains_and_resumes():
    a = ImageDataset(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1).expand(10, 1, 4, 4).contiguous())
    b = ImageDataset(torch.arange(100, 107, dtype=torch.uint8).view(7, 1, 1, 1).expand(7, 1, 4, 4).contiguous())
    from ganforge.data.unpaired import UnpairedData

    data = UnpairedData(a, b, "a", "b")
    source = UnpairedBatchSource(data, 3, seed=0, device=torch.device("cpu"))
    assert source.steps_per_epoch == 3
    first = [source.next() for _ in range(4)]
    assert set(first[0]) == {"a", "b"} and first[0]["a"].shape == (3, 1, 4, 4)
    assert first[0]["a"].min() >= -1 and first[0]["b"].max() <= 1
    values_a = {round(float(v), 4) for batch in first[:3] for v in batch["a"][:, 0, 0, 0]}
    assert len(values_a) == 9  # no repeats within an epoch
    state = source.state_dict()
    after = [source.next() for _ in range(3)]
    again = UnpairedBatchSource(data, 3, seed=0, device=torch.device("cpu"))
    again.load_state_dict(state)
    for x, y in zip(after, [again.next() for _ in range(3)]):
        assert torch.equal(x["a"], y["a"]) and torch.equal(x["b"], y["b"])


def test_mnist_to_fashion_mnist_when_installed():
    from ganforge.data.fashion import fashion_dir

    if not (fashion_dir() / "train-labels-idx1-ubyte.gz").exists() and not (fashion_dir() / "train-labels-idx1-ubyte").exists():
        pytest.skip("Fashion-MNIST is not installed")
    data = load_unpaired("mnist,fashion-mnist", image_size=16)
    assert (data.name_a, data.name_b) == ("mnist", "fashion-mnist")
    assert len(data.a) == len(data.b) == 60000 and data.a.channels == data.b.channels == 1
