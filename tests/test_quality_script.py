"""benchmarks/quality.py: ranking the families by FD against ranking them by TF-Inception FID."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import quality  # noqa: E402


def test_ranks_share_ties():
    assert quality.ranks([3.0, 1.0, 2.0]) == [3.0, 1.0, 2.0]
    assert quality.ranks([5.0, 1.0, 5.0, 0.5]) == [3.5, 2.0, 3.5, 1.0]


def rows(fd, fid):
    real = {"model": "real data (MNIST train vs test)", "seed": 0, "fd": 0.1, "fid_tf": 1.0}
    return [real] + [{"model": m, "seed": 0, "fd": a, "fid_tf": b} for m, a, b in zip("abcd", fd, fid)]


def test_agreeing_orders_have_rho_one_and_no_disagreement():
    out = quality.ranking_agreement(rows([1, 2, 3, 4], [10, 20, 30, 40]))
    assert out["spearman"] == pytest.approx(1.0)
    assert out["disagreements"] == [] and len(out["models"]) == 4  # the real-data row is not a model


def test_swapped_pair_is_named_and_lowers_rho():
    out = quality.ranking_agreement(rows([1, 2, 3, 4], [10, 30, 20, 40]))
    assert out["spearman"] == pytest.approx(0.8)  # 1 - 6 * 2 / (4 * 15)
    assert out["disagreements"] == ["b (seed 0) vs c (seed 0): FD says first is better, FID says second"]


def test_reversed_orders_have_rho_minus_one():
    assert quality.ranking_agreement(rows([1, 2, 3], [3, 2, 1]))["spearman"] == pytest.approx(-1.0)
