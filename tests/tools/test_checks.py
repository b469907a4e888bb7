"""The tools' argument checks: one sentence naming the value; outputs never replaced unless asked."""
from pathlib import Path

import pytest

from ganforge.errors import GanforgeError
from ganforge.sampling import parse_device
from ganforge.tools import checks


def test_numbers_out_of_range_are_named():
    assert checks.positive(3, "--n") == 3 and checks.seed(2 ** 32 - 1) == 2 ** 32 - 1 and checks.truncation(-0.5) == -0.5
    with pytest.raises(GanforgeError, match="--n 0 is invalid"):
        checks.positive(0, "--n")
    with pytest.raises(GanforgeError, match="--seed 4294967296 is invalid"):
        checks.seed(2 ** 32)
    with pytest.raises(GanforgeError, match="--truncation nan is invalid"):
        checks.truncation(float("nan"))


def test_outputs_are_not_replaced_unless_forced(tmp_path):
    (tmp_path / "a.png").write_text("mine")
    with pytest.raises(GanforgeError, match="already exists"):
        checks.output_files([tmp_path / "a.png", tmp_path / "a.npz"])
    assert checks.output_files([tmp_path / "a.png"], force=True) == [tmp_path / "a.png"]
    (tmp_path / "d.png").mkdir()
    with pytest.raises(GanforgeError, match="is a folder"):
        checks.output_files([tmp_path / "d.png"], force=True)
    assert (tmp_path / "a.png").read_text() == "mine"
    checks.output_files([tmp_path / "new" / "deep" / "x.png"])
    assert (tmp_path / "new" / "deep").is_dir()


def test_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(checks.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(GanforgeError, match="is not writable"):
        checks.output_files([tmp_path / "sub" / "x.png"])
    assert not (tmp_path / "sub").exists()


@pytest.mark.parametrize("name,needle", [("banana", "not a device name"), ("meta", "not supported")])
def test_device_names_are_checked(name, needle):
    assert parse_device("cpu").type == "cpu"
    with pytest.raises(GanforgeError, match=needle):
        parse_device(name)
