"""The command line: one-sentence errors with exit status 2, and the sample/export contract."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
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
    (["train", "--steps", "0"], "steps=0"),
    (["train", "--batch-size", "0"], "batch_size=0"),
    (["train", "--seed", "-1"], "seed=-1"),
    (["train", "--image-size", "3"], "image_size=3"),
    (["train", "--channels", "2"], "channels=2"),
    (["train", "--epochs", "nan"], "epochs=nan"),
    (["train", "--minutes", "inf"], "minutes=inf"),
    (["train", "--set", "lr_d=nan"], "lr_d=nan"),
    (["train", "--set", "log_every=1e3"], "log_every=1000.0 is invalid; expected an integer"),
    (["train", "--set", "options=3"], "options=3"),
    (["train", "--set", "loss_bound=0"], "loss_bound=0"),
    (["train", "--name", "a/b", "--steps", "1"], "Run name 'a/b'"),
    (["train", "--name", "..", "--steps", "1"], "Run name '..'"),
    (["train", "--device", "banana", "--steps", "1"], "Device 'banana'"),
    (["train", "--precision", "fp16"], "precision='fp16'"),
])
def test_bad_input_is_one_sentence_and_exit_2(capsys, tmp_path, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert needle in err and single_sentence(err), err


@pytest.mark.parametrize("argv,closest", [
    (["train", "--set", "lr=1e-4"], "expected a known key such as lr_g, lr_d."),
    (["train", "--set", "ema-decy=0.9"], "expected a known key such as ema_decay"),
    (["train", "--model", "stylegan", "--option", "mapping_layer=3"], "expected a known key such as mapping_layers"),
])
def test_an_unknown_key_is_answered_with_the_closest_known_keys_not_the_whole_list(capsys, tmp_path, monkeypatch, argv, closest):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and closest in err and single_sentence(err), err
    assert err.count(",") <= 2 and len(err) < 160  # two or three names, not the ~44 keys


def test_an_unknown_key_close_to_none_says_so_without_the_list(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "train", "--set", "colour=red")
    assert code == 2 and "expected one of the" in err and "known keys (none is close to it)" in err
    assert "lr_g" not in err and "seed" not in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory, trained_run):
    """A folder of things a user may point the commands at: good models, broken ones, files, configs."""
    import torch

    from ganforge.export import save_generator, save_players
    from ganforge.kinds import declare
    from ganforge.models.cgan import ConditionalDCGANGenerator
    from ganforge.models.stylegan import StyleGANGenerator
    from ganforge.models.vae import Decoder, Encoder

    root = tmp_path_factory.mktemp("sandbox")
    (root / "afile").write_text("mine")
    (root / "taken.png").write_text("mine")
    (root / "empty").mkdir()
    (root / "list.yaml").write_text("[1, 2]\n")
    (root / "blank.yaml").write_text("")
    (root / "unknown.yaml").write_text("steps: 2\ncolour: red\n")
    (root / "wrongtype.yaml").write_text("steps: two\n")
    (root / "broken.yaml").write_text("model: [\n")
    (root / "images").mkdir()
    Image.new("L", (28, 28)).save(root / "images" / "a.png")
    (root / "junk").mkdir()
    (root / "junk" / "x.png").write_text("not an image")
    style = StyleGANGenerator(z_dim=8, w_dim=8, mapping_layers=1, image_size=8, channel_base=16, channel_max=8)
    save_generator(style.eval(), {**declare("stylegan", "truncation", "w_space"), "image_size": 8, "channels": 1,
                                  "num_classes": 0}, root / "style")
    save_generator(ConditionalDCGANGenerator(z_dim=8, width=4, num_classes=3), {**declare("noise", "labels"), "num_classes": 3},
                   root / "cond")
    save_players({"generator": Decoder(z_dim=4, width=4), "encoder": Encoder(z_dim=4, width=4)},
                 {**declare("vae", "encoder"), "channels": 1, "image_size": 32}, root / "vae")
    (root / "corrupt").mkdir()
    (root / "corrupt" / "config.json").write_text((trained_run / "export" / "config.json").read_text())
    (root / "corrupt" / "generator.safetensors").write_bytes(b"\x00" * 16)
    (root / "badjson").mkdir()
    (root / "badjson" / "config.json").write_text("{")
    other = root / "other-family"
    other.mkdir()
    saved = yaml.safe_load((trained_run / "config.yaml").read_text())
    (other / "config.yaml").write_text(yaml.safe_dump({**saved, "model": "vanilla", "options": {}, "image_size": 28}))
    (other / "checkpoints").symlink_to(trained_run / "checkpoints")
    assert torch.isfinite(next(style.parameters())).all()
    return root


RUN = "{run}"
EDGES = [  # (argv, fragment of the one-sentence error); {root} is the sandbox, {run} a trained dcgan run
    (["train", "--out", "{root}/afile", "--steps", "1"], "Output folder '{root}/afile' is a file"),
    (["train", "--out", "{root}/afile/deeper", "--steps", "1"], "cannot be made because '{root}/afile' is a file"),
    (["train", "--config", "{root}/list.yaml"], "holds list; expected a mapping"),
    (["train", "--config", "{root}/blank.yaml"], "is empty; expected a mapping"),
    (["train", "--config", "{root}/unknown.yaml"], "Unknown config key 'colour'"),
    (["train", "--config", "{root}/wrongtype.yaml"], "steps='two' is invalid; expected an integer"),
    (["train", "--config", "{root}/broken.yaml"], "is not valid YAML"),
    (["train", "--config", "{root}/empty"], "is a folder; expected a YAML file"),
    (["train", "--data", "{root}/afile", "--steps", "1"], "{root}/afile"),
    (["train", "--data", "{root}/junk", "--steps", "1"], "could not be read"),
    (["train", "--resume", "{root}/other-family", "--steps", "9"], "belongs to model 'dcgan'; expected 'vanilla'"),
    (["train", "--resume", RUN, "--set", "lr_g=1"], "Options --set cannot change a resumed run"),
    (["train", "--resume", RUN], "has already played 3 steps"),
    (["sample", RUN, "--out", "{root}/s", "--n", "0"], "--n 0 is invalid"),
    (["sample", RUN, "--out", "{root}/s", "--n", "-5"], "--n -5 is invalid"),
    (["sample", RUN, "--out", "{root}/s", "--batch-size", "0"], "--batch-size 0 is invalid"),
    (["sample", RUN, "--out", "{root}/s", "--seed", "-1"], "--seed -1 is invalid"),
    (["sample", "{root}/style", "--out", "{root}/s", "--truncation", "nan"], "--truncation nan is invalid"),
    (["sample", RUN, "--out", "{root}/s", "--truncation", "0.5"], "expected a StyleGAN model"),
    (["sample", "{root}/cond", "--out", "{root}/s", "--label", "3"], "Label 3 is outside this model's classes; expected 0 to 2"),
    (["sample", "{root}/cond", "--out", "{root}/s", "--label", "-1"], "Label -1 is outside"),
    (["sample", RUN, "--out", "{root}/taken"], "Output '{root}/taken.png' already exists"),
    (["sample", RUN, "--out", "{root}/afile/s"], "Output folder '{root}/afile' is a file"),
    (["sample", RUN, "--out", "{root}/s", "--device", "banana"], "Device 'banana' is not a device name"),
    (["sample", "{root}/corrupt", "--out", "{root}/s"], "do not load"),
    (["sample", "{root}/badjson", "--out", "{root}/s"], "is not valid JSON"),
    (["sample", "{root}/empty", "--out", "{root}/s"], "holds no exported model"),
    (["sample", "{root}/afile", "--out", "{root}/s"], "holds no exported model"),
    (["export", RUN, "--out", "{root}/afile"], "already exists and is not empty"),
    (["export", RUN, "--out", "{root}/afile/model"], "cannot be made because '{root}/afile' is a file"),
    (["export", "{root}/style", "--out", "{root}/m"], "is an exported model already"),
    (["export", "{root}/empty", "--out", "{root}/m"], "has no export/ yet"),
    (["mix", "{root}/style", "--out", "{root}/m", "--cols", "0"], "--cols 0"),
    (["mix", "{root}/style", "--out", "{root}/m", "--seed", "-1"], "--seed -1 is invalid"),
    (["mix", "{root}/style", "--out", "{root}/m", "--truncation", "inf"], "--truncation inf is invalid"),
    (["mix", "{root}/style", "--out", "{root}/taken"], "Output '{root}/taken.png' already exists"),
    (["mix", "{root}/style", "--out", "{root}/afile/m"], "Output folder '{root}/afile' is a file"),
    (["mix", "{root}/style", "--out", "{root}/m", "--device", "cuda:7"], "Device 'cuda:7'"),
    (["mix", RUN, "--out", "{root}/m"], "expected a StyleGAN model"),
    (["interpolate", "{root}/style", "--out", "{root}/i", "--seeds", "1,-2"], "Seed in --seeds -2 is invalid"),
    (["interpolate", "{root}/style", "--out", "{root}/i", "--seeds", "a,b"], "Seeds 'a,b' are invalid"),
    (["interpolate", "{root}/style", "--out", "{root}/i", "--steps", "1"], "--steps 1"),
    (["interpolate", "{root}/style", "--out", "{root}/i", "--truncation", "nan"], "--truncation nan is invalid"),
    (["interpolate", "{root}/style", "--out", "{root}/taken"], "Output '{root}/taken.png' already exists"),
    (["interpolate", "{root}/style", "--out", "{root}/i", "--label", "1"], "unconditional"),
    (["reconstruct", "{root}/vae", "{root}/images", "--out", "{root}/r", "--n", "0"], "--n 0 is invalid"),
    (["reconstruct", "{root}/vae", "{root}/images", "--out", "{root}/r", "--batch-size", "0"], "--batch-size 0 is invalid"),
    (["reconstruct", "{root}/vae", "{root}/images", "--out", "{root}/r", "--seed", "-1"], "--seed -1 is invalid"),
    (["reconstruct", "{root}/vae", "{root}/nothing", "--out", "{root}/r"], "neither a file, a folder nor a dataset"),
    (["reconstruct", "{root}/vae", "{root}/afile", "--out", "{root}/r"], "is not an image"),
    (["reconstruct", "{root}/vae", "{root}/empty", "--out", "{root}/r"], "holds no images"),
    (["reconstruct", "{root}/vae", "{root}/junk", "--out", "{root}/r"], "could not be read"),
    (["reconstruct", RUN, "{root}/images", "--out", "{root}/r"], "has no encoder"),
    (["reconstruct", "{root}/vae", "{root}/images", "--out", "{root}/taken"], "Output '{root}/taken.png' already exists"),
    (["reconstruct", "{root}/vae", "{root}/images", "--out", "{root}/afile/r"], "Output folder '{root}/afile' is a file"),
    (["report", "{root}/afile"], "has no config.yaml"),
    (["report", "{root}/nothing"], "has no config.yaml"),
]


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*")) if not p.is_symlink()}


@pytest.mark.parametrize("argv,needle", EDGES, ids=[" ".join(a[:1] + a[2:3] + a[3:]) for a, _ in EDGES])
def test_every_command_answers_bad_input_with_one_sentence(capsys, sandbox, trained_run, argv, needle):
    fill = {"root": str(sandbox), "run": str(trained_run)}
    before, run_before = _tree(sandbox), _tree(trained_run)
    code, _, err = run_cli(capsys, *[a.format(**fill) for a in argv])
    assert code == 2
    assert needle.format(**fill) in err and single_sentence(err), err
    assert _tree(sandbox) == before and _tree(trained_run) == run_before  # nothing written, nothing overwritten


def test_force_replaces_an_existing_output(capsys, tmp_path, trained_run):
    (tmp_path / "s.png").write_text("old")
    code, _, err = run_cli(capsys, "sample", str(trained_run), "--n", "2", "--out", str(tmp_path / "s"), "--force")
    assert code == 0, err
    assert Image.open(tmp_path / "s.png").size[0] > 32


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


def test_export_of_the_best_checkpoint_needs_a_run_that_evaluated(capsys, tmp_path, trained_run):
    code, _, err = run_cli(capsys, "export", str(trained_run), "--checkpoint", "best", "--out", str(tmp_path / "model"))
    assert code == 2 and "no export-best/" in err and "--eval-every" in err and single_sentence(err)
    assert not (tmp_path / "model").exists()


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


def test_a_whole_number_for_a_float_setting_is_taken_as_that_float(tmp_path, capsys):
    from ganforge.config import TrainConfig, resolve_options
    from ganforge.games.registry import get_family

    cfg = TrainConfig.from_dict({"beta1": 0, "lr_g": 1})
    assert (cfg.beta1, cfg.lr_g) == (0.0, 1.0) and type(cfg.beta1) is float and type(cfg.lr_g) is float
    options = resolve_options(get_family("dcgan").options, {"r1_gamma": 2}, "dcgan")
    assert type(options.r1_gamma) is float and options.r1_gamma == 2.0
    code, _, err = run_cli(capsys, "train", "--model", "dcgan", "--steps", "1", "--batch-size", "8", "--out", str(tmp_path), "--name", "r",
                           "--option", "width=4", "--option", "z_dim=8", "--set", "beta1=0", "--set", "beta2=0.99", "--no-progress")
    assert code == 0, err  # Adam takes the betas (0.0, 0.99): before, the integer 0 stopped it
    assert yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["beta1"] == 0.0


@pytest.mark.parametrize("argv", [
    ["edit", "m", "--direction", "0", "--out", "x", "--strength", "nan"],
    ["sample", "m", "--out", "x", "--truncation", "inf"],
    ["train", "--minutes=-inf"],
    ["interpolate", "m", "--out", "x", "--truncation", "NaN"],
])
def test_nan_and_inf_are_refused_in_every_numeric_option(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "is invalid (" in err and "); expected a finite number." in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_export_on_a_full_disk_is_one_sentence_and_leaves_nothing(capsys, tmp_path, trained_run, monkeypatch):
    from safetensors import SafetensorError

    import ganforge.export as export

    def full(tensors, path):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")  # as safetensors says it

    monkeypatch.setattr(export, "save_file", full)
    code, _, err = run_cli(capsys, "export", str(trained_run), "--out", str(tmp_path / "m"))
    assert code == 2 and err.startswith("ganforge export: error: The disk is full while writing") and err.count("\n") == 1
    assert not (tmp_path / "m").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    assert run_cli(capsys, "export", str(trained_run), "--out", str(tmp_path / "m"))[0] == 0


@pytest.mark.parametrize("text,needle", [
    ("[" * 100000 + "]" * 100000, "is not valid YAML (RecursionError)"),
    ("options: {r1_gamma: .nan}\n", "Option r1_gamma=nan for model 'dcgan' is invalid; expected a finite number."),
])
def test_hostile_config_files_are_one_sentence(tmp_path, capsys, text, needle):
    (tmp_path / "c.yaml").write_text(text)
    code, _, err = run_cli(capsys, "train", "--config", str(tmp_path / "c.yaml"), "--steps", "1", "--out", str(tmp_path / "runs"))
    assert code == 2 and needle in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_generic_help_names_no_family_and_train_help_lists_them_from_the_registry(capsys):
    from ganforge.cli import build_parser
    from ganforge.games.registry import family_names, get_family

    parser, _ = build_parser()
    top = parser.format_help().lower()
    for name in family_names():
        assert not re.search(rf"\b{name}\b", top), name
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    train_help = " ".join(capsys.readouterr().out.split())
    for name in family_names():
        family = get_family(name)
        assert name in train_help and f"{name} {family.default_data}" in train_help
        if family.default_loss:
            assert f"{name} {family.default_loss}" in train_help
