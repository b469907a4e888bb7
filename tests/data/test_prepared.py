"""Tests for ganforge.data.prepared: the reader, its errors, PreparedSource, and training from a prepared set."""
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.atomic import write_text_atomic
from ganforge.config import TrainConfig
from ganforge.contract import Runtime
from ganforge.data import BatchSource, ImageDataset, PreparedSource, load_dataset, open_prepared, prepared_path
from ganforge.data.prepared import HEADER, IMAGES, LABELS, PreparedHeader, memory_budget_bytes
from ganforge.errors import GanforgeError
from ganforge.train.sources import image_source


def write_prepared(folder: Path, n: int = 40, channels: int = 1, size: int = 8, classes=("a", "b", "c"), seed: int = 0) -> ImageDataset:
    """A prepared set written directly (row i holds pixel values starting at i), and the same data in memory."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8)
    images[:, 0, 0, 0] = np.arange(n) % 256
    labels = (np.arange(n) % len(classes)).astype("<i8") if classes else None
    folder.mkdir(parents=True, exist_ok=True)
    images.tofile(folder / IMAGES)
    if labels is not None:
        labels.tofile(folder / LABELS)
    header = PreparedHeader(count=n, channels=channels, size=size, class_names=list(classes), source="synthetic",
                            files=[f"{i}.png" for i in range(n)], complete=True, next_file=n, rows=n)
    write_text_atomic(folder / HEADER, header.to_json())
    return ImageDataset(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)) if labels is not None else None,
                        tuple(classes), folder.name)


def _rss_bytes(key: str = "VmRSS") -> int:
    """A memory figure of this process from /proc/self/status (VmRSS: all resident; RssAnon: not file-backed)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key}")


# --- the reader -------------------------------------------------------------------------------------

def test_reader_reads_rows_labels_and_header(tmp_path):
    expected = write_prepared(tmp_path / "d", n=12, channels=3)
    assert prepared_path(str(tmp_path / "d")) == tmp_path / "d" and prepared_path("mnist") is None
    with open_prepared(tmp_path / "d") as data:
        assert len(data) == 12 and data.shape == (12, 3, 8, 8) and data.nbytes == 12 * 192
        assert data.class_names == ("a", "b", "c") and data.num_classes == 3
        assert torch.equal(data.read(torch.tensor([11, 0, 5, 5])), expected.images[[11, 0, 5, 5]])
        assert torch.equal(data.labels, expected.labels)
        with pytest.raises(GanforgeError, match=r"Row index 12 is outside"):
            data.read([3, 12])


def test_bad_prepared_folders_are_one_sentence_each(tmp_path):
    write_prepared(tmp_path / "t")
    (tmp_path / "t" / IMAGES).write_bytes((tmp_path / "t" / IMAGES).read_bytes()[:-5])
    with pytest.raises(GanforgeError, match=r"images\.u8' is truncated \(2555 bytes\); expected 2560 bytes"):
        open_prepared(tmp_path / "t")
    write_prepared(tmp_path / "h")
    (tmp_path / "h" / HEADER).unlink()
    with pytest.raises(GanforgeError, match=r"has no header prepared\.json"):
        load_dataset(tmp_path / "h")
    write_prepared(tmp_path / "j")
    (tmp_path / "j" / HEADER).write_text("{not json")
    with pytest.raises(GanforgeError, match=r"unreadable header prepared\.json"):
        open_prepared(tmp_path / "j")
    write_prepared(tmp_path / "v")
    text = (tmp_path / "v" / HEADER).read_text().replace('"version": 1', '"version": 7')
    (tmp_path / "v" / HEADER).write_text(text)
    with pytest.raises(GanforgeError, match="format version 7; expected version 1 or older"):
        open_prepared(tmp_path / "v")
    write_prepared(tmp_path / "l")
    (tmp_path / "l" / LABELS).unlink()
    with pytest.raises(GanforgeError, match=r"has no labels\.i64"):
        open_prepared(tmp_path / "l")
    write_prepared(tmp_path / "s")
    with open_prepared(tmp_path / "s") as data:
        with pytest.raises(GanforgeError, match="holds 8 px images but image_size is 32; expected --image-size 8"):
            data.check_request(32)
        with pytest.raises(GanforgeError, match="holds 1-channel images but channels is 3"):
            data.check_request(8, 3)
        with pytest.raises(GanforgeError, match="holds the train split"):
            data.check_request(8, 1, "test")


def test_truncation_while_open_is_an_error_not_a_crash(tmp_path):
    write_prepared(tmp_path / "d")
    with open_prepared(tmp_path / "d") as data:
        with open(tmp_path / "d" / IMAGES, "r+b") as f:
            f.truncate(10 * 64)
        assert data.read([3]).shape == (1, 1, 8, 8)
        with pytest.raises(GanforgeError, match="ended early"):
            data.read([30])


# --- the batch source ---------------------------------------------------------------------------------

@pytest.mark.parametrize("prefetch", [0, 3])
def test_prepared_source_draws_the_batches_of_batch_source(tmp_path, prefetch):
    memory = write_prepared(tmp_path / "d", n=37)
    reference = BatchSource(memory, 8, seed=5, device=torch.device("cpu"))
    with open_prepared(tmp_path / "d") as data:
        source = PreparedSource(data, 8, seed=5, device=torch.device("cpu"), prefetch=prefetch)
        for _ in range(11):  # past two epochs of 4 batches
            a, b = reference.next(), source.next()
            assert torch.equal(a["images"], b["images"]) and torch.equal(a["labels"], b["labels"])
        assert source.state_dict() == reference.state_dict() == {"epoch": 2, "position": 3}
        source.close()


def test_prepared_source_resumes_exactly_and_shards_by_rank(tmp_path):
    write_prepared(tmp_path / "d", n=50, classes=())
    cpu = torch.device("cpu")
    with open_prepared(tmp_path / "d") as data:
        straight = PreparedSource(data, 4, seed=1, device=cpu)
        first = [straight.next()["images"] for _ in range(9)]
        resumed = PreparedSource(data, 4, seed=1, device=cpu)
        for _ in range(3):
            resumed.next()
        state = resumed.state_dict()
        again = PreparedSource(data, 4, seed=1, device=cpu)
        again.load_state_dict(state)
        assert all(torch.equal(first[i], again.next()["images"]) for i in range(3, 9))
        assert "labels" not in again.next()
        ids = lambda images: set(((images[:, 0, 0, 0] + 1) * 127.5).round().long().tolist())  # noqa: E731
        shards = [PreparedSource(data, 4, seed=1, device=cpu, rank=r, world_size=2) for r in (0, 1)]
        seen = [set().union(*(ids(s.next()["images"]) for _ in range(s.steps_per_epoch))) for s in shards]
        assert not seen[0] & seen[1] and len(seen[0]) == len(seen[1]) == 24  # 6 batches of 4 per rank
        for s in (straight, resumed, again, *shards):
            s.close()


def test_rss_stays_far_below_the_prepared_size(tmp_path):
    n, size = 8000, 32
    write_prepared(tmp_path / "big", n=n, channels=3, size=size)  # 24.6 MB of images, batches of 197 KB
    dataset_bytes = n * 3 * size * size
    with open_prepared(tmp_path / "big") as data:
        source = PreparedSource(data, 64, seed=0, device=torch.device("cpu"))
        source.next()
        before = _rss_bytes()
        for _ in range(source.steps_per_epoch):  # a pass over every row (a memmap would map all 24.6 MB)
            source.next()
        growth = _rss_bytes() - before
        source.close()
    assert growth < dataset_bytes / 5, f"RSS grew by {growth} bytes reading a {dataset_bytes}-byte set"


def test_mapped_prepared_set_reads_the_same_pixels_without_loading_them(tmp_path):
    from ganforge.metrics.reference import images_digest

    n, size = 8000, 32
    expected = write_prepared(tmp_path / "big", n=n, channels=3, size=size)  # 24.6 MB
    dataset_bytes = n * 3 * size * size
    before = _rss_bytes("RssAnon")
    mapped = load_dataset(str(tmp_path / "big"), map_prepared=True)
    digest = images_digest(mapped.images)  # touches every row
    same = all(torch.equal(mapped.images[i:i + 500], expected.images[i:i + 500]) for i in range(0, n, 500))
    growth = _rss_bytes("RssAnon") - before
    assert growth < dataset_bytes / 5, f"anonymous memory grew by {growth} bytes reading a {dataset_bytes}-byte set"
    assert same and digest == images_digest(expected.images) and torch.equal(mapped.labels, expected.labels)
    assert mapped.class_names == expected.class_names and len(mapped) == n
    loaded = load_dataset(str(tmp_path / "big"))
    assert torch.equal(loaded.images, expected.images)


# --- the training source --------------------------------------------------------------------------------

def _cfg(tmp_path, **kw) -> TrainConfig:
    base = dict(model="dcgan", data=str(tmp_path / "d"), steps=4, batch_size=4, image_size=8, out=str(tmp_path / "runs"),
                log_every=2, sample_every=100, checkpoint_every=2, device="cpu", precision="fp32",
                options={"width": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def test_image_source_picks_memory_or_disk_by_the_budget(tmp_path):
    write_prepared(tmp_path / "d", n=40)  # 2,560 bytes of images
    runtime = Runtime(torch.device("cpu"))
    small = image_source(_cfg(tmp_path, memory_budget_gb=1e-6), None, runtime)  # 1,073 bytes
    assert isinstance(small, PreparedSource) and small.info.image_size == 8 and small.info.num_classes == 3
    small.close()
    assert isinstance(image_source(_cfg(tmp_path), None, runtime), BatchSource)  # small prepared sets load whole
    with pytest.raises(GanforgeError, match="holds 8 px images but image_size is 16"):
        image_source(_cfg(tmp_path, image_size=16), None, runtime)
    assert memory_budget_bytes(2.0) == 2 * 2**30 and memory_budget_bytes() > 0


def test_plain_folder_over_the_budget_asks_to_prepare_it(tmp_path):
    from PIL import Image

    folder = tmp_path / "pics"
    folder.mkdir()
    for i in range(4):
        Image.new("RGB", (16, 16), (i, 0, 0)).save(folder / f"{i}.png")
    runtime = Runtime(torch.device("cpu"))
    with pytest.raises(GanforgeError, match=r"more than the memory budget of 9\.97e-08 GiB; expected a prepared copy instead: "
                                            r"`ganforge prepare .*pics --out DATA --size 8`"):
        image_source(_cfg(tmp_path, data=str(folder), memory_budget_gb=1e-7), None, runtime)
    assert isinstance(image_source(_cfg(tmp_path, data=str(folder)), None, runtime), BatchSource)


def test_training_from_disk_resumes_bit_exactly(tmp_path):
    from ganforge.train.loop import Trainer, run_training

    write_prepared(tmp_path / "d", n=30)
    budget = {"memory_budget_gb": 1e-6}
    straight = run_training(_cfg(tmp_path, name="straight", **budget))
    run_training(_cfg(tmp_path, name="split", steps=2, **budget))
    resumed = run_training(_cfg(tmp_path, steps=4), resume=tmp_path / "runs" / "split")
    weights = []
    for run in (straight, resumed):
        cfg = TrainConfig.from_dict(__import__("yaml").safe_load((run / "config.yaml").read_text()))
        trainer = Trainer(cfg, run, checkpoint=run / "checkpoints" / (run / "checkpoints" / "latest").read_text())
        assert isinstance(trainer.source, PreparedSource) and trainer.step == 4
        weights.append(torch.cat([p.flatten() for p in trainer.game.generator.parameters()]))
        trainer.source.close()
    assert torch.equal(weights[0], weights[1])
