"""`ganforge export --onnx` for every registered family: graphs that onnxruntime runs like PyTorch at batch 1 and 7,
a model card whose scores are the run's, a failed check or a missing extra that leaves nothing behind."""
import json
import re

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.deploy import onnx_export
from ganforge.deploy.graphs import baked
from ganforge.deploy.kinds import export_kind
from ganforge.export import load_players
from ganforge.games.registry import family_names, get_family
from ganforge.models.stylegan import mix_styles
from ganforge.train.api import train

EVAL_EVENT = {"event": "eval", "step": 2, "fd": 12.345678, "kid": 0.0123, "n": 500, "extractor": "mnist-classifier"}
EVAL_JSON = {"fd": 7.25, "precision": 0.5, "recall": 0.25, "extractor": "inception-v3", "n": 1000,
             "memorisation": {"ratio": 0.91, "flagged": 3, "n_samples": 1000, "copies": 0.003}}


@pytest.fixture(scope="module", params=family_names())
def exported(request, tmp_path_factory):
    """(family, run folder, export folder written with --onnx and an eval JSON) from each family's tiny run."""
    family = request.param
    root = tmp_path_factory.mktemp(f"onnx-{family}")
    values = dict(model=family, steps=2, batch_size=8, out=str(root), name="run", log_every=1, sample_every=1000,
                  checkpoint_every=2, device="cpu")
    values.update(get_family(family).tiny)
    run = train(TrainConfig(**values), callbacks=[])
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(EVAL_EVENT) + "\n")
    (root / "eval.json").write_text(json.dumps(EVAL_JSON))
    out = root / "model"
    assert main(["export", str(run), "--out", str(out), "--onnx", "--scores", str(root / "eval.json")]) == 0
    return family, run, out


def _session(folder, manifest, graph):
    return ort.InferenceSession(str(folder / manifest["graphs"][graph]["file"]), providers=["CPUExecutionProvider"])


def _close(onnx_out, torch_out, tol=1e-4):
    assert onnx_out.shape == tuple(torch_out.shape)
    assert np.abs(onnx_out - torch_out.float().numpy()).max() <= tol


@pytest.mark.parametrize("batch", [1, 7])
def test_every_family_round_trips_at_batch_1_and_7(exported, batch):
    family, _, folder = exported
    manifest = json.loads((folder / "onnx.json").read_text())
    players, info = load_players(folder)
    kind = export_kind(info)
    assert manifest["kind"] == kind and manifest["opset"] >= 17
    g = baked(players["generator"])  # what the graph holds: eval mode, weights as tensors, the stored noise map
    torch.manual_seed(batch)
    if kind in ("noise", "vae", "stylegan", "points"):
        z = torch.randn(batch, int(g.z_dim))
        feeds = {"z": z.numpy()}
        classes = int(getattr(g, "num_classes", 0))
        labels = torch.randint(0, classes, (batch,)) if classes else None
        if classes:
            feeds["labels"] = labels.numpy()
        kwargs = {}
        if kind == "stylegan":
            feeds["truncation"] = np.array([0.6], dtype=np.float32)
            kwargs["truncation"] = 0.6
        assert set(feeds) == set(manifest["graphs"]["generator"]["inputs"])
        session = _session(folder, manifest, "generator")
        with torch.no_grad():
            want = g(z, labels, **kwargs) if kind != "points" else g(z)
        if kind == "points":
            _close(session.run(["points"], feeds)[0], want)
            return
        images, images_uint8 = session.run(["images", "images_uint8"], feeds)
        _close(images, want.clamp(-1, 1))
        assert images_uint8.dtype == np.uint8
        assert np.abs(images_uint8.astype(int) - ((want.clamp(-1, 1) + 1) * 127.5).round().numpy()).max() <= 1
        if kind == "stylegan":  # mapping and synthesis alone: truncation and style mixing from ONNX
            ws_a = _session(folder, manifest, "mapping").run(["ws"], feeds)[0]
            other = {**feeds, "z": np.random.default_rng(batch).standard_normal(feeds["z"].shape).astype(np.float32)}
            ws_b = _session(folder, manifest, "mapping").run(["ws"], other)[0]
            with torch.no_grad():
                _close(ws_a, g.mapping(z, labels, truncation=0.6), 1e-5)
                mixed = mix_styles(torch.from_numpy(ws_a), torch.from_numpy(ws_b), [0])
                want_mixed = g.synthesize(mixed)
            rows = mixed.numpy()
            _close(_session(folder, manifest, "synthesis").run(["images"], {"ws": rows})[0], want_mixed)
    else:
        for name, graph in manifest["graphs"].items():
            shape = graph["inputs"]["input_images"]["shape"]
            step = int(info.get("size_multiple") or 1)
            side = shape[2] if isinstance(shape[2], int) else 2 * step * max(1, 8 // step)
            x = torch.rand(batch, shape[1], side, side) * 2 - 1
            player = players[info["directions"][name]] if kind == "translation" else g
            if getattr(player, "sample_dropout", False):
                player.sample_dropout = False  # the ONNX translator is the deterministic one
            with torch.no_grad():
                want = player(x).clamp(-1, 1)
            _close(_session(folder, manifest, name).run(["images"], {"input_images": x.numpy()})[0], want)


def test_the_card_shows_the_runs_scores_and_facts(exported):
    family, run, folder = exported
    card = (folder / "README.md").read_text()
    front = card.split("---")[1]
    assert "license: unknown" in front and "library_name: ganforge" in front and f"  - {family}" in front and "  - onnx" in front
    rows = dict(((m.group(1), m.group(2)), (float(m.group(3)), m.group(4), m.group(5)))
                for m in re.finditer(r"^\| ([^|]+?) \| (\w+) \| ([-\d.e+]+) \| ([^|]+?) \| (\d+) \|$", card, re.M))
    assert rows[("training eval at step 2", "fd")] == (pytest.approx(EVAL_EVENT["fd"], rel=1e-5), "mnist-classifier", "500")
    assert rows[("training eval at step 2", "kid")][0] == pytest.approx(EVAL_EVENT["kid"], rel=1e-5)
    assert rows[("`ganforge eval` (eval.json)", "fd")] == (pytest.approx(7.25), "inception-v3", "1000")
    assert rows[("`ganforge eval` (eval.json)", "recall")][0] == pytest.approx(0.25)
    assert "distance ratio 0.91" in card and "3 of 1000 samples flagged" in card
    info = json.loads((folder / "config.json").read_text())["info"]
    assert f"- rounds: {info['steps']}, batch size 8" in card and info["machine"] in card
    for graph in json.loads((folder / "onnx.json").read_text())["graphs"].values():
        assert f"| {graph['file']} |" in card
    assert ("![samples](samples.png)" in card) == (folder / "samples.png").is_file()


def test_a_failed_check_names_the_largest_difference_and_writes_nothing(tmp_path, monkeypatch, capsys):
    family = "dcgan"
    values = dict(model=family, steps=2, batch_size=8, out=str(tmp_path), name="run", log_every=1, sample_every=1000,
                  checkpoint_every=2, device="cpu", **get_family(family).tiny)
    run = train(TrainConfig(**values), callbacks=[])
    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)
    assert main(["export", str(run), "--out", str(tmp_path / "model"), "--onnx"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"ONNX graph 'generator' output 'images' differs from PyTorch by up to [\d.e-]+ at batch 1; expected at most -1", err)
    assert not (tmp_path / "model").exists()


def test_export_without_the_extra_names_it(tmp_path, monkeypatch, capsys):
    family = "vanilla"
    values = dict(model=family, steps=2, batch_size=8, out=str(tmp_path), name="run", log_every=1, sample_every=1000,
                  checkpoint_every=2, device="cpu", **get_family(family).tiny)
    run = train(TrainConfig(**values), callbacks=[])
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    assert main(["export", str(run), "--out", str(tmp_path / "model"), "--onnx"]) == 2
    assert "'onnxruntime' is not installed; expected the optional extra: pip install \"ganforge[onnx]\"" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()
    assert main(["export", str(run), "--out", str(tmp_path / "plain")]) == 0  # without --onnx the extra is not needed
    assert (tmp_path / "plain" / "README.md").is_file() and not (tmp_path / "plain" / "onnx.json").exists()
