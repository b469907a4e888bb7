"""The copy check of a generator on its data: a flat folder (leave-one-out), a split folder (held-out), big pictures."""
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ganforge.metrics.copy_check import COPY_CHECK_SIZE, applies_to, copy_check_rows, generator_copy_check, pixel_space


class Replay(nn.Module):
    """A 'generator' that hands back its bank of images in turn: a model that copies."""

    z_dim, num_classes = 4, 0

    def __init__(self, bank):
        super().__init__()
        self.register_buffer("bank", bank)
        self.anchor = nn.Parameter(torch.zeros(1))
        self.calls = 0

    def forward(self, z, labels=None):
        start = self.calls
        self.calls += len(z)
        return self.bank[torch.arange(start, start + len(z)) % len(self.bank)]


def write_folder(root, n, size=16, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    pictures = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    for i, p in enumerate(pictures):
        Image.fromarray(p, mode="RGB").save(root / f"{i:03d}.png")
    return torch.from_numpy(pictures).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def test_a_copying_generator_on_a_flat_folder_is_caught_with_leave_one_out(tmp_path):
    pictures = write_folder(tmp_path / "flat", 30)
    result = generator_copy_check(Replay(pictures[:10]), str(tmp_path / "flat"), n=10)
    summary = result.check.summary()
    assert summary["reference"] == "leave-one-out" and summary["space"] == "pixels"
    assert summary["n_train"] == 30 and summary["n_reference"] == 30 and summary["flagged"] == 10 and summary["copies"] == 1.0
    assert result.check.index.tolist() == list(range(10))
    pairs = result.closest_pairs(2)
    assert pairs.shape == (4, 3, 16, 16) and torch.equal(pairs[0], pairs[1])  # a sample beside the image it copies
    honest = generator_copy_check(Replay(write_folder(tmp_path / "other", 10, seed=1)), str(tmp_path / "flat"), n=10)
    assert honest.check.summary()["flagged"] <= 1 and honest.check.summary()["ratio"] > 0.9  # new pictures: about as far as real ones
    assert summary["ratio"] == 0.0


def test_a_folder_with_a_test_split_is_checked_against_its_held_out_images(tmp_path):
    write_folder(tmp_path / "split" / "train", 12)
    write_folder(tmp_path / "split" / "test", 6, seed=2)
    result = generator_copy_check(Replay(write_folder(tmp_path / "other", 4, seed=3)), str(tmp_path / "split"), n=4)
    summary = result.check.summary()
    assert summary["reference"] == "held-out" and summary["n_reference"] == 6 and summary["n_train"] == 12
    rows = copy_check_rows(summary)
    assert rows[0][1] == "0.0000 (0 of 4 nearer one training image than 99 % of held-out images are, and at most half as far as from the next)"
    assert rows[-1][1] == "in pixels, against 12 training images"


def test_large_pictures_are_compared_at_the_capped_size_and_the_space_says_so():
    features, space = pixel_space(2 * COPY_CHECK_SIZE)
    assert space == f"pixels at {COPY_CHECK_SIZE} px"
    assert features(torch.ones(2, 3, 2 * COPY_CHECK_SIZE, 2 * COPY_CHECK_SIZE)).shape == (2, 3, COPY_CHECK_SIZE, COPY_CHECK_SIZE)
    assert pixel_space(COPY_CHECK_SIZE) == (None, "pixels")


@pytest.mark.parametrize("info,expected", [
    ({"image_size": 32}, True), ({"image_size": 64, "kind": "stylegan"}, True), ({"image_size": 32, "kind": "vae"}, True),
    ({"image_size": 32, "kind": "translation"}, False), ({"image_size": 64, "kind": "superres"}, False),
    ({"image_size": 0, "kind": "points"}, False),
])
def test_the_check_applies_to_what_an_export_declares_a_noise_to_image_generator(info, expected):
    assert applies_to(info) is expected
