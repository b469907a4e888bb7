"""Counts of images, frames and samples are bounded before anything is drawn, naming the limit."""
import pytest
import torch

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.export import save_players
from ganforge.metrics.evaluate import MAX_SAMPLES as MAX_SCORED_SAMPLES
from ganforge.tools.compare import CompareSettings
from ganforge.tools.outputs import MAX_GIF_FRAMES, MAX_PICTURE_IMAGES


@pytest.fixture(scope="module")
def stylegan(tmp_path_factory):
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(z_dim=16, w_dim=16, image_size=16, channel_max=8, mapping_layers=2).eval()
    return save_players({"generator": g}, {"family": "stylegan", "image_size": 16, "channels": 1},
                        tmp_path_factory.mktemp("m") / "m")


@pytest.mark.parametrize("argv,needle", [
    (["mix", "{m}", "--cols", str(10 ** 9), "--out", "{o}"],
     f"Grid --cols 1000000000 --rows 2 (images) asks for 7,000,000,007; expected at most {MAX_PICTURE_IMAGES:,}."),
    (["interpolate", "{m}", "--frames", str(10 ** 9), "--out", "{o}"],
     f"A walk of 3 seeds x --frames 1000000000 (GIF frames) asks for 3,000,000,000; expected at most {MAX_GIF_FRAMES:,}."),
    (["interpolate", "{m}", "--steps", str(10 ** 9), "--out", "{o}"], "--steps 1000000000 (images) asks for 6,000,000,000;"),
    (["edit", "{m}", "--direction", "0", "--steps", str(10 ** 9), "--out", "{o}"], "A row of --steps 1000000000 (images) asks for"),
])
def test_counts_are_bounded_before_anything_is_drawn(stylegan, tmp_path, capsys, argv, needle):
    argv = [a.format(m=stylegan, o=tmp_path / "x") for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_compare_counts_are_bounded():
    with pytest.raises(GanforgeError, match=r"Option --grid 1000000000 \(images per model\) asks for 1,000,000,000; expected at most 512."):
        CompareSettings(grid=10 ** 9).validate()
    with pytest.raises(GanforgeError, match=f"Option --n 1000000000000 \\(samples\\) asks for .*; expected at most {MAX_SCORED_SAMPLES:,}"):
        CompareSettings(n=10 ** 12).validate()
