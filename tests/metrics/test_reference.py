"""Reference statistics are computed once per dataset, size and extractor, then read from the cache."""
import numpy as np
import pytest
import torch

import ganforge.metrics.reference as reference
from ganforge.data import load_dataset
from ganforge.data.dataset import ImageDataset
from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import get_extractor
from ganforge.metrics.scores.frechet import gaussian_stats


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path))
    return tmp_path / "reference"


@pytest.fixture(scope="module")
def small():
    data = load_dataset("mnist", split="test")
    return ImageDataset(data.images[:600], data.labels[:600], data.class_names, "mnist-small")


def test_cache_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "c"))
    assert reference.cache_dir() == tmp_path / "c" / "reference"
    monkeypatch.delenv("GANFORGE_CACHE")
    assert reference.cache_dir().parts[-3:] == (".cache", "ganforge", "reference")


def test_stats_match_direct_computation_and_are_cached(cache, small, monkeypatch):
    fx = get_extractor("digits")
    ref = reference.reference_stats(small, fx, max_features=250)
    feats = torch.cat([fx.extract(small.images[i:i + 100].float() / 127.5 - 1)[0] for i in range(0, 600, 100)])
    mean, cov = gaussian_stats(feats)
    np.testing.assert_allclose(ref.mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ref.cov, cov, rtol=1e-4, atol=1e-6)
    assert ref.n == 600 and ref.features.shape == (250, 128)
    files = list(cache.glob("*.safetensors"))
    assert len(files) == 1 and "mnist-small" in files[0].name and "digits" in files[0].name

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    monkeypatch.setattr(reference, "compute_reference", boom)
    again = reference.reference_stats(small, fx, max_features=250)
    np.testing.assert_array_equal(again.mean, ref.mean)
    assert torch.equal(again.features, ref.features)


def test_changed_images_or_extractor_get_their_own_entry(cache, small):
    fx = get_extractor("digits")
    reference.reference_stats(small, fx, max_features=100)
    changed = ImageDataset(small.images.flip(-1), small.labels, small.class_names, small.name)
    reference.reference_stats(changed, fx, max_features=100)
    fx.digest = "0" * 16  # other weights
    reference.reference_stats(small, fx, max_features=100)
    assert len(list(cache.glob("*.safetensors"))) == 3


def test_unreadable_entry_is_recomputed(cache, small):
    fx = get_extractor("digits")
    first = reference.reference_stats(small, fx, max_features=100)
    (path,) = cache.glob("*.safetensors")
    path.write_bytes(b"garbage")
    second = reference.reference_stats(small, fx, max_features=100)
    np.testing.assert_allclose(second.mean, first.mean)
    assert path.stat().st_size > 100


def test_named_data_defaults_to_its_test_split(cache):
    assert reference.default_split("mnist") == "test"
    assert reference.default_split("Fashion_MNIST") == "test"
    ref = reference.reference_stats("mnist", get_extractor("digits"), image_size=16)
    assert ref.n == 10000 and ref.key["split"] == "test" and ref.key["image_size"] == 16


def test_folder_split_and_mismatched_reference(tmp_path, small):
    (tmp_path / "train").mkdir()
    assert reference.default_split(str(tmp_path)) == "train"
    (tmp_path / "test").mkdir()
    assert reference.default_split(str(tmp_path)) == "test"
    with pytest.raises(GanforgeError, match="expected 3x32px"):
        reference.reference_stats(small, get_extractor("digits"), image_size=32, channels=3)


def test_stored_subset_is_in_random_order_on_a_class_ordered_folder(cache, class_folder, toy_extractor):
    ref = reference.reference_stats(str(class_folder), toy_extractor, max_features=30)
    assert ref.n == 120 and ref.features.shape == (30, 2)
    bright = (ref.features[:, 0] > 0).long()
    # a leading part of the stored subset is itself a random sample: both classes in the first 10
    assert 3 <= int(bright[:10].sum()) <= 7, bright.tolist()
    assert int((bright[1:] != bright[:-1]).sum()) >= 5  # not one class after the other
    again = reference.compute_reference(reference.load_reference_images(str(class_folder), None, None, "train").images,
                                        toy_extractor, batch_size=7, max_features=30)[2]
    assert torch.equal(again, ref.features)  # the same seeded draw, whatever the batch size


def test_a_reference_smaller_than_max_features_keeps_every_image_in_random_order(cache, class_folder, toy_extractor):
    ref = reference.reference_stats(str(class_folder), toy_extractor)
    assert ref.features.shape == (120, 2)
    bright = (ref.features[:, 0] > 0).long()
    assert int(bright.sum()) == 60 and 15 <= int(bright[:40].sum()) <= 25


def test_digest_in_pieces_equals_the_digest_of_the_whole_array():
    import hashlib

    images = torch.randint(0, 256, (300, 3, 40, 40), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    whole = hashlib.sha256(str(tuple(images.shape)).encode())
    whole.update(images.numpy().tobytes())
    assert reference.images_digest(images) == whole.hexdigest()[:16]  # cached statistics keep their keys
    changed = images.clone()
    changed[299, 2, 39, 39] ^= 1  # the last byte of the last piece counts
    assert reference.images_digest(changed) != reference.images_digest(images)
