import json

import torch

from ganforge.train.state_io import join_state, load_state, save_state, split_state


def _round_trip(state, tmp_path):
    save_state(state, tmp_path)
    return load_state(tmp_path)


def test_contiguous_and_channels_last_tensors_are_written_from_their_own_memory():
    flat = torch.randn(3, 5)
    nhwc = torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last)
    skeleton, tensors = split_state({"flat": flat, "nhwc": nhwc})
    assert tensors["state/flat"].data_ptr() == flat.data_ptr()
    assert tensors["state/nhwc"].data_ptr() == nhwc.data_ptr() and tensors["state/nhwc"].is_contiguous()
    assert tensors["state/nhwc"].shape == (2, 4, 5, 3)
    back = join_state(json.loads(json.dumps(skeleton)), tensors)
    assert back["nhwc"].shape == (2, 3, 4, 5) and back["nhwc"].is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(back["nhwc"], nhwc) and torch.equal(back["flat"], flat)


def test_channels_last_state_comes_back_equal_from_disk(tmp_path):
    weight = torch.randn(8, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    state = {"players": {"w": weight, "b": torch.randn(8)}, "step": torch.tensor(3.0), "n": 4}
    back = _round_trip(state, tmp_path)
    assert back["players"]["w"].shape == (8, 3, 4, 4) and torch.equal(back["players"]["w"], weight)
    assert torch.equal(back["players"]["b"], state["players"]["b"]) and back["step"].item() == 3.0 and back["n"] == 4
    # a channels_last tensor loads into an NCHW module as its values
    conv = torch.nn.Conv2d(3, 8, 4)
    conv.weight.data.copy_(back["players"]["w"])
    assert torch.equal(conv.weight, weight)


def test_tensors_sharing_storage_are_copied_once_so_they_save(tmp_path):
    base = torch.arange(12.0)
    state = {"a": base, "again": base, "half": base[:6], "strided": base[::2]}
    _, tensors = split_state(state)
    assert tensors["state/a"].data_ptr() == base.data_ptr()
    assert all(tensors[f"state/{k}"].data_ptr() != base.data_ptr() for k in ("again", "half", "strided"))
    back = _round_trip(state, tmp_path)
    assert back["again"].tolist() == base.tolist() and back["half"].tolist() == base[:6].tolist()
    assert back["strided"].tolist() == base[::2].tolist()
    base.add_(1)  # what was saved is not a view of the live tensor
    assert back["a"].tolist() == list(range(12))


def test_empty_and_zero_dim_tensors_round_trip(tmp_path):
    state = {"empty": torch.zeros(0), "empty2": torch.zeros(0, 3), "scalar": torch.tensor(2.5), "rng": torch.get_rng_state()}
    back = _round_trip(state, tmp_path)
    assert back["empty"].shape == (0,) and back["empty2"].shape == (0, 3) and back["scalar"].item() == 2.5
    assert torch.equal(back["rng"], state["rng"])
