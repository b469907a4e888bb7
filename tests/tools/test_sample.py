"""`ganforge sample` streams its images to disk, refuses a count the disk cannot hold, and leaves nothing on a full disk."""
import errno
import os
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.data.dataset import to_uint8
from ganforge.export import load_generator, save_generator
from ganforge.models.dcgan import DCGANGenerator
from ganforge.sampling import iter_samples
from ganforge.tools import sample


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return save_generator(DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4), {"channels": 3, "image_size": 32},
                          tmp_path / "m")


def _peak_bytes(model, out, n):
    """Peak Python-tracked memory of `ganforge sample --n n` in this (warmed-up) process."""
    tracemalloc.start()
    try:
        assert main(["sample", str(model), "--n", str(n), "--batch-size", "100", "--out", str(out)]) == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_images_stream_to_disk_in_memory_that_does_not_grow_with_n(model, tmp_path, capsys):
    main(["sample", str(model), "--n", "2", "--out", str(tmp_path / "warm")])  # imports and first calls
    small, large = _peak_bytes(model, tmp_path / "a", 300), _peak_bytes(model, tmp_path / "b", 3000)
    grown = 2700 * 3 * 32 * 32  # what holding every image would add
    assert large - small < grown / 10, f"peak grew by {large - small} bytes for {grown} bytes of images"
    with np.load(tmp_path / "b.npz") as data:
        images = data["images"]
    assert images.shape == (3000, 3, 32, 32) and images.dtype == np.uint8
    generator, _ = load_generator(model)
    expected = torch.cat([to_uint8(b) for b in iter_samples(generator, 3000, 0, 100)]).numpy()
    assert np.array_equal(images, expected)  # streamed, the images are those the sampler drew, in order
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_count_the_disk_cannot_hold_is_refused_before_sampling(model, tmp_path, capsys):
    assert main(["sample", str(model), "--n", str(10 ** 12), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "--n 1000000000000 needs up to" in err and "GiB free there" in err
    assert not (tmp_path / "s.npz").exists() and not (tmp_path / "s.png").exists()


def test_a_full_disk_is_one_sentence_and_leaves_nothing_behind(model, tmp_path, capsys, monkeypatch):
    real_write = zipfile.ZipFile.open

    def full(self, name, mode="r", **kw):
        handle = real_write(self, name, mode, **kw)
        if mode == "w":
            def write(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.filename))
            handle.write = write
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", full)
    assert main(["sample", str(model), "--n", "10", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge sample: error: The disk is full while writing") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    monkeypatch.undo()
    assert main(["sample", str(model), "--n", "10", "--out", str(tmp_path / "s")]) == 0  # the rerun is not blocked
    assert sample.SHOWN == 100
