"""benchmarks/round_profile.py: the ops a profiled round spends its time in, by name, per round."""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import round_profile  # noqa: E402


def test_top_ops_names_the_dominant_op_with_its_calls_per_round():
    big, small = torch.randn(384, 384), torch.randn(4)

    def play():
        big @ big
        big @ big
        small + 1

    rounds = 3
    _, wall, ops = round_profile.profile_rounds(play, rounds)
    assert wall > 0
    by_name = {o["op"]: o for o in ops}
    assert ops[0]["op"] in ("aten::mm", "aten::matmul")
    assert by_name["aten::mm"]["calls_per_round"] == 2
    assert by_name["aten::add"]["calls_per_round"] == 1
    assert by_name["aten::mm"]["ms_per_round"] > by_name["aten::add"]["ms_per_round"] > 0
    assert len(ops) <= round_profile.TOP_OPS
    shares = [o["share"] for o in ops]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1 + 1e-9


def test_ops_markdown_is_one_row_per_op():
    result = {"case": "toy", "top_ops": [{"op": "aten::mm", "ms_per_round": 1.5, "calls_per_round": 2.0, "share": 0.75},
                                         {"op": "aten::add", "ms_per_round": 0.5, "calls_per_round": 1.0, "share": 0.25}]}
    lines = round_profile.ops_markdown(result).splitlines()
    assert lines[0].startswith("| toy: op |") and len(lines) == 4
    assert lines[2] == "| `aten::mm` | 1.50 | 2 | 75.0 % |"
