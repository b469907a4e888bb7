"""compile: auto|on|off — torch.compile'd players train, checkpoint and resume bit-exactly on CPU."""
import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import TrainConfig
from ganforge.contract import Callback
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.train.api import train
from ganforge.train.runtime import compile_players, wants_compile

STEPS = 4


def tiny(folder, name: str, **kw) -> TrainConfig:
    """A DCGAN of a few hundred weights at 8 px, four rounds, a checkpoint every two, compiled."""
    values = dict(model="dcgan", steps=STEPS, batch_size=8, image_size=8, out=str(folder), name=name, log_every=1,
                  sample_every=1000, checkpoint_every=2, keep_checkpoints=5, device="cpu", precision="fp32",
                  compile="on", options={"width": 4, "z_dim": 8, "r1_gamma": 0.0})
    values.update(kw)
    return TrainConfig(**values)


class Stopped(Exception):
    """Ends a run as a kill would."""


class Watch(Callback):
    """Records whether the players were compiled; optionally stops the run after `stop_after` rounds."""

    def __init__(self, stop_after: int = 0):
        self.stop_after, self.compiled = stop_after, None

    def on_start(self, trainer) -> None:
        self.compiled = {name: m._compiled_call_impl is not None for name, m in trainer.game.players.items()}
        self.ema_compiled = trainer.ema.module._compiled_call_impl is not None

    def on_round_end(self, trainer, step: int) -> None:
        if self.stop_after and step > self.stop_after:
            raise Stopped


def test_compile_value_is_validated_in_one_sentence():
    with pytest.raises(GanforgeError, match="compile='yes'.*expected auto, on or off"):
        TrainConfig(compile="yes").validate()


def test_auto_leaves_players_eager_on_cpu_and_on_and_off_are_kept():
    cpu = torch.device("cpu")
    assert not wants_compile(TrainConfig(), cpu)
    assert not wants_compile(TrainConfig(compile="off"), cpu)
    assert wants_compile(TrainConfig(compile="on"), cpu)


def test_compile_players_keeps_parameters_and_state_dict_keys():
    module = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    keys = list(module.state_dict())
    compile_players([module])
    assert module._compiled_call_impl is not None and list(module.state_dict()) == keys


def test_a_compiled_run_stopped_and_resumed_is_bit_identical(tmp_path):
    watch = Watch()
    straight = train(tiny(tmp_path, "straight"), callbacks=[watch])
    assert watch.compiled == {"generator": True, "discriminator": True}
    assert not watch.ema_compiled  # the EMA copy only renders and exports
    with pytest.raises(Stopped):
        train(tiny(tmp_path, "half"), callbacks=[Watch(stop_after=STEPS // 2)])
    resumed_watch = Watch()
    resumed = train(TrainConfig(), resume=tmp_path / "half", callbacks=[resumed_watch])
    assert resumed_watch.compiled == {"generator": True, "discriminator": True}
    last = f"step_{STEPS:08d}"
    a = load_file(str(straight / "checkpoints" / last / "state.safetensors"))
    b = load_file(str(resumed / "checkpoints" / last / "state.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not any("_orig_mod" in k for k in a)  # checkpoints read the same as eager ones
    generator, info = load_generator(straight)
    assert generator(torch.randn(2, generator.z_dim)).shape == (2, 1, 8, 8)
    eager = train(tiny(tmp_path, "eager", compile="off"), callbacks=[])
    assert load_file(str(eager / "checkpoints" / last / "state.safetensors")).keys() == a.keys()


def test_a_discriminator_differentiated_twice_stays_eager(tmp_path):
    watch = Watch()
    train(tiny(tmp_path, "r1", steps=2, checkpoint_every=2, options={"width": 4, "z_dim": 8, "r1_gamma": 1.0}), callbacks=[watch])
    assert watch.compiled == {"generator": True, "discriminator": False}  # compiled graphs have no double backward


def test_a_spectrally_normed_discriminator_stays_eager_and_the_run_trains(tmp_path):
    watch = Watch()
    run = train(tiny(tmp_path, "fastgan", model="fastgan", steps=2, checkpoint_every=2, image_size=64, batch_size=4,
                     options={"width": 2, "z_dim": 8}), callbacks=[watch])
    assert watch.compiled == {"generator": True, "discriminator": False}  # its two compiled passes fail their backward
    assert (run / "checkpoints" / "step_00000002" / "state.safetensors").is_file()
