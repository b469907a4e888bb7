"""benchmarks/ada.py prepare: a theme's PNG and SVG icons, 64 px RGB on white, copies dropped, a seeded split."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ada  # noqa: E402

SQUARE = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
          '<rect x="16" y="16" width="32" height="32" fill="#ff0000"/></svg>')


def png(path: Path, colour, size: int = 64) -> None:
    """An icon: a coloured square in the middle of a transparent canvas."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    im.paste(Image.new("RGBA", (size // 2, size // 2), colour), (size // 4, size // 4))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def pixels(folder: Path) -> list[np.ndarray]:
    return [np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))]


def test_pngs_become_64px_rgb_on_white_without_copies_or_links(tmp_path):
    source = tmp_path / "theme"
    png(source / "apps" / "a.png", (255, 0, 0, 255))
    png(source / "apps" / "b.png", (0, 0, 255, 255), size=32)
    png(source / "places" / "c.png", (0, 255, 0, 255))
    shutil.copyfile(source / "apps" / "a.png", source / "places" / "a-copy.png")
    (source / "places" / "link.png").symlink_to(source / "apps" / "b.png")
    result = ada.prepare(tmp_path / "out", source, held_out=1 / 3)
    assert result == {"train": 2, "test": 1, "source": str(source), "unrendered": 0}
    images = pixels(tmp_path / "out" / "train") + pixels(tmp_path / "out" / "test")
    assert len(images) == 3 and all(im.shape == (64, 64, 3) for im in images)
    assert all((im[0, 0] == 255).all() for im in images)  # transparency became white
    assert sorted(tuple(im[32, 32]) for im in images) == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]


def test_a_missing_theme_names_its_package(tmp_path):
    with pytest.raises(SystemExit, match="expected the papirus-icon-theme package"):
        ada.prepare(tmp_path / "out", tmp_path / "nowhere", package="papirus-icon-theme")


def test_svgs_without_rsvg_convert_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    (tmp_path / "theme").mkdir()
    (tmp_path / "theme" / "square.svg").write_text(SQUARE)
    monkeypatch.setattr(ada.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit, match="rsvg-convert was not found; expected the librsvg2-bin package"):
        ada.prepare(tmp_path / "out", tmp_path / "theme")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert (Debian librsvg2-bin) is not installed")
def test_svgs_are_rendered_and_one_that_does_not_render_is_counted(tmp_path):
    source = tmp_path / "theme"
    source.mkdir()
    (source / "square.svg").write_text(SQUARE)
    (source / "broken.svg").write_text("<svg this is not")
    result = ada.prepare(tmp_path / "out", source, held_out=0)
    assert result["train"] == 1 and result["unrendered"] == 1
    (image,) = pixels(tmp_path / "out" / "train")
    assert tuple(image[32, 32]) == (255, 0, 0) and tuple(image[2, 2]) == (255, 255, 255)


def test_a_size_of_128_resizes_every_icon_to_128px(tmp_path):
    source = tmp_path / "theme"
    png(source / "apps" / "big.png", (255, 0, 0, 255), size=256)
    png(source / "apps" / "small.png", (0, 0, 255, 255), size=64)
    ada.prepare(tmp_path / "out", source, held_out=0, size=128)
    images = pixels(tmp_path / "out" / "train")
    assert [im.shape for im in images] == [(128, 128, 3), (128, 128, 3)]
    assert sorted(tuple(im[64, 64]) for im in images) == [(0, 0, 255), (255, 0, 0)]
    assert all((im[2, 2] == 255).all() for im in images)
