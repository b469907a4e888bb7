import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.export import load_generator, save_generator
from ganforge.kinds import declare
from ganforge.latent.walks import map_seeds, mixing_grid, slerp
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.stylegan import StyleGANGenerator
from ganforge.tools.interpolate import strips


@pytest.fixture
def model(tmp_path):
    g = StyleGANGenerator(z_dim=16, w_dim=16, mapping_layers=2, image_size=32, channel_base=128, channel_max=16)
    g.mapping(torch.randn(64, 16), update_w_avg=True)
    return save_generator(g.eval(), {**declare("stylegan", "truncation", "w_space"), "image_size": 32, "channels": 1,
                                      "num_classes": 0}, tmp_path / "m")


def test_mix_grid_layout_and_content(model, tmp_path):
    assert main(["mix", str(model), "--out", str(tmp_path / "mix"), "--cols", "3", "--rows", "2"]) == 0
    picture = Image.open(tmp_path / "mix.png")
    assert picture.height == 7 * 34 + 2  # header row + 2 rows for each of 3 groups, 32 px cells, 2 px padding
    g, _ = load_generator(model)
    images, labels = mixing_grid(g, 3, 2, ["coarse", "middle", "fine"])
    assert labels == ["A", "coarse from B", "coarse from B", "middle from B", "middle from B", "fine from B", "fine from B"]
    grid = images.view(7, 4, 1, 32, 32)
    sources_a = g.synthesize(map_seeds(g, [0, 1, 2], 1.0, None, "cpu"))
    assert torch.equal(grid[0, 1:], sources_a) and torch.equal(grid[0, 0], torch.ones(1, 32, 32))
    for row in range(1, 7):
        assert (grid[row, 1:] - sources_a).abs().mean() > 1e-4  # every mixed cell differs from its A


def test_interpolate_strips_and_gif(model, tmp_path):
    assert main(["interpolate", str(model), "--out", str(tmp_path / "walk.png"), "--seeds", "3,4,5",
                 "--steps", "5", "--frames", "4"]) == 0
    assert Image.open(tmp_path / "walk.png").height == 4 * 34 + 2  # z and w strips for two pairs
    gif = Image.open(tmp_path / "walk.gif")
    assert gif.n_frames == 12 and gif.size == (128, 128)
    g, _ = load_generator(model)
    images, names = strips(g, [3, 4], 5)
    assert names == ["z 3->4", "w 3->4"]
    z_row, w_row = images[:5], images[5:]
    assert torch.allclose(z_row[0], w_row[0], atol=1e-5) and torch.allclose(z_row[-1], w_row[-1], atol=1e-5)
    assert (z_row[2] - w_row[2]).abs().max() > 1e-4  # the two paths differ in between


def test_slerp_keeps_the_norm_between_equal_norm_ends():
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path.norm(dim=1), torch.ones(5)) and torch.allclose(path[2], torch.tensor([0.5 ** 0.5] * 2))


def test_sample_with_truncation_zero_repeats_one_image(model, tmp_path):
    assert main(["sample", str(model), "--out", str(tmp_path / "s"), "--n", "6", "--truncation", "0"]) == 0
    images = np.load(tmp_path / "s.npz")["images"]
    assert images.shape == (6, 1, 32, 32) and (images == images[:1]).all()
    assert main(["sample", str(model), "--out", str(tmp_path / "t"), "--n", "6", "--truncation", "0.7"]) == 0
    assert not (np.load(tmp_path / "t.npz")["images"] == images[:1]).all()


def test_tools_refuse_other_models_and_bad_arguments(model, tmp_path, capsys):
    dcgan = save_generator(DCGANGenerator(width=4), declare("noise"), tmp_path / "dcgan")
    assert main(["mix", str(dcgan), "--out", str(tmp_path / "x")]) == 2
    assert "expected a StyleGAN model" in capsys.readouterr().err
    assert main(["interpolate", str(model), "--out", str(tmp_path / "x"), "--seeds", "1"]) == 2
    assert "fewer than two seeds" in capsys.readouterr().err
    assert main(["mix", str(model), "--out", str(tmp_path / "x"), "--groups", "coarse,tiny"]) == 2
    assert "Style groups" in capsys.readouterr().err
    assert main(["mix", str(model), "--out", str(tmp_path / "x"), "--label", "1"]) == 2
    assert "unconditional" in capsys.readouterr().err
