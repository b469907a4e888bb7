"""The kinds table: what a game declares is what a tool reads back; older exports are inferred from their family."""
import pytest

from ganforge.errors import GanforgeError
from ganforge.kinds import CAPABILITIES, KINDS, ModelKind, declare, kind_of, require


@pytest.mark.parametrize("name", KINDS)
def test_a_declared_kind_reads_back_with_its_capabilities(name):
    info = {"family": "anything", **declare(name, "labels")}
    assert info["kind"] == name and info["capabilities"] == ["labels"]
    kind = kind_of(info)
    assert kind == ModelKind(name, labels=True) and kind.capabilities == ["labels"]
    assert kind.noise_driven == (name in ("noise", "stylegan", "vae"))


def test_declared_capabilities_win_over_the_family_name():
    kind = kind_of({"family": "stylegan", **declare("noise")})
    assert kind == ModelKind("noise") and not kind.w_space and not kind.truncation


@pytest.mark.parametrize("info,expected", [
    ({"family": "dcgan"}, ModelKind("noise")),
    ({"family": "vanilla", "num_classes": 0}, ModelKind("noise")),
    ({"family": "cgan", "num_classes": 10}, ModelKind("noise", labels=True)),
    ({"family": "stylegan", "num_classes": 0}, ModelKind("stylegan", truncation=True, w_space=True)),
    ({"family": "stylegan", "num_classes": 4}, ModelKind("stylegan", truncation=True, w_space=True)),  # G's classes unknown here
    ({"family": "vae"}, ModelKind("vae", encoder=True)),
    ({"family": "cyclegan", "kind": "translation"}, ModelKind("translation")),
    ({"family": "pix2pix", "kind": "translation", "paired": True}, ModelKind("translation")),
    ({"family": "srgan", "kind": "superres"}, ModelKind("superres")),
    ({"family": "toy", "kind": "points"}, ModelKind("points")),
    ({"kind": "translation"}, ModelKind("translation")),
])
def test_exports_written_before_kinds_were_declared_are_inferred_from_their_family(info, expected):
    assert kind_of(info) == expected


@pytest.mark.parametrize("info,needle", [
    ({}, "declares no kind"),
    ({"family": "mystery"}, "names family 'mystery'"),
    ({"kind": "hologram", "capabilities": []}, "Model kind 'hologram' is unknown"),
    ({"kind": "noise", "capabilities": ["telepathy"]}, "capabilities ['telepathy'] are invalid"),
    ({"kind": "noise", "capabilities": "labels"}, "are invalid"),
])
def test_an_export_of_no_known_kind_is_one_sentence(info, needle):
    with pytest.raises(GanforgeError, match="expected") as caught:
        kind_of(info)
    assert needle in str(caught.value)


def test_declare_refuses_an_unknown_capability_and_lists_them_in_order():
    with pytest.raises(GanforgeError, match="capability 'wings' is unknown"):
        declare("noise", "wings")
    assert declare("stylegan", *reversed(CAPABILITIES))["capabilities"] == list(CAPABILITIES)


def test_require_names_the_model_and_what_the_tool_expected():
    require(ModelKind("stylegan", w_space=True), "m", "mixing", "a StyleGAN model", capability="w_space")
    with pytest.raises(GanforgeError, match=r"^Model 'm' is a noise model with labels, which mixing cannot use; expected a StyleGAN model\.$"):
        require(ModelKind("noise", labels=True), "m", "mixing", "a StyleGAN model", capability="w_space")
    with pytest.raises(GanforgeError, match="is a translation model, which sampling cannot use"):
        require(ModelKind("translation"), "m", "sampling", "a noise generator", kinds=("noise", "stylegan", "vae"))


def test_loading_an_export_written_before_kinds_completes_its_info_once(tmp_path):
    from ganforge.export import load_generator, save_generator
    from ganforge.models.stylegan import StyleGANGenerator

    g = StyleGANGenerator(z_dim=8, w_dim=8, mapping_layers=1, image_size=8, channel_base=16, channel_max=8, num_classes=3)
    save_generator(g, {"family": "stylegan", "num_classes": 3}, tmp_path / "old")
    _, info = load_generator(tmp_path / "old")
    assert info["kind"] == "stylegan" and info["capabilities"] == ["truncation", "w_space", "labels"]
    unconditional = StyleGANGenerator(z_dim=8, w_dim=8, mapping_layers=1, image_size=8, channel_base=16, channel_max=8)
    save_generator(unconditional, {"family": "stylegan", "num_classes": 10}, tmp_path / "mnist")  # data classes, not G's
    assert load_generator(tmp_path / "mnist")[1]["capabilities"] == ["truncation", "w_space"]
