"""`ganforge eval`: prints an aligned table, writes JSON, fails with one sentence on bad input."""
import json
import re

import pytest
import torch

from ganforge.cli import main
from ganforge.export import save_generator
from ganforge.models.dcgan import DCGANGenerator


@pytest.fixture()
def model(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    torch.manual_seed(0)
    gen = DCGANGenerator(z_dim=16, channels=1, image_size=32, width=8)
    info = {"channels": 1, "image_size": 32, "num_classes": 0, "class_names": [], "family": "dcgan", "data": "mnist"}
    return save_generator(gen, info, tmp_path / "model")


def test_eval_prints_a_table_and_writes_json(model, tmp_path, capsys):
    out = tmp_path / "scores" / "s.json"
    assert main(["eval", str(model), "--n", "200", "--json", str(out), "--batch-size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "Fréchet distance" in printed and "precision" in printed and "digits" in printed
    scores = json.loads(out.read_text())
    assert set(scores) == {"fd", "kid", "kid_std", "is", "is_std", "precision", "recall", "extractor", "n"}
    assert scores["n"] == 200 and scores["extractor"] == "digits" and scores["fd"] > 0
    lines = printed.rstrip("\n").splitlines()
    labels = [re.split(r"\s{2,}", line, maxsplit=1)[0] for line in lines]
    width = max(len(label) for label in labels)
    assert len(lines) == 7
    assert all(line[width:width + 2] == "  " and line[width + 2] != " " for line in lines)  # values in one column


def test_eval_subset_of_metrics(model, tmp_path):
    out = tmp_path / "s.json"
    assert main(["eval", str(model), "--n", "100", "--metrics", "fd", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())) == {"fd", "extractor", "n"}


@pytest.mark.parametrize("argv,message", [
    (["--metrics", "fd,fid"], "Unknown metric 'fid'"),
    (["--extractor", "inception"], "InceptionV3 weights were not given"),
    (["--n", "1"], "--n 1"),
    (["--data", "/no/such/folder"], "/no/such/folder"),
])
def test_bad_options_give_one_sentence(model, capsys, argv, message):
    assert main(["eval", str(model), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_model_is_refused(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_eval_of_a_conditional_model_adds_its_accuracy(tmp_path, tmp_path_factory, monkeypatch, capsys):
    from ganforge.models.cgan import ConditionalDCGANGenerator

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))
    torch.manual_seed(0)
    gen = ConditionalDCGANGenerator(z_dim=16, channels=1, image_size=32, width=8, num_classes=10, embed_dim=4)
    info = {"channels": 1, "image_size": 32, "num_classes": 10, "class_names": [str(c) for c in range(10)],
            "family": "cgan", "data": "mnist"}
    model = save_generator(gen, info, tmp_path / "cmodel")
    out = tmp_path / "s.json"
    assert main(["eval", str(model), "--n", "200", "--metrics", "fd,acc", "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert set(scores) == {"fd", "accuracy", "accuracy_per_class", "extractor", "n"}
    assert len(scores["accuracy_per_class"]) == 10 and 0.0 <= scores["accuracy"] <= 1.0
    assert scores["accuracy"] == pytest.approx(sum(scores["accuracy_per_class"]) / 10)
    assert "conditional accuracy" in capsys.readouterr().out
