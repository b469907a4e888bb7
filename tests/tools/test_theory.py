import json

import pytest

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.report.snapshots import Snapshots
from ganforge.train.api import train

SMALL = {"g_width": 16, "d_width": 16, "g_depth": 2, "d_depth": 2}


def toy_run(tmp_path, name, snapshots=True, **kw):
    cfg = TrainConfig(**{**dict(model="toy", steps=6, batch_size=16, out=str(tmp_path), name=name, checkpoint_every=6,
                                options=SMALL), **kw})
    return train(cfg, callbacks=[Snapshots(3)] if snapshots else [])


def test_theory_command_draws_a_toy_run_from_its_snapshots(tmp_path, capsys):
    run = toy_run(tmp_path, "r", options={**SMALL, "pack": 2})
    out = tmp_path / "th"
    assert main(["theory", str(run), "--out", str(out), "--resolution", "16"]) == 0
    for name in ("d_vs_dstar.png", "d_vs_dstar.gif", "d_half.png", "saturation.png", "theory.json"):
        assert (out / name).is_file(), name
    rows = json.loads((out / "theory.json").read_text())["snapshots"]
    assert [r["step"] for r in rows] == [0, 3, 6]
    for r in rows:
        assert 0 <= r["modes_modes"] <= 8 and 0 < r["d_on_data"] < 1 and 0 <= r["d_star_on_fake"] <= 1
        assert r["mean_logit_grad_minimax"] + r["mean_logit_grad_non_saturating"] == pytest.approx(1.0, abs=1e-5)
    assert "modes" in capsys.readouterr().out


def test_without_snapshots_the_export_is_one_frame_and_1d_works(tmp_path):
    run = toy_run(tmp_path, "one", snapshots=False, data="gauss1d")
    out = tmp_path / "th1"
    assert main(["theory", str(run), "--out", str(out), "--resolution", "16", "--bandwidth", "0.2"]) == 0
    rows = json.loads((out / "theory.json").read_text())["snapshots"]
    assert len(rows) == 1 and rows[0]["step"] == 6 and rows[0]["bandwidth"] == 0.2


def test_image_runs_other_than_stacked_mnist_are_refused(tmp_path, capsys):
    run = train(TrainConfig(model="dcgan", steps=1, batch_size=4, out=str(tmp_path), name="img", copy_check_n=0,
                            options={"width": 4, "z_dim": 4}), progress=False)
    assert main(["theory", str(run), "--out", str(tmp_path / "x")]) == 2
    assert "expected a toy run" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_stacked_mnist_run_gets_its_mode_count(tmp_path, capsys):
    run = train(TrainConfig(model="dcgan", data="stacked-mnist", steps=1, batch_size=4, out=str(tmp_path), name="st", copy_check_n=0,
                            options={"width": 4, "z_dim": 4}), progress=False)
    out = tmp_path / "st-th"
    assert main(["theory", str(run), "--out", str(out), "--n", "300"]) == 0
    report = json.loads((out / "modes.json").read_text())
    assert report["num_modes"] == 1000 and report["samples"] == 300 and 1 <= report["modes"] <= 300
    assert "modes" in capsys.readouterr().out


def test_snapshot_every_from_the_config_gives_the_theory_command_its_frames(tmp_path):
    from ganforge.config import TrainConfig
    from ganforge.train.api import train

    cfg = TrainConfig(model="toy", data="ring8", steps=4, batch_size=16, out=str(tmp_path), name="snap",
                      snapshot_every=2, sample_every=1000, checkpoint_every=4)
    run = train(cfg, progress=False)
    assert sorted(p.name for p in (run / "snapshots").iterdir()) == ["step_00000000", "step_00000002", "step_00000004"]
