"""Tests for ganforge.data.prepare: folder -> prepared set, identical pixels, resume, unreadable files, crop or pad."""
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge.data.prepare as prepare_module
from ganforge.data import load_dataset, open_prepared
from ganforge.data.folder import load_folder
from ganforge.data.prepare import prepare_folder
from ganforge.data.prepared import HEADER, IMAGES, LABELS, read_header
from ganforge.errors import GanforgeError


def make_folder(root: Path, n_per_class: int = 5, classes=("cat", "dog"), size=(40, 28), mode="RGB") -> Path:
    """Class sub-folders of small noisy images of varying (non-square) sizes."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            w, h = size[0] + i, size[1] + 2 * c
            channels = 3 if mode == "RGB" else 1
            pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
            Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(root / name / f"{i:03d}.png")
    return root


def test_prepared_pixels_equal_the_folder_loader(tmp_path):
    folder = make_folder(tmp_path / "pets")
    header = prepare_folder(folder, tmp_path / "data", 16, progress=False)
    assert header.complete and header.count == 10 and header.channels == 3 and header.class_names == ["cat", "dog"]
    expected = load_folder(folder, image_size=16)
    with open_prepared(tmp_path / "data") as data:
        assert data.shape == (10, 3, 16, 16)
        whole = data.load()
        assert torch.equal(whole.images, expected.images)
        assert torch.equal(whole.labels, expected.labels) and whole.class_names == expected.class_names
        assert torch.equal(data.read([7, 2, 2]), expected.images[[7, 2, 2]])
        assert np.array_equal(np.asarray(data.images), expected.images.numpy())  # the memmap view
    via_load_dataset = load_dataset(tmp_path / "data", image_size=16)
    assert torch.equal(via_load_dataset.images, expected.images)
    on_disk = json.loads((tmp_path / "data" / HEADER).read_text())
    assert on_disk["format"] == "ganforge-prepared" and on_disk["version"] == 1 and on_disk["files"][0] == "cat/000.png"
    assert (tmp_path / "data" / IMAGES).stat().st_size == 10 * 3 * 16 * 16
    assert np.fromfile(tmp_path / "data" / LABELS, dtype="<i8").tolist() == [0] * 5 + [1] * 5


def test_pad_keeps_the_whole_image_on_black(tmp_path):
    folder = tmp_path / "wide"
    folder.mkdir()
    Image.new("L", (32, 16), 200).save(folder / "a.png")
    prepare_folder(folder, tmp_path / "pad", 16, fit="pad", progress=False)
    prepare_folder(folder, tmp_path / "crop", 16, progress=False)
    with open_prepared(tmp_path / "pad") as data:
        image = data.read([0])[0, 0]
        assert data.channels == 1 and data.header.fit == "pad"
    assert (image[:4] == 0).all() and (image[12:] == 0).all() and (image[4:12] == 200).all()  # 16x8 in the middle
    assert torch.equal(image, load_folder(folder, image_size=16, fit="pad").images[0, 0])
    with open_prepared(tmp_path / "crop") as data:
        assert (data.read([0]) == 200).all()


def test_interrupted_prepare_continues_where_it_stopped(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "pets", n_per_class=6)
    original = prepare_module.decode_image
    calls = {"n": 0}

    def failing(path, *args):
        calls["n"] += 1
        if calls["n"] > 5:  # the second chunk of 4 fails half-way
            raise KeyboardInterrupt
        return original(path, *args)

    monkeypatch.setattr(prepare_module, "decode_image", failing)
    with pytest.raises(KeyboardInterrupt):
        prepare_folder(folder, tmp_path / "data", 8, chunk=4, progress=False)
    partial = read_header(tmp_path / "data")
    assert not partial.complete and partial.next_file == 4 and partial.rows == 4
    with pytest.raises(GanforgeError, match=r"incomplete \(4 of 12 files done\).*run the same command again"):
        open_prepared(tmp_path / "data")
    decoded = []
    monkeypatch.setattr(prepare_module, "decode_image", lambda path, *a: decoded.append(path.name) or original(path, *a))
    prepare_folder(folder, tmp_path / "data", 8, chunk=4, progress=False)
    assert len(decoded) == 8  # only the files not yet written
    with open_prepared(tmp_path / "data") as data:
        assert torch.equal(data.load().images, load_folder(folder, image_size=8).images)
    assert prepare_folder(folder, tmp_path / "data", 8, chunk=4, progress=False).complete  # finished: returned as is
    assert len(decoded) == 8


def test_resume_refuses_another_request(tmp_path):
    folder = make_folder(tmp_path / "pets", n_per_class=2)
    prepare_folder(folder, tmp_path / "data", 8, progress=False)
    with pytest.raises(GanforgeError, match=r"already holds another preparation \(its size is 8, not 16\)"):
        prepare_folder(folder, tmp_path / "data", 16, progress=False)
    (folder / "cat" / "new.png").write_bytes((folder / "cat" / "000.png").read_bytes())
    with pytest.raises(GanforgeError, match="files changed"):
        prepare_folder(folder, tmp_path / "data", 8, progress=False)
    other = tmp_path / "busy"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(GanforgeError, match="already holds other files"):
        prepare_folder(folder, other, 8, progress=False)
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_unreadable_file_stops_naming_it_or_is_skipped_and_listed(tmp_path):
    folder = make_folder(tmp_path / "pets", n_per_class=3)
    bad = folder / "dog" / "001.png"
    bad.write_bytes(bad.read_bytes()[:60])  # a truncated PNG: its header reads, its pixels do not
    with pytest.raises(GanforgeError, match=r"001\.png.*could not be read.*3 of 6 files are prepared.*--skip-unreadable"):
        prepare_folder(folder, tmp_path / "data", 8, chunk=3, progress=False)
    header = prepare_folder(folder, tmp_path / "data", 8, chunk=3, skip_unreadable=True, progress=False)
    assert header.count == 5 and [s["file"] for s in header.skipped] == ["dog/001.png"]
    assert "dog/001.png" not in header.files
    with open_prepared(tmp_path / "data") as data:
        kept = data.load()
    full = load_folder(make_folder(tmp_path / "again", n_per_class=3), image_size=8)
    assert torch.equal(kept.images, full.images[[0, 1, 2, 3, 5]]) and kept.labels.tolist() == [0, 0, 0, 1, 1]
    assert (tmp_path / "data" / IMAGES).stat().st_size == 5 * 3 * 8 * 8


def test_bad_arguments_and_missing_folders(tmp_path):
    folder = make_folder(tmp_path / "pets", n_per_class=1)
    for kwargs, message in (({"size": 0}, "Size 0 is invalid"), ({"size": 8, "fit": "stretch"}, "Crop 'stretch' is invalid"),
                            ({"size": 8, "channels": 2}, "Channels 2 is invalid"), ({"size": 8, "split": "val"}, "Split 'val'")):
        with pytest.raises(GanforgeError, match=message):
            prepare_folder(folder, tmp_path / "out", progress=False, **kwargs)
    with pytest.raises(GanforgeError, match="does not exist"):
        prepare_folder(tmp_path / "nowhere", tmp_path / "out", 8, progress=False)
    with pytest.raises(GanforgeError, match="no train/ and test/"):
        prepare_folder(folder, tmp_path / "out", 8, split="test", progress=False)
    assert not (tmp_path / "out").exists()  # nothing written on bad input


def test_a_size_that_cannot_be_decoded_or_stored_is_refused_before_writing(tmp_path, monkeypatch):
    folder = make_folder(tmp_path / "pets", n_per_class=2)
    with pytest.raises(GanforgeError, match=r"Size 100000 needs about .* GiB to decode .* expected a smaller --size"):
        prepare_folder(folder, tmp_path / "data", 100000, progress=False)
    assert not (tmp_path / "data").exists()
    monkeypatch.setattr(prepare_module.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 1000})())
    with pytest.raises(GanforgeError, match=r"needs .* GiB, more than the 9.31e-07 GiB free at"):
        prepare_folder(folder, tmp_path / "data", 64, progress=False)
    assert not (tmp_path / "data").exists()


def test_a_name_that_is_not_utf8_is_refused_before_writing(tmp_path):
    folder = make_folder(tmp_path / "pets", n_per_class=1)
    good = folder / "cat" / "000.png"
    bad = os.fsencode(folder / "cat") + b"/caf\xe9.png"  # Latin-1, not UTF-8
    with open(bad, "wb") as f:
        f.write(good.read_bytes())
    with pytest.raises(GanforgeError, match=r"has a name that is not UTF-8; expected UTF-8 file names \(rename it; nothing was written\)"):
        prepare_folder(folder, tmp_path / "data", 8, progress=False)
    assert not (tmp_path / "data").exists()
    os.remove(bad)
    assert prepare_folder(folder, tmp_path / "data", 8, progress=False).complete


def test_a_full_disk_keeps_what_was_written_and_the_same_command_continues(tmp_path, monkeypatch):
    import errno

    folder = make_folder(tmp_path / "pets", n_per_class=6)
    real_fsync, calls = prepare_module.os.fsync, {"n": 0}

    def full(fd):
        calls["n"] += 1
        if calls["n"] > 4:  # the header, then the first chunk (images, labels, header) reach the disk; then it is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(prepare_module.os, "fsync", full)
    with pytest.raises(GanforgeError, match=r"The disk is full while preparing .* \(4 images are written and kept\); "
                                            r"expected free space: make room and run the same command again to continue."):
        prepare_folder(folder, tmp_path / "data", 8, chunk=4, progress=False)
    monkeypatch.undo()
    assert read_header(tmp_path / "data").rows == 4
    prepare_folder(folder, tmp_path / "data", 8, chunk=4, progress=False)
    with open_prepared(tmp_path / "data") as data:
        assert torch.equal(data.load().images, load_folder(folder, image_size=8).images)
