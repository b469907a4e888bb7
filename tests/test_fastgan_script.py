"""benchmarks/fastgan.py prepare: nested training folders (up to 300 Oxygen or 1,000 Papirus icons), the same 100 held out at every size."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fastgan  # noqa: E402


def icon_pool(folder: Path, count: int) -> None:
    """A prepared pool as benchmarks/ada.py leaves it: train/ and test/ of PNG files (contents do not matter here)."""
    for i in range(count):
        split = folder / ("test" if i % 10 == 0 else "train")
        split.mkdir(parents=True, exist_ok=True)
        (split / f"icon{i:03d}.png").write_bytes(b"png %d" % i)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.png")}


def test_smaller_folders_are_subsets_with_the_same_held_out_icons(tmp_path):
    icon_pool(tmp_path / fastgan.POOL, 420)
    assert fastgan.prepare(tmp_path / "big") == {"train": 300, "test": 100, "from": 420, "theme": "oxygen"}
    assert fastgan.prepare(tmp_path / "small", train=100) == {"train": 100, "test": 100, "from": 420, "theme": "oxygen"}
    big, small = names(tmp_path / "big" / "train"), names(tmp_path / "small" / "train")
    assert len(big) == 300 and len(small) == 100 and small < big
    held_out = names(tmp_path / "small" / "test")
    assert held_out == names(tmp_path / "big" / "test") and len(held_out) == 100 and not held_out & big


@pytest.mark.parametrize("count", [0, 301])
def test_a_count_outside_one_to_300_is_refused_before_anything_is_written(tmp_path, count):
    icon_pool(tmp_path / fastgan.POOL, 420)
    with pytest.raises(SystemExit, match=f"--train {count}: expected a count from 1 to 300 for the oxygen theme"):
        fastgan.prepare(tmp_path / "x", train=count)
    assert not (tmp_path / "x").exists()


def test_the_papirus_theme_gives_1000_training_icons_from_its_own_pool_with_the_300_nested(tmp_path):
    icon_pool(tmp_path / fastgan.THEMES["papirus"].pool, 1150)
    assert fastgan.prepare(tmp_path / "q1000", theme="papirus") == {"train": 1000, "test": 100, "from": 1150, "theme": "papirus"}
    fastgan.prepare(tmp_path / "q300", train=300, theme="papirus")
    big, small = names(tmp_path / "q1000" / "train"), names(tmp_path / "q300" / "train")
    assert len(big) == 1000 and len(small) == 300 and small < big
    assert names(tmp_path / "q300" / "test") == names(tmp_path / "q1000" / "test")
    assert not names(tmp_path / "q1000" / "test") & big
    with pytest.raises(SystemExit, match="--train 1001: expected a count from 1 to 1000 for the papirus theme"):
        fastgan.prepare(tmp_path / "x", train=1001, theme="papirus")


def test_a_pool_too_small_for_the_held_out_icons_is_refused_before_anything_is_written(tmp_path):
    icon_pool(tmp_path / fastgan.THEMES["papirus"].pool, 1099)
    with pytest.raises(SystemExit, match="holds 1099 icons; expected at least 1100"):
        fastgan.prepare(tmp_path / "x", train=100, theme="papirus")
    assert not (tmp_path / "x").exists()


def test_the_128px_oxygen_theme_draws_from_its_own_pool_at_128px():
    chosen = fastgan.THEMES["oxygen-128"]
    assert chosen.size == 128 and chosen.source.name == "128x128" and chosen.pool != fastgan.THEMES["oxygen"].pool
    assert fastgan.THEMES["oxygen"].size == 64 and chosen.most == fastgan.THEMES["oxygen"].most
