"""registry.py: every family named on the command line is found in a fresh interpreter."""
import subprocess
import sys

import pytest

from ganforge.errors import GanforgeError
from ganforge.games.registry import family_names, get_family

KNOWN = ["cgan", "cyclegan", "dcgan", "pix2pix", "stylegan", "toy", "vae", "vanilla"]


def test_every_family_loads_from_a_fresh_process():
    # a fresh interpreter: no test module has imported the game files for the registry
    code = ("from ganforge.games.registry import get_family\n"
            f"print(' '.join(get_family(name).name for name in {KNOWN!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == KNOWN
    assert set(KNOWN) <= set(family_names())


def test_a_name_registered_by_two_game_files_is_refused():
    from ganforge.games.registry import Family, register

    taken = get_family("dcgan")
    with pytest.raises(GanforgeError, match="registered twice"):
        register(Family("dcgan", "another", taken.options, lambda *a: None))
    assert get_family("dcgan") is taken


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(GanforgeError, match="Unknown model 'gan2'; expected one of cgan, cyclegan, dcgan"):
        get_family("gan2")


def test_family_ema_default_fills_only_an_unset_value():
    from ganforge.config import TrainConfig
    from ganforge.train.run_dir import resolve_defaults

    assert resolve_defaults(TrainConfig(model="dcgan")).ema_decay == 0.999
    assert resolve_defaults(TrainConfig(model="stylegan")).ema_decay == 0.98
    assert resolve_defaults(TrainConfig(model="stylegan", ema_decay=0.0)).ema_decay == 0.0  # 0 turns EMA off
    with pytest.raises(GanforgeError, match="ema_decay=1.5"):
        resolve_defaults(TrainConfig(model="dcgan", ema_decay=1.5))
    with pytest.raises(GanforgeError, match="ema_rampup=-0.1"):
        resolve_defaults(TrainConfig(model="stylegan", ema_rampup=-0.1))
