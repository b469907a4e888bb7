"""Projection into W: recovers the generator's own image; LPIPS from user weights."""
import pytest
import torch
from safetensors.torch import save_file

from ganforge.errors import GanforgeError
from ganforge.latent.directions import seed_latents
from ganforge.latent.projection import LPIPS, load_lpips, ms_ssim_loss, project, psnr


@pytest.fixture(scope="module")
def stylegan():
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    return StyleGANGenerator(z_dim=16, w_dim=16, image_size=16, channel_max=8, mapping_layers=2, noise=False).eval().requires_grad_(False)


def test_projection_recovers_an_image_the_generator_made(stylegan):
    ws = seed_latents(stylegan, [3])
    target = stylegan.synthesize(ws)
    result = project(stylegan, target, steps=120, snapshots=4)
    start = stylegan.synthesize(stylegan.w_avg.view(1, 1, -1).expand(1, stylegan.num_ws, -1))
    assert psnr(result.image, target) > psnr(start, target) + 3
    assert psnr(result.image, target) > 25
    assert (result.ws[0, 0] - ws[0, 0]).norm() < (ws[0, 0] - stylegan.w_avg).norm()
    assert len(result.snapshots) == 4 and result.ws.shape == (1, stylegan.num_ws, 16)
    assert result.losses[-1] < result.losses[0]


def test_projection_refuses_a_wrong_model_or_shape(stylegan):
    from ganforge.models.dcgan import DCGANGenerator

    with pytest.raises(GanforgeError, match="StyleGAN"):
        project(DCGANGenerator(z_dim=8, image_size=16, width=8), torch.zeros(1, 1, 16, 16))
    with pytest.raises(GanforgeError, match="shape"):
        project(stylegan, torch.zeros(1, 3, 16, 16))


def test_ms_ssim_loss_is_zero_for_equal_images_and_grows_with_difference():
    a = torch.rand(1, 1, 32, 32) * 2 - 1
    assert float(ms_ssim_loss(a, a)) < 1e-4
    assert float(ms_ssim_loss(a, a + 0.5 * torch.randn_like(a))) > 0.05


def test_lpips_loads_user_weights_of_the_right_shape(tmp_path):
    torch.manual_seed(0)
    reference = LPIPS()
    state = {f"features.{k}": torch.randn_like(v) * 0.05 for k, v in reference.features.state_dict().items()}
    state.update({f"lin{i}.model.1.weight": torch.rand_like(p) for i, p in enumerate(reference.lins)})
    save_file(state, str(tmp_path / "lpips.safetensors"))
    judge = load_lpips(tmp_path / "lpips.safetensors")
    a = torch.rand(2, 1, 32, 32) * 2 - 1
    assert torch.allclose(judge(a, a), torch.zeros(2), atol=1e-6)
    assert torch.all(judge(a, a.flip(-1)) > 0)
    del state["lin4.model.1.weight"]
    save_file(state, str(tmp_path / "short.safetensors"))
    with pytest.raises(GanforgeError, match="lin4"):
        load_lpips(tmp_path / "short.safetensors")
