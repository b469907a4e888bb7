"""The end-of-training copy check: on by default for image families, printed, with its grid in the run folder."""
import json

import numpy as np
import pytest
from PIL import Image

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.train.api import default_callbacks, train
from ganforge.train.copy_check import GRID_PAIRS, CopyCheckAtEnd


@pytest.fixture()
def flat_folder(tmp_path):
    """A plain folder of 24 colour pictures (no train/ and test/)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    root.mkdir()
    for i in range(24):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), mode="RGB").save(root / f"{i:02d}.png")
    return root


def tiny(tmp_path, data, **kw):
    values = dict(model="dcgan", data=str(data), steps=2, batch_size=8, image_size=32, out=str(tmp_path / "runs"), name="r",
                  log_every=1, sample_every=100, checkpoint_every=100, options={"width": 4, "z_dim": 8})
    return TrainConfig(**{**values, **kw})


def test_a_run_on_a_flat_folder_ends_with_the_copy_check_printed_and_its_grid(tmp_path, flat_folder, capsys):
    run = train(tiny(tmp_path, flat_folder, copy_check_n=40), progress=False)
    printed = capsys.readouterr().out
    assert "copy check" in printed and "training images (leave-one-out)" in printed and str(run / "copy_check.png") in printed
    summary = json.loads((run / "copy_check.json").read_text())
    assert summary["reference"] == "leave-one-out" and summary["space"] == "pixels" and summary["n_samples"] == 40
    assert summary["n_train"] == 24 and summary["step"] == 2 and len(summary["closest"]) == GRID_PAIRS
    distances = [c["distance"] for c in summary["closest"]]
    assert distances == sorted(distances) and all(0 <= c["training_image"] < 24 for c in summary["closest"])
    with Image.open(run / "copy_check.png") as grid:
        assert grid.size == (8 * 32 + 9 * 2, 2 * 32 + 3 * 2)  # 8 pairs: sample | training image, 4 pairs a row


def test_the_check_is_on_by_default_and_off_at_zero(tmp_path, flat_folder):
    assert TrainConfig().copy_check_n == 1000
    assert any(isinstance(cb, CopyCheckAtEnd) for cb in default_callbacks(tiny(tmp_path, flat_folder), progress=False))
    assert not any(isinstance(cb, CopyCheckAtEnd) for cb in default_callbacks(tiny(tmp_path, flat_folder, copy_check_n=0), progress=False))
    with pytest.raises(GanforgeError, match="copy_check_n=-1"):
        tiny(tmp_path, flat_folder, copy_check_n=-1).validate()


def test_a_family_whose_export_is_not_noise_to_images_is_not_checked(tmp_path, capsys):
    cfg = TrainConfig(model="toy", data="ring8", steps=2, batch_size=16, out=str(tmp_path), name="toy", log_every=1,
                      sample_every=100, checkpoint_every=100)
    run = train(cfg, progress=False)
    assert not (run / "copy_check.json").exists() and "copy check" not in capsys.readouterr().out


def test_the_check_at_256_px_runs_the_generator_16_samples_a_pass(monkeypatch, capsys):
    from types import SimpleNamespace

    import ganforge.metrics.copy_check as metric

    seen = {}

    def fake_check(generator, data, n, seed=0, **kwargs):
        seen.update(kwargs, n=n)
        raise GanforgeError("stop here.")

    monkeypatch.setattr(metric, "applies_to", lambda info: True)
    monkeypatch.setattr(metric, "generator_copy_check", fake_check)
    trainer = SimpleNamespace(is_main=True, game=SimpleNamespace(export_info=dict), sample_generator=None,
                              cfg=SimpleNamespace(data="x", seed=0), info=SimpleNamespace(image_size=256))
    CopyCheckAtEnd(1000).on_end(trainer)
    assert seen == {"n": 1000, "pass_size": 16} and "not run (stop here.)" in capsys.readouterr().out
    trainer.info.image_size = 32
    CopyCheckAtEnd(1000).on_end(trainer)
    assert seen["pass_size"] == 1000  # small images: one pass per drawn batch, as before
