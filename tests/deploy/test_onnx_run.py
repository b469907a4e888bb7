"""Sampling from the ONNX graphs: docs/export.md's example with onnxruntime and numpy alone (torch cannot be imported),
and `ganforge sample --onnx` giving the images PyTorch gives from the same seed; `auto` picks onnxruntime."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.deploy.backend import choose_backend
from ganforge.errors import GanforgeError
from ganforge.games.registry import get_family
from ganforge.train.api import train

DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"


@pytest.fixture(scope="module", params=["cgan", "stylegan"])
def model(request, tmp_path_factory):
    """(run, export folder with ONNX graphs) of a conditional GAN and a StyleGAN tiny run."""
    family = request.param
    root = tmp_path_factory.mktemp(f"onnx-run-{family}")
    values = dict(model=family, steps=2, batch_size=8, out=str(root), name="run", log_every=1, sample_every=1000,
                  checkpoint_every=2, device="cpu", **get_family(family).tiny)
    run = train(TrainConfig(**values), callbacks=[])
    assert main(["export", str(run), "--out", str(root / "model"), "--onnx"]) == 0
    return run, root / "model"


def doc_example() -> str:
    """The python block after the onnx-example marker of docs/export.md."""
    text = DOC.read_text()
    block = re.search(r"<!-- onnx-example -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    return block.group(1)


def test_the_docs_example_runs_without_torch(model, tmp_path):
    _, folder = model
    code = doc_example()
    assert len(code.strip().splitlines()) <= 22
    code = re.sub(r'^folder = ".*?"', f"folder = {str(folder)!r}", code, count=1, flags=re.M)
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError('torch must not be imported by the ONNX example')\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "must not be imported" in probe.stderr
    done = subprocess.run([sys.executable, "-c", code + "\nimport sys; assert 'torch' not in sys.modules or sys.modules['torch'] is None"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    data = (tmp_path / "samples.pnm").read_bytes()
    config = json.loads((folder / "config.json").read_text())["info"]
    c, side = config["channels"], config["image_size"]
    header = f"P{5 if c == 1 else 6}\n{4 * side} {4 * side}\n255\n".encode()
    assert data.startswith(header) and len(data) == len(header) + 16 * c * side * side
    pixels = np.frombuffer(data[len(header):], dtype=np.uint8)
    assert pixels.std() > 0  # sixteen images, not a blank file


def test_sample_with_onnx_gives_the_pytorch_images(model, tmp_path, capsys):
    _, folder = model
    assert main(["sample", str(folder), "--onnx", "--n", "12", "--batch-size", "5", "--seed", "3", "--out", str(tmp_path / "o")]) == 0
    assert "backend onnx" in capsys.readouterr().out
    assert main(["sample", str(folder), "--backend", "torch", "--n", "12", "--batch-size", "5", "--seed", "3", "--out", str(tmp_path / "t")]) == 0
    assert "backend torch" in capsys.readouterr().out
    onnx, eager = np.load(tmp_path / "o.npz"), np.load(tmp_path / "t.npz")
    assert onnx["images"].shape == eager["images"].shape == (12, *onnx["images"].shape[1:])
    assert np.abs(onnx["images"].astype(int) - eager["images"].astype(int)).max() <= 1
    assert ("labels" in onnx) == ("labels" in eager)
    if "labels" in eager:
        assert (onnx["labels"] == eager["labels"]).all()
    assert (tmp_path / "o.png").is_file()
    assert main(["sample", str(folder), "--n", "4", "--out", str(tmp_path / "a")]) == 0
    assert "backend onnx" in capsys.readouterr().out  # auto: onnxruntime for noise generators when the graphs are there


def test_backend_choice(model, tmp_path):
    import torch

    run, folder = model
    kind = "stylegan" if "stylegan" in str(folder) else "noise"
    cpu = torch.device("cpu")
    assert choose_backend("auto", kind, folder, cpu) == "onnx"
    assert choose_backend("auto", kind, run / "export", cpu) == "torch"  # the run's own export has no ONNX graphs
    assert choose_backend("auto", "translation", folder, cpu) == "torch"
    assert choose_backend("bf16", kind, folder, cpu) == "bf16"
    with pytest.raises(GanforgeError, match="ganforge export RUN --out DIR --onnx"):
        choose_backend("onnx", kind, run / "export", cpu)
    with pytest.raises(GanforgeError, match="expected one of auto, torch, bf16, onnx"):
        choose_backend("tensorrt", kind, folder, cpu)


def test_sample_in_bf16(model, tmp_path, capsys):
    _, folder = model
    assert main(["sample", str(folder), "--backend", "bf16", "--n", "6", "--out", str(tmp_path / "b")]) == 0
    assert "backend bf16" in capsys.readouterr().out
    images = np.load(tmp_path / "b.npz")["images"]
    assert images.dtype == np.uint8 and images.shape[0] == 6


def test_serve_samples_through_onnxruntime_like_pytorch(model):
    import dataclasses

    from ganforge.tools.serve import engine

    run, folder = model
    loaded = engine.load_model(folder)
    assert loaded.onnx is not None and engine.load_model(run).onnx is None
    eager = dataclasses.replace(loaded, onnx=None)
    truncation = 0.7 if loaded.kind == "stylegan" else 1.0
    fast, slow = engine.samples(loaded, 5, 6, truncation), engine.samples(eager, 5, 6, truncation)
    assert fast.shape == slow.shape and np.abs(fast.astype(int) - slow.astype(int)).max() <= 1
