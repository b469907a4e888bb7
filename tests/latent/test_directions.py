"""Latent directions: SeFa, PCA of w and in z, edits, files."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.kinds import ModelKind
from ganforge.latent.directions import edit_images, find_directions, layer_rows, load_directions, resolve_levels, seed_latents
from ganforge.models.dcgan import DCGANGenerator
from ganforge.models.stylegan import StyleGANGenerator, style_groups

STYLE, NOISE = ModelKind("stylegan", truncation=True, w_space=True), ModelKind("noise")


@pytest.fixture(scope="module")
def stylegan():
    torch.manual_seed(0)
    return StyleGANGenerator(z_dim=16, w_dim=16, image_size=16, channel_max=8, mapping_layers=2).eval().requires_grad_(False)


def test_sefa_vectors_are_orthonormal_eigenvectors_ranked(stylegan):
    d = find_directions(stylegan, k=5, kind=STYLE)
    assert d.method == "sefa" and d.space == "w" and d.vectors.shape == (5, 16)
    assert torch.allclose(d.vectors @ d.vectors.t(), torch.eye(5), atol=1e-4)
    assert torch.all(d.values[:-1] >= d.values[1:])
    assert torch.all(d.scales > 0)


def _style_change(generator, levels, n):
    """Per-row-normalised change of every style the affine layers of `levels` produce when w moves by n (SeFa's objective)."""
    w = generator.w_avg.view(1, -1)
    total = 0.0
    for level in levels:
        for layer in generator.synthesis.layers[2 * level:2 * level + 2]:
            affine = layer.conv.affine if layer.modulation == "demod" else layer.adain.affine
            rows = (affine.weight * affine.weight_gain).norm(dim=1)
            total += float(((affine(w + n) - affine(w)) / rows).square().sum())
        to_rgb = generator.synthesis.to_rgb[level]
        if getattr(to_rgb, "modulated", False):
            affine = to_rgb.conv.affine
            rows = (affine.weight * affine.weight_gain).norm(dim=1)
            total += float(((affine(w + n) - affine(w)) / rows).square().sum())
    return total


@torch.no_grad()
def test_top_sefa_direction_changes_the_styles_more_than_random_unit_directions(stylegan):
    """SeFa's claim on any generator: its top direction maximises the change of the normalised styles (the image-level
    claim holds for trained generators only and is measured in benchmarks/steering.py)."""
    d = find_directions(stylegan, k=3, kind=STYLE)
    levels = d.layers
    top = _style_change(stylegan, levels, d.vectors[0])
    assert top == pytest.approx(float(d.values[0]), rel=1e-3)
    randoms = torch.nn.functional.normalize(torch.randn(50, 16, generator=torch.Generator().manual_seed(1)), dim=1)
    assert all(top > _style_change(stylegan, levels, r) for r in randoms)
    assert top > _style_change(stylegan, levels, d.vectors[2])
    fine = find_directions(stylegan, k=1, layers="fine", kind=STYLE)
    assert _style_change(stylegan, fine.layers, fine.vectors[0]) >= _style_change(stylegan, fine.layers, d.vectors[0]) - 1e-6


def test_layer_ranges_limit_which_rows_move(stylegan):
    assert resolve_levels(stylegan, "coarse") == style_groups(3)["coarse"] == [0] and layer_rows([1]) == [2, 3]
    assert resolve_levels(stylegan, "1-2") == [1, 2] and resolve_levels(stylegan, "0,2") == [0, 2]
    d = find_directions(stylegan, k=2, layers="fine", kind=STYLE)
    ws = seed_latents(stylegan, [0], kind=STYLE)
    from ganforge.latent.directions import edit_latent

    moved = edit_latent(ws, d, 0, 2.0)
    changed = (moved - ws).abs().sum(-1)[0] > 0
    assert changed.tolist() == [r in layer_rows(d.layers) for r in range(stylegan.num_ws)]
    with pytest.raises(GanforgeError, match="outside"):
        resolve_levels(stylegan, "0-9")


def test_pca_w_and_pca_z_and_file_round_trip(stylegan, tmp_path):
    w = find_directions(stylegan, "pca-w", k=3, kind=STYLE)
    assert w.space == "w" and torch.all(w.values[:-1] >= w.values[1:])
    g = DCGANGenerator(z_dim=8, image_size=16, width=8).eval()
    z = find_directions(g, k=3, kind=NOISE)
    assert z.method == "pca-z" and z.vectors.shape == (3, 8)
    images = edit_images(g, seed_latents(g, [0, 1], kind=NOISE), z, 0, [-1, 0, 1], kind=NOISE)
    assert images.shape == (6, 1, 16, 16)
    assert torch.allclose(images[1], g(seed_latents(g, [0], kind=NOISE))[0], atol=1e-5)
    path = z.save(tmp_path / "d")
    back = load_directions(path)
    assert torch.equal(back.vectors, z.vectors) and back.method == "pca-z"
    with pytest.raises(GanforgeError, match="StyleGAN"):
        find_directions(g, "sefa", kind=NOISE)


def test_cli_directions_and_edit_write_files(stylegan, tmp_path):
    from ganforge.cli import main
    from ganforge.export import save_players

    save_players({"generator": stylegan}, {"family": "stylegan", "image_size": 16, "channels": 1}, tmp_path / "m")
    assert main(["directions", str(tmp_path / "m"), "--out", str(tmp_path / "d"), "--k", "3"]) == 0
    assert (tmp_path / "d.npz").is_file() and (tmp_path / "d.png").is_file()
    assert main(["edit", str(tmp_path / "m"), "--direction", "1", "--directions", str(tmp_path / "d.npz"), "--layers", "coarse",
                 "--gif", "--out", str(tmp_path / "strip")]) == 0
    assert (tmp_path / "strip.png").is_file() and (tmp_path / "strip.gif").is_file()
    assert main(["edit", str(tmp_path / "m"), "--direction", "7", "--directions", str(tmp_path / "d.npz"), "--out", str(tmp_path / "x")]) == 2
