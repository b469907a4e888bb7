"""FID InceptionV3: architecture, weight loading (.safetensors and .pth), and the missing-weights error."""
import pytest
import torch
from safetensors.torch import save_file

from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import get_extractor
from ganforge.metrics.features.inception import ENV_VAR, FIDInceptionV3, load_inception


@pytest.fixture(scope="module")
def random_state():
    torch.manual_seed(0)
    model = FIDInceptionV3()
    for m in model.modules():  # non-trivial batch-norm statistics so loading is observable
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_architecture_has_the_fid_layout(random_state):
    model = FIDInceptionV3()
    n_params = sum(p.numel() for p in model.parameters())
    # InceptionV3 without its auxiliary head: 21,785,568 parameters before the classifier (27,161,264
    # with the auxiliary head and a 1000-way classifier), then the FID network's 1008-way classifier
    assert n_params == 21_785_568 + 2048 * 1008 + 1008
    assert "Mixed_7c.branch3x3dbl_3b.bn.running_var" in random_state
    assert random_state["fc.weight"].shape == (1008, 2048)


def test_extractor_runs_with_random_weights_from_safetensors(tmp_path, random_state, monkeypatch):
    path = tmp_path / "inception.safetensors"
    save_file(random_state, str(path))
    monkeypatch.setenv(ENV_VAR, str(path))
    fx = get_extractor("auto", data=str(tmp_path))  # a folder: auto picks InceptionV3 when weights are given
    assert fx.name == "inception" and fx.num_features == 2048 and fx.num_classes == 1008
    images = torch.rand(2, 1, 32, 32) * 2 - 1
    feats, logits = fx.extract(images)
    assert feats.shape == (2, 2048) and logits.shape == (2, 1008)
    assert torch.isfinite(feats).all() and (feats >= 0).all()  # pooled ReLU outputs
    assert (feats[0] - feats[1]).abs().max() > 0  # the features depend on the image
    net = fx.network
    assert torch.equal(net.Mixed_6b.branch7x7_2.bn.running_var, random_state["Mixed_6b.branch7x7_2.bn.running_var"])


def test_pth_with_aux_logits_and_module_prefix_loads(tmp_path, random_state):
    state = {f"module.{k}": v for k, v in random_state.items()}
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    path = tmp_path / "pt_inception.pth"
    torch.save(state, path)
    model = load_inception(path)
    assert torch.equal(model.fc.bias, random_state["fc.bias"])
    assert not model.training


def test_missing_weights_is_one_clear_error_without_fallback(monkeypatch, tmp_path, no_tf_inception):
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(GanforgeError, match="--inception-weights"):
        get_extractor("inception", data="mnist")
    with pytest.raises(GanforgeError, match="no built-in feature extractor"):
        get_extractor("auto", data=str(tmp_path))
    with pytest.raises(GanforgeError, match="does not exist"):
        get_extractor("inception", inception_weights=str(tmp_path / "nope.pth"))


def test_wrong_file_is_refused(tmp_path):
    bad = tmp_path / "bad.safetensors"
    save_file({"fc.weight": torch.zeros(10, 2048), "fc.bias": torch.zeros(10)}, str(bad))
    with pytest.raises(GanforgeError, match="does not fit"):
        load_inception(bad)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(GanforgeError, match="cannot be read"):
        load_inception(junk)
