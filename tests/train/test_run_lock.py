"""A run folder belongs to one process: a second trainer is refused in one sentence; a killed holder frees it."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.train.run_lock import RunLock

HOLD = textwrap.dedent("""
    import sys, time
    from ganforge.train.run_lock import RunLock
    lock = RunLock(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
""")


@pytest.fixture
def holder(tmp_path):
    """Another process holding the lock of tmp_path/run."""
    (tmp_path / "run").mkdir()
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "run")], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    yield process
    process.kill()
    process.wait()


def test_a_second_process_is_refused_and_a_killed_holder_leaves_no_stuck_lock(tmp_path, holder):
    with pytest.raises(GanforgeError, match=f"is being trained by process {holder.pid}; expected one process per run"):
        RunLock(tmp_path / "run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = RunLock(tmp_path / "run")  # the kernel dropped the dead holder's lock
    with pytest.raises(GanforgeError, match="is being trained"):
        _lock_in_child(tmp_path / "run")
    lock.release()
    RunLock(tmp_path / "run").release()


def test_resume_of_a_run_in_training_is_refused_before_anything_is_touched(tmp_path, holder, capsys):
    run = tmp_path / "run"
    (run / "config.yaml").write_text("model: dcgan\n")
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    assert main(["train", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is being trained by process" in err and err.count("\n") == 1
    assert (run / "metrics.jsonl").read_text() == '{"step": 1}\n'


def _lock_in_child(run):
    """Try the lock from another process; raise its one-sentence refusal here."""
    code = "import sys\nfrom ganforge.train.run_lock import RunLock\nRunLock(sys.argv[1])"
    done = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, timeout=60)
    if done.returncode:
        raise GanforgeError(done.stderr.strip().splitlines()[-1])


def test_a_released_lock_leaves_the_folder_as_it_was(tmp_path):
    lock = RunLock(tmp_path)
    assert (tmp_path / ".lock").read_text() == str(os.getpid())
    lock.release()
    assert not list(tmp_path.iterdir())
    lock.release()  # twice is harmless
