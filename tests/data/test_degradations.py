import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import j1

from ganforge.config import TrainConfig, parse_assignment, resolve_options
from ganforge.data.degradations import gaussian_noise, jpeg, levels, poisson_noise, resize
from ganforge.data.kernels import delta, filter2d, flush_subnormal, gaussian, generalized_gaussian, plateau, sinc
from ganforge.data.realesrgan import RealESRGANConfig, RealESRGANDegradation
from ganforge.data.superres import SuperResBatchSource, make_degradation, superres_from_tensor
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.games.srgan import SRGANOptions
from ganforge.train.api import train
from tests.data.photo_folder import write_photos

CPU = torch.device("cpu")
K = 21


def one(value):
    return torch.tensor([value], dtype=torch.float64)


def smooth_image(seed=0, size=64, channels=3):
    """A natural-looking float [0, 1] image: random 8x8 colours upscaled bicubically."""
    base = np.random.default_rng(seed).integers(40, 216, (8, 8, channels), dtype=np.uint8)
    big = np.array(Image.fromarray(base if channels == 3 else base[..., 0]).resize((size, size), Image.BICUBIC))
    big = big if big.ndim == 3 else big[..., None]
    return torch.from_numpy(big).permute(2, 0, 1)[None].float() / 255


def psnr(a, b):
    return 10 * math.log10(1 / float(((a - b) ** 2).mean()))


def luma(images):
    return (images * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)


# --- kernels -------------------------------------------------------------------------------------

def test_a_delta_kernel_is_the_identity():
    images = torch.rand(3, 3, 20, 24)
    assert torch.equal(filter2d(images, delta(3, K)), images)
    # a Gaussian of size 1 is a delta too, and per-image kernels act on their own image only
    mixed = torch.cat([delta(1, K), gaussian(one(2.0), one(2.0), one(0.0), torch.tensor([7]), K), delta(1, K)])
    out = filter2d(images, mixed)
    assert torch.equal(out[0], images[0]) and torch.equal(out[2], images[2]) and not torch.allclose(out[1], images[1])


def test_kernel_values_too_small_for_the_images_dtype_are_flushed_to_zero():
    kernels = gaussian(torch.tensor([1.0, 1.5], dtype=torch.float64), torch.tensor([1.0, 1.5], dtype=torch.float64),
                       torch.zeros(2, dtype=torch.float64), torch.tensor([K, K]), K)
    tiny = torch.finfo(torch.float32).tiny
    small = (kernels != 0) & (kernels.abs() < tiny)
    assert small.any()  # the narrow Gaussian's far corners underflow fp32 (subnormal weights slow a CPU convolution)
    flushed = flush_subnormal(kernels, torch.float32)
    assert not flushed[small].any() and torch.equal(flushed[~small], kernels[~small])
    images = torch.rand(2, 3, 24, 24)  # to fp32's resolution the flushed filter is the float64 one
    assert torch.allclose(filter2d(images, kernels).double(), filter2d(images.double(), kernels), atol=1e-6)


@pytest.mark.parametrize("size", [7, 13, 21])
def test_each_kernel_sums_to_one_and_has_the_asked_size(size):
    sizes = torch.tensor([size])
    s, theta, beta = one(2.5), one(0.7), one(1.5)
    kernels = {"iso": gaussian(s, s, one(0.0), sizes, K), "aniso": gaussian(s, one(1.0), theta, sizes, K),
               "generalized": generalized_gaussian(s, one(1.0), theta, one(0.6), sizes, K),
               "plateau": plateau(s, one(1.5), theta, beta, sizes, K), "sinc": sinc(one(math.pi / 4), sizes, K)}
    half, c = size // 2, K // 2
    for name, kernel in kernels.items():
        kernel = kernel[0]
        assert kernel.shape == (K, K), name
        assert float(kernel.sum()) == pytest.approx(1.0, abs=1e-12), name
        inside = kernel[c - half:c + half + 1, c - half:c + half + 1]
        assert (inside != 0).all(), name  # the whole asked window is used ...
        outside = kernel.clone()
        outside[c - half:c + half + 1, c - half:c + half + 1] = 0
        assert not outside.any(), name  # ... and nothing outside it


def test_isotropic_gaussian_matches_the_closed_form():
    sigma, size = 1.7, 9
    kernel = gaussian(one(sigma), one(sigma), one(0.3), torch.tensor([size]), size)[0]  # θ does not matter when σx = σy
    raw = [[math.exp(-(x * x + y * y) / (2 * sigma * sigma)) for x in range(-4, 5)] for y in range(-4, 5)]
    total = sum(map(sum, raw))
    assert kernel.flatten().tolist() == pytest.approx([v / total for row in raw for v in row], abs=1e-15)


def test_anisotropic_kernels_follow_their_axes_and_shapes():
    sizes = torch.tensor([K])
    wide = gaussian(one(3.0), one(1.0), one(0.0), sizes, K)[0]
    x = torch.arange(K, dtype=torch.float64) - K // 2
    separable = torch.outer(torch.exp(-x ** 2 / 2), torch.exp(-x ** 2 / 18))  # rows: σ 1 along y; columns: σ 3 along x
    torch.testing.assert_close(wide, separable / separable.sum())
    torch.testing.assert_close(gaussian(one(3.0), one(1.0), one(math.pi / 2), sizes, K)[0], wide.T)  # turned a quarter
    # β = 1 makes the generalised Gaussian the Gaussian; the plateau is 1 / (1 + q^β)
    torch.testing.assert_close(generalized_gaussian(one(3.0), one(1.0), one(0.4), one(1.0), sizes, K),
                               gaussian(one(3.0), one(1.0), one(0.4), sizes, K))
    flat = plateau(one(2.0), one(2.0), one(0.0), one(2.0), torch.tensor([5]), 5)[0]
    raw = torch.tensor([[1 / (1 + ((a * a + b * b) / 4) ** 2) for a in range(-2, 3)] for b in range(-2, 3)], dtype=torch.float64)
    torch.testing.assert_close(flat, raw / raw.sum())


def test_sinc_kernel_matches_the_bessel_closed_form():
    w, size = 1.3, 11
    kernel = sinc(one(w), torch.tensor([size]), size)[0]
    r = np.hypot(*np.meshgrid(np.arange(size) - 5, np.arange(size) - 5))
    raw = np.where(r > 0, w * j1(w * np.where(r > 0, r, 1)) / (2 * np.pi * np.where(r > 0, r, 1)), w * w / (4 * np.pi))
    np.testing.assert_allclose(kernel.numpy(), raw / raw.sum(), rtol=0, atol=1e-7)  # torch's J1 is good to ~1e-8 here


def test_the_pipeline_draws_odd_kernels_of_the_configured_sizes():
    wide = {"kernel_prob": [1, 0, 0, 0, 0, 0], "blur_sigma": [2.5, 3.0]}  # wide enough that no cell of the window underflows to 0
    degradation = make_degradation("realesrgan", wide)
    kernels = degradation.blur_kernels(200, 1, torch.Generator().manual_seed(0))
    assert torch.allclose(kernels.sum((1, 2)), torch.ones(200, dtype=torch.float64))
    extent = (kernels != 0).any(1).sum(1)  # columns used by each kernel
    assert set(extent.tolist()) <= set(range(7, 22, 2)) and len(set(extent.tolist())) == 8


# --- noise, JPEG, resize ----------------------------------------------------------------------------

def test_jpeg_quality_100_is_near_lossless_and_30_clearly_lossy():
    image = smooth_image(1)
    q100 = jpeg(image, torch.tensor([100.0]))
    q30 = jpeg(image, torch.tensor([30.0]))
    assert q100.shape == image.shape and q100.dtype == image.dtype
    # colour is coded 4:2:0 (chroma at half resolution, as the paper's JPEG), so "near-lossless" holds for the luma
    assert psnr(luma(q100), luma(image)) > 45 and psnr(q100, image) > 38
    assert psnr(q30, image) < psnr(q100, image) - 8 and psnr(q30, image) < 35
    gray = smooth_image(2, channels=1)
    assert psnr(jpeg(gray, torch.tensor([100.0])), gray) > 45
    with pytest.raises(GanforgeError, match="JPEG quality"):
        jpeg(image, torch.tensor([0.0]))


def test_gaussian_noise_has_the_asked_sigma():
    flat = torch.full((4, 3, 128, 128), 0.5)
    sigma = torch.tensor([5.0, 10.0, 20.0, 20.0]) / 255
    gray = torch.tensor([False, False, False, True])
    noisy = gaussian_noise(flat, sigma, gray, torch.Generator().manual_seed(0))
    measured = (noisy - flat).flatten(1).std(1)
    assert measured.tolist() == pytest.approx(sigma.tolist(), rel=0.03)
    assert torch.equal(noisy[3, 0], noisy[3, 2]) and not torch.equal(noisy[2, 0], noisy[2, 2])  # grey: one plane for all


def test_poisson_noise_scales_with_the_level():
    ramp = (torch.arange(256, dtype=torch.float32) / 255).view(1, 1, 1, 256).expand(2, 3, 256, 256).contiguous()
    assert levels(ramp).tolist() == [256, 256] and levels(torch.full((1, 3, 4, 4), 0.5)).tolist() == [1]
    scale = torch.tensor([1.0, 2.0])
    noise = poisson_noise(ramp, scale, torch.tensor([False, False]), torch.Generator().manual_seed(0)) - ramp
    for half, cols in (("dark", slice(16, 128)), ("bright", slice(128, 256))):
        mean_level = float(ramp[0, 0, 0, cols].mean())
        for i, s in enumerate(scale.tolist()):
            variance = float(noise[i, :, :, cols].var())
            assert variance == pytest.approx(s * s * mean_level / 256, rel=0.05), (half, s)  # var = scale² · x / levels
    mixed = poisson_noise(ramp, torch.tensor([1.0, 1.0]), torch.tensor([False, True]), torch.Generator().manual_seed(1)) - ramp
    assert not torch.equal(mixed[0, 0], mixed[0, 1]) and torch.equal(mixed[1, 0], mixed[1, 1])  # grey: one plane for all
    bright = ramp[0, 0, 0, 128:].mean()
    assert float(mixed[1, 0, :, 128:].var()) == pytest.approx(float(bright) / 256, rel=0.05)  # on the luma, same law


def test_resize_modes_and_sizes():
    images = torch.rand(2, 3, 12, 16)
    for mode in ("area", "bilinear", "bicubic"):
        assert resize(images, (6, 8), mode).shape == (2, 3, 6, 8) and resize(images, (18, 24), mode).shape == (2, 3, 18, 24)
    torch.testing.assert_close(resize(images, (6, 8), "area"), torch.nn.functional.avg_pool2d(images, 2))
    with pytest.raises(GanforgeError, match="nearest"):
        resize(images, (6, 8), "nearest")


# --- the pipeline and the source --------------------------------------------------------------------

def photos(n=4, size=40):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (n, 3, size // 4, size // 4), dtype=np.uint8)
    up = np.stack([np.asarray(Image.fromarray(b.transpose(1, 2, 0)).resize((size, size), Image.BICUBIC)).transpose(2, 0, 1) for b in base])
    return superres_from_tensor(torch.from_numpy(up))


def source(seed=0, degradation="realesrgan", crop=16, scale=4, batch=3, **options):
    return SuperResBatchSource(photos(size=40 if crop == 16 else crop + 16), batch, seed, CPU, crop, scale,
                               degradation=make_degradation(degradation, options))


def test_the_pipeline_makes_8bit_lr_of_the_right_size_for_colour_and_grey():
    degradation = RealESRGANDegradation()
    for channels in (3, 1):
        hr = torch.rand(5, channels, 64, 64) * 2 - 1
        lr = degradation(hr, 4, torch.Generator().manual_seed(3))
        assert lr.shape == (5, channels, 16, 16) and lr.min() >= -1 and lr.max() <= 1
        assert torch.equal(lr, (lr + 1).mul(127.5).round().div(127.5).sub(1))  # on the 256 levels
    with pytest.raises(GanforgeError, match="multiple of scale"):
        degradation(torch.zeros(1, 3, 30, 30), 4, torch.Generator())


def test_same_seed_same_lr_and_the_hr_crops_are_the_bicubic_sources():
    a, b, other, plain = source(0), source(0), source(1), source(0, degradation="bicubic")
    for _ in range(3):
        x, y, z, p = a.next(), b.next(), other.next(), plain.next()
        assert torch.equal(x["a"], y["a"]) and torch.equal(x["b"], y["b"])
        assert not torch.equal(x["a"], z["a"])
        assert torch.equal(x["b"], p["b"]) and x["a"].shape == p["a"].shape == (3, 3, 4, 4)
        assert not torch.equal(x["a"], p["a"])


def test_a_restored_source_continues_with_the_same_degraded_batch():
    straight = source(7, batch=2)
    for _ in range(2):
        straight.next()  # mid-epoch: 4 images, 2 per batch
    state = straight.state_dict()
    assert state == {"epoch": 0, "position": 2}  # unchanged in shape: two integers
    expected = [straight.next() for _ in range(3)]  # crosses into the next epoch
    resumed = source(7, batch=2)
    resumed.load_state_dict(state)
    for want in expected:
        got = resumed.next()
        assert torch.equal(got["a"], want["a"]) and torch.equal(got["b"], want["b"])


def test_config_defaults_are_the_papers_and_each_is_settable():
    c = RealESRGANConfig()
    assert c.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03) and c.sinc_prob == 0.1 and c.blur_sigma == (0.2, 3.0)
    assert c.resize_prob == (0.2, 0.7, 0.1) and c.resize_range == (0.15, 1.5) and c.noise_range == (1.0, 30.0)
    assert c.poisson_scale_range == (0.05, 3.0) and c.jpeg_range == (30.0, 95.0) and c.second_blur_prob == 0.8
    assert c.blur_sigma2 == (0.2, 1.5) and c.resize_prob2 == (0.3, 0.4, 0.3) and c.noise_range2 == (1.0, 25.0)
    assert c.final_sinc_prob == 0.8 and c.kernel_range == (7, 21)
    custom = RealESRGANConfig.from_options({"noise_range": [0, 5], "kernel_range": [3, 9], "final_sinc_prob": 0})
    assert custom.noise_range == (0.0, 5.0) and custom.kernel_range == (3, 9) and custom.final_sinc_prob == 0.0
    # with every stage switched off but the resizes, the LR of a flat image is that flat image
    off = {"kernel_range": [1, 1], "sinc_prob": 0, "sinc_prob2": 0, "final_sinc_prob": 0, "noise_range": [0, 0],
           "noise_range2": [0, 0], "gaussian_noise_prob": 1, "gaussian_noise_prob2": 1, "jpeg_range": [100, 100], "jpeg_range2": [100, 100]}
    flat = torch.full((2, 3, 32, 32), 2 * 128 / 255 - 1)
    lr = make_degradation("realesrgan", off)(flat, 4, torch.Generator().manual_seed(0))
    assert lr.shape == (2, 3, 8, 8) and ((lr + 1) * 127.5).round().eq(128).all()


def test_the_command_line_form_sets_degradation_options():
    key, value = parse_assignment("degradation_options={noise_range: [1, 20], jpeg_range2: [50, 95]}")
    options = resolve_options(SRGANOptions, {"degradation": "realesrgan", key: value}, "srgan")
    config = make_degradation(options.degradation, options.degradation_options).config
    assert config.noise_range == (1.0, 20.0) and config.jpeg_range2 == (50.0, 95.0) and config.noise_range2 == (1.0, 25.0)
    assert make_degradation("bicubic") is None


@pytest.mark.parametrize("options, match", [
    ({"degradation": "jpeg"}, "degradation='jpeg' is invalid; expected bicubic or realesrgan"),
    ({"degradation_options": {"noise_range": [1, 9]}}, "not read by the bicubic degradation"),
    ({"degradation": "realesrgan", "degradation_options": {"nois_range": [1, 9]}}, "Unknown degradation option 'nois_range'"),
    ({"degradation": "realesrgan", "degradation_options": {"sinc_prob": 1.5}}, "sinc_prob=1.5 is invalid; expected a probability"),
    ({"degradation": "realesrgan", "degradation_options": {"jpeg_range": [10, 101]}}, "jpeg_range=.* is invalid"),
    ({"degradation": "realesrgan", "degradation_options": {"noise_range": [9, 1]}}, "noise_range=.* expected low <= high"),
    ({"degradation": "realesrgan", "degradation_options": {"kernel_range": [6, 21]}}, "kernel_range=.* expected odd sizes"),
    ({"degradation": "realesrgan", "degradation_options": {"kernel_prob": [0.5, 0.5]}}, "kernel_prob=.* expected 6 probabilities"),
    ({"degradation": "realesrgan", "degradation_options": {"resize_range": [1.2, 1.5]}}, "low <= 1 <= high"),
    ({"degradation": "realesrgan", "degradation_options": {"blur_sigma": 2}}, "blur_sigma=2 is invalid; expected a list of 2 numbers"),
    ({"degradation": "realesrgan", "degradation_options": {"blur_sigma": [0, 2]}}, "blur_sigma=.* low > 0"),
    ({"degradation": "realesrgan", "degradation_options": {"gray_noise_prob": "often"}}, "expected a number"),
])
def test_bad_values_are_refused_in_one_sentence(options, match):
    with pytest.raises(GanforgeError, match=match) as caught:
        resolve_options(SRGANOptions, options, "srgan")
    message = str(caught.value)
    assert message.endswith(".") and message.count(". ") == 0


def test_a_short_srgan_training_with_realesrgan_degradations(tmp_path):
    data = write_photos(tmp_path / "photos", n=4)
    options = {"scale": 2, "blocks": 1, "features": 8, "growth": 4, "d_width": 4, "crop": 16, "psnr_fraction": 0.5,
               "degradation": "realesrgan", "degradation_options": {"jpeg_range2": [50, 95]}}
    run = train(TrainConfig(model="srgan", data=str(data), steps=4, batch_size=2, out=str(tmp_path), name="real", log_every=1,
                            checkpoint_every=4, precision="fp32", options=options), callbacks=[])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss_l1"] for r in rows if "loss_l1" in r]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    generator, info = load_generator(run)
    assert info["degradation"] == "realesrgan" and generator(torch.zeros(1, 3, 8, 8)).shape == (1, 3, 16, 16)
