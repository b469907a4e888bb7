"""atomic.py: folders and files replaced whole, with ordinary permissions."""
import os
import stat

import pytest

from ganforge.atomic import file_written_atomically, write_folder_atomic, write_json_atomic, write_text_atomic
from ganforge.export import save_generator
from ganforge.models.dcgan import DCGANGenerator


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_exported_weights_are_readable_by_others(tmp_path, umask_022):
    folder = save_generator(DCGANGenerator(z_dim=8, width=8), {"family": "dcgan"}, tmp_path / "model")
    weights = folder / "generator.safetensors"
    assert _mode(weights) == 0o644 and _mode(folder / "config.json") == 0o644
    assert _mode(folder) == 0o755


def test_a_failing_fill_leaves_the_old_folder_whole_and_no_temporary(tmp_path):
    target = tmp_path / "out"
    write_folder_atomic(target, lambda tmp: (tmp / "a.txt").write_text("old"))

    def broken(tmp):
        (tmp / "a.txt").write_text("new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_folder_atomic(target, broken)
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replacing_a_folder_drops_files_the_new_one_lacks(tmp_path):
    target = tmp_path / "out"
    write_folder_atomic(target, lambda tmp: [(tmp / n).write_text(n) for n in ("a", "b")])
    write_folder_atomic(target, lambda tmp: (tmp / "c").write_text("c"))
    assert sorted(p.name for p in target.iterdir()) == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_text_written_atomically_has_ordinary_permissions(tmp_path, umask_022):
    path = tmp_path / "latest"
    write_text_atomic(path, "step_00000010")
    write_text_atomic(path, "step_00000020")
    assert path.read_text() == "step_00000020" and _mode(path) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["latest"]


def test_json_written_atomically_replaces_the_old_file_and_makes_its_folder(tmp_path):
    import json

    path = tmp_path / "new" / "scores.json"
    write_json_atomic(path, {"fd": 1.5, "n": 2})
    assert json.loads(path.read_text()) == {"fd": 1.5, "n": 2}
    write_json_atomic(path, {"n": 3})
    assert json.loads(path.read_text()) == {"n": 3} and sorted(p.name for p in path.parent.iterdir()) == ["scores.json"]
    with pytest.raises(TypeError):
        write_json_atomic(path, {"bad": object()})
    assert json.loads(path.read_text()) == {"n": 3}


def test_a_file_written_atomically_appears_whole_or_not_at_all(tmp_path, umask_022):
    path = tmp_path / "clip.mp4"
    with file_written_atomically(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".clip.mp4.tmp")
        tmp.write_bytes(b"first")
        assert not path.exists()
    assert path.read_bytes() == b"first" and _mode(path) == 0o644
    with pytest.raises(KeyboardInterrupt):
        with file_written_atomically(path) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert path.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
