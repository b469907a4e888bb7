"""benchmarks/round_pairs.py: per-round timings of two trees or option sets, in turn."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "round_pairs.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


def test_two_option_sets_give_pairs_and_a_table(tmp_path):
    out = run("--case", "DCGAN-32", "--rounds", "1", "--pairs", "2", "--b-options", '{"reuse_fake": true}',
              "--json", str(tmp_path / "pairs.json"))
    assert out.returncode == 0, out.stderr
    pairs = json.loads((tmp_path / "pairs.json").read_text())["pairs"]
    assert len(pairs) == 2 and all(q["a"] > 0 and q["b"] > 0 for q in pairs)
    assert "| DCGAN-32 default (MNIST) |" in out.stdout


def test_an_unknown_case_or_tree_is_one_sentence(tmp_path):
    out = run("--case", "NoSuchGAN", "--rounds", "1", "--pairs", "1")
    assert out.returncode != 0 and "'NoSuchGAN' is not one of speed.py's profile cases" in out.stderr
    out = run("--case", "DCGAN-32", "--a", str(tmp_path))
    assert out.returncode != 0 and "is not a ganforge source tree" in out.stderr
