"""`ganforge prepare FOLDER --out DATA --size S`, then `ganforge train --data DATA`."""
import json

import numpy as np
from PIL import Image

from ganforge.cli import main


def _folder(root, n=6):
    rng = np.random.default_rng(1)
    for i in range(n):
        cls = root / ("odd" if i % 2 else "even")
        cls.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(cls / f"{i}.png")
    return root


def test_prepare_then_train_from_the_prepared_folder(tmp_path, capsys):
    folder = _folder(tmp_path / "pics")
    data = tmp_path / "data"
    assert main(["prepare", str(folder), "--out", str(data), "--size", "8", "--crop", "pad", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "prepared 6 images (3x8x8 uint8" in out and "2 classes" in out and f"--data {data} --image-size 8" in out
    header = json.loads((data / "prepared.json").read_text())
    assert header["fit"] == "pad" and header["complete"] and header["class_names"] == ["even", "odd"]
    assert main(["train", "--data", str(data), "--image-size", "8", "--steps", "2", "--batch-size", "4", "--out", str(tmp_path / "runs"),
                 "--name", "r", "--device", "cpu", "--no-progress", "--option", "width=4", "--option", "z_dim=8",
                 "--set", "memory_budget_gb=1e-7"]) == 0
    assert (tmp_path / "runs" / "r" / "checkpoints" / "latest").is_file()


def test_prepare_errors_are_one_sentence_and_exit_2(tmp_path, capsys):
    folder = _folder(tmp_path / "pics", n=2)
    assert main(["prepare", str(tmp_path / "nowhere"), "--out", str(tmp_path / "d"), "--size", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganforge prepare: error: Folder") and "does not exist" in err and err.count("\n") == 1
    assert main(["prepare", str(folder), "--out", str(tmp_path / "d"), "--size", "8", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "d"), "--image-size", "16", "--steps", "1", "--out", str(tmp_path / "runs"),
                 "--device", "cpu", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "holds 8 px images but image_size is 16; expected --image-size 8" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
