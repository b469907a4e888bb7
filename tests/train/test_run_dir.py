"""Run folders: where they may be made, and reopening one to resume (even one killed before its first checkpoint)."""
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.runlog import read_metrics
from ganforge.train.api import train
from ganforge.train.run_dir import new_run, open_run


def tiny(tmp_path, **kw):
    base = dict(model="dcgan", data="mnist", steps=4, batch_size=8, out=str(tmp_path), log_every=2,
                sample_every=100, checkpoint_every=100, copy_check_n=0, options={"width": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


def killed_before_first_checkpoint(tmp_path, name):
    """A run folder as `new_run` leaves it, plus what a run killed at step 3 had written: some logs, a grid."""
    cfg, run_dir = new_run(tiny(tmp_path, name=name))
    with open(run_dir / "metrics.jsonl", "w") as f:
        for step in (1, 2, 3):
            f.write(json.dumps({"step": step, "loss_d": 123.0, "loss_g": 456.0}) + "\n")
        f.write('{"step": 4, "loss_d": 1')  # the line the kill cut short
    (run_dir / "samples").mkdir()
    (run_dir / "samples" / "step_00000000.png").write_bytes(b"stale")
    (run_dir / "checkpoints" / ".tmp-step_00000004-1").mkdir(parents=True)  # a checkpoint write cut short
    return run_dir


def test_open_run_without_a_checkpoint_starts_from_step_zero(tmp_path):
    run_dir = killed_before_first_checkpoint(tmp_path, "k")
    cfg, folder, checkpoint = open_run(run_dir)
    assert (folder, checkpoint) == (run_dir, None) and cfg.name == "k" and cfg.steps == 4


def test_resume_of_a_run_killed_before_its_first_checkpoint_equals_a_fresh_run(tmp_path):
    fresh = train(tiny(tmp_path, name="fresh"), progress=False)
    run_dir = killed_before_first_checkpoint(tmp_path, "killed")
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    a = load_file(str(fresh / "checkpoints/step_00000004/state.safetensors"))
    b = load_file(str(run_dir / "checkpoints/step_00000004/state.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    expected, _ = read_metrics(fresh / "metrics.jsonl")
    got, _ = read_metrics(run_dir / "metrics.jsonl")
    drop = ("time",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in got] == [{k: v for k, v in r.items() if k not in drop} for r in expected]
    assert (run_dir / "samples" / "step_00000000.png").read_bytes() == (fresh / "samples" / "step_00000000.png").read_bytes()


def test_out_that_is_a_file_is_refused_and_left_untouched(tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    for where in (out, out / "deeper"):
        with pytest.raises(GanforgeError, match=f"{out.name}' is a file; expected --out to name a folder for run directories"):
            new_run(tiny(tmp_path, out=str(where), name="r"))
    assert out.read_text() == "mine"


def test_unwritable_out_is_refused(tmp_path, monkeypatch):
    import ganforge.atomic as atomic_module  # where the writable-folder check lives

    monkeypatch.setattr(atomic_module.os, "access", lambda path, mode: Path(path) != tmp_path / "ro")
    (tmp_path / "ro").mkdir()
    with pytest.raises(GanforgeError, match=r"'.*ro' is not writable"):
        new_run(tiny(tmp_path, out=str(tmp_path / "ro" / "runs"), name="r"))
    assert not any((tmp_path / "ro").iterdir())


def test_a_folder_that_cannot_be_made_is_one_sentence(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(GanforgeError, match=r"cannot be created \(Permission denied\)"):
        new_run(tiny(tmp_path, name="r"))


@pytest.mark.parametrize("name", ["a/b", "..", ".", "", " padded", "x" * 256, "a\\b"])
def test_unusable_run_names_are_refused(tmp_path, name):
    with pytest.raises(GanforgeError, match="Run name"):
        new_run(tiny(tmp_path, name=name))
    assert not any(tmp_path.iterdir())


def test_a_new_run_on_a_full_disk_leaves_no_half_made_folder(tmp_path, monkeypatch):
    import errno

    import ganforge.train.run_dir as run_dir_module

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(run_dir_module, "write_text_atomic", full)
    with pytest.raises(GanforgeError, match=r"cannot be created \(No space left on device\); expected a writable --out folder"):
        new_run(tiny(tmp_path, name="r"))
    assert not (tmp_path / "r").exists()
    monkeypatch.undo()
    assert new_run(tiny(tmp_path, name="r"))[1] == tmp_path / "r"  # the same command runs again
