"""Bounded-memory sampling: the rows of one generator pass, and sampling in passes."""
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.models.dcgan import DCGANGenerator
from ganforge.sampling import PASS_PIXELS, iter_samples, rows_per_pass


def test_rows_per_pass_holds_a_128_px_grid_whole_and_bounds_larger_images():
    assert PASS_PIXELS == 64 * 128 * 128
    assert rows_per_pass(32, 500) == 500 and rows_per_pass(128, 64) == 64 and rows_per_pass(128, 500) == 64
    assert rows_per_pass(256, 500) == 16 and rows_per_pass(1024, 500) == 1 and rows_per_pass(4096, 500) == 1


def test_sampling_in_passes_draws_the_same_images_with_smaller_generator_calls():
    torch.manual_seed(0)
    generator = DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4).eval()
    calls = []
    generator.register_forward_hook(lambda module, args, out: calls.append(out.shape[0]))
    whole = torch.cat(list(iter_samples(generator, 50, seed=3, batch_size=20)))
    assert calls == [20, 20, 10]
    calls.clear()
    passes = torch.cat(list(iter_samples(generator, 50, seed=3, batch_size=20, pass_size=8)))
    assert calls == [8, 8, 4, 8, 8, 4, 8, 2]
    assert torch.allclose(passes, whole, atol=1e-6)
    with pytest.raises(GanforgeError, match="pass size 0"):
        next(iter_samples(generator, 5, pass_size=0))
