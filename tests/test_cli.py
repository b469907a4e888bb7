"""The command line: one-sentence errors with exit status 2, and the sample/export contract."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def single_sentence(err: str) -> bool:
    lines = [line for line in err.strip().splitlines() if line]
    return len(lines) == 1 and "Traceback" not in err


@pytest.mark.parametrize("argv,needle", [
    (["train", "--model", "biggan"], "Unknown model 'biggan'"),
    (["train", "--loss", "softmax"], "Unknown loss 'softmax'"),
    (["train", "--set", "lr_g=-1"], "lr_g=-1"),
    (["train", "--set", "beta1=oops"], "beta1='oops'"),
    (["train", "--set", "colour=red"], "Unknown config key 'colour'"),
    (["train", "--option", "depth=3"], "Unknown option 'depth' for model 'dcgan'"),
    (["train", "--image-size", "48", "--steps", "1"], "Image size 48"),
    (["train", "--data", "/no/such/folder", "--steps", "1"], "/no/such/folder"),
    (["train", "--config", "/no/such.yaml"], "/no/such.yaml"),
    (["train", "--resume", "/no/such/run"], "/no/such/run"),
    (["sample", "/no/such/model", "--out", "x"], "/no/such/model"),
    (["export", "/no/such/run", "--out", "x"], "/no/such/run"),
])
def test_bad_input_is_one_sentence_and_exit_2(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err and single_sentence(err), err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    code = main(["train", "--model", "dcgan", "--steps", "3", "--batch-size", "8", "--out", str(out),
                 "--name", "r", "--option", "width=4", "--option", "z_dim=8", "--no-progress"])
    assert code == 0
    return out / "r"


def test_sample_writes_grid_and_uint8_npz(capsys, tmp_path, trained_run):
    code, out, err = run_cli(capsys, "sample", str(trained_run), "--n", "70", "--seed", "3", "--batch-size", "32",
                             "--out", str(tmp_path / "s"))
    assert code == 0, err
    data = np.load(tmp_path / "s.npz")
    assert data["images"].dtype == np.uint8 and data["images"].shape == (70, 1, 32, 32)
    assert "labels" not in data
    assert Image.open(tmp_path / "s.png").size[0] > 32
    run_cli(capsys, "sample", str(trained_run), "--n", "70", "--seed", "3", "--out", str(tmp_path / "t"))
    assert np.array_equal(np.load(tmp_path / "t.npz")["images"], data["images"])  # same seed, same images


def test_label_for_unconditional_model_is_refused(capsys, tmp_path, trained_run):
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--label", "3", "--out", str(tmp_path / "s"))
    assert code == 2 and "unconditional" in err and single_sentence(err)
    assert not (tmp_path / "s.npz").exists()


def test_export_then_sample_from_the_export(capsys, tmp_path, trained_run):
    code, _, err = run_cli(capsys, "export", str(trained_run), "--out", str(tmp_path / "model"))
    assert code == 0, err
    meta = json.loads((tmp_path / "model" / "config.json").read_text())
    assert meta["info"]["family"] == "dcgan"
    code, _, err = run_cli(capsys, "export", str(trained_run), "--out", str(tmp_path / "model"))
    assert code == 2 and "not empty" in err
    code, _, _ = run_cli(capsys, "sample", str(tmp_path / "model"), "--n", "4", "--out", str(tmp_path / "s"))
    assert code == 0 and np.load(tmp_path / "s.npz")["images"].shape == (4, 1, 32, 32)


def test_existing_run_and_corrupt_checkpoint(capsys, tmp_path, trained_run):
    code, _, err = run_cli(capsys, "train", "--out", str(trained_run.parent), "--name", "r", "--steps", "1")
    assert code == 2 and "already exists" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.yaml").write_text((trained_run / "config.yaml").read_text())
    ckpt = broken / "checkpoints" / "step_00000001"
    ckpt.mkdir(parents=True)
    (ckpt / "meta.json").write_text(json.dumps({"format": "ganforge-checkpoint/1", "step": 1}))
    (ckpt / "state.json").write_text("{}")
    (ckpt / "state.safetensors").write_bytes(b"\x00" * 10)
    code, _, err = run_cli(capsys, "train", "--resume", str(broken), "--steps", "2")
    assert code == 2 and "corrupt" in err and single_sentence(err)


def test_python_dash_m_entry_point():
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-m", "ganforge", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).parent, env=env)
    assert result.returncode == 0 and "train" in result.stdout


def test_assignments_read_numbers_like_a_person_writes_them():
    from ganforge.config import parse_assignment

    assert parse_assignment("lr_d=1e-4") == ("lr_d", 1e-4)
    assert parse_assignment("ema-decay=0") == ("ema_decay", 0)
    assert parse_assignment("data=mnist") == ("data", "mnist")
    assert parse_assignment("x=[1, 2]") == ("x", [1, 2])
