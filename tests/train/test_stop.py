"""SIGTERM and SIGINT save a checkpoint on the way out, say so, and the run resumes bit for bit."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from ganforge.runlog import read_metrics

FLAGS = ["--model", "dcgan", "--data", "mnist", "--batch-size", "8", "--option", "width=4", "--option", "z_dim=8",
         "--set", "log_every=1", "--set", "sample_every=100000", "--set", "checkpoint_every=100000", "--set", "copy_check_n=0",
         "--no-progress"]


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # every process computes alike


def _train(*args):
    """`ganforge train ARGS` in a process of its own; its exit code."""
    return subprocess.run([sys.executable, "-m", "ganforge", "train", *args], env=ENV, capture_output=True, timeout=200).returncode


def _stop_after_a_few_rounds(run, signum):
    """Start a long run in a real process, send `signum` once it has logged 3 rounds; (exit code, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "ganforge", "train", *FLAGS, "--steps", "100000",
                                "--out", str(run.parent), "--name", run.name], stderr=subprocess.PIPE, text=True, env=ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        log = run / "metrics.jsonl"
        if log.is_file() and log.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    _, err = process.communicate(timeout=150)
    return process.returncode, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_that_resumes_bit_for_bit(tmp_path, signum):
    run = tmp_path / "stopped"
    code, err = _stop_after_a_few_rounds(run, signum)
    name = signal.Signals(signum).name
    assert code == 128 + signum, err
    assert f"stopped by {name} at step" in err and "was saved, resume with --resume" in err
    step = int(err.split(" at step ")[1].split(";")[0])
    latest = (run / "checkpoints" / "latest").read_text()
    assert latest == f"step_{step:08d}" and step >= 3 and f"checkpoint {latest} was saved" in err
    total = step + 2
    assert _train("--resume", str(run), "--steps", str(total), "--no-progress") == 0
    assert _train(*FLAGS, "--steps", str(total), "--out", str(tmp_path), "--name", "straight") == 0
    last = f"step_{total:08d}"
    a = load_file(str(tmp_path / "straight" / "checkpoints" / last / "state.safetensors"))
    b = load_file(str(run / "checkpoints" / last / "state.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    records, _ = read_metrics(run / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, total + 1))
