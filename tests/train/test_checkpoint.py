import json
import os

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.train.checkpoint import Checkpoints, read_checkpoint, read_training_state
from ganforge.train.state_io import join_state, split_state


def test_state_round_trip_keeps_types_and_int_keys():
    state = {"opt": {0: {"step": torch.tensor(3.0), "exp": torch.ones(2)}}, "betas": (0.5, 0.999),
             "groups": [{"lr": 2e-4, "params": [0, 1]}], "name": "x", "none": None}
    skeleton, tensors = split_state(state)
    json.dumps(skeleton)
    back = join_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["opt"][0]["exp"].tolist() == [1.0, 1.0] and back["betas"] == (0.5, 0.999)
    assert back["groups"] == state["groups"] and back["none"] is None


def test_latest_survives_an_interrupted_write(tmp_path):
    ckpts = Checkpoints(tmp_path, keep=2)
    for step in (1, 2, 3):
        ckpts.save({"w": torch.full((2,), float(step))}, step)
    assert sorted(p.name for p in (tmp_path / "checkpoints").glob("step_*")) == ["step_00000002", "step_00000003"]
    # a write killed half-way leaves only a hidden temporary folder behind
    broken = tmp_path / "checkpoints" / ".tmp-step_00000004-999"
    broken.mkdir()
    (broken / "state.json").write_text("{")
    latest = ckpts.latest()
    assert latest.name == "step_00000003"
    assert read_checkpoint(latest)["w"].tolist() == [3.0, 3.0]


def test_corrupt_and_foreign_checkpoints_are_clear_errors(tmp_path):
    folder = Checkpoints(tmp_path).save({"w": torch.zeros(1)}, 1)
    (folder / "state.safetensors").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="corrupt"):
        read_checkpoint(folder)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "meta.json").write_text(json.dumps({"format": "other/1"}))
    with pytest.raises(GanforgeError, match="expected 'ganforge-checkpoint/1'"):
        read_checkpoint(foreign)
    with pytest.raises(GanforgeError, match="meta.json"):
        read_checkpoint(tmp_path / "nothing")


@pytest.fixture
def two_runs(tmp_path):
    """(checkpoints of run a at steps 1 and 2, checkpoints of run b at step 5)."""
    a, b = Checkpoints(tmp_path / "a"), Checkpoints(tmp_path / "b")
    for step in (1, 2):
        a.save({"w": torch.full((1,), float(step))}, step)
    b.save({"w": torch.full((1,), 5.0)}, 5)
    return a, b


@pytest.mark.parametrize("pointer", ["absolute", "parent", "binary", "long", "folder", "link"])
def test_latest_never_leads_outside_its_run(two_runs, pointer):
    a, b = two_runs
    latest = a.root / "latest"
    if pointer in ("folder", "link"):
        latest.unlink()
        latest.mkdir() if pointer == "folder" else latest.symlink_to(b.root / "latest")
    else:
        latest.write_bytes({"absolute": str(b.root / "step_00000005").encode(), "parent": b"../../b/checkpoints/step_00000005",
                            "binary": b"\xff\xfe\x00step", "long": b"step_00000002" * 100}[pointer])
    with pytest.raises(GanforgeError, match=r"^Checkpoint pointer .*; expected .*step_XXXXXXXX") as caught:
        a.latest()
    assert "\n" not in str(caught.value)


def test_a_symlinked_step_folder_is_never_followed(two_runs):
    a, b = two_runs
    import shutil

    shutil.rmtree(a.root / "step_00000002")
    (a.root / "step_00000002").symlink_to(b.root / "step_00000005", target_is_directory=True)
    with pytest.raises(GanforgeError, match="is a symbolic link; expected a step folder inside"):
        a.latest()
    (a.root / "latest").unlink()  # without a pointer, the link is skipped: the last real folder is the latest
    assert a.latest().name == "step_00000001"
    with pytest.raises(GanforgeError, match="symbolic link"):
        read_checkpoint(a.root / "step_00000002")


def test_leftovers_of_dead_writers_go_and_those_of_live_ones_stay(tmp_path):
    import subprocess
    import sys

    ckpts = Checkpoints(tmp_path)
    ckpts.save({"w": torch.zeros(1)}, 1)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    for name in (f".step_00000002.tmp{dead}", f".step_00000001.old{dead}", f".step_00000003.tmp{os.getpid()}"):
        (ckpts.root / name).mkdir()
        (ckpts.root / name / "state.json").write_text("{")
    (ckpts.root / f".latest.tmp{dead}").write_text("step_00000002")
    (tmp_path / f".export.tmp{dead}").mkdir()
    removed = ckpts.remove_leftovers()
    assert sorted(p.name for p in removed) == sorted([f".step_00000002.tmp{dead}", f".step_00000001.old{dead}",
                                                      f".latest.tmp{dead}", f".export.tmp{dead}"])
    assert (ckpts.root / f".step_00000003.tmp{os.getpid()}").is_dir() and ckpts.latest().name == "step_00000001"


def _good_state():
    return {"step": 3, "elapsed_seconds": 1.5, "family": "dcgan", "game": {}, "source": {}, "rng": {"torch": torch.get_rng_state()}}


@pytest.mark.parametrize("edit,needle", [
    (lambda s: s.pop("game"), "no 'game' section"),
    (lambda s: s.update(step="3"), "step='3'"),
    (lambda s: s.update(elapsed_seconds=float("nan")), "finite seconds"),
    (lambda s: s.update(step=-1), "a step >= 0"),
    (lambda s: s["rng"].update(torch=torch.full((4,), float("nan"))), "torch RNG state of torch.float32"),
    (lambda s: s.update(ema=[1]), "ema of type list"),
])
def test_edited_state_json_is_one_sentence(tmp_path, edit, needle):
    state = _good_state()
    folder = Checkpoints(tmp_path).save(state, 3)
    assert read_training_state(folder)["step"] == 3
    edit(state)
    folder = Checkpoints(tmp_path).save(state, 4)
    with pytest.raises(GanforgeError, match=needle) as caught:
        read_training_state(folder)
    assert "state.json was edited or damaged" in str(caught.value)


def test_state_json_edited_by_hand_is_refused(tmp_path):
    folder = Checkpoints(tmp_path).save(_good_state(), 3)
    skeleton = json.loads((folder / "state.json").read_text())
    skeleton["elapsed_seconds"] = "soon"
    (folder / "state.json").write_text(json.dumps(skeleton))
    with pytest.raises(GanforgeError, match="elapsed_seconds='soon'"):
        read_training_state(folder)


def test_a_full_disk_while_saving_is_one_sentence_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch):
    from safetensors import SafetensorError

    import ganforge.train.state_io as state_io
    from ganforge.cli import main

    real_save, calls = state_io.save_file, {"n": 0}

    def full(tensors, path):
        calls["n"] += 1
        if calls["n"] > 1:
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")  # as safetensors says it
        real_save(tensors, path)

    monkeypatch.setattr(state_io, "save_file", full)
    argv = ["train", "--model", "dcgan", "--steps", "4", "--batch-size", "8", "--option", "width=4", "--option", "z_dim=8",
            "--set", "checkpoint_every=2", "--set", "sample_every=100", "--set", "copy_check_n=0", "--out", str(tmp_path), "--name", "r",
            "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "The disk is full while saving step 4" in err
    assert "its last good checkpoint step_00000002 is kept" in err and "resume with --resume" in err
    root = tmp_path / "r" / "checkpoints"
    assert Checkpoints(tmp_path / "r").latest().name == "step_00000002" and read_checkpoint(root / "step_00000002")["step"] == 2
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    assert main(["train", "--resume", str(tmp_path / "r"), "--no-progress"]) == 0
    assert (root / "latest").read_text() == "step_00000004"
