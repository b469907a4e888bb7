import json

import pytest
import torch

from ganforge.errors import GanforgeError
from ganforge.export import load_generator, load_players, save_generator
from ganforge.models.dcgan import DCGANGenerator


def test_round_trip_without_pickle(tmp_path):
    g = DCGANGenerator(z_dim=8, channels=3, image_size=32, width=4).eval()
    save_generator(g, {"image_size": 32, "channels": 3}, tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["config.json", "generator.safetensors"]
    loaded, info = load_generator(tmp_path / "m")
    z = torch.randn(2, 8)
    assert torch.equal(loaded(z), g(z)) and info["channels"] == 3
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())


def test_bad_model_folders(tmp_path):
    with pytest.raises(GanforgeError, match="does not exist"):
        load_generator(tmp_path / "missing")
    with pytest.raises(GanforgeError, match="no exported model"):
        load_generator(tmp_path)
    save_generator(DCGANGenerator(width=4), {}, tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    meta["players"]["generator"]["class"] = "os:system"
    (tmp_path / "m" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(GanforgeError, match="ganforge.models class"):
        load_players(tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(GanforgeError, match="not valid JSON"):
        load_players(tmp_path / "m")


@pytest.fixture
def export(tmp_path):
    save_generator(DCGANGenerator(z_dim=8, image_size=16, width=4), {"channels": 1}, tmp_path / "m")
    return tmp_path / "m"


def _edit(folder, change):
    meta = json.loads((folder / "config.json").read_text())
    change(meta)
    (folder / "config.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("change,needle", [
    (lambda m: m["players"]["generator"].pop("config"), "with config=None; expected a dict"),
    (lambda m: m["players"]["generator"]["config"].update(width="wide"), "does not accept"),
    (lambda m: m["players"]["generator"]["config"].update(colour=3), "does not accept"),
    (lambda m: m["players"]["generator"].update({"class": "ganforge.models.dcgan:Nothing"}), "does not have"),
    (lambda m: m["players"]["generator"].update({"class": "ganforge.models.dcgan:upsampling_steps"}), "not a player class"),
    (lambda m: m["players"]["generator"].update(weights="../../elsewhere.safetensors"), "expected a .safetensors file name inside"),
    (lambda m: m.update(players=[]), "expected a mapping of player names"),
    (lambda m: m.update(info=[1]), "has info of type list"),
    (lambda m: m["info"].update(channels="three"), "has info channels='three'; expected an integer >= 0"),
    (lambda m: m["info"].update(kind=["noise"]), "has info kind=\\['noise'\\]; expected a str"),
    (lambda m: m["info"].update(image_size=-32), "has info image_size=-32; expected an integer >= 0"),
    (lambda m: m["players"]["generator"]["config"].update(width=10 ** 9), "does not accept|values but weights"),
    (lambda m: m["players"]["generator"]["config"].update(z_dim=10 ** 9), "with .* values but weights"),
])
def test_edited_config_json_is_one_sentence_and_allocates_nothing(export, change, needle):
    _edit(export, change)
    with pytest.raises(GanforgeError, match=needle) as caught:
        load_generator(export)
    assert "\n" not in str(caught.value)


def test_deeply_nested_config_json_is_one_sentence(export):
    (export / "config.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(GanforgeError, match="nests too deeply"):
        load_generator(export)


def test_altered_or_nan_weights_are_refused_and_old_exports_load_without_a_digest(export):
    from safetensors.torch import load_file, save_file

    weights = export / "generator.safetensors"
    meta = json.loads((export / "config.json").read_text())
    assert len(meta["players"]["generator"]["sha256"]) == 64
    state = load_file(str(weights))
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 0.01
    save_file(state, str(weights))
    with pytest.raises(GanforgeError, match="do not match the digest recorded at export"):
        load_generator(export)
    _edit(export, lambda m: m["players"]["generator"].pop("sha256"))  # an export from before digests
    assert torch.equal(load_generator(export)[0].state_dict()[key], state[key])
    state[key][0] = float("nan")
    save_file(state, str(weights))
    with pytest.raises(GanforgeError, match=f"hold NaN or infinite values \\(in '{key}'\\)"):
        load_generator(export)
