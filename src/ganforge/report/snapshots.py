"""A callback that keeps exported snapshots of the players over training, for reports drawn afterwards.

`runs/<name>/snapshots/step_XXXXXXXX/` is an ordinary export (config.json + safetensors) of what the
game exports — for the toy game that includes the discriminator — so the theory report reads
snapshots like any exported model, without the trainer.
"""
from __future__ import annotations

from pathlib import Path

from ganforge.contract import PeriodicCallback
from ganforge.export import save_players

SNAPSHOTS = "snapshots"


def snapshot_dirs(run_dir: str | Path) -> list[Path]:
    """A run's snapshot folders, in step order."""
    folder = Path(run_dir) / SNAPSHOTS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("step_*") if (p / "config.json").is_file())


class Snapshots(PeriodicCallback):
    """Exports the game's players (live generator) at step 0, every `every` steps and at the end."""

    def save(self, trainer) -> None:
        """Export every player into snapshots/step_XXXXXXXX/."""
        if not trainer.is_main:
            return
        game = trainer.game
        info = {**game.export_info(), "family": trainer.cfg.model, "data": trainer.cfg.data, "steps": trainer.step}
        save_players(game.export_players(game.generator), info,
                     Path(trainer.run_dir) / SNAPSHOTS / f"step_{trainer.step:08d}")
