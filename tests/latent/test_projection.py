"""Projection into W: recovers the generator's own image; LPIPS from user weights."""
import pytest
import torch
from safetensors.torch import save_file

from ganforge.errors import GanforgeError
from ganforge.latent.directions import seed_latents
from ganforge.latent.projection import LPIPS, load_lpips, ms_ssim_loss, project
from ganforge.metrics.scores.psnr_ssim import psnr_rgb as psnr

pytestmark = pytest.mark.usefixtures("one_thread")


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
    # measured: w_avg starts at 23.5 dB; 10 steps reach 26.5 dB (w distance 1.71 of 1.73), 120 steps 74.7 dB (0.006)
    assert psnr(start, target) < 25
    assert psnr(result.image, target) > 40
    assert (result.ws[0, 0] - ws[0, 0]).norm() < 0.1 * (ws[0, 0] - stylegan.w_avg).norm()
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


def test_without_noise_optimisation_the_models_own_noise_maps_stay():
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(z_dim=16, w_dim=16, image_size=16, channel_max=8, mapping_layers=2).eval().requires_grad_(False)
    with torch.no_grad():
        for m in g.modules():
            if hasattr(m, "noise_const"):
                m.weight.fill_(0.5)  # noise that shows in the image
    before = [m.noise_const.clone() for m in g.modules() if hasattr(m, "noise_const")]
    result = project(g, g.synthesize(seed_latents(g, [3])), steps=5, optimize_noise=False, snapshots=0)
    assert result.noise == []
    assert all(torch.equal(a, m.noise_const) for a, m in zip(before, [m for m in g.modules() if hasattr(m, "noise_const")]))
    assert torch.allclose(result.image, g.synthesize(result.ws), atol=1e-5)  # the result is drawn with the model's own maps
    optimised = project(g, g.synthesize(seed_latents(g, [3])), steps=5, snapshots=0)
    assert len(optimised.noise) == len(before) and not torch.allclose(optimised.image, g.synthesize(optimised.ws), atol=1e-3)
