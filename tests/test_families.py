"""The contract every registered family keeps, checked for each one (new families join automatically).

One round runs and logs the contract's keys; the export loads with one call and generates; a run
stopped and resumed on CPU ends bit-identical to an uninterrupted one; a checkpoint of another
family is refused; option defaults agree with the players' constructor defaults.
"""
import dataclasses
import inspect
import json
import math

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import TrainConfig
from ganforge.contract import D_FAKE, D_REAL, LOSS_D, LOSS_G, STEP, Callback
from ganforge.errors import GanforgeError
from ganforge.export import load_generator, load_players
from ganforge.games.registry import family_names, get_family
from ganforge.kinds import CAPABILITIES, KINDS, kind_of
from ganforge.runlog import read_metrics
from ganforge.train.api import train
from ganforge.train.checkpoint import Checkpoints, read_checkpoint
from ganforge.train.loop import Trainer

FAMILIES = family_names()
STEPS = 4


def tiny_config(family: str, folder, name: str, **kw) -> TrainConfig:
    """The family's tiny run (its `Family.tiny`), four rounds, a checkpoint every two."""
    values = dict(model=family, steps=STEPS, batch_size=8, out=str(folder), name=name, log_every=1,
                  sample_every=1000, checkpoint_every=2, keep_checkpoints=5, device="cpu")
    values.update(get_family(family).tiny)
    values.update(kw)
    return TrainConfig(**values)


class Stopped(Exception):
    """Raised by `StopAfter` to end a run as a kill would."""


class StopAfter(Callback):
    """Ends the run abruptly in the round after `step` (whose checkpoint is then the latest)."""

    def __init__(self, step: int):
        self.step = step

    def on_round_end(self, trainer, step: int) -> None:
        if step > self.step:
            raise Stopped


@pytest.fixture(scope="module", params=FAMILIES)
def runs(request, tmp_path_factory):
    """(family, uninterrupted run, run stopped at half-way and resumed) for each registered family."""
    family = request.param
    folder = tmp_path_factory.mktemp(family)
    straight = train(tiny_config(family, folder, "straight"), callbacks=[])
    with pytest.raises(Stopped):
        train(tiny_config(family, folder, "half"), callbacks=[StopAfter(STEPS // 2)])
    resumed = train(TrainConfig(), resume=folder / "half", callbacks=[])
    return family, straight, resumed


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_every_family_is_registered_once_with_documented_defaults():
    assert {"vanilla", "dcgan", "cgan", "cyclegan", "stylegan", "vae"} <= set(FAMILIES)
    for name in FAMILIES:
        family = get_family(name)
        assert family.name == name and family.summary
        assert dataclasses.is_dataclass(family.options) and family.options.__doc__


def test_each_round_logs_the_contract_keys(runs):
    family, straight, _ = runs
    rows = records(straight)
    assert [r[STEP] for r in rows] == list(range(1, STEPS + 1))
    for row in rows:
        assert LOSS_G in row and math.isfinite(row[LOSS_G])
        if LOSS_D in row:  # a game with a discriminator also says what it thought of real and fake
            assert {D_REAL, D_FAKE} <= set(row)
            assert all(math.isfinite(row[k]) for k in (LOSS_D, D_REAL, D_FAKE))
    if family != "vae":
        assert all(LOSS_D in row for row in rows), "every adversarial family logs loss_d each round"


def test_the_export_loads_with_one_call_and_generates(runs):
    family, straight, _ = runs
    generator, info = load_generator(straight)
    assert info["family"] == family and info["steps"] == STEPS
    players, _ = load_players(straight / "export")
    exported = load_file(str(straight / "export" / "generator.safetensors"))
    assert exported.keys() == players["generator"].state_dict().keys()
    assert all(torch.equal(exported[k], v) for k, v in players["generator"].state_dict().items())
    rebuilt = type(generator)(**generator.config)  # the recorded arguments rebuild the player
    rebuilt.load_state_dict(exported)
    torch.manual_seed(1)
    if hasattr(generator, "z_dim"):
        inputs = torch.randn(3, generator.z_dim)
    else:  # a translator: an input image of the model's shape
        inputs = torch.rand(3, info["channels"], info["image_size"], info["image_size"]) * 2 - 1
    torch.manual_seed(2)
    out = generator(inputs)
    torch.manual_seed(2)
    again = rebuilt.eval()(inputs)
    assert out.shape[0] == 3 and torch.isfinite(out).all()
    if out.dim() == 4:
        assert out.shape[1] == info["channels"]
    assert torch.allclose(out, again)


def test_the_export_declares_its_kind_and_the_players_agree(runs):
    family, straight, _ = runs
    info = json.loads((straight / "export" / "config.json").read_text())["info"]
    assert info["kind"] in KINDS and set(info["capabilities"]) <= set(CAPABILITIES)  # declared, not left to inference
    kind = kind_of(info)
    players, _ = load_players(straight / "export")
    generator = players["generator"]
    assert kind.encoder == ("encoder" in players)
    assert kind.noise_driven == (kind.name in ("noise", "stylegan", "vae")) and (not kind.noise_driven or generator.z_dim > 0)
    assert kind.w_space == callable(getattr(generator, "mapping", None))
    assert kind.truncation == ("truncation" in inspect.signature(generator.forward).parameters)
    assert kind.labels == (int(getattr(generator, "num_classes", 0) or 0) > 0)


def test_a_stopped_and_resumed_run_is_bit_identical(runs):
    _, straight, resumed = runs
    last = f"step_{STEPS:08d}"
    a = load_file(str(straight / "checkpoints" / last / "state.safetensors"))
    b = load_file(str(resumed / "checkpoints" / last / "state.safetensors"))
    assert a.keys() == b.keys()
    different = [k for k in a if not torch.equal(a[k], b[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    assert (straight / "export" / "generator.safetensors").read_bytes() == (resumed / "export" / "generator.safetensors").read_bytes()
    training, _ = read_metrics(resumed / "metrics.jsonl")  # the round logged before the stop is superseded
    assert [r[STEP] for r in training] == list(range(1, STEPS + 1))


def test_a_checkpoint_of_another_family_is_refused(runs, tmp_path):
    family, straight, _ = runs
    other = FAMILIES[(FAMILIES.index(family) + 1) % len(FAMILIES)]
    checkpoint = Checkpoints(straight).latest()
    assert read_checkpoint(checkpoint)["family"] == family
    cfg = tiny_config(other, tmp_path, "other")
    from ganforge.train.run_dir import new_run

    cfg, run_dir = new_run(cfg)
    with pytest.raises(GanforgeError, match=f"belongs to model '{family}'"):
        Trainer(cfg, run_dir, (), checkpoint)


@pytest.mark.parametrize("family", FAMILIES)
def test_option_defaults_agree_with_the_players_constructors(family, tmp_path):
    from ganforge.train.run_dir import new_run

    cfg, run_dir = new_run(tiny_config(family, tmp_path, "defaults", options={}, image_size=None))
    trainer = Trainer(cfg, run_dir)
    # an option of 0 or None is worked out from the data (e.g. width by image size); any other default must
    # be the player's own, written once
    defaults = {f.name: f.default for f in dataclasses.fields(get_family(family).options)
                if f.default is not dataclasses.MISSING and f.default is not None
                and not (type(f.default) in (int, float) and f.default == 0)}
    checked = 0
    for player in trainer.game.players.values():
        parameters = inspect.signature(type(player).__init__).parameters
        for name, value in defaults.items():
            if name in parameters and parameters[name].default is not inspect.Parameter.empty:
                assert parameters[name].default == value, f"{type(player).__name__}({name}) vs {family} option"
                checked += 1
    if family in ("dcgan", "stylegan"):  # families whose options size their players
        assert checked >= 2
