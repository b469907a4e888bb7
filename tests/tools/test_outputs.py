"""The one output rule: never over an input, never two results to one name, never over an output without --force."""
import os
from pathlib import Path

import pytest

from ganforge.errors import GanforgeError
from ganforge.tools import outputs
from ganforge.tools.outputs import claim_outputs, picture_and_arrays


def test_outputs_are_not_replaced_unless_forced(tmp_path):
    (tmp_path / "a.png").write_text("mine")
    with pytest.raises(GanforgeError, match="already exists"):
        claim_outputs([tmp_path / "a.png", tmp_path / "a.npz"])
    assert claim_outputs([tmp_path / "a.png"], force=True) == [tmp_path / "a.png"]
    (tmp_path / "d.png").mkdir()
    with pytest.raises(GanforgeError, match="is a folder"):
        claim_outputs([tmp_path / "d.png"], force=True)
    assert (tmp_path / "a.png").read_text() == "mine"
    claim_outputs([tmp_path / "new" / "deep" / "x.png"])
    assert (tmp_path / "new" / "deep").is_dir()


@pytest.mark.parametrize("out", ["runs/edit", "runs/edit.png", "runs/edit.npz", "runs/edit.PNG"])
def test_picture_and_arrays_name_one_pair_whatever_suffix_is_given(out):
    assert picture_and_arrays(out) == (Path("runs/edit.png"), Path("runs/edit.npz"))


def test_picture_and_arrays_keep_other_dots_in_the_name():
    assert picture_and_arrays("runs/v1.2") == (Path("runs/v1.2.png"), Path("runs/v1.2.npz"))


def test_unwritable_output_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(GanforgeError, match="is not writable"):
        claim_outputs([tmp_path / "sub" / "x.png"])
    assert not (tmp_path / "sub").exists()


def test_an_input_is_never_an_output_even_with_force(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_text("input")
    for inputs in ([tmp_path / "imgs" / "a.png"], [tmp_path / "imgs"]):
        with pytest.raises(GanforgeError, match="is the input"):
            claim_outputs([tmp_path / "imgs" / "a.png"], inputs, force=True)
    os.symlink(tmp_path / "imgs", tmp_path / "link")  # the same file under another name
    with pytest.raises(GanforgeError, match="is the input"):
        claim_outputs([tmp_path / "link" / "a.png"], [tmp_path / "imgs" / "a.png"], force=True)
    assert (tmp_path / "imgs" / "a.png").read_text() == "input"


def test_two_results_never_share_a_name(tmp_path):
    with pytest.raises(GanforgeError, match="would be one file"):
        claim_outputs([tmp_path / "a-x2.png", tmp_path / "b.png", tmp_path / "." / "a-x2.png"], force=True)
    assert not list(tmp_path.iterdir())


def test_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(GanforgeError, match="is a file"):
        outputs.output_folder(tmp_path / "f")
    with pytest.raises(GanforgeError, match="is a file"):
        claim_outputs([tmp_path / "f" / "x.png"])


def test_a_failed_write_leaves_no_truncated_output_and_keeps_untouched_ones(tmp_path):
    (tmp_path / "old.png").write_text("kept")
    with pytest.raises(OSError):
        with outputs.removed_on_failure([tmp_path / "new.png", tmp_path / "old.png"]):
            (tmp_path / "new.png").write_text("half")
            raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png"] and (tmp_path / "old.png").read_text() == "kept"
