"""benchmarks/render_modes.py: four ways of drawing a run's samples scored alike, the run untouched."""
import hashlib
import math
import sys
from pathlib import Path

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.train.api import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import render_modes  # noqa: E402


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def pixels(images):
    """A cheap stand-in for TF-Inception: each uint8 image's 8x8 block means."""
    return torch.nn.functional.avg_pool2d(images.float(), 8).flatten(1)


@pytest.fixture(scope="module")
def fastgan_run(tmp_path_factory):
    """Three rounds of FastGAN (BatchNorm in G, EMA) on MNIST, G's steps large enough to move its images off grey."""
    out = tmp_path_factory.mktemp("runs")
    return train(TrainConfig(model="fastgan", name="fg", data="mnist", steps=3, batch_size=4, image_size=64, out=str(out),
                             log_every=1, sample_every=3, checkpoint_every=3, lr_g=0.02, copy_check_n=0,
                             options={"width": 2, "z_dim": 8}),
                 progress=False)


def test_four_ways_are_scored_and_the_run_is_left_as_it_was(fastgan_run, monkeypatch):
    monkeypatch.setattr(render_modes, "features", pixels)
    before = digests(fastgan_run)
    result = render_modes.render_modes(fastgan_run, n=40, batch=8)
    assert digests(fastgan_run) == before
    assert (result["run"], result["step"], result["n"], result["batch"]) == ("fg", 3, 40, 8)
    ways = result["ways"]
    assert [(w["generator"], w["batchnorm"]) for w in ways] == [("ema", "running"), ("ema", "batch"), ("live", "running"),
                                                                ("live", "batch")]
    for w in ways:
        assert math.isfinite(w["fid"]) and w["fid"] >= 0 and 0 <= w["precision"] <= 1 and 0 <= w["recall"] <= 1
    ema_running, ema_batch, live_running, _ = (w["fid"] for w in ways)
    assert ema_batch != pytest.approx(ema_running)  # batch statistics, not running ones
    assert live_running != pytest.approx(ema_running)  # the live weights, not the average
    assert render_modes.render_modes(fastgan_run, n=40, batch=8) == result  # seeded
    rows = render_modes.table([result]).splitlines()
    assert len(rows) == 2 + 4 and rows[2].startswith("| fg | 3 | ema | running |")


def test_a_folder_that_is_not_a_run_is_named_and_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["render_modes.py", str(tmp_path)])
    with pytest.raises(SystemExit, match="has no config.yaml"):
        render_modes.main()


def test_a_batch_below_two_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["render_modes.py", str(tmp_path), "--batch", "1"])
    with pytest.raises(SystemExit, match="--batch 1: expected a whole number of at least 2"):
        render_modes.main()
