"""benchmarks/round_pairs.py: per-round timings of two trees or option sets, in turn."""
import json
import shutil
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


def test_each_process_plays_its_own_tree_and_stops_at_the_time_cap(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__"))
    out = run("--case", "DCGAN-32", "--a", str(tree), "--rounds", "16", "--seconds", "0", "--pairs", "1",
              "--json", str(tmp_path / "pairs.json"))
    assert out.returncode == 0, out.stderr
    (pair,) = json.loads((tmp_path / "pairs.json").read_text())["pairs"]
    assert Path(pair["a_process"]["ganforge"]) == tree / "src"
    assert Path(pair["b_process"]["ganforge"]) == ROOT / "src"
    assert pair["a_process"]["rounds"] == pair["b_process"]["rounds"] == 1  # the cap ends the timing after one round
    assert pair["a_process"]["governor"] and pair["b_process"]["governor"]


def test_beside_hog_reaches_every_timing_process(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import busy
    import round_pairs

    seen = []

    def fake_child(cmd, env, beside_hog, seconds):
        seen.append(beside_hog)
        return {"case": "DCGAN-32", "s_per_round": 1.0}

    monkeypatch.setattr(busy, "timed_child", fake_child)
    monkeypatch.setattr(round_pairs.signal, "signal", lambda *_: None)  # main's SIGTERM handler stays out of pytest
    monkeypatch.setattr(sys, "argv", ["round_pairs.py", "--case", "DCGAN-32", "--pairs", "2", "--beside-hog", "--json", str(tmp_path / "p.json")])
    round_pairs.main()
    assert seen == [True] * 4 and json.loads((tmp_path / "p.json").read_text())["args"]["beside_hog"] == "True"
