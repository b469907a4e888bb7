import argparse

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.export import save_generator, save_players
from ganforge.models.cyclegan import ResnetGenerator
from ganforge.models.dcgan import DCGANGenerator
from ganforge.tools import translate
from ganforge.tools.translate import collect_inputs, translate_files

INFO = {"channels": 1, "image_size": 16, "num_classes": 0, "class_names": [], "kind": "translation",
        "domains": ["thin", "thick"], "directions": {"a2b": "generator", "b2a": "generator_b2a"},
        "size_multiple": 4, "family": "cyclegan", "data": "mnist-thickness"}


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    players = {"generator": ResnetGenerator(1, 4, 1), "generator_b2a": ResnetGenerator(1, 4, 1)}
    return save_players(players, INFO, tmp_path / "model"), players


def write(path, size=(16, 16), mode="L", value=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    shape = size[::-1] if mode == "L" else (*size[::-1], 3)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8) if value is None else np.full(shape, value, np.uint8)
    Image.fromarray(pixels, mode).save(path)
    return path


def test_translates_files_and_folders_with_a_grid(model, tmp_path):
    folder, players = model
    a = write(tmp_path / "in" / "one.png")
    write(tmp_path / "dir" / "two.png", size=(40, 20), mode="RGB")  # resized, cropped, turned gray
    write(tmp_path / "dir" / "one.png")  # same stem as the file above
    (tmp_path / "dir" / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    written = translate_files(folder, [a, tmp_path / "dir"], out, direction="a2b")
    assert [p.name for p in written] == ["one.png", "one-2.png", "two.png"]
    for p in written:
        with Image.open(p) as im:
            assert im.size == (16, 16) and im.mode == "L"
    # the file holds G(x) for the decoded input
    x = torch.tensor(np.asarray(Image.open(a))).float().div(127.5).sub(1).view(1, 1, 16, 16)
    with torch.no_grad():
        expected = players["generator"](x).clamp(-1, 1).add(1).mul(127.5).round().squeeze().numpy()
    got = np.asarray(Image.open(written[0])).astype(np.float32)
    assert np.abs(got - expected).max() <= 1
    with Image.open(out / "grid.png") as grid:  # 3 rows of input, translation, reconstruction
        assert grid.size == (2 + 3 * 18, 2 + 3 * 18)


def test_direction_picks_the_other_translator(model, tmp_path):
    folder, _ = model
    src = write(tmp_path / "x.png")
    translate_files(folder, [src], tmp_path / "ab", direction="a2b", grid_rows=0)
    translate_files(folder, [src], tmp_path / "ba", direction="b2a", grid_rows=0)
    ab, ba = (np.asarray(Image.open(tmp_path / d / "x.png")) for d in ("ab", "ba"))
    assert not np.array_equal(ab, ba)
    assert not (tmp_path / "ab" / "grid.png").exists()


def test_own_size_and_fixed_size(model, tmp_path):
    folder, _ = model
    src = write(tmp_path / "big.png", size=(30, 26))
    translate_files(folder, [src], tmp_path / "own", size=0)
    with Image.open(tmp_path / "own" / "big.png") as im:
        assert im.size == (24, 24)  # shorter side 26, rounded down to a multiple of 4
    translate_files(folder, [src], tmp_path / "fixed", size=32)
    with Image.open(tmp_path / "fixed" / "big.png") as im:
        assert im.size == (32, 32)
    with pytest.raises(GanforgeError, match="multiple of 4"):
        translate_files(folder, [src], tmp_path / "bad", size=30)


def test_bad_inputs(model, tmp_path):
    folder, _ = model
    with pytest.raises(GanforgeError, match="does not exist"):
        translate_files(folder, [tmp_path / "missing.png"], tmp_path / "o")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanforgeError, match="holds no images"):
        translate_files(folder, [tmp_path / "empty"], tmp_path / "o")
    (tmp_path / "text.txt").write_text("x")
    with pytest.raises(GanforgeError, match="not an image file"):
        collect_inputs([tmp_path / "text.txt"])
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(GanforgeError, match="broken.png"):
        translate_files(folder, [broken], tmp_path / "o")
    noise = save_generator(DCGANGenerator(8, 1, 16, 4), {"channels": 1, "image_size": 16, "family": "dcgan"}, tmp_path / "dcgan")
    with pytest.raises(GanforgeError, match="not a translation model"):
        translate_files(noise, [write(tmp_path / "y.png")], tmp_path / "o")


def test_command_line(model, tmp_path, capsys):
    folder, _ = model
    write(tmp_path / "imgs" / "a.png")
    assert main(["translate", str(folder), str(tmp_path / "imgs"), "--direction", "b2a", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "a.png").is_file() and (tmp_path / "o" / "grid.png").is_file()
    assert "1 translated image" in capsys.readouterr().out
    assert main(["translate", str(folder), str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    parser = argparse.ArgumentParser()
    translate.add_arguments(parser)
    args = parser.parse_args([str(folder), "x.png", "--out", "o"])
    assert args.direction == "a2b" and args.size is None


def test_sample_refuses_a_translation_model(model, tmp_path, capsys):
    folder, _ = model
    assert main(["sample", str(folder), "--out", str(tmp_path / "s")]) == 2
    assert "ganforge translate" in capsys.readouterr().err


# --- pix2pix (paired) models ------------------------------------------------------------------------
PAIRED_INFO = {"channels": 3, "image_size": 16, "num_classes": 0, "class_names": [], "kind": "translation", "paired": True,
               "in_channels": 1, "domains": ["gray", "colour"], "directions": {"a2b": "generator"}, "size_multiple": 16,
               "family": "pix2pix", "data": "colorize:photos"}


@pytest.fixture
def paired_model(tmp_path):
    from ganforge.models.pix2pix import UNetGenerator

    torch.manual_seed(0)
    g = UNetGenerator(1, 3, width=2, n_down=4, sample_dropout=False)
    return save_players({"generator": g}, PAIRED_INFO, tmp_path / "p2p"), g


def test_paired_model_writes_input_output_target_grids(paired_model, tmp_path):
    folder, g = paired_model
    write(tmp_path / "in" / "x.png")
    write(tmp_path / "in" / "y.png")
    write(tmp_path / "targets" / "x.jpg", mode="RGB", value=200)
    write(tmp_path / "targets" / "y.png", mode="RGB", value=20)
    written = translate_files(folder, [tmp_path / "in"], tmp_path / "out", targets=tmp_path / "targets")
    with Image.open(written[0]) as im:
        assert im.size == (16, 16) and im.mode == "RGB"
    x = torch.tensor(np.asarray(Image.open(tmp_path / "in" / "x.png"))).float().div(127.5).sub(1).view(1, 1, 16, 16)
    with torch.no_grad():
        expected = g.eval()(x).clamp(-1, 1).add(1).mul(127.5).round()[0].permute(1, 2, 0).numpy()
    assert np.abs(np.asarray(Image.open(written[0])).astype(np.float32) - expected).max() <= 1
    with Image.open(tmp_path / "out" / "grid.png") as grid:  # two rows of input | output | target
        assert grid.size == (2 + 3 * 18, 2 + 2 * 18)
        pixels = np.asarray(grid.convert("RGB"))
    assert (pixels[2:18, 2 + 2 * 18:18 + 2 * 18] == 200).all()  # the target of x, third column
    translate_files(folder, [tmp_path / "in"], tmp_path / "plain")
    with Image.open(tmp_path / "plain" / "grid.png") as grid:  # no targets: input | output
        assert grid.size == (2 + 2 * 18, 2 + 2 * 18)


def test_paired_model_reads_side_by_side_inputs(paired_model, tmp_path):
    folder, _ = paired_model
    left = np.full((16, 16, 3), 10, np.uint8)
    right = np.full((16, 16, 3), 240, np.uint8)
    path = tmp_path / "pairs" / "p.png"
    path.parent.mkdir()
    Image.fromarray(np.concatenate([left, right], axis=1)).save(path)
    assert main(["translate", str(folder), str(path), "--aligned", "--out", str(tmp_path / "o")]) == 0
    with Image.open(tmp_path / "o" / "grid.png") as grid:
        pixels = np.asarray(grid.convert("RGB"))
    assert grid.size == (2 + 3 * 18, 2 + 18)
    assert (pixels[2:18, 2:18] == 10).all() and (pixels[2:18, 38:54] == 240).all()


def test_paired_model_errors(paired_model, tmp_path):
    folder, _ = paired_model
    src = write(tmp_path / "in" / "x.png")
    with pytest.raises(GanforgeError, match="translates a2b only"):
        translate_files(folder, [src], tmp_path / "o", direction="b2a")
    (tmp_path / "t").mkdir()
    with pytest.raises(GanforgeError, match="has no target in"):
        translate_files(folder, [src], tmp_path / "o", targets=tmp_path / "t")
    with pytest.raises(GanforgeError, match="at most one source of targets"):
        translate_files(folder, [src], tmp_path / "o", targets=tmp_path / "t", aligned=True)


def test_dropout_noise_is_seeded(tmp_path):
    from ganforge.models.pix2pix import UNetGenerator

    torch.manual_seed(0)
    g = UNetGenerator(1, 3, width=2, n_down=4)
    with torch.no_grad():
        for p in g.parameters():
            if p.dim() == 4:
                p.mul_(40.0)  # large weights, so the dropout noise shows in 8-bit outputs
    folder = save_players({"generator": g}, PAIRED_INFO, tmp_path / "noisy")
    src = write(tmp_path / "x.png")
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        translate_files(folder, [src], tmp_path / name, seed=seed, grid_rows=0)
    a, b, c = (np.asarray(Image.open(tmp_path / d / "x.png")) for d in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_inputs_and_existing_outputs_are_never_written_over(model, tmp_path, capsys):
    folder, _ = model
    a = write(tmp_path / "imgs" / "a.png")
    before = a.read_bytes()
    assert main(["translate", str(folder), str(tmp_path / "imgs"), "--out", str(tmp_path / "imgs"), "--force"]) == 2
    assert "is the input" in capsys.readouterr().err and a.read_bytes() == before
    out = tmp_path / "o"
    assert main(["translate", str(folder), str(a), "--out", str(out)]) == 0
    first = (out / "a.png").read_bytes()
    (out / "a.png").write_bytes(b"kept")
    assert main(["translate", str(folder), str(a), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and (out / "a.png").read_bytes() == b"kept"
    assert main(["translate", str(folder), str(a), "--out", str(out), "--force"]) == 0
    assert (out / "a.png").read_bytes() == first
    grid_named = write(tmp_path / "other" / "grid.png")  # its result would be the grid itself
    with pytest.raises(GanforgeError, match="would be one file"):
        translate_files(folder, [grid_named], tmp_path / "o2")
    assert not (tmp_path / "o2").exists() or not list((tmp_path / "o2").iterdir())


def test_a_pass_too_large_for_memory_is_refused_before_translating(model, tmp_path, monkeypatch):
    import ganforge.sampling as sampling

    folder, _ = model
    big = write(tmp_path / "big.png", size=(512, 512))
    monkeypatch.setattr(sampling, "device_memory", lambda device: 8 * 2 ** 20)  # an 8 MiB machine
    with pytest.raises(GanforgeError, match=r"Translation at 512x512 needs about .* GiB in one pass .*; expected at most .* "
                                            r"\(a smaller --size, or --batch-size\)"):
        translate_files(folder, [big], tmp_path / "o", size=0)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    assert len(translate_files(folder, [big], tmp_path / "o", size=16)) == 1
